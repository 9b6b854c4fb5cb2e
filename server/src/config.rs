//! The command line (`lockstep serve | token | migrate`) and the
//! configuration the server runs with.
//!
//! Every flag also reads an environment variable `LOCKSTEP_<FLAG>`, so the
//! same binary is configured by flags in development and by the environment
//! in containers. Defaults follow the contract's numbers, so `lockstep serve`
//! with nothing else set is a working development server.

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::builder::{BoolishValueParser, NonEmptyStringValueParser};
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use serde_json::{Map, Value};

use crate::auth::{Claims, JwtSecret, REFRESH_TOKEN_TYPE, TokenVerifier};

/// Default values, shared by the command line and [`ServeConfig::new`].
pub mod defaults {
    /// Loopback only: a development server is not exposed by accident.
    pub const BIND: &str = "127.0.0.1:3000";
    /// An embedded SQLite file in the working directory.
    pub const DATABASE_URL: &str = "sqlite://lockstep.db";
    /// Contract: "Call timeout (unanswered): 60 seconds".
    pub const CALL_RING_TIMEOUT_SECS: u64 = 60;
    /// Contract: "Max concurrent sockets per user: 10".
    pub const MAX_SOCKETS_PER_USER: u32 = 10;
    /// Contract: "Max offline messages queued: 25 per user".
    pub const OFFLINE_QUEUE_CAP: u32 = 25;
    /// Contract: "Max message size: 10KB".
    pub const MAX_MESSAGE_BYTES: u32 = 10 * 1024;
    /// Contract: "Message sending: Rate limited (10/sec per user)".
    pub const MESSAGES_PER_SECOND: u32 = 10;
    /// Contract: "Call initiation: Rate limited (5/min per user)".
    pub const CALLS_PER_MINUTE: u32 = 5;
    /// How long a typing indicator lasts without a `typing_stop`.
    pub const TYPING_TIMEOUT_SECS: u64 = 5;
    /// How long shutdown waits for connections to drain.
    pub const SHUTDOWN_GRACE_SECS: u64 = 10;
    /// Lifetime of a token minted by `lockstep token`.
    pub const TOKEN_TTL: &str = "1h";
}

/// Contract-first real-time chat and call server.
#[derive(Debug, Parser)]
#[command(name = "lockstep", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (Socket.IO and REST on one port).
    Serve(ServeArgs),
    /// Print a JWT signed with the server's secret, for development and tests.
    Token(TokenArgs),
    /// Apply database migrations and exit.
    Migrate(MigrateArgs),
}

/// Where the data lives; shared by `serve` and `migrate`.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://PATH` (embedded, the default: ./lockstep.db)
    /// or `postgres://USER:PASSWORD@HOST/DB`.
    #[arg(
        long,
        env = "LOCKSTEP_DATABASE_URL",
        value_name = "URL",
        default_value = defaults::DATABASE_URL,
        hide_env_values = true
    )]
    pub database_url: String,
}

/// The signing secret; shared by `serve` and `token`.
#[derive(Debug, Clone, Args)]
pub struct SecretArgs {
    /// HS256 secret that signs and verifies tokens (use at least 32 bytes).
    /// If unset, `serve` runs in development mode with a random secret that
    /// it prints at start-up, and `token` refuses to run. [default: none]
    #[arg(
        long,
        env = "LOCKSTEP_JWT_SECRET",
        value_name = "SECRET",
        value_parser = parse_secret,
        hide_env_values = true
    )]
    pub jwt_secret: Option<JwtSecret>,
}

/// `lockstep serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on (IP:PORT; `0.0.0.0:3000` for all interfaces).
    #[arg(long, env = "LOCKSTEP_BIND", value_name = "ADDR", default_value = defaults::BIND)]
    pub bind: SocketAddr,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Redis URL (`redis://HOST:6379`); turns on multi-node mode, where
    /// broadcasts reach sockets on every node. [default: none, single node]
    #[arg(
        long,
        env = "LOCKSTEP_REDIS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub redis_url: Option<String>,

    #[command(flatten)]
    pub secret: SecretArgs,

    /// Seconds an unanswered call rings before it becomes `call_missed`.
    #[arg(
        long,
        env = "LOCKSTEP_CALL_RING_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = defaults::CALL_RING_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub call_ring_timeout: u64,

    /// Most sockets one user may have open at once; the next is refused.
    #[arg(
        long,
        env = "LOCKSTEP_MAX_SOCKETS_PER_USER",
        value_name = "COUNT",
        default_value_t = defaults::MAX_SOCKETS_PER_USER,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_sockets_per_user: u32,

    /// Most messages queued for a user while offline; older ones are dropped.
    #[arg(
        long,
        env = "LOCKSTEP_OFFLINE_QUEUE_CAP",
        value_name = "COUNT",
        default_value_t = defaults::OFFLINE_QUEUE_CAP,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub offline_queue_cap: u32,

    /// Largest accepted message content, in bytes.
    #[arg(
        long,
        env = "LOCKSTEP_MAX_MESSAGE_BYTES",
        value_name = "BYTES",
        default_value_t = defaults::MAX_MESSAGE_BYTES,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_message_bytes: u32,

    /// Messages a user may send per second.
    #[arg(
        long,
        env = "LOCKSTEP_MESSAGE_RATE",
        value_name = "PER_SECOND",
        default_value_t = nonzero(defaults::MESSAGES_PER_SECOND)
    )]
    pub message_rate: NonZeroU32,

    /// Calls a user may start per minute.
    #[arg(
        long,
        env = "LOCKSTEP_CALL_RATE",
        value_name = "PER_MINUTE",
        default_value_t = nonzero(defaults::CALLS_PER_MINUTE)
    )]
    pub call_rate: NonZeroU32,

    /// Also emit the contract's deprecated events (`user_online`,
    /// `user_offline`, …) next to their replacements, for old clients.
    #[arg(
        long,
        env = "LOCKSTEP_LEGACY_EVENTS",
        value_name = "BOOL",
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        action = ArgAction::Set,
        value_parser = BoolishValueParser::new()
    )]
    pub legacy_events: bool,

    /// Seconds after which a typing indicator without `typing_stop` expires.
    #[arg(
        long,
        env = "LOCKSTEP_TYPING_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = defaults::TYPING_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub typing_timeout: u64,

    /// Log output format; the level comes from RUST_LOG (default `info`).
    #[arg(
        long,
        env = "LOCKSTEP_LOG_FORMAT",
        value_name = "FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,

    /// Seconds to let connections drain on SIGINT/SIGTERM before exiting.
    #[arg(
        long,
        env = "LOCKSTEP_SHUTDOWN_GRACE",
        value_name = "SECONDS",
        default_value_t = defaults::SHUTDOWN_GRACE_SECS
    )]
    pub shutdown_grace: u64,

    /// Believe the client address in `X-Forwarded-For` (its rightmost
    /// entry). Only set this behind a reverse proxy that appends to it.
    #[arg(
        long,
        env = "LOCKSTEP_TRUST_PROXY",
        value_name = "BOOL",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = ArgAction::Set,
        value_parser = BoolishValueParser::new()
    )]
    pub trust_proxy: bool,
}

/// `lockstep token`.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The `profileid` claim (must match the handshake's `auth.profileid`).
    #[arg(long, value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
    pub profile_id: String,

    /// The `username` claim.
    #[arg(long, value_name = "NAME", value_parser = NonEmptyStringValueParser::new())]
    pub username: String,

    /// Lifetime, e.g. `30s`, `15m`, `1h`, `7d`.
    #[arg(long, value_name = "DURATION", default_value = defaults::TOKEN_TTL, value_parser = parse_ttl)]
    pub ttl: Duration,

    /// The `sub` (user id) claim. [default: the profile id]
    #[arg(long, value_name = "ID", value_parser = NonEmptyStringValueParser::new())]
    pub user_id: Option<String>,

    /// The `email` claim.
    #[arg(long, value_name = "EMAIL")]
    pub email: Option<String>,

    /// The `displayname` claim.
    #[arg(long, value_name = "NAME")]
    pub displayname: Option<String>,

    /// The `avatar` claim.
    #[arg(long, value_name = "URL")]
    pub avatar: Option<String>,

    /// The `permissions` claim, a JSON object, e.g. '{"admin":true}'.
    #[arg(long, value_name = "JSON", value_parser = parse_permissions)]
    pub permissions: Option<Map<String, Value>>,

    /// Mint a refresh token (claim `typ: "refresh"`) instead of an access token.
    #[arg(long)]
    pub refresh: bool,

    #[command(flatten)]
    pub secret: SecretArgs,
}

/// `lockstep migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
}

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
    pub offline_queue_cap: usize,
    pub max_message_bytes: usize,
    pub messages_per_second: NonZeroU32,
    pub calls_per_minute: NonZeroU32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_sockets_per_user: to_usize(defaults::MAX_SOCKETS_PER_USER),
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
            typing_timeout: Duration::from_secs(defaults::TYPING_TIMEOUT_SECS),
            shutdown_grace: Duration::from_secs(defaults::SHUTDOWN_GRACE_SECS),
            limits: Limits::default(),
            legacy_events: true,
            trust_proxy: false,
            log_format: LogFormat::Text,
        }
    }

    /// The configuration for `lockstep serve`. Without a configured secret it
    /// generates one and sets `dev_mode` (the caller announces it).
    pub fn from_args(args: ServeArgs) -> Self {
        let (jwt_secret, dev_mode) = match args.secret.jwt_secret {
            Some(secret) => (secret, false),
            None => (JwtSecret::generate(), true),
        };
        Self {
            bind: args.bind,
            database_url: args.database.database_url,
            redis_url: args.redis_url.filter(|url| !url.trim().is_empty()),
            jwt_secret,
            dev_mode,
            call_ring_timeout: Duration::from_secs(args.call_ring_timeout),
            typing_timeout: Duration::from_secs(args.typing_timeout),
            shutdown_grace: Duration::from_secs(args.shutdown_grace),
            limits: Limits {
                max_sockets_per_user: to_usize(args.max_sockets_per_user),
                offline_queue_cap: to_usize(args.offline_queue_cap),
                max_message_bytes: to_usize(args.max_message_bytes),
                messages_per_second: args.message_rate,
                calls_per_minute: args.call_rate,
            },
            legacy_events: args.legacy_events,
            trust_proxy: args.trust_proxy,
            log_format: args.log_format,
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
            typing_timeout,
            shutdown_grace,
            limits,
            legacy_events,
            trust_proxy,
            log_format,
        } = self;
        f.debug_struct("ServeConfig")
            .field("bind", bind)
            .field("database_url", &redact_url_password(database_url))
            .field("redis_url", &redis_url.as_deref().map(redact_url_password))
            .field("jwt_secret", jwt_secret)
            .field("dev_mode", dev_mode)
            .field("call_ring_timeout", call_ring_timeout)
            .field("typing_timeout", typing_timeout)
            .field("shutdown_grace", shutdown_grace)
            .field("limits", limits)
            .field("legacy_events", legacy_events)
            .field("trust_proxy", trust_proxy)
            .field("log_format", log_format)
            .finish()
    }
}

impl TokenArgs {
    /// The claims to sign, issued at `now`.
    pub fn claims(&self, now: DateTime<Utc>) -> anyhow::Result<Claims> {
        let issued_at = u64::try_from(now.timestamp())
            .map_err(|_| anyhow::anyhow!("the system clock is before 1970"))?;
        let expires_at = issued_at
            .checked_add(self.ttl.as_secs())
            .ok_or_else(|| anyhow::anyhow!("--ttl is too long"))?;
        Ok(Claims {
            sub: self
                .user_id
                .clone()
                .unwrap_or_else(|| self.profile_id.clone()),
            profileid: self.profile_id.clone(),
            username: self.username.clone(),
            exp: expires_at,
            iat: Some(issued_at),
            email: self.email.clone(),
            displayname: self.displayname.clone(),
            avatar: self.avatar.clone(),
            permissions: self.permissions.clone(),
            typ: self.refresh.then(|| REFRESH_TOKEN_TYPE.to_owned()),
        })
    }
}

/// Replaces the password of `scheme://user:password@host…` with `***`.
/// Anything without one is returned unchanged.
pub fn redact_url_password(url: &str) -> Cow<'_, str> {
    let Some(scheme_end) = url.find("://").map(|index| index + 3) else {
        return Cow::Borrowed(url);
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |index| scheme_end + index);
    let authority = &url[scheme_end..authority_end];
    let Some(userinfo_end) = authority.rfind('@') else {
        return Cow::Borrowed(url);
    };
    let Some(password_start) = authority[..userinfo_end].find(':') else {
        return Cow::Borrowed(url);
    };
    Cow::Owned(format!(
        "{}***{}",
        &url[..scheme_end + password_start + 1],
        &url[scheme_end + userinfo_end..]
    ))
}

/// Parses a token lifetime such as `30s`, `15m`, `1h` or `7d`.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(text.trim())
        .map_err(|error| format!("{error} (examples: 30s, 15m, 1h, 7d)"))?;
    if ttl.as_secs() == 0 {
        return Err("must be at least one second".to_owned());
    }
    Ok(ttl)
}

fn parse_secret(text: &str) -> Result<JwtSecret, String> {
    JwtSecret::new(text).map_err(|error| error.to_string())
}

fn parse_permissions(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("must be a JSON object".to_owned()),
        Err(error) => Err(format!("not valid JSON: {error}")),
    }
}

/// For the compile-time defaults, which are all non-zero.
const fn nonzero(value: u32) -> NonZeroU32 {
    match NonZeroU32::new(value) {
        Some(value) => value,
        None => NonZeroU32::MIN,
    }
}

fn to_usize(value: u32) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("lockstep").chain(args.iter().copied()))
    }

    fn serve_args(args: &[&str]) -> ServeArgs {
        let mut full = vec!["serve"];
        full.extend_from_slice(args);
        match parse(&full).expect("parses").command {
            Command::Serve(serve) => serve,
            other => panic!("not serve: {other:?}"),
        }
    }

    fn token_args(args: &[&str]) -> TokenArgs {
        let mut full = vec!["token"];
        full.extend_from_slice(args);
        match parse(&full).expect("parses").command {
            Command::Token(token) => token,
            other => panic!("not token: {other:?}"),
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn explicit_flags_reach_the_config() {
        // Every flag is given, so environment variables of the test process
        // cannot change the outcome.
        let config = ServeConfig::from_args(serve_args(&[
            "--bind=0.0.0.0:4000",
            "--database-url=postgres://u:p@db/lockstep",
            "--redis-url=redis://localhost:6379",
            "--jwt-secret=configured-secret",
            "--call-ring-timeout=30",
            "--max-sockets-per-user=3",
            "--offline-queue-cap=7",
            "--max-message-bytes=2048",
            "--message-rate=4",
            "--call-rate=2",
            "--legacy-events=false",
            "--typing-timeout=9",
            "--log-format=json",
            "--shutdown-grace=0",
            "--trust-proxy",
        ]));
        assert_eq!(config.bind, "0.0.0.0:4000".parse().expect("addr"));
        assert_eq!(config.database_url, "postgres://u:p@db/lockstep");
        assert_eq!(config.redis_url.as_deref(), Some("redis://localhost:6379"));
        assert_eq!(config.jwt_secret.expose_str(), "configured-secret");
        assert!(!config.dev_mode);
        assert_eq!(config.call_ring_timeout, Duration::from_secs(30));
        assert_eq!(
            config.limits,
            Limits {
                max_sockets_per_user: 3,
                offline_queue_cap: 7,
                max_message_bytes: 2048,
                messages_per_second: nonzero(4),
                calls_per_minute: nonzero(2),
            }
        );
        assert!(!config.legacy_events);
        assert_eq!(config.typing_timeout, Duration::from_secs(9));
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.shutdown_grace, Duration::ZERO);
        assert!(config.trust_proxy);
    }

    #[test]
    fn defaults_match_the_contract() {
        let config = ServeConfig::new(JwtSecret::new("s").expect("non-empty"));
        assert_eq!(config.bind.to_string(), "127.0.0.1:3000");
        assert_eq!(config.database_url, "sqlite://lockstep.db");
        assert_eq!(config.call_ring_timeout, Duration::from_secs(60));
        assert_eq!(config.limits.max_sockets_per_user, 10);
        assert_eq!(config.limits.offline_queue_cap, 25);
        assert_eq!(config.limits.max_message_bytes, 10_240);
        assert_eq!(config.limits.messages_per_second.get(), 10);
        assert_eq!(config.limits.calls_per_minute.get(), 5);
        assert_eq!(config.typing_timeout, Duration::from_secs(5));
        assert_eq!(config.shutdown_grace, Duration::from_secs(10));
        assert!(config.legacy_events);
        assert!(!config.trust_proxy);
    }

    #[test]
    fn bool_flags_accept_bare_and_explicit_forms() {
        assert!(serve_args(&["--legacy-events"]).legacy_events);
        assert!(!serve_args(&["--legacy-events", "no"]).legacy_events);
        assert!(serve_args(&["--trust-proxy=1"]).trust_proxy);
        assert!(!serve_args(&["--trust-proxy=off"]).trust_proxy);
    }

    #[test]
    fn zero_limits_are_refused() {
        for flag in [
            "--message-rate=0",
            "--call-rate=0",
            "--max-sockets-per-user=0",
            "--call-ring-timeout=0",
        ] {
            assert!(parse(&["serve", flag]).is_err(), "{flag}");
        }
    }

    #[test]
    fn empty_jwt_secret_is_refused() {
        assert!(parse(&["serve", "--jwt-secret="]).is_err());
    }

    #[test]
    fn missing_secret_means_dev_mode_with_a_strong_random_secret() {
        let mut args = serve_args(&[]);
        args.secret.jwt_secret = None;
        let config = ServeConfig::from_args(args);
        assert!(config.dev_mode);
        assert!(!config.jwt_secret.is_weak());
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

    #[test]
    fn url_redaction_leaves_password_free_urls_alone() {
        for url in [
            "sqlite://lockstep.db",
            "sqlite:///tmp/x.db?mode=rwc",
            "redis://cache:6379",
            "postgres://user@db/x",
            "postgres://db/x?password=not:userinfo@x",
        ] {
            assert_eq!(redact_url_password(url), url);
        }
        assert_eq!(
            redact_url_password("postgres://u:p%40ss@h/d?x=1"),
            "postgres://u:***@h/d?x=1"
        );
    }

    #[test]
    fn ttl_accepts_humane_durations() {
        assert_eq!(parse_ttl("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_ttl("15m"), Ok(Duration::from_secs(15 * 60)));
        assert_eq!(parse_ttl("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_ttl("1h 30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("soon").is_err());
        assert!(parse_ttl("10").is_err());
    }

    #[test]
    fn token_claims_follow_the_flags() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("timestamp");
        let args = token_args(&[
            "--profile-id=p1",
            "--username=alice",
            "--ttl=15m",
            "--email=alice@example.test",
            "--permissions={\"admin\":true}",
            "--refresh",
        ]);
        let claims = args.claims(now).expect("claims");
        assert_eq!(claims.sub, "p1", "sub defaults to the profile id");
        assert_eq!(claims.profileid, "p1");
        assert_eq!(claims.exp, 1_800_000_000 + 900);
        assert_eq!(claims.iat, Some(1_800_000_000));
        assert_eq!(claims.email.as_deref(), Some("alice@example.test"));
        assert_eq!(
            claims
                .permissions
                .as_ref()
                .and_then(|p| p.get("admin").cloned()),
            Some(Value::Bool(true))
        );
        assert!(claims.is_refresh());

        let args = token_args(&["--profile-id=p1", "--username=alice", "--user-id=u9"]);
        let claims = args.claims(now).expect("claims");
        assert_eq!(claims.sub, "u9");
        assert_eq!(claims.exp, 1_800_000_000 + 3600);
        assert!(claims.is_access());
    }

    #[test]
    fn token_requires_profile_and_username_and_an_object_for_permissions() {
        assert!(parse(&["token", "--username=a"]).is_err());
        assert!(parse(&["token", "--profile-id=p"]).is_err());
        assert!(parse(&["token", "--profile-id=", "--username=a"]).is_err());
        assert!(
            parse(&[
                "token",
                "--profile-id=p",
                "--username=a",
                "--permissions=[1]"
            ])
            .is_err()
        );
    }
}
