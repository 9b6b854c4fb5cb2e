//! The configuration the server runs with: [`ServeConfig`], a plain value
//! every layer may read, its [`defaults`], and the `--config` TOML file's
//! merge into the command line ([`file`]). The command line itself (clap)
//! is the shell's, in `crate::cli`.

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;

use crate::auth::{JwtSecret, TokenVerifier};

pub mod defaults;
pub mod file;
mod redact;

pub use redact::redact_url_password;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Per-user limits. Defaults are the contract's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_sockets_per_user: usize,
    /// New connections per client address per minute; `None`: unlimited.
    pub connections_per_minute: Option<NonZeroU32>,
    pub offline_queue_cap: usize,
    pub max_message_bytes: usize,
    pub messages_per_second: NonZeroU32,
    pub calls_per_minute: NonZeroU32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_sockets_per_user: to_usize(defaults::MAX_SOCKETS_PER_USER),
            connections_per_minute: NonZeroU32::new(defaults::MAX_CONNECTIONS_PER_MINUTE),
            offline_queue_cap: to_usize(defaults::OFFLINE_QUEUE_CAP),
            max_message_bytes: to_usize(defaults::MAX_MESSAGE_BYTES),
            messages_per_second: nonzero(defaults::MESSAGES_PER_SECOND),
            calls_per_minute: nonzero(defaults::CALLS_PER_MINUTE),
        }
    }
}

/// Everything `app::run` needs. `Debug` hides the JWT secret and any
/// password in the database and Redis URLs, so the whole config can be logged.
#[derive(Clone)]
pub struct ServeConfig {
    pub bind: SocketAddr,
    pub database_url: String,
    /// `Some` turns on multi-node mode through the Redis adapter.
    pub redis_url: Option<String>,
    pub jwt_secret: JwtSecret,
    /// True when no secret was configured and `jwt_secret` was generated for
    /// this process (tokens die with it).
    pub dev_mode: bool,
    /// How long an unanswered call rings before `call_missed`.
    pub call_ring_timeout: Duration,
    /// How long an answered call may last.
    pub call_max_duration: Duration,
    /// How long a typing indicator lasts without `typing_stop`.
    pub typing_timeout: Duration,
    /// How long shutdown waits for connections to drain.
    pub shutdown_grace: Duration,
    pub limits: Limits,
    /// Whether deprecated events (`user_online`, `user_offline`, …) are still emitted.
    pub legacy_events: bool,
    /// Whether `X-Forwarded-For` is believed (see [`crate::auth::client_ip`]).
    pub trust_proxy: bool,
    pub log_format: LogFormat,
    /// How often every socket gets `heartbeat` and `ping`.
    pub heartbeat_interval: Duration,
    /// Unanswered heartbeats in a row before a socket is disconnected.
    pub heartbeat_max_misses: u32,
    /// Browser origins allowed besides the server's own, normalised
    /// (see [`crate::origin::parse_origin`]).
    pub allowed_origins: Vec<String>,
    /// What an unauthenticated or hostile peer may cost (see [`Exposure`]).
    pub exposure: Exposure,
    /// The TOML file the settings were read from, if any.
    pub config_file: Option<PathBuf>,
}

impl ServeConfig {
    /// A configuration with every default (those of `lockstep serve` without
    /// flags) and the given secret. For embedding the server, e.g. in tests.
    pub fn new(jwt_secret: JwtSecret) -> Self {
        Self {
            bind: defaults::BIND
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 3000))),
            database_url: defaults::DATABASE_URL.to_owned(),
            redis_url: None,
            jwt_secret,
            dev_mode: false,
            call_ring_timeout: Duration::from_secs(defaults::CALL_RING_TIMEOUT_SECS),
            call_max_duration: Duration::from_secs(defaults::CALL_MAX_DURATION_SECS),
            typing_timeout: Duration::from_secs(defaults::TYPING_TIMEOUT_SECS),
            shutdown_grace: Duration::from_secs(defaults::SHUTDOWN_GRACE_SECS),
            limits: Limits::default(),
            legacy_events: true,
            trust_proxy: false,
            log_format: LogFormat::Text,
            heartbeat_interval: Duration::from_secs(defaults::HEARTBEAT_INTERVAL_SECS),
            heartbeat_max_misses: defaults::HEARTBEAT_MAX_MISSES,
            allowed_origins: Vec::new(),
            exposure: Exposure::default(),
            config_file: None,
        }
    }

    /// A verifier for this configuration's secret.
    pub fn token_verifier(&self) -> TokenVerifier {
        TokenVerifier::new(&self.jwt_secret)
    }
}

impl fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let Self {
            bind,
            database_url,
            redis_url,
            jwt_secret,
            dev_mode,
            call_ring_timeout,
            call_max_duration,
            typing_timeout,
            shutdown_grace,
            limits,
            legacy_events,
            trust_proxy,
            log_format,
            heartbeat_interval,
            heartbeat_max_misses,
            allowed_origins,
            exposure,
            config_file,
        } = self;
        f.debug_struct("ServeConfig")
            .field("bind", bind)
            .field("database_url", &redact_url_password(database_url))
            .field("redis_url", &redis_url.as_deref().map(redact_url_password))
            .field("jwt_secret", jwt_secret)
            .field("dev_mode", dev_mode)
            .field("call_ring_timeout", call_ring_timeout)
            .field("call_max_duration", call_max_duration)
            .field("typing_timeout", typing_timeout)
            .field("shutdown_grace", shutdown_grace)
            .field("limits", limits)
            .field("legacy_events", legacy_events)
            .field("trust_proxy", trust_proxy)
            .field("log_format", log_format)
            .field("heartbeat_interval", heartbeat_interval)
            .field("heartbeat_max_misses", heartbeat_max_misses)
            .field("allowed_origins", allowed_origins)
            .field("exposure", exposure)
            .field("config_file", config_file)
            .finish()
    }
}

/// The limits of [`ExposureArgs`], `None` where a cap or timeout is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exposure {
    pub max_connections: Option<usize>,
    pub max_connections_per_address: Option<usize>,
    pub header_read_timeout: Option<Duration>,
    pub connect_timeout: Duration,
    pub max_send_buffer_bytes: Option<usize>,
    pub wire_debug: bool,
}

impl Default for Exposure {
    fn default() -> Self {
        Self {
            max_connections: cap(defaults::MAX_CONNECTIONS.into()),
            max_connections_per_address: cap(defaults::MAX_CONNECTIONS_PER_ADDRESS.into()),
            header_read_timeout: Some(Duration::from_secs(defaults::HEADER_READ_TIMEOUT_SECS)),
            connect_timeout: Duration::from_secs(defaults::CONNECT_TIMEOUT_SECS),
            max_send_buffer_bytes: cap(defaults::MAX_SEND_BUFFER_BYTES),
            wire_debug: false,
        }
    }
}

/// A cap where 0 means none.
pub(crate) fn cap(value: u64) -> Option<usize> {
    (value > 0).then(|| usize::try_from(value).unwrap_or(usize::MAX))
}

/// For the compile-time defaults, which are all non-zero.
pub(crate) const fn nonzero(value: u32) -> NonZeroU32 {
    match NonZeroU32::new(value) {
        Some(value) => value,
        None => NonZeroU32::MIN,
    }
}

pub(crate) fn to_usize(value: u32) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_contract() {
        let config = ServeConfig::new(JwtSecret::new("s").expect("non-empty"));
        assert_eq!(config.bind.to_string(), "127.0.0.1:3000");
        assert_eq!(config.database_url, "sqlite://lockstep.db");
        // The client-facing defaults are the contract's, not copies of it.
        use lockstep_contract::limits;
        assert_eq!(config.call_ring_timeout, limits::RING_TIMEOUT);
        assert_eq!(config.call_max_duration, limits::CALL_MAX_DURATION);
        assert_eq!(
            config.limits.max_sockets_per_user,
            to_usize(limits::SOCKETS_PER_USER)
        );
        assert_eq!(
            config.limits.offline_queue_cap,
            to_usize(limits::OFFLINE_QUEUE_MAX_MESSAGES)
        );
        assert_eq!(
            config.limits.max_message_bytes,
            to_usize(limits::CONTENT_MAX_BYTES)
        );
        assert_eq!(
            config.limits.messages_per_second.get(),
            limits::rate::SEND_MESSAGE.count
        );
        assert_eq!(
            config.limits.calls_per_minute.get(),
            limits::rate::INITIATE_CALL.count
        );
        assert_eq!(config.typing_timeout, limits::TYPING_TIMEOUT);
        assert_eq!(config.shutdown_grace, Duration::from_secs(10));
        assert!(config.legacy_events);
        assert!(!config.trust_proxy);
        assert_eq!(config.heartbeat_interval, limits::HEARTBEAT_INTERVAL);
        assert_eq!(
            config.heartbeat_max_misses,
            limits::HEARTBEAT_ALLOWED_MISSES
        );
        assert!(config.allowed_origins.is_empty());
    }

    #[test]
    fn debug_of_serve_config_hides_secrets() {
        let mut config = ServeConfig::new(JwtSecret::new("the-jwt-secret").expect("non-empty"));
        config.database_url = "postgres://lockstep:db-password@db:5432/lockstep".into();
        config.redis_url = Some("redis://:redis-password@cache:6379".into());
        let printed = format!("{config:?}");
        for secret in ["the-jwt-secret", "db-password", "redis-password"] {
            assert!(!printed.contains(secret), "{secret} leaked: {printed}");
        }
        assert!(
            printed.contains("postgres://lockstep:***@db:5432/lockstep"),
            "{printed}"
        );
        assert!(printed.contains("bind: 127.0.0.1:3000"), "{printed}");
    }
}
