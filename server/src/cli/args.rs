//! The command line of `lockstep serve | token | migrate` (and `init`,
//! `completions`, `man`): clap definitions and their value parsers.
//!
//! Every flag also reads an environment variable `LOCKSTEP_<FLAG>`, so the
//! same binary is configured by flags in development and by the environment
//! in containers. Defaults follow the contract's numbers, so `lockstep serve`
//! with nothing else set is a working development server.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::builder::{BoolishValueParser, NonEmptyStringValueParser};
use clap::error::ErrorKind;
use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde_json::{Map, Value};

use crate::auth::{Claims, IssueError, JwtSecret, TokenKind};
use crate::config::file::flags_from_config_file;
use crate::config::{
    Exposure, Limits, LogFormat, SecretUrl, ServeConfig, cap, defaults, nonzero, to_usize,
};

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
    /// Write a commented configuration file with every setting and its default.
    Init(crate::cli::InitArgs),
    /// Print a shell completion script (e.g. `lockstep completions bash`).
    Completions(crate::cli::CompletionsArgs),
    /// Print the man page (roff), e.g. `lockstep man > lockstep.1`.
    Man,
}

/// The optional configuration file; shared by `serve`, `migrate` and `token`.
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
    /// HS256 secret that signs and verifies tokens: at least 32 bytes, a
    /// shorter one is refused (generate one with `openssl rand -hex 32`).
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
    /// Address and port to listen on (HOST:PORT, e.g. `localhost:3000`;
    /// `0.0.0.0:3000` for all interfaces).
    #[arg(
        long,
        env = "LOCKSTEP_BIND",
        value_name = "ADDR",
        default_value = defaults::BIND,
        value_parser = parse_bind
    )]
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
    /// (`call_ended`, `endedBy: system`, reason `timeout`). Default: the
    /// contract's `callMaxDurationSeconds`.
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

    /// Messages a user may send per period of the contract's `send_message`
    /// rate (one second).
    #[arg(
        long,
        env = "LOCKSTEP_MESSAGE_RATE",
        value_name = "PER_SECOND",
        default_value_t = nonzero(defaults::MESSAGES_PER_SECOND)
    )]
    pub message_rate: NonZeroU32,

    /// Calls a user may start per period of the contract's `initiate_call`
    /// rate (one minute).
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
    pub exposure: ExposureArgs,

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

    #[command(flatten)]
    pub config_file: ConfigFileArgs,
}

/// `lockstep migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,

    #[command(flatten)]
    pub config_file: ConfigFileArgs,
}

impl ServeArgs {
    #[cfg(test)]
    /// `lockstep serve` with no flag, no environment variable and no config
    /// file: every setting at the default its flag declares (from
    /// [`defaults`]), for embedding the server and for tests.
    pub fn defaults() -> Self {
        let command = Self::augment_args(clap::Command::new("serve").no_binary_name(true))
            .mut_args(|arg| arg.env(None::<&str>));
        let matches = command
            .try_get_matches_from(std::iter::empty::<OsString>())
            .expect("every setting of `serve` has a default or is optional");
        Self::from_arg_matches(&matches).expect("the defaults parse")
    }
}

/// The configuration for `lockstep serve`. Without a configured secret it
/// generates one and sets `dev_mode` (the caller announces it).
///
/// Why two structs and this one conversion, not a shared struct or a macro:
/// the flags and the server want different types (seconds and `0 = off` on
/// the command line, `Duration`s and `Option`s in the server; an optional
/// secret, then always one), and `ServeConfig` sits below the shell where
/// clap's attributes do not belong. Each field is declared once per side and
/// converted here once; the defaults exist only as the flags' default values
/// (`config::defaults`), so there is no third or fourth copy.
impl From<ServeArgs> for ServeConfig {
    fn from(args: ServeArgs) -> Self {
        let (jwt_secret, dev_mode) = match args.secret.jwt_secret {
            Some(secret) => (secret, false),
            None => (JwtSecret::generate(), true),
        };
        let exposure = args.exposure;
        Self {
            bind: args.bind,
            database_url: SecretUrl::new(args.database.database_url),
            redis_url: args
                .redis_url
                .filter(|url| !url.trim().is_empty())
                .map(SecretUrl::new),
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
            exposure: Exposure {
                max_connections: cap(exposure.max_connections.into()),
                max_connections_per_address: cap(exposure.max_connections_per_address.into()),
                header_read_timeout: (exposure.header_read_timeout > 0)
                    .then(|| Duration::from_secs(exposure.header_read_timeout)),
                connect_timeout: Duration::from_secs(exposure.connect_timeout),
                max_send_buffer_bytes: cap(exposure.max_send_buffer_bytes),
                wire_debug: exposure.wire_debug,
            },
            config_file: args.config_file.config,
        }
    }
}

/// Limits on what a peer can make the server hold before (and besides)
/// signing in: connections, the time to send a request head or a Socket.IO
/// CONNECT, and the bytes queued for a client that does not read. Each is a
/// flag with an environment variable; for the caps, 0 turns them off.
/// SECURITY.md's threat table names them.
#[derive(Debug, Clone, Args)]
pub struct ExposureArgs {
    /// Most TCP connections open at once; past it a new connection is
    /// closed as soon as it is accepted (a small reserve beyond it serves
    /// only `/health`, `/ready` and `/metrics`). 0 turns the cap off.
    #[arg(
        long,
        env = "LOCKSTEP_MAX_CONNECTIONS",
        value_name = "COUNT",
        default_value_t = defaults::MAX_CONNECTIONS
    )]
    pub max_connections: u32,

    /// Most TCP connections one client address may hold open at once. With
    /// --trust-proxy every peer is the proxy, and the cap is not applied
    /// (the proxy holds the clients' connections). 0 turns the cap off.
    #[arg(
        long,
        env = "LOCKSTEP_MAX_CONNECTIONS_PER_ADDRESS",
        value_name = "COUNT",
        default_value_t = defaults::MAX_CONNECTIONS_PER_ADDRESS
    )]
    pub max_connections_per_address: u32,

    /// Seconds a client has to send a whole HTTP request head; a slower one
    /// (slowloris) is disconnected. 0 turns the timeout off.
    #[arg(
        long,
        env = "LOCKSTEP_HEADER_READ_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = defaults::HEADER_READ_TIMEOUT_SECS
    )]
    pub header_read_timeout: u64,

    /// Seconds a Socket.IO transport may stay open without a namespace
    /// CONNECT (the handshake with the tokens); then it is closed.
    #[arg(
        long,
        env = "LOCKSTEP_CONNECT_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = defaults::CONNECT_TIMEOUT_SECS,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub connect_timeout: u64,

    /// Most bytes of outgoing packets queued for one socket that does not
    /// read; past it the socket is dropped (logged, and counted in
    /// `lockstep_slow_consumer_drops_total`). 0 turns the cap off.
    #[arg(
        long,
        env = "LOCKSTEP_MAX_SEND_BUFFER_BYTES",
        value_name = "BYTES",
        default_value_t = defaults::MAX_SEND_BUFFER_BYTES
    )]
    pub max_send_buffer_bytes: u64,

    /// Log the Socket.IO layer's packets (content, SDP, ICE candidates) at
    /// debug/trace level. Off, those packet logs are filtered out whatever
    /// RUST_LOG says: content is never logged by default. Local debugging only.
    #[arg(
        long,
        env = "LOCKSTEP_WIRE_DEBUG",
        value_name = "BOOL",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = ArgAction::Set,
        value_parser = BoolishValueParser::new()
    )]
    pub wire_debug: bool,
}

impl TokenArgs {
    /// The claims to sign, issued at `now`.
    pub fn claims(&self, now: DateTime<Utc>) -> Result<Claims, IssueError> {
        let user_id = self.user_id.as_ref().unwrap_or(&self.profile_id);
        let kind = if self.refresh {
            TokenKind::Refresh
        } else {
            TokenKind::Access
        };
        Ok(Claims {
            email: self.email.clone(),
            displayname: self.displayname.clone(),
            avatar: self.avatar.clone(),
            permissions: self.permissions.clone(),
            ..Claims::issue(
                user_id,
                &self.profile_id,
                &self.username,
                now,
                self.ttl,
                kind,
            )?
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
            let extra = flags_from_config_file(&command, name, sub, path).map_err(|message| {
                // The subcommand's usage, not the top-level one.
                command.build();
                match command.find_subcommand_mut(name) {
                    Some(sub) => sub.error(ErrorKind::InvalidValue, message),
                    None => command.error(ErrorKind::InvalidValue, message),
                }
            })?;
            if !extra.is_empty() {
                args.extend(extra);
                return Self::try_parse_from(args);
            }
        }
        Self::from_arg_matches(&matches).map_err(|error| error.format(&mut command))
    }
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

/// `HOST:PORT`: an IP address, or a host name resolved now (the first
/// address it resolves to, e.g. `localhost:3000` → `127.0.0.1:3000`).
fn parse_bind(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    use std::net::ToSocketAddrs;
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err("expected HOST:PORT, e.g. 127.0.0.1:3000 or localhost:3000".to_owned());
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("`{port}` is not a port number (0-65535)"))?;
    let mut addrs = (host, port)
        .to_socket_addrs()
        .map_err(|error| format!("cannot resolve the host name `{host}`: {error}"))?
        .collect::<Vec<_>>();
    // IPv4 first: `localhost` is usually wanted as 127.0.0.1.
    addrs.sort_by_key(|addr| !addr.is_ipv4());
    addrs
        .into_iter()
        .next()
        .ok_or_else(|| format!("the host name `{host}` resolves to no address"))
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
        let config = ServeConfig::from(serve_args(&[
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
        let config = ServeConfig::from(args);
        assert!(config.dev_mode);
        assert!(!config.jwt_secret.is_weak());
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
            Command::Serve(args) => ServeConfig::from(args),
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
        assert_eq!(
            config.call_ring_timeout,
            lockstep_contract::limits::RING_TIMEOUT
        );
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
        assert_eq!(
            config.heartbeat_interval,
            lockstep_contract::limits::HEARTBEAT_INTERVAL
        );
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
            ("# first\n\nheartbeat-intervall = 3", "line 3: unknown key"),
            (
                "heartbeat-intervall = 3",
                "did you mean `heartbeat-interval`?",
            ),
            ("zzz = 1", "unknown key `zzz` (the keys"),
            ("\n\"bind\" = \"nowhere\"", "line 2: `bind = \"nowhere\"`"),
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
    fn config_file_errors_show_the_subcommands_usage() {
        let error = with_config_file("heartbeat-interval = 0", &["serve", "--config", "{config}"])
            .expect_err("refused");
        let shown = error.render().to_string();
        assert!(shown.contains("Usage: lockstep serve"), "{shown}");
    }

    #[test]
    fn token_reads_the_secret_from_the_config_file() {
        let cli = with_config_file(
            FILE,
            &[
                "token",
                "--profile-id=p",
                "--username=u",
                "--config={config}",
            ],
        )
        .expect("parses");
        match cli.command {
            Command::Token(args) => assert_eq!(
                args.secret.jwt_secret.map(|s| s.expose_str().to_owned()),
                Some("secret-from-the-file".to_owned())
            ),
            other => panic!("not token: {other:?}"),
        }
    }

    #[test]
    fn bind_accepts_host_names() {
        assert_eq!(
            parse_bind("localhost:3000"),
            Ok("127.0.0.1:3000".parse().expect("addr"))
        );
        assert_eq!(
            parse_bind("[::1]:80"),
            Ok("[::1]:80".parse().expect("addr"))
        );
        assert!(parse_bind("localhost").is_err());
        assert!(parse_bind("localhost:http").is_err());
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

    #[test]
    fn exposure_flags_default_and_zero_turns_a_cap_off() {
        let defaults = ServeConfig::from(serve_args(&[])).exposure;
        assert_eq!(defaults, Exposure::default());
        assert_eq!(defaults.max_connections_per_address, Some(256));
        assert_eq!(defaults.connect_timeout, Duration::from_secs(10));
        let off = ServeConfig::from(serve_args(&[
            "--max-connections=0",
            "--max-connections-per-address=0",
            "--header-read-timeout=0",
            "--max-send-buffer-bytes=0",
            "--connect-timeout=3",
            "--wire-debug",
        ]))
        .exposure;
        assert_eq!(
            off,
            Exposure {
                max_connections: None,
                max_connections_per_address: None,
                header_read_timeout: None,
                connect_timeout: Duration::from_secs(3),
                max_send_buffer_bytes: None,
                wire_debug: true,
            }
        );
        // The CONNECT deadline is not a cap: it cannot be turned off.
        assert!(parse(&["serve", "--connect-timeout=0"]).is_err());
    }

    #[test]
    fn defaults_match_the_contract() {
        let config = ServeConfig::from(ServeArgs::defaults());
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
        let mut config = ServeConfig::from(serve_args(&["--jwt-secret=the-jwt-secret"]));
        config.database_url = SecretUrl::new("postgres://lockstep:db-password@db:5432/lockstep");
        config.redis_url = Some(SecretUrl::new("redis://:redis-password@cache:6379"));
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
