//! Heartbeat state of one socket, kept in its [`super::SocketTelemetry`]:
//! the contract's liveness check (`crate::health::heartbeat`) ticks it and
//! records answers, and the round trips it measures are metrics.

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::time::Duration;

use lockstep_contract::events;

/// Heartbeat state of one socket.
#[derive(Debug, Default)]
pub struct Liveness {
    /// Heartbeats sent since the last valid answer.
    unanswered: AtomicU32,
    /// Epoch milliseconds of the last `heartbeat` / `ping` sent (0: none yet).
    heartbeat_sent_ms: AtomicI64,
    ping_sent_ms: AtomicI64,
}

/// What a tick decided for one socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// Send the next heartbeat; `missed` when the previous one is still
    /// unanswered.
    Send { missed: bool },
    /// `max_misses` heartbeats in a row went unanswered.
    Dead,
}

/// Which answer arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Heartbeat,
    Pong,
}

impl Answer {
    pub(crate) fn event(self) -> &'static str {
        match self {
            Answer::Heartbeat => events::HEARTBEAT_RESPONSE,
            Answer::Pong => events::PONG,
        }
    }
}

impl Liveness {
    /// A tick: either the socket is out of misses, or one more heartbeat is
    /// now outstanding.
    pub fn tick(&self, max_misses: u32) -> Beat {
        match self
            .unanswered
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max_misses).then_some(n + 1)
            }) {
            Ok(previous) => Beat::Send {
                missed: previous > 0,
            },
            Err(_) => Beat::Dead,
        }
    }

    /// Records what was sent at `sent_ms`.
    pub fn sent(&self, sent_ms: i64) {
        self.heartbeat_sent_ms.store(sent_ms, Ordering::Release);
        self.ping_sent_ms.store(sent_ms, Ordering::Release);
    }

    /// An answer echoing `echoed_ms` arrived at `now_ms`. It is valid when
    /// the server sent that timestamp: not after the last heartbeat of its
    /// kind and not older than `window`. A valid answer resets the misses
    /// and returns the round trip.
    pub fn answered(
        &self,
        answer: Answer,
        echoed_ms: i64,
        now_ms: i64,
        window: Duration,
    ) -> Option<Duration> {
        let last_sent = match answer {
            Answer::Heartbeat => self.heartbeat_sent_ms.load(Ordering::Acquire),
            Answer::Pong => self.ping_sent_ms.load(Ordering::Acquire),
        };
        let oldest = now_ms.saturating_sub(i64::try_from(window.as_millis()).unwrap_or(i64::MAX));
        if last_sent == 0 || echoed_ms > last_sent || echoed_ms < oldest {
            return None;
        }
        self.unanswered.store(0, Ordering::Release);
        let round_trip = u64::try_from(now_ms.saturating_sub(echoed_ms)).unwrap_or(0);
        Some(Duration::from_millis(round_trip))
    }

    #[cfg(test)]
    /// Heartbeats sent since the last valid answer.
    pub fn unanswered(&self) -> u32 {
        self.unanswered.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(10);

    #[test]
    fn a_silent_socket_dies_after_max_misses() {
        let liveness = Liveness::default();
        assert_eq!(liveness.tick(2), Beat::Send { missed: false });
        assert_eq!(liveness.tick(2), Beat::Send { missed: true });
        assert_eq!(liveness.tick(2), Beat::Dead);
        assert_eq!(liveness.tick(2), Beat::Dead, "dead stays dead");
    }

    #[test]
    fn a_valid_answer_resets_the_misses_and_measures_the_round_trip() {
        let liveness = Liveness::default();
        assert_eq!(liveness.tick(3), Beat::Send { missed: false });
        liveness.sent(1_000);
        assert_eq!(
            liveness.answered(Answer::Heartbeat, 1_000, 1_042, WINDOW),
            Some(Duration::from_millis(42))
        );
        assert_eq!(liveness.unanswered(), 0);
        assert_eq!(liveness.tick(3), Beat::Send { missed: false });
        liveness.sent(2_000);
        assert_eq!(
            liveness.answered(Answer::Pong, 2_000, 2_005, WINDOW),
            Some(Duration::from_millis(5))
        );
        assert_eq!(liveness.unanswered(), 0);
    }

    #[test]
    fn answers_echoing_nothing_sent_are_rejected_and_change_nothing() {
        let liveness = Liveness::default();
        assert_eq!(
            liveness.answered(Answer::Heartbeat, 1_000, 1_001, WINDOW),
            None,
            "nothing was sent yet"
        );
        liveness.tick(3);
        liveness.sent(50_000);
        // From the future, and far in the past.
        assert_eq!(
            liveness.answered(Answer::Heartbeat, 50_001, 50_010, WINDOW),
            None
        );
        assert_eq!(liveness.answered(Answer::Pong, 1, 50_010, WINDOW), None);
        assert_eq!(liveness.unanswered(), 1);
        // An answer to the previous heartbeat, within the window, counts.
        assert!(
            liveness
                .answered(Answer::Heartbeat, 45_000, 50_010, WINDOW)
                .is_some()
        );
    }
}
