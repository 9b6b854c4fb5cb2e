//! The store's error type and how sqlx errors are sorted into it.

use sqlx::error::ErrorKind;
use sqlx::postgres::PgDatabaseError;
use sqlx::sqlite::SqliteError;

/// Why a store operation failed.
///
/// The `Display` text of every variant is short and fixed: it never contains
/// SQL, database messages, connection strings or row data, so a caller may
/// show it to a client. The underlying sqlx error, when there is one, is kept
/// as the `source()` for logs.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or cannot do work right now: connection
    /// refused or lost, pool exhausted or closed, disk I/O error, database
    /// locked past the busy timeout, server shutting down. Retrying later may
    /// succeed. The server reports this as `STORAGE_UNAVAILABLE`.
    #[error("storage unavailable")]
    Unavailable(#[source] sqlx::Error),

    /// A uniqueness rule refused the write and the operation has no
    /// idempotent meaning for it.
    #[error("{0} already exists")]
    Conflict(&'static str),

    /// Something the operation refers to does not exist (an unknown history
    /// cursor, a reaction to a missing message, a participant of a missing
    /// chat). The text names the kind of thing, not its id.
    #[error("{0} not found")]
    NotFound(&'static str),

    /// The request breaks a rule of the data model (for example a direct chat
    /// that does not have exactly two members).
    #[error("invalid request: {0}")]
    Invalid(&'static str),

    /// A stored value could not be turned back into its Rust type (bad JSON,
    /// an unknown role, an out-of-range timestamp). Points at a bug or at
    /// data written by something else; not the caller's fault.
    #[error("stored data is malformed")]
    Corrupt(#[source] Box<dyn std::error::Error + Send + Sync>),

    /// The database URL is not usable (unknown scheme, bad syntax).
    #[error("invalid database configuration: {0}")]
    Config(&'static str),

    /// Applying migrations failed (for example a migration already applied
    /// was edited afterwards, or the database is newer than this binary).
    #[error("database migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),

    /// Any other database error (a bug in a statement, a constraint the
    /// store did not expect to hit).
    #[error("database error")]
    Database(#[source] sqlx::Error),
}

/// Shorthand used throughout the store.
pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// Sorts an sqlx error, naming `missing` as the thing that was not found
    /// when the database reports a foreign-key violation.
    pub(crate) fn from_sqlx(error: sqlx::Error, missing: &'static str) -> Self {
        if is_unavailable(&error) {
            return StoreError::Unavailable(error);
        }
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound("record"),
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnIndexOutOfBounds { .. } => StoreError::Corrupt(Box::new(error)),
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation => StoreError::Conflict("record"),
                ErrorKind::ForeignKeyViolation => StoreError::NotFound(missing),
                _ => StoreError::Database(error),
            },
            _ => StoreError::Database(error),
        }
    }
}

/// A `map_err` adapter for statements whose foreign keys name one kind of
/// thing: a violation becomes `NotFound(what)`.
pub(crate) fn missing(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |error| StoreError::from_sqlx(error, what)
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        StoreError::from_sqlx(error, "referenced record")
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        match error {
            sqlx::migrate::MigrateError::Execute(inner) if is_unavailable(&inner) => {
                StoreError::Unavailable(inner)
            }
            other => StoreError::Migrate(other),
        }
    }
}

/// Whether an error means "the database cannot serve this now" rather than
/// "this statement or this data is wrong".
fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() {
                is_transient_sqlstate(pg.code())
            } else if db.try_downcast_ref::<SqliteError>().is_some() {
                db.code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .is_some_and(is_transient_sqlite_code)
            } else {
                false
            }
        }
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs for a server that cannot work right now: class 08
/// (connection exception), 53 (insufficient resources: disk full, out of
/// memory, too many connections), 58 (system I/O error), 57014 (statement
/// cancelled, e.g. by a timeout) and 57P01..57P03 (shutting down, cannot
/// connect now).
fn is_transient_sqlstate(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("58")
        || matches!(code, "57014" | "57P01" | "57P02" | "57P03")
        // "database is not currently accepting connections" (ALLOW_CONNECTIONS
        // false, a database being dropped or restored): a connect-time state.
        || code == "55000"
}

/// SQLite result codes (extended codes keep the primary one in the low byte)
/// for a database that cannot work right now: BUSY (5) and LOCKED (6) past
/// the busy timeout, READONLY (8, e.g. a read-only file system), IOERR (10),
/// FULL (13) and CANTOPEN (14).
fn is_transient_sqlite_code(code: i32) -> bool {
    matches!(code & 0xff, 5 | 6 | 8 | 10 | 13 | 14)
}
/// A connection attempt's failure: bad options are the operator's mistake,
/// anything else means the database is not there for us.
pub(crate) fn connect_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::Configuration(_) => StoreError::Config("invalid database URL options"),
        sqlx::Error::Database(_) => StoreError::Unavailable(error),
        other => StoreError::from(other),
    }
}
