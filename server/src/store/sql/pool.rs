//! Opening the database: the connection pools of both backends, their
//! settings, the message writer and the background tasks each one needs.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use tokio::sync::Mutex;

use super::cache::Cache;
use super::checkpointer::{WAL_AUTOCHECKPOINT_PAGES, spawn_sqlite_checkpointer};
use super::postgres_writer::PgWriterConnection;
use super::writer::spawn_message_writer;
use super::{SqlStore, participants_listener, sqlite_writer};
use crate::store::error::connect_error;
use crate::store::{Store, StoreError, StoreResult};

/// How long a request waits for a free pooled connection before the store
/// reports `Unavailable` (instead of hanging a socket handler).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long SQLite waits for another connection's write lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite allows one writer at a time; a few connections let reads proceed
/// beside it (WAL) without piling up file handles on a 2-core machine.
const SQLITE_MAX_CONNECTIONS: u32 = 8;

const POSTGRES_MAX_CONNECTIONS: u32 = 16;

/// The pool of whichever database the URL named.
pub(super) enum Pools {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl SqlStore {
    /// On SQLite, waits for this process's turn to write (see
    /// [`SqlStore::sqlite_writes`]); on PostgreSQL writes run concurrently.
    pub(super) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.pools {
            Pools::Sqlite(_) => Some(self.sqlite_writes.lock().await),
            Pools::Postgres(_) => None,
        }
    }
}

/// Opens the database named by `database_url` (not yet migrated: call
/// [`Store::migrate`]).
///
/// * `sqlite://path` (or `sqlite:path`): the file is created if missing.
///   Journal mode WAL (readers do not block the writer), `synchronous=FULL`,
///   foreign keys on, 5 s busy timeout. FULL makes each commit fsync the WAL
///   before returning, so an acknowledged message survives not only `kill
///   -9` of the process (NORMAL would too: the WAL write has reached the OS)
///   but also a power cut or kernel crash, which NORMAL may roll back. The
///   cost, one fsync per commit, is shared by every message of a batch (see
///   `spawn_message_writer`). Messages are written on a connection of their
///   own. `sqlite::memory:` works too (one connection, gone when the store
///   closes, messages stored without batching), for throwaway use only.
/// * `postgres://…` or `postgresql://…`: a pool of up to 16 connections,
///   plus the message writer's own connection. PostgreSQL's default
///   `synchronous_commit=on` gives the same guarantee.
///
/// Connects eagerly (retrying for up to 5 s), so a wrong path, host or
/// password fails here ([`StoreError::Unavailable`]) rather than at the first
/// request. The URL is never echoed in errors (it may hold a password).
pub async fn connect(database_url: &str) -> StoreResult<Arc<dyn Store>> {
    Ok(open(database_url).await?)
}

/// [`connect`], keeping the concrete type (for tests of the internals).
pub(super) async fn open(database_url: &str) -> StoreResult<Arc<SqlStore>> {
    let scheme = database_url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    let mut sqlite_writer_path = None;
    let mut pg_writer_conn = None;
    let pools = match scheme.as_deref() {
        Some("sqlite") => {
            let options = SqliteConnectOptions::from_str(database_url)
                .map_err(|_| StoreError::Config("malformed sqlite:// database URL"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                // Checkpoints run in the background (`spawn_sqlite_checkpointer`);
                // a commit checkpoints only if they fall far behind.
                .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string());
            // `sqlite::memory:` (throwaway use such as tests): the database
            // lives as long as a connection to it, so keep exactly one open.
            let in_memory =
                database_url.contains(":memory:") || database_url.contains("mode=memory");
            let pool_options = if in_memory {
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
            } else {
                SqlitePoolOptions::new().max_connections(SQLITE_MAX_CONNECTIONS)
            };
            let pool = pool_options
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.clone())
                .await
                .map_err(connect_error)?;
            // The message writer opens a connection of its own (a second
            // connection to an in-memory database would be another, empty
            // database).
            if !in_memory {
                sqlite_writer_path = Some(options.get_filename().to_owned());
            }
            Pools::Sqlite(pool)
        }
        Some("postgres" | "postgresql") => {
            let options = PgConnectOptions::from_str(database_url)
                .map_err(|_| StoreError::Config("malformed postgres:// database URL"))?
                .application_name("lockstep");
            let pool = PgPoolOptions::new()
                .max_connections(POSTGRES_MAX_CONNECTIONS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options.clone())
                .await
                .map_err(connect_error)?;
            pg_writer_conn = Some(PgWriterConnection {
                options,
                conn: None,
            });
            Pools::Postgres(pool)
        }
        _ => {
            return Err(StoreError::Config(
                "database URL must start with sqlite:// or postgres://",
            ));
        }
    };
    let sqlite_writes = Arc::new(Mutex::new(()));
    let alive = Arc::new(());
    let cache = Arc::new(Cache::new(matches!(pools, Pools::Sqlite(_))));
    let mut listener = None;
    let writer = match (&pools, sqlite_writer_path, pg_writer_conn) {
        (Pools::Sqlite(pool), Some(path), _) => {
            let backfilled = Arc::new(AtomicBool::new(false));
            spawn_sqlite_checkpointer(pool.clone(), Arc::downgrade(&alive), backfilled.clone());
            Some(sqlite_writer::spawn(
                &path,
                sqlite_writer::Settings {
                    busy_timeout: SQLITE_BUSY_TIMEOUT,
                    cache_kib: WRITER_CACHE_KIB,
                    wal_autocheckpoint: WAL_AUTOCHECKPOINT_PAGES,
                },
                sqlite_writes.clone(),
                backfilled,
            )?)
        }
        (Pools::Postgres(_), _, Some(conn)) => {
            listener = Some(participants_listener::spawn(
                conn.options.clone(),
                ACQUIRE_TIMEOUT,
                &cache,
            ));
            Some(spawn_message_writer(conn))
        }
        _ => None,
    };
    Ok(Arc::new(SqlStore {
        pools,
        sqlite_writes,
        writer,
        cache,
        listener,
        _alive: alive,
    }))
}

/// Runs `$body` with `$pool` bound to the backend's concrete pool type. The
/// body is expanded once per backend, so each statement and each step is
/// written once and compiled against both drivers.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.pools {
            Pools::Sqlite($pool) => $body,
            Pools::Postgres($pool) => $body,
        }
    };
}

/// Page cache of the message writer's connection, in KiB: about SQLite's
/// default size. Larger is slower here: a commit can end by scanning the
/// page cache's whole hash table (`pcache1TruncateUnsafe`; the cache's
/// highest page number is left far past the end of the database), on the
/// writer's thread, while every acknowledgement of the batch waits. At 16
/// MiB that scan was 9 % of the writer's time; the pages no longer kept are
/// read back from the OS page cache (about one more `pread` per message).
const WRITER_CACHE_KIB: i64 = -2_048;
