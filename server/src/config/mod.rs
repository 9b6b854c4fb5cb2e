//! The configuration the server runs with: [`ServeConfig`], a plain value
//! every layer may read, its [`defaults`], and the `--config` TOML file's
//! merge into the command line ([`file`]). The command line itself (clap)
//! is the shell's, in `crate::cli`.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;

use crate::auth::{JwtSecret, TokenVerifier};

pub mod defaults;
pub mod file;
mod redact;

pub use redact::{SecretUrl, redact_url_password};

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

/// Everything `app::run` needs. `Debug` hides the JWT secret ([`JwtSecret`])
/// and any password in the database and Redis URLs ([`SecretUrl`]), so the
/// whole configuration can be logged.
///
/// Made from the command line by `crate::cli` (`From<ServeArgs>`), the one
/// conversion from flags (seconds, 0 for "off", an optional secret) to the
/// values the server uses (`Duration`s, `Option`s, a secret always there).
/// There is no second list of defaults: a default configuration is the
/// command line with no flag given (`ServeArgs::defaults`).
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub bind: SocketAddr,
    pub database_url: SecretUrl,
    /// `Some` turns on multi-node mode through the Redis adapter.
    pub redis_url: Option<SecretUrl>,
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
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "shown by Debug: `serve` logs the whole configuration"
        )
    )]
    pub config_file: Option<PathBuf>,
}

impl ServeConfig {
    /// A verifier for this configuration's secret.
    pub fn token_verifier(&self) -> TokenVerifier {
        TokenVerifier::new(&self.jwt_secret)
    }
}

/// What an unauthenticated or hostile peer may cost (`--max-connections`,
/// `--header-read-timeout`, … ), `None` where a cap or timeout is off.
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
