//! What the binary does: parse the command line (flags, then environment
//! variables, then the `--config` file) and run `serve`, `token`,
//! `migrate`, `init`, `completions` or `man`, with logging set up for it.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::auth::{JwtSecret, RECOMMENDED_SECRET_BYTES, TokenVerifier};
use crate::cli::{Cli, Command, MigrateArgs, ServeArgs, TokenArgs};
use crate::config::{LogFormat, ServeConfig};
use crate::failure::{self, Failure, explain_store_error};

/// Parses the process's command line and runs the subcommand; the exit
/// code says whether it worked (an error is printed on stderr, one line).
pub fn run() -> ExitCode {
    // Flags, then environment variables, then the `--config` file.
    let cli = Cli::parse_with_config_file();
    let outcome = match cli.command {
        Command::Serve(args) => block_on(serve(args)),
        Command::Token(args) => token(&args),
        Command::Migrate(args) => block_on(migrate(args)),
        Command::Init(args) => crate::cli::init(&args).map_err(Into::into),
        Command::Completions(args) => {
            crate::cli::completions(&args);
            Ok(())
        }
        Command::Man => crate::cli::man().context("writing the man page"),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole context chain on one line.
            eprintln!("lockstep: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Only `serve` and `migrate` need a runtime; `token` stays synchronous.
fn block_on(task: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?
        .block_on(task)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = ServeConfig::from(args);
    // A configured secret is a production one; a generated one is strong.
    refuse_weak_secret(&config.jwt_secret)?;
    init_tracing(config.log_format, config.exposure.wire_debug);
    // Before the banner and the database: a port in use is the likeliest
    // reason a second `lockstep serve` cannot start; then the dependencies.
    let listener = crate::app::bind(&config).await?;
    crate::app::preflight(&config).await?;
    if config.dev_mode {
        announce_dev_mode(&config.jwt_secret);
    }
    tracing::debug!(?config, "configuration");
    crate::app::run_on(listener, config).await
}

fn token(args: &TokenArgs) -> anyhow::Result<()> {
    // A random development secret would sign a token no server accepts.
    let secret = args.secret.jwt_secret.as_ref().ok_or_else(|| Failure {
        problem: "no JWT secret configured".to_owned(),
        hint: "pass --jwt-secret, set LOCKSTEP_JWT_SECRET or put jwt-secret in the --config file, \
               with the secret the server uses (a server started without one prints its \
               development secret at start-up)"
            .to_owned(),
    })?;
    refuse_weak_secret(secret)?;
    let claims = args.claims(chrono::Utc::now())?;
    let token = TokenVerifier::new(secret).mint(&claims)?;
    println!("{token}");
    Ok(())
}

/// Outside development mode a short secret is refused: HS256 with fewer
/// than 32 bytes of key can be brute-forced offline from one token.
fn refuse_weak_secret(secret: &JwtSecret) -> Result<(), Failure> {
    if !secret.is_weak() {
        return Ok(());
    }
    Err(Failure {
        problem: format!(
            "the JWT secret is {} bytes long; at least {RECOMMENDED_SECRET_BYTES} are required",
            secret.expose_bytes().len()
        ),
        hint: "generate one with `openssl rand -hex 32` and set it with --jwt-secret or \
               LOCKSTEP_JWT_SECRET (or leave it unset for development mode)"
            .to_owned(),
    })
}

async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    init_tracing(LogFormat::Text, false);
    let url = args.database.database_url;
    let location = failure::database_location(&url);
    tracing::info!(database = %location, "applying migrations");
    failure::probe_database(&url).await?;
    let store = crate::store::connect(&url)
        .await
        .map_err(|error| explain_store_error(&url, "open", &error))?;
    let applied = store
        .migrate()
        .await
        .map_err(|error| explain_store_error(&url, "migrate", &error));
    // Closing waits for the pool, so SQLite checkpoints its WAL before exit.
    store.close().await;
    let applied = applied?;
    if applied.is_empty() {
        tracing::info!(database = %location, "the schema was up to date: nothing to apply");
    } else {
        tracing::info!(database = %location, count = applied.len(), applied = ?applied, "migrations applied");
    }
    Ok(())
}

/// The crates under Socket.IO, whose debug and trace events print whole
/// packets as received and sent: message content, attachment URLs, SDP and
/// ICE candidates with private addresses.
const WIRE_TARGETS: [&str; 5] = [
    "socketioxide",
    "socketioxide_core",
    "socketioxide_parser_common",
    "socketioxide_redis",
    "engineioxide",
];

/// Logs go to stdout as text or JSON (one object per line, the event's
/// fields flattened beside `timestamp`, `level`, `target` and `message`);
/// the level comes from RUST_LOG (default `info`). Unless `wire_debug`
/// (`--wire-debug`), the Socket.IO layer logs at info at most, whatever
/// RUST_LOG asks: content is never logged by default.
fn init_tracing(format: LogFormat, wire_debug: bool) {
    let invalid_filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|value| EnvFilter::try_new(value).is_err());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let wire_filter = (!wire_debug).then(|| {
        WIRE_TARGETS.iter().fold(
            Targets::new().with_default(LevelFilter::TRACE),
            |targets, target| targets.with_target(*target, LevelFilter::INFO),
        )
    });
    // Colours only for a person at a terminal, never into files or collectors.
    let output = tracing_subscriber::fmt::layer().with_ansi(std::io::stdout().is_terminal());
    let output = match format {
        LogFormat::Text => output.boxed(),
        LogFormat::Json => output
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(wire_filter)
        .with(output)
        .init();
    if let Some(value) = invalid_filter {
        tracing::warn!(rust_log = %value, "RUST_LOG is not a valid filter; logging at info");
    }
    if wire_debug {
        tracing::warn!(
            "--wire-debug: Socket.IO packets, with message content and call signaling, may be logged"
        );
    }
}

/// Development mode must be impossible to miss: the banner goes straight to
/// stderr, whatever the log level or format.
fn announce_dev_mode(secret: &JwtSecret) {
    let secret = secret.expose_str();
    eprintln!(
        "\
================================================================================
 lockstep is running in DEVELOPMENT MODE: no JWT secret was configured.
 A random secret was generated for this process only:

     LOCKSTEP_JWT_SECRET={secret}

 Mint a token for it with:

     LOCKSTEP_JWT_SECRET={secret} lockstep token --profile-id alice --username alice

 Tokens stop working when the server restarts. Do NOT run like this in
 production: set --jwt-secret or LOCKSTEP_JWT_SECRET.
================================================================================"
    );
    tracing::warn!("development mode: JWT secret generated at start-up (see the banner on stderr)");
}
