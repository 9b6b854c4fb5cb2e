//! Refusing a client event: the stable code, the human message, and where
//! the refusal travels (the ack, `chat_error`, or `error`).
//!
//! Handlers return `Result<_, Refusal>` and answer at one place, so every
//! refusal is logged the same way and none is dropped.

use std::time::Duration;

use lockstep_contract::emit;
use lockstep_contract::types::{self, ErrorCode};
pub use lockstep_contract::validate::Refusal;
use lockstep_contract::validate::bounded;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use crate::store::StoreError;

/// A refusal and, when it is a rate limit, how long to wait before retrying
/// (acks carry it as `retryAfter`).
#[derive(Debug, Clone)]
pub struct Refused {
    pub refusal: Refusal,
    pub retry_after: Option<Duration>,
}

impl From<Refusal> for Refused {
    fn from(refusal: Refusal) -> Self {
        Self {
            refusal,
            retry_after: None,
        }
    }
}

impl From<Refused> for Refusal {
    fn from(refused: Refused) -> Self {
        refused.refusal
    }
}

/// The refusal of an event with an ack, as the generated handler traits
/// take it (the ack carries `retryAfter`).
impl From<Refused> for lockstep_contract::handler::AckRefusal {
    fn from(refused: Refused) -> Self {
        Self {
            refusal: refused.refusal,
            retry_after: refused.retry_after,
        }
    }
}

impl From<StoreError> for Refused {
    fn from(error: StoreError) -> Self {
        from_store(error).into()
    }
}

impl Refused {
    /// `retryAfter` for an ack, in seconds.
    pub fn retry_after_seconds(&self) -> Option<f64> {
        self.retry_after.map(|wait| wait.as_secs_f64())
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

/// Logs a refusal with who (profile id, client address) and what, never
/// payload content, and counts it (`lockstep_refusals_total{code}`, and
/// `lockstep_rate_limited_total{event}` for rate limits).
pub fn log<A: Adapter>(socket: &SocketRef<A>, event: &str, refusal: &Refusal) {
    crate::telemetry::refused(event, refusal.code);
    let profileid = crate::session::session_of(socket).map(|s| s.profileid.clone());
    tracing::info!(
        sid = %socket.id,
        profileid = profileid.as_deref().unwrap_or("-"),
        client = %crate::telemetry::Client(crate::telemetry::client_of(socket)),
        event = %bounded(event),
        code = %refusal.code,
        "refused"
    );
}

/// Answers a refused chat-room event with `chat_error`.
pub async fn chat_error<A: Adapter>(
    socket: &SocketRef<A>,
    event: &str,
    chatid: Option<&str>,
    refusal: Refusal,
) {
    log(socket, event, &refusal);
    let payload = types::ChatError {
        error: refusal.code,
        message: refusal.message,
        chatid: chatid.map(str::to_owned),
        data: None,
    };
    // A socket that cannot take the refusal is gone or drowning; nothing to do.
    let _ = emit::chat_error(socket, &payload).await;
}

/// Answers a refused event without an ack and outside chat rooms with `error`.
pub async fn error_event<A: Adapter>(socket: &SocketRef<A>, event: &str, refusal: Refusal) {
    log(socket, event, &refusal);
    let payload = types::ErrorEvent {
        error: refusal.code,
        message: refusal.message,
        event: Some(bounded(event)),
        details: None,
    };
    let _ = emit::error(socket, &payload).await;
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
