//! The command line (`lockstep serve | token | migrate`) and the
//! configuration the server runs with.
//!
//! Every flag also reads an environment variable `LOCKSTEP_<FLAG>`, so the
//! same binary is configured by flags in development and by the environment
//! in containers. Defaults follow the contract's numbers, so `lockstep serve`
//! with nothing else set is a working development server.

use std::borrow::Cow;
use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::builder::{BoolishValueParser, NonEmptyStringValueParser};
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{
    ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum,
};
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
    /// Contract: "Call max duration: 3 hours".
    pub const CALL_MAX_DURATION_SECS: u64 = 3 * 60 * 60;
    /// Contract: "Max concurrent sockets per user: 10".
    pub const MAX_SOCKETS_PER_USER: u32 = 10;
    /// New Socket.IO connections accepted per client address per minute.
    pub const MAX_CONNECTIONS_PER_MINUTE: u32 = 600;
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
    /// Seconds between two `heartbeat` / `ping` rounds (engine.io's own
    /// ping interval is 25 s too).
    pub const HEARTBEAT_INTERVAL_SECS: u64 = 25;
    /// Heartbeats in a row a socket may leave unanswered before it is
    /// disconnected.
    pub const HEARTBEAT_MAX_MISSES: u32 = 3;
}

/// Contract-first real-time chat and call server.
#[derive(Debug, Parser)]
#[command(name = "lockstep", version = crate::version::VERSION_TEXT.as_str(), about, long_about = None)]
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

/// The optional configuration file; shared by `serve` and `migrate`.
#[derive(Debug, Clone, Args)]
pub struct ConfigFileArgs {
    /// A TOML file of settings, keyed by the long flag names
    /// (`heartbeat-interval = 25`, `allowed-origins = ["https://app.example"]`).
    /// Precedence: flag, then environment variable, then this file, then
    /// the default. [default: none]
    #[arg(long = "config", env = "LOCKSTEP_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
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

    /// Seconds an answered call may last before the server ends it
    /// (`call_ended`, `endedBy: system`, reason `timeout`). Contract: 3 hours.
    #[arg(
        long,
        env = "LOCKSTEP_CALL_MAX_DURATION",
        value_name = "SECONDS",
        default_value_t = defaults::CALL_MAX_DURATION_SECS,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub call_max_duration: u64,

    /// Most sockets one user may have open at once; the next is refused.
    #[arg(
        long,
        env = "LOCKSTEP_MAX_SOCKETS_PER_USER",
        value_name = "COUNT",
        default_value_t = defaults::MAX_SOCKETS_PER_USER,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_sockets_per_user: u32,

    /// Most new connections one client address may open per minute (a
    /// reconnect storm or a scripted flood); 0 turns the limit off.
    #[arg(
        long,
        env = "LOCKSTEP_MAX_CONNECTIONS_PER_MINUTE",
        value_name = "COUNT",
        default_value_t = defaults::MAX_CONNECTIONS_PER_MINUTE
    )]
    pub max_connections_per_minute: u32,

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

    /// Seconds between two rounds of `heartbeat` and `ping` to every socket.
    #[arg(
        long,
        env = "LOCKSTEP_HEARTBEAT_INTERVAL",
        value_name = "SECONDS",
        default_value_t = defaults::HEARTBEAT_INTERVAL_SECS,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub heartbeat_interval: u64,

    /// Heartbeats in a row a socket may leave unanswered (neither
    /// `heartbeat_response` nor `pong`) before it is disconnected. Interval
    /// × misses also bounds how long a connection may leave the server's
    /// data untaken (TCP_USER_TIMEOUT).
    #[arg(
        long,
        env = "LOCKSTEP_HEARTBEAT_MAX_MISSES",
        value_name = "COUNT",
        default_value_t = defaults::HEARTBEAT_MAX_MISSES,
        value_parser = clap::value_parser!(u32).range(1..=1000)
    )]
    pub heartbeat_max_misses: u32,

    /// Browser origins (`scheme://host[:port]`, comma-separated) allowed to
    /// call the REST API with cookies (CORS) and to open Socket.IO
    /// connections. The server's own origin is always allowed, and so are
    /// clients that send no `Origin`; any other origin is refused with 403.
    /// [default: none, same origin only]
    #[arg(
        long,
        env = "LOCKSTEP_ALLOWED_ORIGINS",
        value_name = "ORIGINS",
        value_delimiter = ',',
        value_parser = parse_allowed_origin
    )]
    pub allowed_origins: Vec<String>,

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

    #[command(flatten)]
    pub config_file: ConfigFileArgs,
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

    #[command(flatten)]
    pub config_file: ConfigFileArgs,
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
            config_file: None,
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
            call_max_duration: Duration::from_secs(args.call_max_duration),
            typing_timeout: Duration::from_secs(args.typing_timeout),
            shutdown_grace: Duration::from_secs(args.shutdown_grace),
            limits: Limits {
                max_sockets_per_user: to_usize(args.max_sockets_per_user),
                connections_per_minute: NonZeroU32::new(args.max_connections_per_minute),
                offline_queue_cap: to_usize(args.offline_queue_cap),
                max_message_bytes: to_usize(args.max_message_bytes),
                messages_per_second: args.message_rate,
                calls_per_minute: args.call_rate,
            },
            legacy_events: args.legacy_events,
            trust_proxy: args.trust_proxy,
            log_format: args.log_format,
            heartbeat_interval: Duration::from_secs(args.heartbeat_interval),
            heartbeat_max_misses: args.heartbeat_max_misses,
            allowed_origins: args.allowed_origins,
            config_file: args.config_file.config,
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
            .field("config_file", config_file)
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

impl Cli {
    /// Parses the process's command line, filling settings that neither a
    /// flag nor an environment variable gave from the `--config` file.
    /// Prints the error and exits on a bad command line or config file.
    pub fn parse_with_config_file() -> Self {
        Self::try_parse_with_config_file(std::env::args_os()).unwrap_or_else(|error| error.exit())
    }

    /// [`Cli::parse_with_config_file`] on `args` (the first is the program
    /// name).
    ///
    /// Precedence, highest first: flag, environment variable, config file,
    /// built-in default. The file's keys are the long flag names of
    /// `lockstep serve` (`snake_case` works too); a key no flag has is an
    /// error, so a typo is not silently ignored. `lockstep migrate` reads
    /// only the keys it has (`database-url`) from the same file. Values go
    /// through the same parsers as flags.
    pub fn try_parse_with_config_file<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let mut command = Self::command();
        let matches = command.try_get_matches_from_mut(args.iter().cloned())?;
        if let Some((name, sub)) = matches.subcommand()
            && let Some(path) = sub.try_get_one::<PathBuf>("config").ok().flatten()
        {
            let extra = flags_from_config_file(&command, name, sub, path)
                .map_err(|message| command.error(ErrorKind::InvalidValue, message))?;
            if !extra.is_empty() {
                args.extend(extra);
                return Self::try_parse_from(args);
            }
        }
        Self::from_arg_matches(&matches).map_err(|error| error.format(&mut command))
    }
}

/// The `--key=value` arguments the config file at `path` adds to the
/// subcommand `name`: one for each key whose setting came from neither the
/// command line nor the environment.
fn flags_from_config_file(
    cli: &clap::Command,
    name: &str,
    matches: &ArgMatches,
    path: &Path,
) -> Result<Vec<OsString>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read the config file {shown}: {error}"))?;
    let table: toml::Table = text
        .parse()
        .map_err(|error| format!("the config file {shown} is not valid TOML: {error}"))?;
    let (Some(serve), Some(this)) = (cli.find_subcommand("serve"), cli.find_subcommand(name))
    else {
        return Ok(Vec::new());
    };
    let by_long = |command: &clap::Command, long: &str| {
        command
            .get_arguments()
            .find(|arg| arg.get_long() == Some(long))
            .cloned()
    };
    let mut flags = Vec::new();
    for (key, value) in &table {
        let long = key.replace('_', "-");
        if matches!(long.as_str(), "config" | "help" | "version") {
            return Err(format!("{shown}: `{key}` cannot be set in a config file"));
        }
        if by_long(serve, &long).is_none() {
            return Err(format!(
                "{shown}: unknown key `{key}` (the keys are the long flags of `lockstep serve --help`)"
            ));
        }
        // A setting of `serve` that this subcommand does not have.
        let Some(arg) = by_long(this, &long) else {
            continue;
        };
        if matches!(
            matches.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let text = config_value_text(key, value, arg.get_value_delimiter())
            .map_err(|message| format!("{shown}: {message}"))?;
        flags.push(OsString::from(format!("--{long}={text}")));
    }
    Ok(flags)
}

/// A TOML value as the text a flag would take. Arrays are allowed for
/// flags that take a list (joined with their delimiter).
fn config_value_text(
    key: &str,
    value: &toml::Value,
    delimiter: Option<char>,
) -> Result<String, String> {
    let scalar = |value: &toml::Value| match value {
        toml::Value::String(text) => Ok(text.clone()),
        toml::Value::Integer(number) => Ok(number.to_string()),
        toml::Value::Float(number) => Ok(number.to_string()),
        toml::Value::Boolean(flag) => Ok(flag.to_string()),
        toml::Value::Datetime(at) => Ok(at.to_string()),
        toml::Value::Array(_) | toml::Value::Table(_) => {
            Err(format!("`{key}` takes a single value, not a list or table"))
        }
    };
    match (value, delimiter) {
        (toml::Value::Array(items), Some(delimiter)) => {
            let items = items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?;
            Ok(items.join(&delimiter.to_string()))
        }
        (value, _) => scalar(value),
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

fn parse_allowed_origin(text: &str) -> Result<String, String> {
    crate::origin::parse_origin(text)
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
            "--heartbeat-interval=5",
            "--heartbeat-max-misses=2",
            "--allowed-origins=https://app.example.com",
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
                connections_per_minute: NonZeroU32::new(600),
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
        assert_eq!(config.heartbeat_interval, Duration::from_secs(5));
        assert_eq!(config.heartbeat_max_misses, 2);
        assert_eq!(config.allowed_origins, ["https://app.example.com"]);
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
        assert_eq!(config.heartbeat_interval, Duration::from_secs(25));
        assert_eq!(config.heartbeat_max_misses, 3);
        assert!(config.allowed_origins.is_empty());
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

    fn with_config_file(text: &str, args: &[&str]) -> Result<Cli, clap::Error> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("lockstep.toml");
        std::fs::write(&path, text).expect("write config");
        let path = path.to_str().expect("utf-8 path").to_owned();
        let mut full = vec!["lockstep".to_owned()];
        full.extend(args.iter().map(|arg| arg.replace("{config}", &path)));
        Cli::try_parse_with_config_file(full)
    }

    fn serve_config(cli: Cli) -> ServeConfig {
        match cli.command {
            Command::Serve(args) => ServeConfig::from_args(args),
            other => panic!("not serve: {other:?}"),
        }
    }

    const FILE: &str = r#"
        # every kind of value a flag takes
        bind = "0.0.0.0:4100"
        heartbeat-interval = 7
        heartbeat_max_misses = 4
        allowed-origins = ["https://App.example.com/", "http://localhost:5173"]
        legacy-events = false
        trust-proxy = true
        log-format = "json"
        jwt-secret = "secret-from-the-file"
        database-url = "sqlite:///var/lib/lockstep/file.db"
    "#;

    #[test]
    fn the_config_file_fills_what_no_flag_gave() {
        let config = serve_config(
            with_config_file(FILE, &["serve", "--config", "{config}"]).expect("parses"),
        );
        assert_eq!(config.bind, "0.0.0.0:4100".parse().expect("addr"));
        assert_eq!(config.heartbeat_interval, Duration::from_secs(7));
        assert_eq!(config.heartbeat_max_misses, 4);
        assert_eq!(
            config.allowed_origins,
            ["https://app.example.com", "http://localhost:5173"]
        );
        assert!(!config.legacy_events);
        assert!(config.trust_proxy);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.jwt_secret.expose_str(), "secret-from-the-file");
        assert!(!config.dev_mode);
        assert_eq!(config.database_url, "sqlite:///var/lib/lockstep/file.db");
        assert!(config.config_file.is_some());
        // Untouched settings keep their defaults.
        assert_eq!(config.call_ring_timeout, Duration::from_secs(60));
    }

    #[test]
    fn flags_override_the_config_file() {
        let config = serve_config(
            with_config_file(
                FILE,
                &[
                    "serve",
                    "--heartbeat-interval=9",
                    "--config={config}",
                    "--legacy-events",
                    "--allowed-origins",
                    "https://other.example",
                ],
            )
            .expect("parses"),
        );
        assert_eq!(config.heartbeat_interval, Duration::from_secs(9));
        assert!(config.legacy_events);
        assert_eq!(config.allowed_origins, ["https://other.example"]);
        // The rest still comes from the file.
        assert_eq!(config.heartbeat_max_misses, 4);
    }

    #[test]
    fn without_a_config_file_nothing_changes() {
        let cli =
            Cli::try_parse_with_config_file(["lockstep", "serve", "--heartbeat-max-misses=2"])
                .expect("parses");
        let config = serve_config(cli);
        assert_eq!(config.heartbeat_max_misses, 2);
        assert_eq!(config.heartbeat_interval, Duration::from_secs(25));
        assert!(config.allowed_origins.is_empty());
        assert!(config.config_file.is_none());
    }

    #[test]
    fn bad_config_files_are_refused_with_the_reason() {
        let cases = [
            (
                "heartbeat-intervall = 3",
                "unknown key `heartbeat-intervall`",
            ),
            ("heartbeat-interval = 0", "heartbeat-interval"),
            ("heartbeat-interval = \"soon\"", "heartbeat-interval"),
            ("bind = [\"a\", \"b\"]", "single value"),
            ("[serve]\nbind = \"x\"", "unknown key `serve`"),
            ("config = \"other.toml\"", "cannot be set"),
            ("allowed-origins = \"ftp://x\"", "http or https"),
            ("bind = ", "not valid TOML"),
        ];
        for (text, reason) in cases {
            let error = with_config_file(text, &["serve", "--config", "{config}"])
                .err()
                .unwrap_or_else(|| panic!("{text:?} was accepted"));
            let shown = error.to_string();
            assert!(shown.contains(reason), "{text:?}: {shown}");
        }
        let missing = Cli::try_parse_with_config_file([
            "lockstep",
            "serve",
            "--config",
            "/nonexistent/lockstep.toml",
        ]);
        assert!(
            missing
                .err()
                .is_some_and(|e| e.to_string().contains("cannot read the config file"))
        );
    }

    #[test]
    fn migrate_reads_only_its_own_keys_from_the_config_file() {
        let cli = with_config_file(FILE, &["migrate", "--config", "{config}"]).expect("parses");
        match cli.command {
            Command::Migrate(args) => {
                assert_eq!(
                    args.database.database_url,
                    "sqlite:///var/lib/lockstep/file.db"
                );
            }
            other => panic!("not migrate: {other:?}"),
        }
    }

    #[test]
    fn allowed_origins_are_validated_and_normalised() {
        let args = serve_args(&["--allowed-origins=https://A.example:443,http://b.example:8080"]);
        assert_eq!(
            args.allowed_origins,
            ["https://a.example", "http://b.example:8080"]
        );
        assert!(parse(&["serve", "--allowed-origins=a.example"]).is_err());
        assert!(parse(&["serve", "--heartbeat-interval=0"]).is_err());
        assert!(parse(&["serve", "--heartbeat-max-misses=0"]).is_err());
    }
}
