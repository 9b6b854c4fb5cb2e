//! Draining at shutdown: a handle the server owns and hands to every
//! socket's dispatch, after mini-redis's `Shutdown`: no process-wide state,
//! so two servers in one process (tests) drain independently.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// Whether the server still takes events, and how many it has yet to
/// finish. Clones share one state.
#[derive(Clone, Default)]
pub struct Drain {
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    /// Set once: new events are refused from then on.
    draining: AtomicBool,
    /// Events queued or being handled, on every socket given this handle.
    in_flight: AtomicUsize,
    /// Woken whenever `in_flight` drops to zero.
    idle: Notify,
}

impl Drain {
    /// A handle that takes events and has none in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops taking new events (they are refused with the contract's
    /// "service unavailable"); events already queued are still handled and
    /// answered.
    pub fn begin(&self) {
        self.state.draining.store(true, Ordering::SeqCst);
    }

    /// Whether [`Drain::begin`] was called.
    pub fn is_draining(&self) -> bool {
        self.state.draining.load(Ordering::SeqCst)
    }

    /// Events queued or being handled right now.
    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::SeqCst)
    }

    /// Waits until every queued event was handled, at most `limit`; returns
    /// whether everything finished.
    pub async fn drained(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let idle = self.state.idle.notified();
            tokio::pin!(idle);
            // Registered before the count is read: a job finishing in
            // between still wakes this waiter.
            idle.as_mut().enable();
            if self.in_flight() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return self.in_flight() == 0;
            }
        }
    }

    /// Counts one event from now until the guard drops.
    pub(crate) fn track(&self) -> InFlight {
        self.state.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(&self.state))
    }
}

/// One event counted by [`Drain`], from its push to its end (or its drop, if
/// the queue dies).
pub(crate) struct InFlight(Arc<State>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Drain;

    #[tokio::test]
    async fn nothing_in_flight_is_drained_at_once() {
        assert!(Drain::new().drained(Duration::ZERO).await);
    }

    #[tokio::test]
    async fn waits_for_the_last_event_and_no_longer() {
        let drain = Drain::new();
        let first = drain.track();
        let second = drain.track();
        assert_eq!(drain.in_flight(), 2);
        let waiter = tokio::spawn({
            let drain = drain.clone();
            async move { drain.drained(Duration::from_secs(5)).await }
        });
        drop(first);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "one event is still in flight");
        drop(second);
        let finished = tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("woken when the count reached zero")
            .expect("the waiter ran");
        assert!(finished);
    }

    #[tokio::test]
    async fn gives_up_at_the_limit() {
        let drain = Drain::new();
        let _stuck = drain.track();
        assert!(!drain.drained(Duration::from_millis(20)).await);
    }

    #[test]
    fn handles_are_independent_and_clones_share() {
        let one = Drain::new();
        let other = Drain::new();
        one.clone().begin();
        assert!(one.is_draining());
        assert!(!other.is_draining());
    }
}
