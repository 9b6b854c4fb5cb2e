//! Refusing a client event: the stable code and the human message, and the
//! log line of every refusal.
//!
//! Handlers return `Result<_, Refusal>`; the generated table sends each
//! refusal the way the contract declares for its event (the ack,
//! `chat_error`, or `error`) and the server logs it in [`log`], so every
//! refusal is logged the same way and none is dropped.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use lockstep_contract::emit;
use lockstep_contract::types::{self, ErrorCode};
pub use lockstep_contract::validate::Refusal;
use lockstep_contract::validate::bounded;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use crate::store::StoreError;

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        from_store(error)
    }
}

/// A refusal from the storage layer. `Unavailable` is the database being
/// down (retry later); anything else is our bug, reported without detail.
pub fn from_store(error: StoreError) -> Refusal {
    match error {
        StoreError::Unavailable(source) => {
            tracing::warn!(error = %source, "storage unavailable");
            Refusal::new(
                ErrorCode::StorageUnavailable,
                "storage is unavailable; retry later",
            )
        }
        other => {
            tracing::error!(error = %other, "storage failure");
            Refusal::new(ErrorCode::InternalError, "internal error")
        }
    }
}

/// The state shared between nodes (Redis) cannot be reached: refuse new
/// work rather than lose cross-node events.
pub fn cluster_unavailable() -> Refusal {
    Refusal::new(
        ErrorCode::ServiceUnavailable,
        "the server cannot reach its cluster state; retry shortly",
    )
}

/// The refusal for a rate-limited event.
pub fn rate_limited(event: &str, retry_after: Duration) -> Refusal {
    Refusal::new(
        ErrorCode::RateLimited,
        format!(
            "too many `{}` events; retry in {:.2} s",
            bounded(event),
            retry_after.as_secs_f64()
        ),
    )
}

/// How often one client's refusals are written to the log: the first of
/// each interval in full, the rest as one summary line with their count.
/// One client can provoke tens of thousands of refusals a second; logged
/// one by one they fill a disk (about 9 MB/s).
pub const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// Logs a refusal with who (profile id, client address) and what, never
/// payload content, and counts it (`lockstep_refusals_total{code}`, and
/// `lockstep_rate_limited_total{event}` for rate limits). The log is
/// throttled per client (profile id and address, see [`RefusalLog`]); the
/// metrics count every refusal.
pub fn log<A: Adapter>(socket: &SocketRef<A>, event: &str, refusal: &Refusal) {
    crate::telemetry::refused(event, refusal.code);
    let profileid = crate::session::session_of(socket).map(|s| s.profileid.clone());
    let profileid = profileid.as_deref().unwrap_or("-");
    let client = crate::telemetry::Client(crate::telemetry::client_of(socket));
    if !RefusalLog::global().admit(&format!("{profileid} {client}"), Instant::now()) {
        return;
    }
    tracing::info!(
        sid = %socket.id,
        profileid,
        %client,
        event = %bounded(event),
        code = %refusal.code,
        "refused"
    );
}

/// Per-client throttle of refusal log lines: the first refusal of a client
/// in each [`REFUSAL_LOG_INTERVAL`] is logged, the others only counted; a
/// background task writes one `refusals not logged` line per client and
/// interval with that count, and forgets clients that went quiet, so the
/// map holds only clients refused within the last interval.
#[derive(Default)]
pub struct RefusalLog {
    windows: Mutex<HashMap<String, Window>>,
}

struct Window {
    started: Instant,
    suppressed: u64,
}

impl RefusalLog {
    /// The process's throttle; its flushing task starts with it (inside the
    /// runtime: refusals are logged from handlers).
    fn global() -> &'static RefusalLog {
        static GLOBAL: OnceLock<RefusalLog> = OnceLock::new();
        GLOBAL.get_or_init(|| {
            tokio::spawn(async {
                let mut tick = tokio::time::interval(REFUSAL_LOG_INTERVAL);
                loop {
                    tick.tick().await;
                    RefusalLog::global().flush(Instant::now());
                }
            });
            RefusalLog::default()
        })
    }

    /// Whether this refusal of `client` is to be logged in full.
    fn admit(&self, client: &str, now: Instant) -> bool {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match windows.get_mut(client) {
            Some(window) if now.duration_since(window.started) < REFUSAL_LOG_INTERVAL => {
                window.suppressed += 1;
                false
            }
            Some(window) => {
                summarise(client, window.suppressed);
                *window = Window {
                    started: now,
                    suppressed: 0,
                };
                true
            }
            None => {
                windows.insert(
                    client.to_owned(),
                    Window {
                        started: now,
                        suppressed: 0,
                    },
                );
                true
            }
        }
    }

    /// Summarises and forgets every window older than the interval; returns
    /// how many refusals went unlogged in them.
    fn flush(&self, now: Instant) -> u64 {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let mut unlogged = 0;
        windows.retain(|client, window| {
            if now.duration_since(window.started) < REFUSAL_LOG_INTERVAL {
                return true;
            }
            summarise(client, window.suppressed);
            unlogged += window.suppressed;
            false
        });
        unlogged
    }
}

fn summarise(client: &str, suppressed: u64) {
    if suppressed > 0 {
        tracing::info!(
            client,
            count = suppressed,
            interval_ms = REFUSAL_LOG_INTERVAL.as_millis() as u64,
            "refusals not logged (one per client and interval is)"
        );
    }
}

/// Tells the client about a rate limit with the contract's `rate_limited`.
pub async fn rate_limited_event<A: Adapter>(
    socket: &SocketRef<A>,
    event: &str,
    retry_after: Duration,
) {
    let payload = types::RateLimited {
        error: types::RateLimitedError::RateLimited,
        message: format!("too many `{}` events", bounded(event)),
        event: Some(bounded(event)),
        retry_after: retry_after.as_secs_f64(),
    };
    let _ = emit::rate_limited(socket, &payload).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_client_and_interval_and_a_count_for_the_rest() {
        let log = RefusalLog::default();
        let start = Instant::now();
        assert!(log.admit("p1 10.0.0.1", start));
        for i in 1..1000 {
            assert!(!log.admit("p1 10.0.0.1", start + Duration::from_micros(i)));
        }
        // Another client has its own budget.
        assert!(log.admit("p2 10.0.0.2", start));
        // Within the interval nothing is flushed.
        assert_eq!(log.flush(start + Duration::from_millis(500)), 0);
        assert_eq!(log.flush(start + REFUSAL_LOG_INTERVAL), 999);
        assert!(
            log.windows.lock().expect("lock").is_empty(),
            "quiet clients are forgotten"
        );
        assert!(log.admit("p1 10.0.0.1", start + REFUSAL_LOG_INTERVAL));
    }

    #[test]
    fn a_new_interval_logs_again() {
        let log = RefusalLog::default();
        let start = Instant::now();
        assert!(log.admit("c", start));
        assert!(!log.admit("c", start + Duration::from_millis(999)));
        assert!(log.admit("c", start + Duration::from_millis(1000)));
    }
}
