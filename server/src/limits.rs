//! Per-user rate limits, read from the contract.
//!
//! Each client event whose contract entry has a `rate` gets one keyed
//! [`governor`] limiter (GCRA: the quota refills evenly over the period, with
//! the full count as burst). Counts and periods are the contract's; the
//! operator's flags override the counts of the two limits the seed names
//! (messages, calls). Keys are profile ids, so a user's sockets share one
//! budget.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use lockstep_contract::events::{self, Direction};

use crate::config::Limits;

/// Per-user rate limits that several nodes can share.
#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one `event` by `profileid`.
    async fn check(&self, event: &'static str, profileid: &str) -> Result<(), RateLimitError>;

    /// Drops state of users whose budget is full again (called periodically).
    fn forget_idle(&self) {}
}

/// Why an event may not proceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitError {
    /// Over the limit: retry after this long.
    Limited(Duration),
    /// The shared limiter cannot be reached.
    Unavailable,
}

#[async_trait::async_trait]
impl RateLimiter for RateLimits {
    async fn check(&self, event: &'static str, profileid: &str) -> Result<(), RateLimitError> {
        RateLimits::check(self, event, profileid).map_err(RateLimitError::Limited)
    }

    fn forget_idle(&self) {
        RateLimits::forget_idle(self);
    }
}

/// The limit of one client event: `count` events per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventLimit {
    pub count: NonZeroU32,
    pub period: Duration,
}

/// New connections per client address: a per-node GCRA limiter keyed by
/// IP address (a reconnect storm or a scripted flood from one address).
pub struct ConnectionRate {
    limiter: governor::DefaultKeyedRateLimiter<std::net::IpAddr>,
}

impl ConnectionRate {
    /// `None` when the limit is off.
    pub fn new(per_minute: Option<NonZeroU32>) -> Option<Self> {
        per_minute.map(|count| Self {
            limiter: DefaultKeyedRateLimiter::keyed(quota(count, Duration::from_secs(60))),
        })
    }

    /// Counts a new connection from `address`; false past the limit.
    pub fn admit(&self, address: std::net::IpAddr) -> bool {
        self.limiter.check_key(&address).is_ok()
    }

    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// Every limited client event and its limit: the contract's numbers with
/// the operator's overrides. Shared by the local and the Redis limiter.
pub fn event_limits(limits: &Limits) -> HashMap<&'static str, EventLimit> {
    let mut by_event = HashMap::new();
    for spec in events::ALL {
        let (Direction::ClientToServer, None, Some(rate)) =
            (spec.direction, spec.alias_of, spec.rate)
        else {
            continue;
        };
        let count = match spec.name {
            events::SEND_MESSAGE => limits.messages_per_second,
            events::INITIATE_CALL => limits.calls_per_minute,
            _ => NonZeroU32::new(rate.count).unwrap_or(NonZeroU32::MIN),
        };
        let period = rate.period().max(Duration::from_millis(1));
        by_event.insert(spec.name, EventLimit { count, period });
    }
    by_event
}

/// The rate limiters of every limited client event, on this node.
pub struct RateLimits {
    by_event: HashMap<&'static str, DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl RateLimits {
    /// One limiter per client event with a contract rate, with the
    /// configured overrides applied.
    pub fn from_contract(limits: &Limits) -> Self {
        let by_event = event_limits(limits)
            .into_iter()
            .map(|(event, limit)| {
                (
                    event,
                    DefaultKeyedRateLimiter::keyed(quota(limit.count, limit.period)),
                )
            })
            .collect();
        Self {
            by_event,
            clock: DefaultClock::default(),
        }
    }

    /// Counts one `event` by `profileid`; `Err` carries how long to wait.
    /// Events without a limit always pass.
    pub fn check(&self, event: &'static str, profileid: &str) -> Result<(), Duration> {
        let Some(limiter) = self.by_event.get(event) else {
            return Ok(());
        };
        limiter
            .check_key(&profileid.to_owned())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets users whose budget is full again, so the maps do not grow
    /// with every user ever seen. Called periodically.
    pub fn forget_idle(&self) {
        for limiter in self.by_event.values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// `count` events per `period`, refilled evenly, with `count` as burst.
fn quota(count: NonZeroU32, period: Duration) -> Quota {
    let interval = period / count.get();
    Quota::with_period(interval.max(Duration::from_nanos(1)))
        .expect("the interval is never zero")
        .allow_burst(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_past_the_message_rate_is_refused_with_a_wait() {
        let contract = lockstep_contract::limits::rate::SEND_MESSAGE;
        let limits = RateLimits::from_contract(&Limits::default());
        for _ in 0..contract.count {
            assert!(limits.check(events::SEND_MESSAGE, "p-alice").is_ok());
        }
        let wait = limits
            .check(events::SEND_MESSAGE, "p-alice")
            .expect_err("one message past the count within the period is over the limit");
        assert!(wait > Duration::ZERO && wait <= contract.period());
        // Another user has their own budget.
        assert!(limits.check(events::SEND_MESSAGE, "p-bob").is_ok());
    }

    #[test]
    fn the_call_rate_follows_the_configured_override() {
        let configured = Limits {
            calls_per_minute: NonZeroU32::new(2).unwrap(),
            ..Limits::default()
        };
        let limits = RateLimits::from_contract(&configured);
        assert!(limits.check(events::INITIATE_CALL, "p").is_ok());
        assert!(limits.check(events::INITIATE_CALL, "p").is_ok());
        assert!(limits.check(events::INITIATE_CALL, "p").is_err());
    }

    #[test]
    fn events_without_a_contract_rate_are_not_limited() {
        let limits = RateLimits::from_contract(&Limits::default());
        for _ in 0..1000 {
            assert!(limits.check(events::JOIN_CHAT, "p").is_ok());
        }
    }
}
