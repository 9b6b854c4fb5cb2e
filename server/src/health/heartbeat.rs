//! The contract's application-level liveness check.
//!
//! One task per node (not one per socket) wakes every
//! `--heartbeat-interval` seconds and walks the sockets connected to this
//! node. To each authenticated socket it sends `heartbeat` (an ISO
//! timestamp, answered by `heartbeat_response`) and `ping` (epoch
//! milliseconds, answered by `pong`). Either answer, echoing a timestamp the
//! server sent recently, proves the socket alive: its round trip is
//! recorded and its count of unanswered heartbeats goes back to zero. A
//! socket that let `--heartbeat-max-misses` heartbeats in a row go
//! unanswered is disconnected.
//!
//! A round is spread over the first half of the interval, [`BEAT_BATCH`]
//! sockets at a time: sending to every socket at once, and taking every
//! answer back at once, stalled all other traffic of the node for tens of
//! milliseconds every interval (BENCHMARKS.md, "the heartbeat burst").
//!
//! The per-socket state is a [`Liveness`] of three atomics inside the
//! socket's [`SocketTelemetry`] extension; it goes away with the socket.
//! An answer that echoes nothing the server sent is counted
//! (`lockstep_heartbeat_bad_answers_total`) and otherwise ignored.

use std::time::Duration;

use chrono::Utc;
use lockstep_contract::{emit, types};
use metrics::{counter, histogram};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use crate::session::{iso, now, session_of};
use crate::telemetry::{Answer, Beat, Client, SocketTelemetry, names};

/// Sockets sent their heartbeat together; the batches of a round are spaced
/// evenly over the first half of the interval.
const BEAT_BATCH: usize = 64;

/// Starts the node's heartbeat task over the sockets of `io`; the shell
/// aborts it by the handle when it stops serving.
pub fn spawn<A: Adapter>(
    io: SocketIo<A>,
    interval: Duration,
    max_misses: u32,
) -> tokio::task::AbortHandle {
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick completes at once; sockets connect later.
        tick.tick().await;
        loop {
            tick.tick().await;
            beat(&io, interval, max_misses).await;
        }
    });
    task.abort_handle()
}

/// One round over the sockets of this node.
async fn beat<A: Adapter>(io: &SocketIo<A>, interval: Duration, max_misses: u32) {
    let Some(namespace) = io.of("/") else {
        return;
    };
    let sockets = namespace.sockets();
    let batches = u32::try_from(sockets.len().div_ceil(BEAT_BATCH)).unwrap_or(u32::MAX);
    let pause = (interval / 2) / batches.max(1);
    let mut sent = 0_u64;
    for (index, batch) in sockets.chunks(BEAT_BATCH).enumerate() {
        if index > 0 {
            tokio::time::sleep(pause).await;
        }
        // Stamped per batch: the answer's round trip must not count the
        // pacing.
        let sent_at = now();
        let sent_ms = sent_at.timestamp_millis();
        let heartbeat = types::Heartbeat {
            timestamp: iso(sent_at),
        };
        let ping = types::EpochMillis(sent_ms);
        for socket in batch {
            // Not admitted (yet, or ever): the handshake decides about it.
            if session_of(socket).is_none() {
                continue;
            }
            let telemetry = SocketTelemetry::of(socket);
            match telemetry.liveness.tick(max_misses) {
                Beat::Dead => {
                    counter!(names::HEARTBEAT_MISSES).increment(1);
                    drop_unresponsive(socket, &telemetry, max_misses);
                }
                Beat::Send { missed } => {
                    if missed {
                        counter!(names::HEARTBEAT_MISSES).increment(1);
                    }
                    telemetry.liveness.sent(sent_ms);
                    // A full buffer (a drowning client) is no error here: its
                    // heartbeat goes unanswered and it is dropped in time.
                    let _ = emit::heartbeat(socket, &heartbeat).await;
                    let _ = emit::ping(socket, &ping).await;
                    sent += 1;
                }
            }
        }
    }
    counter!(names::HEARTBEATS_SENT).increment(sent);
}

fn drop_unresponsive<A: Adapter>(
    socket: &SocketRef<A>,
    telemetry: &SocketTelemetry,
    max_misses: u32,
) {
    let profileid = session_of(socket).map(|s| s.profileid.clone());
    let profileid = profileid.as_deref().unwrap_or("-");
    match socket.clone().disconnect() {
        Ok(()) => {
            tracing::info!(
                sid = %socket.id,
                %profileid,
                client = %Client(telemetry.client),
                missed = max_misses,
                "heartbeats unanswered; disconnecting"
            );
            counter!(names::HEARTBEAT_DISCONNECTS).increment(1);
        }
        // Its send buffer is full, so not even the disconnect packet fits:
        // the kernel's send timeout closes this connection (see
        // `crate::transport`); the next tick tries again meanwhile.
        Err(error) => tracing::debug!(
            sid = %socket.id,
            %profileid,
            %error,
            "heartbeats unanswered, but the disconnect could not be queued"
        ),
    }
}

/// Records an answer (`heartbeat_response` or `pong`) of `socket`.
pub fn answered<A: Adapter>(
    socket: &SocketRef<A>,
    interval: Duration,
    max_misses: u32,
    answer: Answer,
    echoed_ms: i64,
) {
    let window = answer_window(interval, max_misses);
    let now_ms = Utc::now().timestamp_millis();
    let round_trip = SocketTelemetry::get(socket)
        .and_then(|t| t.liveness.answered(answer, echoed_ms, now_ms, window));
    match round_trip {
        Some(round_trip) => {
            histogram!(names::HEARTBEAT_RTT, "event" => answer.event())
                .record(round_trip.as_secs_f64());
            tracing::trace!(sid = %socket.id, event = answer.event(), round_trip_ms = round_trip.as_millis() as u64, "heartbeat answered");
        }
        None => {
            counter!(names::HEARTBEAT_BAD_ANSWERS, "event" => answer.event()).increment(1);
            tracing::debug!(sid = %socket.id, event = answer.event(), "heartbeat answer echoes no recent heartbeat");
        }
    }
}

/// An answer may echo any heartbeat that was still allowed to be answered:
/// up to `max_misses` intervals old, plus one interval of slack.
fn answer_window(interval: Duration, max_misses: u32) -> Duration {
    interval.saturating_mul(max_misses.saturating_add(1)) + interval
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_window_covers_every_answerable_heartbeat() {
        assert_eq!(
            answer_window(Duration::from_secs(25), 3),
            Duration::from_secs(125)
        );
    }
}
