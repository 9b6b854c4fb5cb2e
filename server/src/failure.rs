//! Start-up and `migrate` failures as one line an operator can act on: what
//! could not be done (naming the address, file or host), the cause once,
//! and a hint saying what to do about it.
//!
//! Dependencies are probed before the server touches anything: the listen
//! address is bound first, a PostgreSQL or Redis that refuses connections is
//! reported within [`PROBE_TIMEOUT`] (the database pool alone would retry
//! for seconds and then report only "pool timed out"), and a SQLite file
//! whose directory is missing is reported before SQLite says "unable to open
//! database file".

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use tokio::net::{TcpListener, TcpSocket};

use crate::config::redact_url_password;
use crate::store::StoreError;

/// How long a dependency may take to accept a TCP connection at start-up.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Where `--database-url` may be changed, for hints.
const DATABASE_SETTING: &str = "--database-url or LOCKSTEP_DATABASE_URL";
/// Where `--redis-url` may be changed, for hints.
const REDIS_SETTING: &str = "--redis-url or LOCKSTEP_REDIS_URL";
/// Where `--bind` may be changed, for hints.
const BIND_SETTING: &str = "--bind or LOCKSTEP_BIND";

/// A failure to start: printed by `main` as `lockstep: error: {self}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What could not be done and why, e.g. `cannot connect to PostgreSQL
    /// at 127.0.0.1:5999: connection refused`.
    pub problem: String,
    /// What to do about it.
    pub hint: String,
}

impl Failure {
    fn new(problem: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            problem: problem.into(),
            hint: hint.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; hint: {}", self.problem, self.hint)
    }
}

impl std::error::Error for Failure {}

/// Binds the listen address, before anything else is touched.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, Failure> {
    listen(addr).map_err(|error| {
        let problem = format!("cannot listen on {addr}: {}", io_cause(&error));
        let hint = match error.kind() {
            io::ErrorKind::AddrInUse => format!(
                "another process is using {addr}: stop it, or choose another address with {BIND_SETTING}"
            ),
            io::ErrorKind::PermissionDenied => format!(
                "ports below 1024 need extra privileges: choose a port above 1024 with {BIND_SETTING}"
            ),
            io::ErrorKind::AddrNotAvailable => format!(
                "{} is not an address of this machine: use 127.0.0.1 or 0.0.0.0 in {BIND_SETTING}",
                addr.ip()
            ),
            _ => format!("choose another address with {BIND_SETTING}"),
        };
        Failure::new(problem, hint)
    })
}

/// Connections the kernel may hold for `accept`. When a node dies, all of
/// its clients reconnect at once to the survivors, and a connect that finds
/// the queue full waits for the client's SYN retry (1 s, then 3 s, 7 s…):
/// tokio's `TcpListener::bind` asks for 1,024. The kernel caps the request
/// at `net.core.somaxconn` (4,096 by default since Linux 5.4).
const LISTEN_BACKLOG: u32 = 8192;

/// `TcpListener::bind` with a [`LISTEN_BACKLOG`] deep queue.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restarted server may bind while the
    // previous one's connections linger in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Checks that the database named by `url` can plausibly be opened, before
/// the store connects: the SQLite file's directory exists, the PostgreSQL
/// server accepts TCP connections.
pub async fn probe_database(url: &str) -> Result<(), Failure> {
    match Database::parse(url) {
        Some(Database::Sqlite(path)) => {
            if let Some(directory) = missing_directory(&path) {
                return Err(Failure::new(
                    format!(
                        "cannot open the SQLite database {}: the directory {} does not exist",
                        path.display(),
                        directory.display()
                    ),
                    format!(
                        "create the directory {}, or choose another path with {DATABASE_SETTING}",
                        directory.display()
                    ),
                ));
            }
            Ok(())
        }
        Some(Database::Postgres { host, port }) => {
            probe_tcp("PostgreSQL", &host, port, DATABASE_SETTING).await
        }
        Some(Database::Other) => Ok(()),
        None => {
            let scheme = url.split_once(':').map(|(scheme, _)| scheme);
            match scheme.map(str::to_ascii_lowercase).as_deref() {
                Some("sqlite" | "postgres" | "postgresql") => Ok(()),
                _ => Err(Failure::new(
                    format!(
                        "the database URL {} is neither sqlite:// nor postgres://",
                        redact_url_password(url)
                    ),
                    format!(
                        "use sqlite://PATH or postgres://USER:PASSWORD@HOST/DB in {DATABASE_SETTING}"
                    ),
                )),
            }
        }
    }
}

/// Explains a failure of the store to connect or migrate.
pub fn explain_store_error(url: &str, doing: &str, error: &StoreError) -> Failure {
    let cause = root_cause(error);
    if let StoreError::Migrate(_) = error {
        return Failure::new(
            format!(
                "cannot migrate the database {}: {cause}",
                database_location(url)
            ),
            format!(
                "the schema was changed by another version of lockstep or by hand: run the \
                 matching version, or choose another database with {DATABASE_SETTING}"
            ),
        );
    }
    match Database::parse(url) {
        Some(Database::Sqlite(path)) => {
            let cause = sqlite_cause(&path).unwrap_or(cause);
            Failure::new(
                format!(
                    "cannot {doing} the SQLite database {}: {cause}",
                    path.display()
                ),
                format!(
                    "make sure this user may write {} and its directory, or choose another path with {DATABASE_SETTING}",
                    path.display()
                ),
            )
        }
        Some(Database::Postgres { host, port }) => Failure::new(
            format!("cannot {doing} the PostgreSQL database at {host}:{port}: {cause}"),
            format!(
                "check the user, password and database name in {DATABASE_SETTING} ({})",
                redact_url_password(url)
            ),
        ),
        Some(Database::Other) | None => Failure::new(
            format!(
                "cannot {doing} the database {}: {cause}",
                redact_url_password(url)
            ),
            format!("use sqlite://PATH or postgres://USER:PASSWORD@HOST/DB in {DATABASE_SETTING}"),
        ),
    }
}

/// Checks that the Redis URL parses and that Redis accepts TCP connections.
pub async fn probe_redis(url: &str) -> Result<(), Failure> {
    let client = redis::Client::open(url).map_err(|error| {
        Failure::new(
            match error.detail() {
                Some(detail) => format!(
                    "the Redis URL {} is not valid: {detail}",
                    redact_url_password(url)
                ),
                None => format!("the Redis URL {} does not parse", redact_url_password(url)),
            },
            format!("use redis://HOST:PORT (or rediss:// for TLS) in {REDIS_SETTING}"),
        )
    })?;
    match client.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, port)
        | redis::ConnectionAddr::TcpTls { host, port, .. } => {
            probe_tcp("Redis", host, *port, REDIS_SETTING).await
        }
        _ => Ok(()),
    }
}

/// Explains a failure to connect to Redis that the probe did not catch.
pub fn explain_redis_error(url: &str, error: &anyhow::Error) -> Failure {
    let cause = error
        .chain()
        .last()
        .map_or_else(|| error.to_string(), ToString::to_string);
    Failure::new(
        format!(
            "cannot connect to Redis at {}: {cause}",
            redact_url_password(url)
        ),
        format!("is Redis running and reachable? Check {REDIS_SETTING}"),
    )
}

/// One TCP connection attempt to `host:port`, bounded by [`PROBE_TIMEOUT`].
async fn probe_tcp(service: &str, host: &str, port: u16, setting: &str) -> Result<(), Failure> {
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let attempt =
        tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect((host, port))).await;
    match attempt {
        Ok(Ok(_stream)) => Ok(()),
        Ok(Err(error)) => {
            let resolving = error.kind() != io::ErrorKind::ConnectionRefused
                && tokio::net::lookup_host((host, port)).await.is_err();
            if resolving {
                return Err(Failure::new(
                    format!(
                        "cannot connect to {service} at {target}: the host name {host} does not resolve"
                    ),
                    format!("check the host name in {setting}"),
                ));
            }
            Err(Failure::new(
                format!(
                    "cannot connect to {service} at {target}: {}",
                    io_cause(&error)
                ),
                format!("is {service} running on {target}? Start it, or change {setting}"),
            ))
        }
        Err(_) => Err(Failure::new(
            format!(
                "cannot connect to {service} at {target}: no answer within {} s",
                PROBE_TIMEOUT.as_secs()
            ),
            format!("check the host, the port and any firewall between, or change {setting}"),
        )),
    }
}

/// The database a URL names, as far as the probes care.
enum Database {
    Sqlite(PathBuf),
    Postgres {
        host: String,
        port: u16,
    },
    /// In memory, a Unix socket, or anything else not worth probing.
    Other,
}

impl Database {
    /// `None` for a URL the store will refuse anyway (it says why).
    fn parse(url: &str) -> Option<Self> {
        let scheme = url.split_once(':')?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => {
                if url.contains(":memory:") || url.contains("mode=memory") {
                    return Some(Database::Other);
                }
                let options = SqliteConnectOptions::from_str(url).ok()?;
                Some(Database::Sqlite(options.get_filename().to_owned()))
            }
            "postgres" | "postgresql" => {
                let options = PgConnectOptions::from_str(url).ok()?;
                let host = options.get_host().to_owned();
                if host.starts_with('/') {
                    return Some(Database::Other);
                }
                Some(Database::Postgres {
                    host,
                    port: options.get_port(),
                })
            }
            _ => None,
        }
    }
}

/// Where the database is, for the start-up line: the SQLite file's path,
/// or the URL with its password replaced.
pub fn database_location(url: &str) -> String {
    match Database::parse(url) {
        Some(Database::Sqlite(path)) => std::path::absolute(&path)
            .unwrap_or(path)
            .display()
            .to_string(),
        _ => redact_url_password(url).into_owned(),
    }
}

/// The directory of `file` when it does not exist (SQLite creates the file,
/// never its directory).
fn missing_directory(file: &Path) -> Option<PathBuf> {
    let parent = file.parent().filter(|p| !p.as_os_str().is_empty())?;
    (!parent.exists()).then(|| parent.to_owned())
}

/// What the file system says about opening `path` for writing, when SQLite
/// only said "unable to open database file".
fn sqlite_cause(path: &Path) -> Option<String> {
    if let Some(directory) = missing_directory(path) {
        return Some(format!(
            "the directory {} does not exist",
            directory.display()
        ));
    }
    let existed = path.exists();
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(!existed)
        .truncate(false)
        .open(path);
    match opened {
        Ok(_) => {
            if !existed {
                // Only created to learn why SQLite could not; leave nothing behind.
                let _ = std::fs::remove_file(path);
            }
            None
        }
        Err(error) => Some(io_cause(&error)),
    }
}

/// The innermost error of a chain: the cause, stated once.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost: &(dyn std::error::Error + 'static) = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    let text = innermost.to_string();
    // sqlx repeats SQLite's message: "(code: 14) unable to open database
    // file: (code: 14) unable to open database file".
    let half = text.len().saturating_sub(2) / 2;
    match (
        text.get(..half),
        text.get(half..half + 2),
        text.get(half + 2..),
    ) {
        (Some(first), Some(": "), Some(second)) if first == second => first.to_owned(),
        _ => text,
    }
}

/// An I/O error in words, without the `(os error N)` suffix.
fn io_cause(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        io::ErrorKind::AddrInUse => "the address is already in use".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        io::ErrorKind::NotFound => "not found".to_owned(),
        io::ErrorKind::AddrNotAvailable => "the address is not available".to_owned(),
        io::ErrorKind::TimedOut => "timed out".to_owned(),
        _ => {
            let text = error.to_string();
            match text.find(" (os error") {
                Some(end) => text[..end].to_owned(),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_port_in_use_names_the_address_and_the_setting() {
        let taken = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = taken.local_addr().expect("addr");
        let failure = bind(addr).await.expect_err("port is taken");
        let text = failure.to_string();
        assert!(text.contains(&addr.to_string()), "{text}");
        assert!(text.contains("already in use"), "{text}");
        assert!(text.contains("--bind"), "{text}");
    }

    #[tokio::test]
    async fn a_refused_postgres_names_host_port_and_cause() {
        // A port nobody listens on: bind one, learn it, close it.
        let port = {
            let probe = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            probe.local_addr().expect("addr").port()
        };
        let url = format!("postgres://lockstep:pw@127.0.0.1:{port}/db");
        let failure = probe_database(&url).await.expect_err("nobody listens");
        let text = failure.to_string();
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(text.contains("connection refused"), "{text}");
        assert!(text.contains("is PostgreSQL running"), "{text}");
        assert!(!text.contains("pw"), "{text}");
    }

    #[tokio::test]
    async fn a_missing_sqlite_directory_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("no").join("such").join("x.db");
        let url = format!("sqlite://{}", file.display());
        let failure = probe_database(&url).await.expect_err("directory missing");
        assert!(
            failure.problem.contains(&file.display().to_string()),
            "{failure}"
        );
        assert!(failure.hint.contains("create the directory"), "{failure}");
    }

    #[tokio::test]
    async fn a_bad_redis_url_says_what_is_expected() {
        let failure = probe_redis("notredis").await.expect_err("not a URL");
        assert!(failure.problem.contains("notredis"), "{failure}");
        assert!(failure.hint.contains("redis://HOST:PORT"), "{failure}");
    }

    #[test]
    fn repeated_causes_are_said_once() {
        let error = io::Error::other("(code: 14) unable to open: (code: 14) unable to open");
        assert_eq!(root_cause(&error), "(code: 14) unable to open");
    }
}
