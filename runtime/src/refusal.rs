//! Refusals: a stable code from the contract, a human message that never
//! echoes refused values, and for a rate limit how long to wait.

use std::fmt::Debug;
use std::time::Duration;

/// The codes the runtime itself refuses with. The contract's error code
/// enum implements it (generated), so the runtime names no code string.
pub trait RefusalCode: Copy + Debug + PartialEq + Eq + Send + Sync + 'static {
    /// The payload does not match the contract.
    const VALIDATION_ERROR: Self;
    /// The event name is not in the contract.
    const UNKNOWN_EVENT: Self;
    /// The server is shutting down.
    const SERVICE_UNAVAILABLE: Self;
    /// The socket sends faster than the server serves it.
    const RATE_LIMITED: Self;
    /// A fault of the server (a schema the bundle does not have).
    const INTERNAL_ERROR: Self;
    /// The socket carries no authenticated session.
    const AUTH_MISSING_TOKEN: Self;
}

/// A refused event (or handshake): what the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal<C> {
    pub code: C,
    pub message: String,
    /// For a rate limit: how long to wait (an ack carries it as
    /// `retryAfter`; the refusal events have no such field).
    pub retry_after: Option<Duration>,
}

impl<C: RefusalCode> Refusal<C> {
    pub fn new(code: C, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same refusal, telling the client when to retry.
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// The payload does not match the contract.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(C::VALIDATION_ERROR, message)
    }

    /// The event name is not in the contract.
    pub fn unknown_event(name: &str) -> Self {
        Self::new(
            C::UNKNOWN_EVENT,
            format!("`{}` is not an event of the contract", bounded(name)),
        )
    }

    /// The server is shutting down and takes no new events.
    pub fn shutting_down() -> Self {
        Self::new(
            C::SERVICE_UNAVAILABLE,
            "the server is shutting down; reconnect and retry",
        )
    }

    /// The socket sends faster than the server serves it.
    pub fn overloaded() -> Self {
        Self::new(
            C::RATE_LIMITED,
            "too many events waiting on this connection; slow down",
        )
    }

    /// The socket has no session (it is being torn down mid-event).
    pub fn not_authenticated() -> Self {
        Self::new(C::AUTH_MISSING_TOKEN, "not authenticated")
    }
}

/// Cuts client-supplied text that is echoed in a refusal to a safe length.
pub fn bounded(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A stand-in for a contract's error codes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Code {
        Validation,
        Unknown,
        Unavailable,
        Limited,
        Internal,
        Unauthenticated,
        Other,
    }

    impl RefusalCode for Code {
        const VALIDATION_ERROR: Self = Code::Validation;
        const UNKNOWN_EVENT: Self = Code::Unknown;
        const SERVICE_UNAVAILABLE: Self = Code::Unavailable;
        const RATE_LIMITED: Self = Code::Limited;
        const INTERNAL_ERROR: Self = Code::Internal;
        const AUTH_MISSING_TOKEN: Self = Code::Unauthenticated;
    }

    #[test]
    fn long_names_are_cut_in_the_message() {
        let refusal = Refusal::<Code>::unknown_event(&"x".repeat(1000));
        assert_eq!(refusal.code, Code::Unknown);
        assert!(refusal.message.chars().count() < 120, "{}", refusal.message);
        assert!(refusal.message.contains('…'));
    }

    #[test]
    fn bounded_keeps_short_text_and_cuts_on_characters() {
        assert_eq!(bounded("short"), "short");
        let cut = bounded(&"é".repeat(100));
        assert_eq!(cut.chars().count(), 65);
    }

    #[test]
    fn a_wait_is_kept() {
        let refusal =
            Refusal::new(Code::Other, "slow down").retry_after(Duration::from_millis(1500));
        assert_eq!(refusal.retry_after, Some(Duration::from_millis(1500)));
    }
}
