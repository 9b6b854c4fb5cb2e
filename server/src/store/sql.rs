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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use sqlx::postgres::PgPool;
use sqlx::types::Json;
use tokio::sync::{Mutex, mpsc, oneshot};
use ulid::Ulid;

#[macro_use]
mod pool;
#[macro_use]
mod statements;
mod cache;
mod checkpointer;
mod participants_listener;
mod postgres_writer;
mod rows;
mod sqlite_writer;
mod writer;

use cache::Cache;
use pool::Pools;
use rows::{
    CallRow, ChatRow, ChatSummaryRow, DeviceRow, MessageRow, ParticipantRow, ProfileRow, QueuedRow,
    ReactionRow, from_millis, millis, parse_stored,
};
use statements::{
    INSERT_MESSAGE, NEXT_CHAT_SEQ, SELECT_MESSAGE_BY_CLIENT_ID, TOUCH_DEVICE, UPSERT_PROFILE,
};
use writer::{InsertJob, SessionJob, WriterCommand};

pub use pool::connect;
pub(super) use statements::{CHAT_HEADS, MESSAGES_AFTER};

use super::error::missing;
use super::{
    Backend, CallRecord, Chat, ChatHead, ChatSummary, ChatType, CreatedChat, DeliveryFlush,
    DeviceSeen, HistoryMessage, HistoryPage, Inserted, NewChat, NewMessage, OfflineEnqueued,
    Participant, Profile, QueuedMessage, Reaction, Role, SeqPage, Store, StoreError, StoreResult,
    StoredMessage, Timestamp,
};

/// Rows (or ids) per multi-row statement. Keeps the bound-parameter count
/// well under both databases' limits (SQLite 32766, PostgreSQL 65535) while
/// still turning a whole group's fan-out into one statement.
const MAX_ROWS_PER_STATEMENT: usize = 500;

/// Delivered ranges written per SQLite transaction (and write turn) by
/// [`Store::flush_deliveries`]: about a millisecond of the writer's time.
const FLUSH_ROWS_PER_TURN: usize = 256;

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

impl SqlStore {
    /// The rows `select … IN` (a statement ending in `IN`) finds for `ids`,
    /// each id asked once, [`MAX_ROWS_PER_STATEMENT`] ids per statement,
    /// each row converted to the model (in no particular order).
    async fn select_by_ids<Row, Model>(
        &self,
        select_in: &str,
        ids: &[String],
    ) -> StoreResult<Vec<Model>>
    where
        Row: Send
            + Unpin
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>,
        Model: TryFrom<Row, Error = StoreError>,
    {
        let ids = distinct(ids.iter().map(String::as_str));
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_ROWS_PER_STATEMENT) {
            let sql = format!("{select_in} ({})", placeholders(1, chunk.len()));
            let rows: Vec<Row> = on_pool!(self, |pool| {
                let mut query = sqlx::query_as(&sql);
                for id in chunk {
                    query = query.bind(*id);
                }
                query.fetch_all(pool).await?
            });
            for row in rows {
                found.push(Model::try_from(row)?);
            }
        }
        Ok(found)
    }
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

    async fn get_profiles(&self, profileids: &[String]) -> StoreResult<Vec<Profile>> {
        self.select_by_ids::<ProfileRow, Profile>(
            concat!(
                "SELECT ",
                profile_columns!(),
                " FROM profiles WHERE profileid IN"
            ),
            profileids,
        )
        .await
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
        self.select_by_ids::<MessageRow, StoredMessage>(
            concat!(
                "SELECT ",
                message_columns!(""),
                " FROM messages WHERE messageid IN"
            ),
            messageids,
        )
        .await
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

    async fn flush_deliveries(&self, flush: &DeliveryFlush) -> StoreResult<()> {
        // One row per key, in key order: PostgreSQL refuses to update a row
        // twice in one statement, and two nodes that lock the same rows in
        // the same order cannot deadlock.
        let mut ranges: BTreeMap<(&str, &str), (i64, i64, i64)> = BTreeMap::new();
        for range in &flush.delivered {
            let at = millis(range.at);
            ranges
                .entry((range.chatid.as_str(), range.profileid.as_str()))
                .and_modify(|(from, to, latest)| {
                    *from = (*from).min(range.from_seq);
                    *to = (*to).max(range.to_seq);
                    *latest = (*latest).max(at);
                })
                .or_insert((range.from_seq, range.to_seq, at));
        }
        let missed: BTreeSet<(&str, &str)> = flush
            .missed
            .iter()
            .map(|(messageid, profileid)| (messageid.as_str(), profileid.as_str()))
            .collect();
        if ranges.is_empty() && missed.is_empty() {
            return Ok(());
        }
        match &self.pools {
            Pools::Sqlite(pool) => {
                // Exceptions first, then the ranges a few hundred rows per
                // transaction, each under its own write turn: one
                // transaction of a whole flush (2,000 rows at 2,000 msg/s,
                // about 10 ms) held the message writer back four times a
                // second, which is where steady's ack p99 went. A crash
                // between two of them leaves deliveries unrecorded, which
                // a later `sync` reports again (a duplicate, never a loss).
                if !missed.is_empty() {
                    let _turn = self.write_turn().await;
                    flush_deliveries_sqlite(pool, &BTreeMap::new(), &missed).await?;
                }
                let ranges: Vec<_> = ranges.into_iter().collect();
                for chunk in ranges.chunks(FLUSH_ROWS_PER_TURN) {
                    let _turn = self.write_turn().await;
                    let chunk: BTreeMap<_, _> = chunk.iter().copied().collect();
                    flush_deliveries_sqlite(pool, &chunk, &BTreeSet::new()).await?;
                }
                Ok(())
            }
            Pools::Postgres(pool) => {
                let mut attempt = 1;
                loop {
                    match flush_deliveries_postgres(pool, &ranges, &missed).await {
                        // Another node's flush or sync locked the same rows
                        // in another order; the loser was rolled back whole.
                        Err(error) if attempt < 3 && is_transaction_conflict(&error) => {
                            attempt += 1
                        }
                        other => return other.map_err(StoreError::from),
                    }
                }
            }
        }
    }

    async fn mark_delivered_many(
        &self,
        messageids: &[String],
        profileid: &str,
        at: Timestamp,
    ) -> StoreResult<Vec<String>> {
        let ids = distinct(messageids.iter().map(String::as_str));
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let _turn = self.write_turn().await;
        // The ids as one value, so the statement's text is fixed (prepared
        // once) and binding is not quadratic in the ids (see
        // `FLUSH_MISSED_SQLITE`).
        Ok(match &self.pools {
            Pools::Sqlite(pool) => {
                let ids = serde_json::to_string(&ids)
                    .map_err(|error| StoreError::Database(sqlx::Error::Encode(Box::new(error))))?;
                sqlx::query_scalar(&mark_delivered_sql("IN (SELECT value FROM json_each($3))"))
                    .bind(profileid)
                    .bind(millis(at))
                    .bind(ids)
                    .fetch_all(pool)
                    .await?
            }
            Pools::Postgres(pool) => {
                sqlx::query_scalar(&mark_delivered_sql("= ANY($3::text[])"))
                    .bind(profileid)
                    .bind(millis(at))
                    .bind(ids)
                    .fetch_all(pool)
                    .await?
            }
        })
    }

    async fn mark_delivered(
        &self,
        messageid: &str,
        profileid: &str,
        at: Timestamp,
    ) -> StoreResult<bool> {
        let first_time = self
            .mark_delivered_many(&[messageid.to_owned()], profileid, at)
            .await?;
        Ok(!first_time.is_empty())
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

/// [`Store::mark_delivered_many`]'s statement, `$1` the recipient, `$2`
/// the time, `$3` the message ids (`ids_match` says how they are matched).
/// A message is taken when its receipt row exists (the upsert then reports
/// it only if `delivered_at` was empty) or when its seq is outside the
/// recipient's delivered range; see migrations/*/0004_chat_deliveries.sql.
fn mark_delivered_sql(ids_match: &str) -> String {
    format!(
        "INSERT INTO message_receipts (messageid, profileid, delivered_at) \
         SELECT m.messageid, $1, $2 FROM messages m \
         LEFT JOIN chat_deliveries w ON w.chatid = m.chatid AND w.profileid = $1 \
         LEFT JOIN message_receipts r ON r.messageid = m.messageid AND r.profileid = $1 \
         WHERE m.messageid {ids_match} \
           AND (r.messageid IS NOT NULL OR w.chatid IS NULL \
                OR m.chat_seq < w.from_seq OR m.chat_seq > w.delivered_seq) \
         ON CONFLICT (messageid, profileid) DO UPDATE \
             SET delivered_at = excluded.delivered_at \
             WHERE message_receipts.delivered_at IS NULL \
         RETURNING messageid"
    )
}

/// [`Store::flush_deliveries`] on SQLite, missed deliveries first, in one
/// transaction: the rows as one JSON array per statement. A multi-row `VALUES` with
/// a bound value per column costs SQLite time quadratic in the values
/// (numbered parameters are looked up by name): 1,800 (chat, recipient)
/// pairs took 170 ms to prepare, holding the write turn the message
/// writer needs; `json_each` takes 5 ms and the text stays prepared.
const FLUSH_MISSED_SQLITE: &str = "\
    INSERT INTO message_receipts (messageid, profileid) \
    SELECT d.value ->> 0, d.value ->> 1 FROM json_each($1) AS d \
    WHERE EXISTS (SELECT 1 FROM messages m WHERE m.messageid = d.value ->> 0) \
    ON CONFLICT (messageid, profileid) DO NOTHING";

const FLUSH_DELIVERED_SQLITE: &str = "\
    INSERT INTO chat_deliveries (chatid, profileid, from_seq, delivered_seq, delivered_at) \
    SELECT d.value ->> 0, d.value ->> 1, d.value ->> 2, d.value ->> 3, d.value ->> 4 \
    FROM json_each($1) AS d \
    WHERE EXISTS (SELECT 1 FROM chats c WHERE c.chatid = d.value ->> 0) \
    ON CONFLICT (chatid, profileid) DO UPDATE \
        SET delivered_seq = MAX(chat_deliveries.delivered_seq, excluded.delivered_seq), \
            delivered_at = MAX(chat_deliveries.delivered_at, excluded.delivered_at)";

async fn flush_deliveries_sqlite(
    pool: &sqlx::SqlitePool,
    ranges: &BTreeMap<(&str, &str), (i64, i64, i64)>,
    missed: &BTreeSet<(&str, &str)>,
) -> StoreResult<()> {
    let json = |value: serde_json::Result<String>| {
        value.map_err(|error| StoreError::Database(sqlx::Error::Encode(Box::new(error))))
    };
    let mut tx = pool.begin().await?;
    if !missed.is_empty() {
        let rows = json(serde_json::to_string(missed))?;
        sqlx::query(FLUSH_MISSED_SQLITE)
            .bind(rows)
            .execute(&mut *tx)
            .await?;
    }
    if !ranges.is_empty() {
        let rows: Vec<(&str, &str, i64, i64, i64)> = ranges
            .iter()
            .map(|((chatid, profileid), (from, to, at))| (*chatid, *profileid, *from, *to, *at))
            .collect();
        sqlx::query(FLUSH_DELIVERED_SQLITE)
            .bind(json(serde_json::to_string(&rows))?)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// [`Store::flush_deliveries`] on PostgreSQL: one statement (one round
/// trip, one commit) of any size, arrays bound per column. Both parts
/// become visible together at the commit.
const FLUSH_DELIVERIES_POSTGRES: &str = "\
    WITH missed AS ( \
        INSERT INTO message_receipts (messageid, profileid) \
        SELECT d.messageid, d.profileid \
        FROM UNNEST($1::text[], $2::text[]) AS d(messageid, profileid) \
        WHERE EXISTS (SELECT 1 FROM messages m WHERE m.messageid = d.messageid) \
        ORDER BY d.messageid, d.profileid \
        ON CONFLICT (messageid, profileid) DO NOTHING \
    ) \
    INSERT INTO chat_deliveries (chatid, profileid, from_seq, delivered_seq, delivered_at) \
    SELECT d.chatid, d.profileid, d.from_seq, d.delivered_seq, d.delivered_at \
    FROM UNNEST($3::text[], $4::text[], $5::int8[], $6::int8[], $7::int8[]) \
        AS d(chatid, profileid, from_seq, delivered_seq, delivered_at) \
    WHERE EXISTS (SELECT 1 FROM chats c WHERE c.chatid = d.chatid) \
    ORDER BY d.chatid, d.profileid \
    ON CONFLICT (chatid, profileid) DO UPDATE \
        SET delivered_seq = GREATEST(chat_deliveries.delivered_seq, excluded.delivered_seq), \
            delivered_at = GREATEST(chat_deliveries.delivered_at, excluded.delivered_at)";

async fn flush_deliveries_postgres(
    pool: &PgPool,
    ranges: &BTreeMap<(&str, &str), (i64, i64, i64)>,
    missed: &BTreeSet<(&str, &str)>,
) -> Result<(), sqlx::Error> {
    let missed_messages: Vec<&str> = missed.iter().map(|(m, _)| *m).collect();
    let missed_profiles: Vec<&str> = missed.iter().map(|(_, p)| *p).collect();
    let chatids: Vec<&str> = ranges.keys().map(|(c, _)| *c).collect();
    let profileids: Vec<&str> = ranges.keys().map(|(_, p)| *p).collect();
    let from: Vec<i64> = ranges.values().map(|(from, _, _)| *from).collect();
    let to: Vec<i64> = ranges.values().map(|(_, to, _)| *to).collect();
    let at: Vec<i64> = ranges.values().map(|(_, _, at)| *at).collect();
    sqlx::query(FLUSH_DELIVERIES_POSTGRES)
        .bind(missed_messages)
        .bind(missed_profiles)
        .bind(chatids)
        .bind(profileids)
        .bind(from)
        .bind(to)
        .bind(at)
        .execute(pool)
        .await?;
    Ok(())
}

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
