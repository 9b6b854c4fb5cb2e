//! [`SqlStore`]: the SQLite and PostgreSQL implementation of [`Store`].
//!
//! Every statement below runs unchanged on both databases: `$n` placeholders
//! (sqlx's SQLite driver maps `$n` to the n-th bound value), `INSERT … ON
//! CONFLICT … DO NOTHING/DO UPDATE … RETURNING`, window functions and scalar
//! subqueries, all supported by the bundled SQLite (3.35+) and PostgreSQL 12+.
//! The two backends differ in how they are opened and migrated, and in
//! `add_participant`, which on PostgreSQL also tells the other nodes.
//!
//! SQLite note: a transaction here always starts with a write, so it takes
//! the write lock on its first statement and the busy timeout applies; a
//! deferred transaction that read first and wrote later could fail at once
//! with SQLITE_BUSY when another connection wrote in between.
//!
//! The hot path (`send_message`, measured in BENCHMARKS.md): messages are
//! stored by one writer thread that commits whatever is waiting in one
//! transaction (group commit: `sqlite_writer` on SQLite, through rusqlite;
//! `spawn_message_writer` on PostgreSQL); chats and participant lists are
//! served from memory (`Cache`, kept true across nodes on PostgreSQL by
//! `participants_listener`); on SQLite the
//! process's writes take turns instead of fighting over the write lock, and
//! WAL checkpoints run in the background (`spawn_sqlite_checkpointer`).

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::types::Json;
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{Mutex, mpsc, oneshot};
use ulid::Ulid;

mod participants_listener;
mod sqlite_writer;

use super::error::missing;
use super::{
    Backend, CallRecord, Chat, ChatHead, ChatSummary, ChatType, CreatedChat, DeviceSeen,
    HistoryMessage, HistoryPage, Inserted, NewChat, NewMessage, OfflineEnqueued, Participant,
    Profile, QueuedMessage, Reaction, Role, SeqPage, Store, StoreError, StoreResult, StoredMessage,
    Timestamp,
};

/// How long a request waits for a free pooled connection before the store
/// reports `Unavailable` (instead of hanging a socket handler).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long SQLite waits for another connection's write lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite allows one writer at a time; a few connections let reads proceed
/// beside it (WAL) without piling up file handles on a 2-core machine.
const SQLITE_MAX_CONNECTIONS: u32 = 8;

const POSTGRES_MAX_CONNECTIONS: u32 = 16;

/// Rows (or ids) per multi-row statement. Keeps the bound-parameter count
/// well under both databases' limits (SQLite 32766, PostgreSQL 65535) while
/// still turning a whole group's fan-out into one statement.
const MAX_ROWS_PER_STATEMENT: usize = 500;

enum Pools {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The SQL implementation of [`Store`]; made by [`connect`].
struct SqlStore {
    pools: Pools,
    /// SQLite only: this process's writes take turns here instead of
    /// contending for SQLite's write lock, whose busy handler sleeps (1 ms,
    /// 2 ms, 5 ms, …) and so turned every collision into milliseconds of
    /// latency under load.
    sqlite_writes: Arc<Mutex<()>>,
    /// The thread that stores messages in batches (group commit); none for
    /// an in-memory SQLite database.
    writer: Option<mpsc::UnboundedSender<WriterCommand>>,
    cache: Arc<Cache>,
    /// PostgreSQL only: the connection that hears other nodes' participant
    /// changes (`participants_listener`), closed with the store.
    listener: Option<PgPool>,
    /// Background tasks hold a weak reference and stop once it is gone.
    _alive: Arc<()>,
}

/// Most chats the caches hold; past it they start over (cheaper than LRU
/// bookkeeping on every hit, and a refill is one query per chat).
const CACHE_MAX_CHATS: usize = 50_000;

/// Rows the store looks up on every message, kept in memory.
///
/// * Chats: a chat row never changes once created (the store has no update
///   or delete of chats), so a cached chat is exact even with several nodes
///   sharing PostgreSQL.
/// * Participant lists. On SQLite the file is served by one process and
///   every change of a list goes through this store, which drops the list
///   when it changes. On PostgreSQL another node may add a participant: the
///   node that adds one announces it with `NOTIFY` in the same statement,
///   and every node drops the list when the notification arrives
///   (`participants_listener`). Lists are only served while that listener
///   is connected (`participants_live`); when it loses its connection,
///   every list is dropped, since changes may have been missed.
///
/// A list read from the database is only cached if no change happened while
/// it was being read (`generation`), so a read racing a change can never
/// leave a stale list behind. After [`Store::close`] nothing is served from
/// memory.
struct Cache {
    chats: RwLock<HashMap<String, Chat>>,
    participants: RwLock<HashMap<String, Arc<[Participant]>>>,
    /// Whether a list may be served from (and kept in) memory: always on
    /// SQLite; on PostgreSQL while the change notifications are heard.
    participants_live: AtomicBool,
    generation: AtomicU64,
    closed: AtomicBool,
}

impl Cache {
    /// `participants_live`: whether participant lists may be cached from
    /// the start (SQLite) or only once the change notifications are heard
    /// (PostgreSQL, see [`Cache::set_participants_live`]).
    fn new(participants_live: bool) -> Self {
        Self {
            chats: RwLock::default(),
            participants: RwLock::default(),
            participants_live: AtomicBool::new(participants_live),
            generation: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    fn open(&self) -> bool {
        !self.closed.load(Ordering::Acquire)
    }

    fn chat(&self, chatid: &str) -> Option<Chat> {
        if !self.open() {
            return None;
        }
        read(&self.chats).get(chatid).cloned()
    }

    fn keep_chat(&self, chat: &Chat) {
        let mut chats = write(&self.chats);
        if chats.len() >= CACHE_MAX_CHATS {
            chats.clear();
        }
        chats.insert(chat.chatid.clone(), chat.clone());
    }

    fn participants(&self, chatid: &str) -> Option<Arc<[Participant]>> {
        if !self.open() || !self.participants_live.load(Ordering::Acquire) {
            return None;
        }
        read(&self.participants).get(chatid).cloned()
    }

    /// Where a list read from the database may be cached: the generation
    /// before the read.
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn keep_participants(&self, chatid: &str, list: &[Participant], read_at: u64) {
        // An empty list means no such chat (every chat has its creator).
        if list.is_empty() {
            return;
        }
        let mut lists = write(&self.participants);
        if self.generation() != read_at || !self.participants_live.load(Ordering::Acquire) {
            return;
        }
        if lists.len() >= CACHE_MAX_CHATS {
            lists.clear();
        }
        lists.insert(chatid.to_owned(), list.into());
    }

    /// Drops `chatid`'s list after a change to it.
    fn participants_changed(&self, chatid: &str) {
        let mut lists = write(&self.participants);
        self.generation.fetch_add(1, Ordering::AcqRel);
        lists.remove(chatid);
    }

    /// Drops every list. A read that started before this call is not
    /// cached afterwards either (the generation moves on).
    fn forget_participants(&self) {
        let mut lists = write(&self.participants);
        self.generation.fetch_add(1, Ordering::AcqRel);
        lists.clear();
    }

    /// From now on caches lists only if `live`, and drops every list held:
    /// going live once the listener listens means that every list cached
    /// afterwards was read while changes were heard.
    fn set_participants_live(&self, live: bool) {
        self.participants_live.store(live, Ordering::Release);
        self.forget_participants();
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        write(&self.chats).clear();
        write(&self.participants).clear();
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

impl SqlStore {
    /// On SQLite, waits for this process's turn to write (see
    /// [`SqlStore::sqlite_writes`]); on PostgreSQL writes run concurrently.
    async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
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
async fn open(database_url: &str) -> StoreResult<Arc<SqlStore>> {
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
            listener = Some(participants_listener::spawn(conn.options.clone(), &cache));
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

/// A connection attempt's failure: bad options are the operator's mistake,
/// anything else means the database is not there for us.
fn connect_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::Configuration(_) => StoreError::Config("invalid database URL options"),
        sqlx::Error::Database(_) => StoreError::Unavailable(error),
        other => StoreError::from(other),
    }
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

/// The columns of `messages` in [`MessageRow`] order, each prefixed with
/// `$table` (`""` or `"m."`).
#[rustfmt::skip] // one column per line, prefix beside its name
macro_rules! message_columns {
    ($table:literal) => {
        concat!(
            $table, "seq, ",
            $table, "chat_seq, ",
            $table, "messageid, ",
            $table, "chatid, ",
            $table, "senderid, ",
            $table, "client_message_id, ",
            $table, "message_type, ",
            $table, "content, ",
            $table, "attachments, ",
            $table, "reply_to, ",
            $table, "mentions, ",
            $table, "created_at"
        )
    };
}

/// The columns of `chats` in [`ChatRow`] order, each prefixed with `$table`.
#[rustfmt::skip] // one column per line, prefix beside its name
macro_rules! chat_columns {
    ($table:literal) => {
        concat!(
            $table, "chatid, ",
            $table, "chat_type, ",
            $table, "chat_name, ",
            $table, "settings, ",
            $table, "created_by, ",
            $table, "created_at"
        )
    };
}

/// The columns of `profiles` in [`ProfileRow`] order.
macro_rules! profile_columns {
    () => {
        "profileid, user_id, username, displayname, avatar, email, updated_at"
    };
}

/// Stores a message unless its (senderid, client_message_id) pair exists.
/// Binds: see [`bind_message!`].
macro_rules! insert_message {
    () => {
        "INSERT INTO messages (messageid, chatid, senderid, client_message_id, \
             message_type, content, attachments, reply_to, mentions, created_at, chat_seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (senderid, client_message_id) DO NOTHING"
    };
}

/// Takes the next `seq` of chat `$1` (see `migrations/*/0003_chat_seq.sql`).
/// On PostgreSQL the update locks the chat's row until the transaction ends,
/// so writers of one chat, on any node, take numbers one after another.
const NEXT_CHAT_SEQ: &str =
    "UPDATE chats SET last_seq = last_seq + 1 WHERE chatid = $1 RETURNING last_seq";

/// [`insert_message!`], answering with the stored row.
const INSERT_MESSAGE: &str = concat!(insert_message!(), " RETURNING ", message_columns!(""));

/// [`insert_message!`] as it is, for the SQLite writer, which knows every
/// column of the row but `seq`, the row id (`chat_seq` it binds itself). SQLite answers `RETURNING`
/// through a temporary table that it opens and closes for every statement:
/// work on the writer's thread, which every acknowledgement waits for.
const INSERT_MESSAGE_UNRETURNED: &str = insert_message!();

/// The chats of participant `$1` with their newest `seq` (`sync`): the
/// participant index (profileid, chatid), then one primary-key lookup per
/// chat. A subquery, not a join: with a join PostgreSQL preferred hashing
/// every row of `chats` to probing it a hundred times. Plans on both
/// databases in ARCHITECTURE.md and in the store tests.
pub(super) const CHAT_HEADS: &str = "SELECT p.chatid, \
     (SELECT c.last_seq FROM chats c WHERE c.chatid = p.chatid) AS last_seq \
     FROM chat_participants p WHERE p.profileid = $1";

/// Messages of chat `$1` after `seq` `$2`, oldest first, at most `$3`: one
/// range scan of `messages_by_chat_seq`.
pub(super) const MESSAGES_AFTER: &str = concat!(
    "SELECT ",
    message_columns!(""),
    " FROM messages WHERE chatid = $1 AND chat_seq > $2 ORDER BY chat_seq LIMIT $3"
);

/// The stored message of a (senderid, client_message_id) pair.
const SELECT_MESSAGE_BY_CLIENT_ID: &str = concat!(
    "SELECT ",
    message_columns!(""),
    " FROM messages WHERE senderid = $1 AND client_message_id = $2"
);

/// Binds a [`NewMessage`], its new id and its `seq` to [`INSERT_MESSAGE`].
macro_rules! bind_message {
    ($query:expr, $messageid:expr, $message:expr, $chat_seq:expr) => {
        $query
            .bind($messageid)
            .bind(&$message.chatid)
            .bind(&$message.senderid)
            .bind(&$message.client_message_id)
            .bind(&$message.message_type)
            .bind(&$message.content)
            .bind(Json(&$message.attachments))
            .bind(&$message.reply_to)
            .bind(Json(&$message.mentions))
            .bind(millis($message.created_at))
            .bind($chat_seq)
    };
}

/// [`Store::insert_message`] in a transaction of its own, outside any
/// batch: `$begin` opens it (on a pool or a connection). Evaluates to
/// `Result<(row, created), StoreError>`.
///
/// The chat's counter is raised first (on PostgreSQL this waits for other
/// writers of the chat, on any node, to commit), then the message is
/// inserted with the new number. When the insert turns out to be a retry of
/// a stored message, the transaction is rolled back, so the number is not
/// used up, and the earlier row is read: committed by now, since a
/// concurrent insert of the same pair makes PostgreSQL wait for it.
macro_rules! insert_message_alone {
    ($begin:expr, $exec:expr, $messageid:expr, $message:expr) => {
        async {
            let mut tx = $begin.await?;
            let chat_seq: Option<i64> = sqlx::query_scalar(NEXT_CHAT_SEQ)
                .bind(&$message.chatid)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(chat_seq) = chat_seq else {
                return Err(StoreError::NotFound("chat"));
            };
            let inserted: Option<MessageRow> = bind_message!(
                sqlx::query_as(INSERT_MESSAGE),
                $messageid,
                $message,
                chat_seq
            )
            .fetch_optional(&mut *tx)
            .await
            .map_err(missing("chat or replied-to message"))?;
            match inserted {
                Some(row) => {
                    tx.commit().await?;
                    Ok((row, true))
                }
                None => {
                    tx.rollback().await?;
                    let existing: MessageRow = sqlx::query_as(SELECT_MESSAGE_BY_CLIENT_ID)
                        .bind(&$message.senderid)
                        .bind(&$message.client_message_id)
                        .fetch_one($exec)
                        .await?;
                    Ok((existing, false))
                }
            }
        }
        .await
    };
}

#[async_trait::async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        match self.pools {
            Pools::Sqlite(_) => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    async fn migrate(&self) -> StoreResult<Vec<String>> {
        use sqlx::migrate::Migrate;
        // Not `on_pool!`: each backend has its own migration set, embedded at
        // compile time from migrations/{sqlite,postgres}. What was applied
        // before is read first, to report what this run applied.
        let (migrator, applied) = match &self.pools {
            Pools::Sqlite(pool) => {
                let migrator = sqlx::migrate!("./migrations/sqlite");
                let mut conn = pool.acquire().await?;
                conn.ensure_migrations_table().await?;
                let applied = conn.list_applied_migrations().await?;
                drop(conn);
                migrator.run(pool).await?;
                (migrator, applied)
            }
            Pools::Postgres(pool) => {
                let migrator = sqlx::migrate!("./migrations/postgres");
                let mut conn = pool.acquire().await?;
                conn.ensure_migrations_table().await?;
                let applied = conn.list_applied_migrations().await?;
                drop(conn);
                migrator.run(pool).await?;
                (migrator, applied)
            }
        };
        Ok(migrator
            .iter()
            .filter(|migration| !migration.migration_type.is_down_migration())
            .filter(|migration| !applied.iter().any(|done| done.version == migration.version))
            .map(|migration| format!("{} {}", migration.version, migration.description))
            .collect())
    }

    async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
            Ok(())
        })
    }

    async fn close(&self) {
        self.cache.close();
        if let Some(listener) = &self.listener {
            listener.close().await;
        }
        if let Some(writer) = &self.writer {
            let (done, closed) = oneshot::channel();
            if writer.send(WriterCommand::Close(done)).is_ok() {
                let _ = closed.await;
            }
        }
        on_pool!(self, |pool| pool.close().await)
    }

    async fn upsert_profile(&self, profile: &Profile) -> StoreResult<()> {
        let _turn = self.write_turn().await;
        on_pool!(self, |pool| {
            sqlx::query(UPSERT_PROFILE)
                .bind(&profile.profileid)
                .bind(&profile.user_id)
                .bind(&profile.username)
                .bind(&profile.displayname)
                .bind(&profile.avatar)
                .bind(&profile.email)
                .bind(millis(profile.updated_at))
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    async fn get_profile(&self, profileid: &str) -> StoreResult<Option<Profile>> {
        let row: Option<ProfileRow> = on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                profile_columns!(),
                " FROM profiles WHERE profileid = $1"
            ))
            .bind(profileid)
            .fetch_optional(pool)
            .await?
        });
        row.map(Profile::try_from).transpose()
    }

    async fn get_profiles(&self, profileids: &[String]) -> StoreResult<Vec<Profile>> {
        let profileids = distinct(profileids.iter().map(String::as_str));
        let mut profiles = Vec::with_capacity(profileids.len());
        for chunk in profileids.chunks(MAX_ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT {} FROM profiles WHERE profileid IN ({})",
                profile_columns!(),
                placeholders(1, chunk.len())
            );
            let rows: Vec<ProfileRow> = on_pool!(self, |pool| {
                let mut query = sqlx::query_as(&sql);
                for profileid in chunk {
                    query = query.bind(*profileid);
                }
                query.fetch_all(pool).await?
            });
            for row in rows {
                profiles.push(Profile::try_from(row)?);
            }
        }
        Ok(profiles)
    }

    async fn create_chat(&self, new_chat: &NewChat) -> StoreResult<CreatedChat> {
        let members = distinct(
            std::iter::once(new_chat.creator.as_str())
                .chain(new_chat.participants.iter().map(String::as_str)),
        );
        let direct_key = match new_chat.chat_type {
            ChatType::Direct => match members.as_slice() {
                [a, b] => Some(direct_chat_key(a, b)),
                _ => {
                    return Err(StoreError::Invalid(
                        "a direct chat has exactly two members: the creator and one other",
                    ));
                }
            },
            ChatType::Group | ChatType::Channel => None,
        };
        let chatid = Ulid::new().to_string();
        let created_at = millis(new_chat.created_at);

        let _turn = self.write_turn().await;
        let (row, created): (ChatRow, bool) = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let inserted: Option<ChatRow> = sqlx::query_as(concat!(
                "INSERT INTO chats \
                     (chatid, chat_type, chat_name, created_by, created_at, direct_key) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (direct_key) DO NOTHING \
                 RETURNING ",
                chat_columns!("")
            ))
            .bind(&chatid)
            .bind(new_chat.chat_type.as_str())
            .bind(&new_chat.chat_name)
            .bind(&new_chat.creator)
            .bind(created_at)
            .bind(&direct_key)
            .fetch_optional(&mut *tx)
            .await?;
            let outcome = match inserted {
                Some(row) => {
                    for chunk in members.chunks(MAX_ROWS_PER_STATEMENT) {
                        // ($1 chatid, $2 joined_at) shared; two values per member.
                        let values = (0..chunk.len())
                            .map(|i| format!("($1, ${}, ${}, $2)", 3 + 2 * i, 4 + 2 * i))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let sql = format!(
                            "INSERT INTO chat_participants (chatid, profileid, role, joined_at) \
                             VALUES {values} ON CONFLICT (chatid, profileid) DO NOTHING"
                        );
                        let mut query = sqlx::query(&sql).bind(&chatid).bind(created_at);
                        for profileid in chunk {
                            let role = if *profileid == new_chat.creator {
                                Role::Owner
                            } else {
                                Role::Member
                            };
                            query = query.bind(*profileid).bind(role.as_str());
                        }
                        query.execute(&mut *tx).await?;
                    }
                    (row, true)
                }
                None => {
                    let existing: ChatRow = sqlx::query_as(concat!(
                        "SELECT ",
                        chat_columns!(""),
                        " FROM chats WHERE direct_key = $1"
                    ))
                    .bind(&direct_key)
                    .fetch_one(&mut *tx)
                    .await?;
                    (existing, false)
                }
            };
            tx.commit().await?;
            outcome
        });
        if created {
            self.cache.participants_changed(&row.chatid);
        }
        Ok(CreatedChat {
            chat: Chat::try_from(row)?,
            created,
        })
    }

    async fn get_chat(&self, chatid: &str) -> StoreResult<Option<Chat>> {
        if let Some(chat) = self.cache.chat(chatid) {
            return Ok(Some(chat));
        }
        let row: Option<ChatRow> = on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                chat_columns!(""),
                " FROM chats WHERE chatid = $1"
            ))
            .bind(chatid)
            .fetch_optional(pool)
            .await?
        });
        let chat = row.map(Chat::try_from).transpose()?;
        if let Some(chat) = &chat {
            self.cache.keep_chat(chat);
        }
        Ok(chat)
    }

    async fn list_chats_for(&self, profileid: &str) -> StoreResult<Vec<ChatSummary>> {
        let rows: Vec<ChatSummaryRow> = on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                chat_columns!("summary."),
                ", summary.role, summary.participant_count, summary.last_message_at \
                 FROM ( \
                     SELECT ",
                chat_columns!("c."),
                ", me.role, \
                         (SELECT COUNT(*) FROM chat_participants p \
                          WHERE p.chatid = c.chatid) AS participant_count, \
                         (SELECT m.created_at FROM messages m WHERE m.chatid = c.chatid \
                          ORDER BY m.seq DESC LIMIT 1) AS last_message_at \
                     FROM chat_participants me JOIN chats c ON c.chatid = me.chatid \
                     WHERE me.profileid = $1 \
                 ) AS summary \
                 ORDER BY COALESCE(summary.last_message_at, summary.created_at) DESC, \
                          summary.chatid DESC"
            ))
            .bind(profileid)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(ChatSummary::try_from).collect()
    }

    async fn get_participant(&self, chatid: &str, profileid: &str) -> StoreResult<Option<Role>> {
        if let Some(list) = self.cache.participants(chatid) {
            return Ok(list
                .iter()
                .find(|p| p.profileid == profileid)
                .map(|p| p.role));
        }
        let role: Option<String> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT role FROM chat_participants WHERE chatid = $1 AND profileid = $2",
            )
            .bind(chatid)
            .bind(profileid)
            .fetch_optional(pool)
            .await?
        });
        role.as_deref().map(parse_stored).transpose()
    }

    async fn list_participants(&self, chatid: &str) -> StoreResult<Vec<Participant>> {
        if let Some(list) = self.cache.participants(chatid) {
            return Ok(list.to_vec());
        }
        let read_at = self.cache.generation();
        let rows: Vec<ParticipantRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT profileid, role, joined_at FROM chat_participants \
                 WHERE chatid = $1 ORDER BY joined_at, profileid",
            )
            .bind(chatid)
            .fetch_all(pool)
            .await?
        });
        let list = rows
            .into_iter()
            .map(Participant::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        self.cache.keep_participants(chatid, &list, read_at);
        Ok(list)
    }

    async fn add_participant(
        &self,
        chatid: &str,
        profileid: &str,
        role: Role,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let _turn = self.write_turn().await;
        let changed = match &self.pools {
            Pools::Sqlite(pool) => sqlx::query(
                "INSERT INTO chat_participants (chatid, profileid, role, joined_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (chatid, profileid) DO NOTHING",
            )
            .bind(chatid)
            .bind(profileid)
            .bind(role.as_str())
            .bind(millis(at))
            .execute(pool)
            .await
            .map_err(missing("chat"))?
            .rows_affected(),
            // Other nodes cache the list too: the notification goes out
            // when (and only if) the row is committed.
            Pools::Postgres(pool) => sqlx::query(
                "WITH added AS ( \
                     INSERT INTO chat_participants (chatid, profileid, role, joined_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (chatid, profileid) DO NOTHING \
                     RETURNING chatid \
                 ) \
                 SELECT pg_notify($5, chatid)::text FROM added",
            )
            .bind(chatid)
            .bind(profileid)
            .bind(role.as_str())
            .bind(millis(at))
            .bind(participants_listener::CHANNEL)
            .fetch_all(pool)
            .await
            .map_err(missing("chat"))?
            .len() as u64,
        };
        if changed > 0 {
            self.cache.participants_changed(chatid);
        }
        Ok(changed > 0)
    }

    async fn chat_partners(&self, profileid: &str) -> StoreResult<Vec<String>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT DISTINCT other.profileid \
                 FROM chat_participants me \
                 JOIN chat_participants other ON other.chatid = me.chatid \
                 WHERE me.profileid = $1 AND other.profileid <> $1 \
                 ORDER BY other.profileid",
            )
            .bind(profileid)
            .fetch_all(pool)
            .await?
        }))
    }

    async fn shared_chat(&self, a: &str, b: &str) -> StoreResult<Option<String>> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT pa.chatid \
                 FROM chat_participants pa \
                 JOIN chat_participants pb ON pb.chatid = pa.chatid \
                 JOIN chats c ON c.chatid = pa.chatid \
                 WHERE pa.profileid = $1 AND pb.profileid = $2 \
                 ORDER BY CASE WHEN c.chat_type = 'direct' THEN 0 ELSE 1 END, pa.chatid \
                 LIMIT 1",
            )
            .bind(a)
            .bind(b)
            .fetch_optional(pool)
            .await?
        }))
    }

    async fn insert_message(&self, message: &NewMessage) -> StoreResult<Inserted> {
        let messageid = Ulid::new().to_string();
        let (row, created): (MessageRow, bool) = match &self.writer {
            // The writer stores it, in one transaction with the messages
            // sent at the same moment (see `spawn_message_writer`).
            Some(writer) => {
                let (reply, answer) = oneshot::channel();
                let job = InsertJob {
                    messageid,
                    message: message.clone(),
                    reply,
                };
                writer
                    .send(WriterCommand::Insert(Box::new(job)))
                    .map_err(|_| StoreError::Unavailable(sqlx::Error::PoolClosed))?;
                answer
                    .await
                    .map_err(|_| StoreError::Unavailable(sqlx::Error::WorkerCrashed))??
            }
            None => {
                let _turn = self.write_turn().await;
                on_pool!(self, |pool| insert_message_alone!(
                    pool.begin(),
                    pool,
                    &messageid,
                    message
                )?)
            }
        };
        Ok(Inserted {
            message: StoredMessage::try_from(row)?,
            created,
        })
    }

    async fn get_message(&self, messageid: &str) -> StoreResult<Option<StoredMessage>> {
        let row: Option<MessageRow> = on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT ",
                message_columns!(""),
                " FROM messages WHERE messageid = $1"
            ))
            .bind(messageid)
            .fetch_optional(pool)
            .await?
        });
        row.map(StoredMessage::try_from).transpose()
    }

    async fn get_messages(&self, messageids: &[String]) -> StoreResult<Vec<StoredMessage>> {
        let mut messages = Vec::with_capacity(messageids.len());
        for chunk in distinct(messageids.iter().map(String::as_str)).chunks(MAX_ROWS_PER_STATEMENT)
        {
            let sql = format!(
                "SELECT {} FROM messages WHERE messageid IN ({})",
                message_columns!(""),
                placeholders(1, chunk.len())
            );
            let rows: Vec<MessageRow> = on_pool!(self, |pool| {
                let mut query = sqlx::query_as(&sql);
                for messageid in chunk {
                    query = query.bind(*messageid);
                }
                query.fetch_all(pool).await?
            });
            for row in rows {
                messages.push(StoredMessage::try_from(row)?);
            }
        }
        Ok(messages)
    }

    async fn chat_heads(&self, profileid: &str) -> StoreResult<Vec<ChatHead>> {
        let rows: Vec<(String, i64)> = on_pool!(self, |pool| {
            sqlx::query_as(CHAT_HEADS)
                .bind(profileid)
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(chatid, last_seq)| ChatHead { chatid, last_seq })
            .collect())
    }

    async fn messages_after(&self, chatid: &str, after: i64, limit: u32) -> StoreResult<SeqPage> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        // One row past the page tells whether there are more.
        let mut rows: Vec<MessageRow> = on_pool!(self, |pool| {
            sqlx::query_as(MESSAGES_AFTER)
                .bind(chatid)
                .bind(after)
                .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
                .fetch_all(pool)
                .await?
        });
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        Ok(SeqPage {
            messages: rows
                .into_iter()
                .map(StoredMessage::try_from)
                .collect::<StoreResult<Vec<_>>>()?,
            has_more,
        })
    }

    async fn history(
        &self,
        chatid: &str,
        before: Option<&str>,
        limit: u32,
    ) -> StoreResult<HistoryPage> {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut rows: Vec<MessageRow> = on_pool!(self, |pool| {
            let before_seq: i64 = match before {
                None => i64::MAX,
                Some(messageid) => sqlx::query_scalar(
                    "SELECT seq FROM messages WHERE messageid = $1 AND chatid = $2",
                )
                .bind(messageid)
                .bind(chatid)
                .fetch_optional(pool)
                .await?
                .ok_or(StoreError::NotFound("message"))?,
            };
            // One row past the page tells whether there are more.
            sqlx::query_as(concat!(
                "SELECT ",
                message_columns!(""),
                " FROM messages WHERE chatid = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
            ))
            .bind(chatid)
            .bind(before_seq)
            .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await?
        });
        let has_more = rows.len() > limit;
        rows.truncate(limit);

        let messages = rows
            .into_iter()
            .map(StoredMessage::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        let messageids: Vec<String> = messages.iter().map(|m| m.messageid.clone()).collect();
        let mut reactions = self.reactions_for(&messageids).await?;
        Ok(HistoryPage {
            messages: messages
                .into_iter()
                .map(|message| HistoryMessage {
                    reactions: reactions.remove(&message.messageid).unwrap_or_default(),
                    message,
                })
                .collect(),
            has_more,
        })
    }

    async fn reactions_for(
        &self,
        messageids: &[String],
    ) -> StoreResult<HashMap<String, Vec<Reaction>>> {
        let mut by_message: HashMap<String, Vec<Reaction>> = HashMap::new();
        for chunk in distinct(messageids.iter().map(String::as_str)).chunks(MAX_ROWS_PER_STATEMENT)
        {
            let sql = format!(
                "SELECT messageid, profileid, emoji, created_at FROM message_reactions \
                 WHERE messageid IN ({}) ORDER BY created_at, profileid, emoji",
                placeholders(1, chunk.len())
            );
            let rows: Vec<ReactionRow> = on_pool!(self, |pool| {
                let mut query = sqlx::query_as(&sql);
                for messageid in chunk {
                    query = query.bind(*messageid);
                }
                query.fetch_all(pool).await?
            });
            for row in rows {
                by_message.entry(row.messageid).or_default().push(Reaction {
                    profileid: row.profileid,
                    emoji: row.emoji,
                    created_at: from_millis(row.created_at)?,
                });
            }
        }
        Ok(by_message)
    }

    async fn record_deliveries(
        &self,
        deliveries: &[(String, String, Timestamp)],
    ) -> StoreResult<()> {
        // One row per pair: PostgreSQL refuses to touch a row twice in one
        // statement.
        let mut seen = HashSet::new();
        let rows: Vec<&(String, String, Timestamp)> = deliveries
            .iter()
            .filter(|(messageid, profileid, _)| seen.insert((messageid, profileid)))
            .collect();
        let _turn = self.write_turn().await;
        for chunk in rows.chunks(MAX_ROWS_PER_STATEMENT) {
            // Three values per delivery. Only messages that still exist (a
            // deleted chat takes its messages along).
            let values = (0..chunk.len())
                .map(|i| format!("(${}, ${}, ${})", 1 + 3 * i, 2 + 3 * i, 3 + 3 * i))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "WITH d (messageid, profileid, delivered_at) AS (VALUES {values}) \
                 INSERT INTO message_receipts (messageid, profileid, delivered_at) \
                 SELECT d.messageid, d.profileid, d.delivered_at FROM d \
                 WHERE EXISTS (SELECT 1 FROM messages m WHERE m.messageid = d.messageid) \
                 ON CONFLICT (messageid, profileid) DO UPDATE \
                     SET delivered_at = excluded.delivered_at \
                     WHERE message_receipts.delivered_at IS NULL"
            );
            on_pool!(self, |pool| {
                let mut query = sqlx::query(&sql);
                for (messageid, profileid, at) in chunk {
                    query = query.bind(messageid).bind(profileid).bind(millis(*at));
                }
                query.execute(pool).await?;
            });
        }
        Ok(())
    }

    async fn mark_delivered_many(
        &self,
        messageids: &[String],
        profileid: &str,
        at: Timestamp,
    ) -> StoreResult<Vec<String>> {
        let mut first_time = Vec::new();
        let _turn = self.write_turn().await;
        for chunk in distinct(messageids.iter().map(String::as_str)).chunks(MAX_ROWS_PER_STATEMENT)
        {
            // ($1 profileid, $2 delivered_at) shared; one value per message.
            let values = (0..chunk.len())
                .map(|i| format!("(${}, $1, $2)", 3 + i))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO message_receipts (messageid, profileid, delivered_at) \
                 VALUES {values} \
                 ON CONFLICT (messageid, profileid) DO UPDATE \
                     SET delivered_at = excluded.delivered_at \
                     WHERE message_receipts.delivered_at IS NULL \
                 RETURNING messageid"
            );
            let delivered: Vec<String> = on_pool!(self, |pool| {
                let mut query = sqlx::query_scalar(&sql).bind(profileid).bind(millis(at));
                for messageid in chunk {
                    query = query.bind(*messageid);
                }
                query.fetch_all(pool).await.map_err(missing("message"))?
            });
            first_time.extend(delivered);
        }
        Ok(first_time)
    }

    async fn mark_delivered(
        &self,
        messageid: &str,
        profileid: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let _turn = self.write_turn().await;
        let changed = on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO message_receipts (messageid, profileid, delivered_at) \
                 VALUES ($1, $2, $3) \
                 ON CONFLICT (messageid, profileid) DO UPDATE \
                     SET delivered_at = excluded.delivered_at \
                     WHERE message_receipts.delivered_at IS NULL",
            )
            .bind(messageid)
            .bind(profileid)
            .bind(millis(at))
            .execute(pool)
            .await
            .map_err(missing("message"))?
            .rows_affected()
        });
        Ok(changed > 0)
    }

    async fn mark_read(
        &self,
        messageid: &str,
        profileid: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let _turn = self.write_turn().await;
        let changed = on_pool!(self, |pool| {
            // Reading implies delivery: fill delivered_at too if it is empty.
            sqlx::query(
                "INSERT INTO message_receipts (messageid, profileid, delivered_at, read_at) \
                 VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (messageid, profileid) DO UPDATE \
                     SET read_at = excluded.read_at, \
                         delivered_at = COALESCE(message_receipts.delivered_at, \
                                                 excluded.read_at) \
                     WHERE message_receipts.read_at IS NULL",
            )
            .bind(messageid)
            .bind(profileid)
            .bind(millis(at))
            .execute(pool)
            .await
            .map_err(missing("message"))?
            .rows_affected()
        });
        Ok(changed > 0)
    }

    async fn add_reaction(
        &self,
        messageid: &str,
        profileid: &str,
        emoji: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let _turn = self.write_turn().await;
        let changed = on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO message_reactions (messageid, profileid, emoji, created_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (messageid, profileid, emoji) DO NOTHING",
            )
            .bind(messageid)
            .bind(profileid)
            .bind(emoji)
            .bind(millis(at))
            .execute(pool)
            .await
            .map_err(missing("message"))?
            .rows_affected()
        });
        Ok(changed > 0)
    }

    async fn enqueue_offline(
        &self,
        profileids: &[String],
        messageid: &str,
        at: Timestamp,
        cap: u32,
    ) -> StoreResult<OfflineEnqueued> {
        let recipients = distinct(profileids.iter().map(String::as_str));
        if recipients.is_empty() {
            return Ok(OfflineEnqueued::default());
        }
        let queued_at = millis(at);
        let _turn = self.write_turn().await;
        let mut attempt = 1;
        loop {
            let outcome: Result<OfflineEnqueued, sqlx::Error> = on_pool!(self, |pool| {
                async {
                    let mut tx = pool.begin().await?;
                    let mut queued = 0;
                    for chunk in recipients.chunks(MAX_ROWS_PER_STATEMENT) {
                        // ($1 messageid, $2 queued_at) shared; one value per recipient.
                        let values = (0..chunk.len())
                            .map(|i| format!("(${}, $1, $2)", 3 + i))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let sql = format!(
                            "INSERT INTO offline_queue (profileid, messageid, queued_at) \
                             VALUES {values} ON CONFLICT (messageid, profileid) DO NOTHING"
                        );
                        let mut query = sqlx::query(&sql).bind(messageid).bind(queued_at);
                        for profileid in chunk {
                            query = query.bind(*profileid);
                        }
                        queued += query.execute(&mut *tx).await?.rows_affected();
                    }
                    // Trim every recipient of this message to their newest
                    // `cap` entries, in one statement.
                    let dropped = sqlx::query(
                        "DELETE FROM offline_queue WHERE id IN ( \
                             SELECT id FROM ( \
                                 SELECT id, ROW_NUMBER() OVER ( \
                                     PARTITION BY profileid ORDER BY id DESC \
                                 ) AS newest_rank \
                                 FROM offline_queue \
                                 WHERE profileid IN ( \
                                     SELECT profileid FROM offline_queue WHERE messageid = $1 \
                                 ) \
                             ) AS ranked \
                             WHERE newest_rank > $2 \
                         )",
                    )
                    .bind(messageid)
                    .bind(i64::from(cap))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    tx.commit().await?;
                    Ok(OfflineEnqueued { queued, dropped })
                }
                .await
            });
            match outcome {
                // Trims of overlapping recipients on two PostgreSQL nodes can
                // deadlock; the loser is rolled back whole, so running it
                // again is safe (and the inserts are idempotent anyway).
                Err(error) if attempt < 3 && is_transaction_conflict(&error) => attempt += 1,
                other => return other.map_err(missing("message")),
            }
        }
    }

    async fn take_offline(&self, profileid: &str) -> StoreResult<Vec<QueuedMessage>> {
        let rows: Vec<QueuedRow> = on_pool!(self, |pool| {
            sqlx::query_as(concat!(
                "SELECT q.id AS queue_id, q.queued_at AS queued_at, ",
                message_columns!("m."),
                " FROM offline_queue q JOIN messages m ON m.messageid = q.messageid \
                 WHERE q.profileid = $1 ORDER BY q.id"
            ))
            .bind(profileid)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|row| {
                Ok(QueuedMessage {
                    queue_id: row.queue_id,
                    queued_at: from_millis(row.queued_at)?,
                    message: StoredMessage::try_from(row.message)?,
                })
            })
            .collect()
    }

    async fn ack_offline(&self, profileid: &str, queue_ids: &[i64]) -> StoreResult<u64> {
        let _turn = self.write_turn().await;
        let mut deleted = 0;
        for chunk in queue_ids.chunks(MAX_ROWS_PER_STATEMENT) {
            let sql = format!(
                "DELETE FROM offline_queue WHERE profileid = $1 AND id IN ({})",
                placeholders(2, chunk.len())
            );
            deleted += on_pool!(self, |pool| {
                let mut query = sqlx::query(&sql).bind(profileid);
                for queue_id in chunk {
                    query = query.bind(*queue_id);
                }
                query.execute(pool).await?.rows_affected()
            });
        }
        Ok(deleted)
    }

    async fn upsert_calls(&self, calls: &[CallRecord]) -> StoreResult<()> {
        if calls.is_empty() {
            return Ok(());
        }
        let _turn = self.write_turn().await;
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            // One statement per record, not one multi-row insert: PostgreSQL
            // refuses to update a row twice in one statement, and a batch may
            // hold two states of one call.
            for call in calls {
                sqlx::query(
                    "INSERT INTO calls (callid, caller, callee, call_type, chatid, status, end_reason, \
                                        ended_by, rung_at, answered_at, ended_at, duration_seconds) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                     ON CONFLICT (callid) DO UPDATE \
                         SET status = excluded.status, \
                             end_reason = excluded.end_reason, \
                             ended_by = excluded.ended_by, \
                             answered_at = excluded.answered_at, \
                             ended_at = excluded.ended_at, \
                             duration_seconds = excluded.duration_seconds",
            )
                .bind(&call.call_id)
                .bind(&call.caller)
                .bind(&call.callee)
                .bind(&call.call_type)
                .bind(&call.chatid)
                .bind(&call.status)
                .bind(&call.end_reason)
                .bind(&call.ended_by)
                .bind(millis(call.rung_at))
                .bind(call.answered_at.map(millis))
                .bind(call.ended_at.map(millis))
                .bind(call.duration_seconds)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn call_exists(&self, call_id: &str) -> StoreResult<bool> {
        // COUNT(*) is BIGINT on both backends (a bare `1` is INT4 on PostgreSQL).
        let found: i64 = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM calls WHERE callid = $1")
                .bind(call_id)
                .fetch_one(pool)
                .await?
        });
        Ok(found > 0)
    }

    async fn list_calls(&self, profileid: &str, limit: u32) -> StoreResult<Vec<CallRecord>> {
        let rows: Vec<CallRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT callid, caller, callee, call_type, chatid, status, end_reason, ended_by, \
                        rung_at, answered_at, ended_at, duration_seconds \
                 FROM calls WHERE caller = $1 OR callee = $1 \
                 ORDER BY rung_at DESC, callid DESC LIMIT $2",
            )
            .bind(profileid)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|row| {
                Ok(CallRecord {
                    call_id: row.callid,
                    caller: row.caller,
                    callee: row.callee,
                    call_type: row.call_type,
                    chatid: row.chatid,
                    status: row.status,
                    end_reason: row.end_reason,
                    ended_by: row.ended_by,
                    rung_at: from_millis(row.rung_at)?,
                    answered_at: row.answered_at.map(from_millis).transpose()?,
                    ended_at: row.ended_at.map(from_millis).transpose()?,
                    duration_seconds: row.duration_seconds,
                })
            })
            .collect()
    }

    async fn touch_device(
        &self,
        profileid: &str,
        fingerprint: &str,
        at: Timestamp,
    ) -> StoreResult<DeviceSeen> {
        let _turn = self.write_turn().await;
        let row: DeviceRow = on_pool!(self, |pool| {
            sqlx::query_as(TOUCH_DEVICE)
                .bind(profileid)
                .bind(fingerprint)
                .bind(millis(at))
                .fetch_one(pool)
                .await?
        });
        Ok(DeviceSeen {
            previously_seen: row.seen_count > 1,
            first_seen: from_millis(row.first_seen)?,
            last_seen: from_millis(row.last_seen)?,
            seen_count: row.seen_count,
        })
    }

    async fn start_session(
        &self,
        profile: &Profile,
        fingerprint: &str,
        at: Timestamp,
    ) -> StoreResult<DeviceSeen> {
        // SQLite: in the writer's next batch, one commit with every other
        // connect's (and message) waiting then.
        if let (Pools::Sqlite(_), Some(writer)) = (&self.pools, &self.writer) {
            let (reply, answer) = oneshot::channel();
            let job = SessionJob {
                profile: profile.clone(),
                fingerprint: fingerprint.to_owned(),
                at,
                reply,
            };
            writer
                .send(WriterCommand::StartSession(Box::new(job)))
                .map_err(|_| StoreError::Unavailable(sqlx::Error::PoolClosed))?;
            return answer
                .await
                .map_err(|_| StoreError::Unavailable(sqlx::Error::WorkerCrashed))?;
        }
        self.upsert_profile(profile).await?;
        self.touch_device(&profile.profileid, fingerprint, at).await
    }
}

// --- the message writer (group commit) and the SQLite checkpointer ---

/// Page cache of the message writer's connection, in KiB: about SQLite's
/// default size. Larger is slower here: a commit can end by scanning the
/// page cache's whole hash table (`pcache1TruncateUnsafe`; the cache's
/// highest page number is left far past the end of the database), on the
/// writer's thread, while every acknowledgement of the batch waits. At 16
/// MiB that scan was 9 % of the writer's time; the pages no longer kept are
/// read back from the OS page cache (about one more `pread` per message).
const WRITER_CACHE_KIB: i64 = -2_048;

/// How often the background checkpointer copies the WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Background checkpoint passes per round: the second copies what the
/// writer added during the first, so the writer's own share stays small.
const CHECKPOINT_PASSES: usize = 2;

/// WAL pages (4 KiB) after which a commit checkpoints by itself: only when
/// the background checkpointer cannot keep up (SQLite's default is 1000).
const WAL_AUTOCHECKPOINT_PAGES: u32 = 16_384;

/// Copies the WAL into the database file every second with PASSIVE
/// checkpoints, which never wait for (or block) readers and writers. A
/// checkpoint fsyncs the database file; SQLite would otherwise run it inside
/// whichever commit crossed 1000 WAL pages, and that message (and the batch
/// behind it) would wait for it. Durability is unchanged: a commit is
/// durable once its WAL frames are fsynced, checkpoint or not.
///
/// A background checkpoint alone never lets the WAL start over: SQLite
/// rewinds it only when a write begins with every frame copied, and the
/// writer adds frames while the checkpoint copies. So the checkpointer runs
/// a second pass over what arrived during the first (a fraction of it), and
/// then raises `backfilled`: the message writer copies the last few frames
/// itself between two batches (`sqlite_writer::finish_checkpoint`), and its
/// next commit rewinds the WAL. Without that hand-over the WAL grew until a
/// commit crossed [`WAL_AUTOCHECKPOINT_PAGES`] and copied the whole file
/// inline: a commit stall every 2 s at 2,000 messages/s (BENCHMARKS.md).
fn spawn_sqlite_checkpointer(
    pool: SqlitePool,
    alive: std::sync::Weak<()>,
    backfilled: Arc<AtomicBool>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if alive.strong_count() == 0 || pool.is_closed() {
                break;
            }
            let mut passes = Ok(());
            let started = std::time::Instant::now();
            for _ in 0..CHECKPOINT_PASSES {
                passes = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&pool)
                    .await
                    .map(drop);
                if passes.is_err() {
                    break;
                }
            }
            match passes {
                Ok(()) => {
                    tracing::debug!(
                        took_us = started.elapsed().as_micros() as u64,
                        "background WAL checkpoint"
                    );
                    backfilled.store(true, Ordering::Release)
                }
                Err(error) => tracing::debug!(%error, "background WAL checkpoint failed"),
            }
        }
    });
}

/// One `insert_message` waiting for the message writer.
struct InsertJob {
    messageid: String,
    message: NewMessage,
    reply: oneshot::Sender<InsertOutcome>,
}

/// What [`Store::insert_message`] makes of one message: the row and whether
/// this call created it.
type InsertOutcome = StoreResult<(MessageRow, bool)>;

/// One connect's [`Store::start_session`] waiting for the SQLite writer.
struct SessionJob {
    profile: Profile,
    fingerprint: String,
    at: Timestamp,
    reply: oneshot::Sender<StoreResult<DeviceSeen>>,
}

/// [`Store::upsert_profile`]'s statement (SQLite and PostgreSQL).
const UPSERT_PROFILE: &str = "INSERT INTO profiles \
         (profileid, user_id, username, displayname, avatar, email, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (profileid) DO UPDATE SET \
         user_id = excluded.user_id, \
         username = excluded.username, \
         displayname = COALESCE(excluded.displayname, profiles.displayname), \
         avatar = COALESCE(excluded.avatar, profiles.avatar), \
         email = COALESCE(excluded.email, profiles.email), \
         updated_at = excluded.updated_at";

/// [`Store::touch_device`]'s statement (SQLite and PostgreSQL).
const TOUCH_DEVICE: &str = "INSERT INTO devices (profileid, fingerprint, first_seen, last_seen, seen_count) \
     VALUES ($1, $2, $3, $3, 1) \
     ON CONFLICT (profileid, fingerprint) DO UPDATE \
         SET last_seen = excluded.last_seen, \
             seen_count = devices.seen_count + 1 \
     RETURNING first_seen, last_seen, seen_count";

/// What the message writer is asked to do.
enum WriterCommand {
    Insert(Box<InsertJob>),
    /// A connect's profile and device (SQLite's writer only: on PostgreSQL
    /// [`Store::start_session`] does not use the writer).
    StartSession(Box<SessionJob>),
    /// Close the writer's connection and stop; answered once done.
    Close(oneshot::Sender<()>),
}

/// Most messages stored in one transaction.
const MAX_BATCH: usize = 256;

/// A connection the message writer stores batches on.
trait BatchConnection: Send + 'static {
    /// Stores `batch` atomically; `Err` when the batch as a whole failed
    /// (then nothing of it was committed).
    fn insert_batch(
        &mut self,
        batch: &[InsertJob],
    ) -> impl Future<Output = Result<Vec<InsertOutcome>, sqlx::Error>>;

    /// Stores one message in a transaction of its own, as without batching.
    fn insert_one(&mut self, job: &InsertJob) -> impl Future<Output = InsertOutcome>;

    fn close(self) -> impl Future<Output = ()>;
}

/// Starts the PostgreSQL message writer (SQLite has its own, see
/// [`sqlite_writer`]): a thread with a connection of its own that stores
/// every `insert_message`. Whatever calls are waiting when it is ready go
/// into one statement, so one commit (one WAL flush) makes a whole batch
/// durable instead of one commit per message.
/// Each caller is answered only after the commit, so an acknowledged
/// message is exactly as durable as before. Under light load a batch is one
/// message and nothing waits for company.
///
/// A thread, not a task among the server's thousands: each statement is a
/// round trip to the database, and behind a busy runtime's run queue every
/// one of them waited its turn.
///
/// Any failure fails the batch's whole statement, so nothing of it is
/// stored, and its messages are then stored one by one, each answered with
/// its own outcome.
fn spawn_message_writer<C: BatchConnection>(conn: C) -> mpsc::UnboundedSender<WriterCommand> {
    let (commands, queue) = mpsc::unbounded_channel::<WriterCommand>();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => {
            let spawned = std::thread::Builder::new()
                .name("lockstep-writer".into())
                .spawn(move || runtime.block_on(run_message_writer(conn, queue)));
            if let Err(error) = spawned {
                tracing::error!(%error, "could not start the message writer thread");
            }
        }
        Err(error) => tracing::error!(%error, "could not start the message writer runtime"),
    }
    commands
}

/// The message writer's loop (see [`spawn_message_writer`]).
async fn run_message_writer<C: BatchConnection>(
    mut conn: C,
    mut queue: mpsc::UnboundedReceiver<WriterCommand>,
) {
    let mut received = Vec::with_capacity(MAX_BATCH);
    let mut batch: Vec<InsertJob> = Vec::with_capacity(MAX_BATCH);
    let mut closing = None;
    while closing.is_none() && queue.recv_many(&mut received, MAX_BATCH).await > 0 {
        // Messages that arrived while this batch waited join it.
        while received.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(command) => received.push(command),
                Err(_) => break,
            }
        }
        for command in received.drain(..) {
            match command {
                // After a close, the caller finds the writer gone.
                WriterCommand::Insert(_) if closing.is_some() => {}
                WriterCommand::Insert(job) => batch.push(*job),
                WriterCommand::StartSession(job) => {
                    let _ = job
                        .reply
                        .send(Err(StoreError::Invalid("sessions are not batched here")));
                }
                WriterCommand::Close(done) => closing = Some(done),
            }
        }
        if batch.is_empty() {
            continue;
        }
        let outcomes = match conn.insert_batch(&batch).await {
            Ok(outcomes) => outcomes,
            Err(_) => {
                let mut outcomes = Vec::with_capacity(batch.len());
                for job in &batch {
                    outcomes.push(conn.insert_one(job).await);
                }
                outcomes
            }
        };
        for (job, outcome) in batch.drain(..).zip(outcomes) {
            let _ = job.reply.send(outcome);
        }
    }
    conn.close().await;
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

/// A whole batch as one statement, one array per column (binds: in
/// [`PgConnection::insert_batch`]), numbered per chat as it is stored:
///
/// * `fresh`: the batch's messages whose (senderid, clientMessageId) is not
///   stored yet (the caller leaves out repeats within the batch), numbered
///   1, 2, … within each chat in the batch's order;
/// * `bumped`: each chat's counter raised by its count, which locks the
///   chat's row until the commit (another node storing into the chat waits
///   here, then reads the raised value), returning the number before;
/// * the insert: every fresh message gets counter-before + its number.
///
/// No `ON CONFLICT`: a retry that committed elsewhere after this statement's
/// snapshot was taken makes the insert fail on the unique constraint, the
/// whole statement (counters too) is undone, and the writer stores the
/// batch message by message ([`insert_message_alone!`]), so a number is
/// never skipped. Messages of an unknown chat are not inserted (no counter
/// row to join); the caller reports them. One shape for every batch size,
/// so it stays prepared.
const INSERT_MESSAGES_UNNEST: &str = concat!(
    "WITH batch AS ( \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::jsonb[], $8::text[], $9::jsonb[], $10::int8[]) \
         WITH ORDINALITY AS m(messageid, chatid, senderid, client_message_id, \
             message_type, content, attachments, reply_to, mentions, created_at, ordinal) \
     ), fresh AS ( \
         SELECT b.*, ROW_NUMBER() OVER (PARTITION BY b.chatid ORDER BY b.ordinal) AS n \
         FROM batch b \
         WHERE NOT EXISTS (SELECT 1 FROM messages e \
             WHERE e.senderid = b.senderid AND e.client_message_id = b.client_message_id) \
     ), counted AS ( \
         SELECT chatid, COUNT(*) AS taken FROM fresh GROUP BY chatid \
     ), bumped AS ( \
         UPDATE chats SET last_seq = chats.last_seq + counted.taken \
         FROM counted WHERE chats.chatid = counted.chatid \
         RETURNING chats.chatid, chats.last_seq - counted.taken AS before_seq \
     ) \
     INSERT INTO messages (messageid, chatid, senderid, client_message_id, \
         message_type, content, attachments, reply_to, mentions, created_at, chat_seq) \
     SELECT f.messageid, f.chatid, f.senderid, f.client_message_id, \
         f.message_type, f.content, f.attachments, f.reply_to, f.mentions, \
         f.created_at, bumped.before_seq + f.n \
     FROM fresh f JOIN bumped ON bumped.chatid = f.chatid \
     ORDER BY f.ordinal \
     RETURNING ",
    message_columns!("")
);

/// [`BatchConnection`] on PostgreSQL, where any error (a constraint too)
/// fails the whole batch's statement: the writer then retries message by
/// message, so only the offending one is refused.
impl BatchConnection for PgConnection {
    async fn insert_batch(
        &mut self,
        batch: &[InsertJob],
    ) -> Result<Vec<InsertOutcome>, sqlx::Error> {
        // A batch of one too: one round trip, where `insert_one` takes four
        // (begin, counter, insert, commit); it remains the fallback.
        let all = batch;
        // One statement outside an explicit transaction is one round trip
        // and one commit, atomic as a whole: every round trip is a wake-up
        // of PostgreSQL's backend, which shares the cores with the server.
        // A (senderid, clientMessageId) repeated within the batch is stored
        // once, by its first occurrence; the others are answered as retries.
        let mut pairs = HashSet::new();
        let firsts: Vec<&InsertJob> = batch
            .iter()
            .filter(|job| {
                pairs.insert((
                    job.message.senderid.as_str(),
                    job.message.client_message_id.as_str(),
                ))
            })
            .collect();
        let batch = firsts.as_slice();
        let column =
            |value: fn(&InsertJob) -> &str| batch.iter().copied().map(value).collect::<Vec<_>>();
        let reply_to: Vec<Option<&str>> = batch
            .iter()
            .map(|job| job.message.reply_to.as_deref())
            .collect();
        let attachments: Vec<_> = batch
            .iter()
            .map(|job| Json(&job.message.attachments))
            .collect();
        let mentions: Vec<_> = batch
            .iter()
            .map(|job| Json(&job.message.mentions))
            .collect();
        let created_at: Vec<i64> = batch
            .iter()
            .map(|job| millis(job.message.created_at))
            .collect();
        let mut created: HashMap<String, MessageRow> =
            sqlx::query_as::<_, MessageRow>(INSERT_MESSAGES_UNNEST)
                .bind(column(|job| &job.messageid))
                .bind(column(|job| &job.message.chatid))
                .bind(column(|job| &job.message.senderid))
                .bind(column(|job| &job.message.client_message_id))
                .bind(column(|job| &job.message.message_type))
                .bind(column(|job| &job.message.content))
                .bind(attachments)
                .bind(reply_to)
                .bind(mentions)
                .bind(created_at)
                .fetch_all(&mut *self)
                .await?
                .into_iter()
                .map(|row| (row.messageid.clone(), row))
                .collect();
        let mut outcomes = Vec::with_capacity(all.len());
        for job in all {
            let outcome = match created.remove(&job.messageid) {
                Some(row) => Ok((row, true)),
                // A retry of a stored message (possibly of this batch),
                // committed by now either way, or a message of an unknown
                // chat. The batch is stored, so a failure here is this
                // message's alone: retrying the batch would report its new
                // messages as retries.
                None => sqlx::query_as(SELECT_MESSAGE_BY_CLIENT_ID)
                    .bind(&job.message.senderid)
                    .bind(&job.message.client_message_id)
                    .fetch_optional(&mut *self)
                    .await
                    .map_err(StoreError::from)
                    .and_then(|existing| {
                        existing
                            .map(|existing| (existing, false))
                            .ok_or(StoreError::NotFound("chat"))
                    }),
            };
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    async fn insert_one(&mut self, job: &InsertJob) -> InsertOutcome {
        insert_message_alone!(
            Connection::begin(&mut *self),
            &mut *self,
            &job.messageid,
            job.message
        )
    }

    async fn close(self) {
        let _ = Connection::close(self).await;
    }
}

/// The PostgreSQL message writer's connection: opened in the writer's own
/// runtime (so that runtime's I/O driver, not the busy server's, serves its
/// socket), and opened again after a failure.
struct PgWriterConnection {
    options: PgConnectOptions,
    conn: Option<PgConnection>,
}

impl PgWriterConnection {
    async fn conn(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        if self.conn.is_none() {
            self.conn = Some(self.options.connect().await?);
        }
        Ok(self.conn.as_mut().expect("connected just above"))
    }
}

impl BatchConnection for PgWriterConnection {
    async fn insert_batch(
        &mut self,
        batch: &[InsertJob],
    ) -> Result<Vec<InsertOutcome>, sqlx::Error> {
        let result = match self.conn().await {
            Ok(conn) => conn.insert_batch(batch).await,
            Err(error) => Err(error),
        };
        // Whatever went wrong with the connection, start the retries (and
        // the next batch) on a fresh one. A batch of one reports a broken
        // connection in its outcome, not as the batch's error.
        let broken = match &result {
            Err(_) => true,
            Ok(outcomes) => outcomes
                .iter()
                .any(|outcome| matches!(outcome, Err(StoreError::Unavailable(_)))),
        };
        if broken {
            self.conn = None;
        }
        result
    }

    async fn insert_one(&mut self, job: &InsertJob) -> InsertOutcome {
        let outcome = match self.conn().await {
            Ok(conn) => conn.insert_one(job).await,
            Err(error) => Err(connect_error(error)),
        };
        if matches!(outcome, Err(StoreError::Unavailable(_))) {
            self.conn = None;
        }
        outcome
    }

    async fn close(self) {
        if let Some(conn) = self.conn {
            let _ = Connection::close(conn).await;
        }
    }
}

// --- helpers ---

/// PostgreSQL's "this transaction lost a race, run it again": deadlock
/// detected (40P01) or serialization failure (40001).
fn is_transaction_conflict(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("40P01" | "40001")),
        _ => false,
    }
}

/// `$first, $first+1, …` for `count` values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The values in first-seen order without repeats (a repeated id would
/// otherwise cost a duplicate row or a duplicate bound parameter).
fn distinct<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    values
        .into_iter()
        .filter(|value| seen.insert(*value))
        .collect()
}

/// The unique key of the direct chat between two people: the same for
/// either order, and unambiguous for any ids (the first id's length says
/// where it ends).
fn direct_chat_key(a: &str, b: &str) -> String {
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    format!("{}:{first}{second}", first.len())
}

fn millis(at: Timestamp) -> i64 {
    at.timestamp_millis()
}

fn from_millis(ms: i64) -> StoreResult<Timestamp> {
    chrono::DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp out of range: {ms}").into()))
}

/// Parses a stored enum value; an unknown one means bad data, not a bad
/// request.
fn parse_stored<T: FromStr<Err = super::UnknownVariant>>(value: &str) -> StoreResult<T> {
    value
        .parse()
        .map_err(|e: super::UnknownVariant| StoreError::Corrupt(Box::new(e)))
}

// --- rows: raw column values, converted to the model with checks ---

#[derive(sqlx::FromRow)]
struct ProfileRow {
    profileid: String,
    user_id: String,
    username: String,
    displayname: Option<String>,
    avatar: Option<String>,
    email: Option<String>,
    updated_at: i64,
}

impl TryFrom<ProfileRow> for Profile {
    type Error = StoreError;

    fn try_from(row: ProfileRow) -> StoreResult<Self> {
        Ok(Profile {
            profileid: row.profileid,
            user_id: row.user_id,
            username: row.username,
            displayname: row.displayname,
            avatar: row.avatar,
            email: row.email,
            updated_at: from_millis(row.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ChatRow {
    chatid: String,
    chat_type: String,
    chat_name: Option<String>,
    settings: Json<Value>,
    created_by: String,
    created_at: i64,
}

impl TryFrom<ChatRow> for Chat {
    type Error = StoreError;

    fn try_from(row: ChatRow) -> StoreResult<Self> {
        Ok(Chat {
            chatid: row.chatid,
            chat_type: parse_stored(&row.chat_type)?,
            chat_name: row.chat_name,
            settings: row.settings.0,
            created_by: row.created_by,
            created_at: from_millis(row.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ChatSummaryRow {
    #[sqlx(flatten)]
    chat: ChatRow,
    role: String,
    participant_count: i64,
    last_message_at: Option<i64>,
}

impl TryFrom<ChatSummaryRow> for ChatSummary {
    type Error = StoreError;

    fn try_from(row: ChatSummaryRow) -> StoreResult<Self> {
        Ok(ChatSummary {
            chat: Chat::try_from(row.chat)?,
            role: parse_stored(&row.role)?,
            participant_count: row.participant_count,
            last_message_at: row.last_message_at.map(from_millis).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ParticipantRow {
    profileid: String,
    role: String,
    joined_at: i64,
}

impl TryFrom<ParticipantRow> for Participant {
    type Error = StoreError;

    fn try_from(row: ParticipantRow) -> StoreResult<Self> {
        Ok(Participant {
            profileid: row.profileid,
            role: parse_stored(&row.role)?,
            joined_at: from_millis(row.joined_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    seq: i64,
    chat_seq: i64,
    messageid: String,
    chatid: String,
    senderid: String,
    client_message_id: String,
    message_type: String,
    content: String,
    attachments: Json<Vec<Value>>,
    reply_to: Option<String>,
    mentions: Json<Vec<String>>,
    created_at: i64,
}

impl TryFrom<MessageRow> for StoredMessage {
    type Error = StoreError;

    fn try_from(row: MessageRow) -> StoreResult<Self> {
        Ok(StoredMessage {
            row_order: row.seq,
            seq: row.chat_seq,
            messageid: row.messageid,
            chatid: row.chatid,
            senderid: row.senderid,
            client_message_id: row.client_message_id,
            message_type: row.message_type,
            content: row.content,
            attachments: row.attachments.0,
            reply_to: row.reply_to,
            mentions: row.mentions.0,
            created_at: from_millis(row.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct QueuedRow {
    queue_id: i64,
    queued_at: i64,
    #[sqlx(flatten)]
    message: MessageRow,
}

#[derive(sqlx::FromRow)]
struct ReactionRow {
    messageid: String,
    profileid: String,
    emoji: String,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
struct CallRow {
    callid: String,
    caller: String,
    callee: String,
    call_type: String,
    chatid: Option<String>,
    status: String,
    end_reason: Option<String>,
    ended_by: Option<String>,
    rung_at: i64,
    answered_at: Option<i64>,
    ended_at: Option<i64>,
    duration_seconds: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct DeviceRow {
    first_seen: i64,
    last_seen: i64,
    seen_count: i64,
}
