//! The SQLite message writer: one thread that owns a connection of its own
//! (through rusqlite, synchronously) and stores every `insert_message`.
//!
//! Why not sqlx here, as everywhere else: an sqlx SQLite connection runs its
//! statements on a worker thread of its own, so each statement of a batch
//! (begin, one insert per message, commit) was a round trip between two
//! threads. On a busy 2-core machine every such wake-up waited for a core,
//! and a batch of twenty messages took 10 to 20 ms instead of one
//! (BENCHMARKS.md). This thread runs the whole batch itself: one wake-up
//! per batch. Both crates link the same `libsqlite3-sys`, so there is one
//! copy of SQLite in the process and its file locks see each other.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use sqlx::types::Json;
use tokio::sync::{Mutex, mpsc};

use super::rows::{MessageRow, millis};
use super::statements::{INSERT_MESSAGE_UNRETURNED, SELECT_MESSAGE_BY_CLIENT_ID};
use super::writer::{InsertJob, InsertOutcome, MAX_BATCH, WriterCommand};
use crate::store::{StoreError, StoreResult};

/// A batch that takes longer than this is logged (at debug level).
const SLOW_BATCH: Duration = Duration::from_millis(5);

/// How the writer's connection is set up.
pub(super) struct Settings {
    pub busy_timeout: Duration,
    /// `PRAGMA cache_size`: negative is KiB.
    pub cache_kib: i64,
    /// WAL pages after which a commit checkpoints inline (the fallback when
    /// the background checkpoints fall behind).
    pub wal_autocheckpoint: u32,
}

/// Opens the writer's connection to the database file at `path` (already
/// created, in WAL mode, and migrated by the pool) with the pool's
/// durability settings, and starts the thread. `backfilled` is raised by
/// the background checkpointer when the WAL is nearly all copied (see
/// [`finish_checkpoint`]).
pub(super) fn spawn(
    path: &Path,
    settings: Settings,
    turns: Arc<Mutex<()>>,
    backfilled: Arc<AtomicBool>,
) -> StoreResult<mpsc::UnboundedSender<WriterCommand>> {
    let Settings {
        busy_timeout,
        cache_kib,
        wal_autocheckpoint,
    } = settings;
    let conn = rusqlite::Connection::open(path).map_err(unavailable)?;
    conn.busy_timeout(busy_timeout).map_err(unavailable)?;
    // The same guarantees as the pool's connections (see `connect`).
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA cache_size = {cache_kib}; PRAGMA wal_autocheckpoint = {wal_autocheckpoint};"
    ))
    .map_err(unavailable)?;
    let (commands, queue) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("lockstep-writer".into())
        .spawn(move || run(conn, queue, &turns, &backfilled))
        .map_err(|error| StoreError::Unavailable(sqlx::Error::Io(error)))?;
    Ok(commands)
}

/// The writer's loop: waits for work, takes the process's write turn, adds
/// whatever else arrived meanwhile, stores it all in one transaction, and
/// answers every caller after the commit. Between batches, it finishes a
/// background checkpoint when one has just run.
fn run(
    mut conn: rusqlite::Connection,
    mut queue: mpsc::UnboundedReceiver<WriterCommand>,
    turns: &Mutex<()>,
    backfilled: &AtomicBool,
) {
    let mut batch: Vec<InsertJob> = Vec::with_capacity(MAX_BATCH);
    let mut closing = None;
    while closing.is_none() {
        let Some(first) = queue.blocking_recv() else {
            break;
        };
        let turn = turns.blocking_lock();
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                WriterCommand::Insert(job) => batch.push(*job),
                WriterCommand::Close(done) => {
                    closing = Some(done);
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = queue.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            let started = Instant::now();
            let outcomes = match insert_batch(&mut conn, &batch) {
                Ok(outcomes) => outcomes,
                // The batch was rolled back: each message on its own, so
                // each caller gets its own answer.
                Err(_) => batch
                    .iter()
                    .map(
                        |job| match insert_batch(&mut conn, std::slice::from_ref(job)) {
                            Ok(mut one) => one
                                .pop()
                                .unwrap_or_else(|| Err(StoreError::Invalid("empty batch outcome"))),
                            Err(error) => Err(unavailable(error)),
                        },
                    )
                    .collect(),
            };
            drop(turn);
            let took = started.elapsed();
            if took > SLOW_BATCH {
                tracing::debug!(
                    messages = batch.len(),
                    took_us = took.as_micros() as u64,
                    "slow batch"
                );
            }
            for (job, outcome) in batch.drain(..).zip(outcomes) {
                let _ = job.reply.send(outcome);
            }
            if backfilled.swap(false, Ordering::Acquire) {
                let _turn = turns.blocking_lock();
                finish_checkpoint(&conn);
            }
        }
    }
    // Callers that sent after the close find the writer gone.
    drop(queue);
    let _ = conn.close();
    if let Some(done) = closing {
        let _ = done.send(());
    }
}

/// Copies into the database the WAL frames written since the background
/// checkpoint's last pass, so that every frame is copied and the next
/// commit rewinds the WAL to its start instead of appending to it. Runs on
/// the writer's thread, holding the write turn, because only there can no
/// new frame arrive while it copies. What is left is what arrived during
/// the background's second pass: at 2,000 messages/s this took 0.6 to 19
/// ms, once a second. The batch before has been answered; the next one
/// waits for this.
fn finish_checkpoint(conn: &rusqlite::Connection) {
    let started = Instant::now();
    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, i64>(2)?,
        ))
    });
    match result {
        Ok((busy, wal_frames, copied)) => tracing::debug!(
            busy,
            wal_frames,
            copied,
            took_us = started.elapsed().as_micros() as u64,
            "writer finished the WAL checkpoint"
        ),
        Err(error) => tracing::debug!(%error, "writer's WAL checkpoint failed"),
    }
}

/// Stores `batch` in one `BEGIN IMMEDIATE` transaction. A constraint that
/// refuses one message (its chat or its replied-to message is gone) undoes
/// only that statement and answers only that caller; `Err` means the
/// transaction as a whole failed and nothing of it was committed.
///
/// Numbering (`seq`): each chat's counter is read once per batch, every
/// message stored takes the next number, and the counters are written back
/// before the commit. The transaction holds SQLite's write lock from its
/// first statement, so no other writer can take a number in between; a
/// retry or a refused message takes none.
fn insert_batch(
    conn: &mut rusqlite::Connection,
    batch: &[InsertJob],
) -> rusqlite::Result<Vec<InsertOutcome>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut counters: HashMap<&str, (i64, bool)> = HashMap::new();
    {
        let mut insert = tx.prepare_cached(INSERT_MESSAGE_UNRETURNED)?;
        let mut existing = tx.prepare_cached(SELECT_MESSAGE_BY_CLIENT_ID)?;
        let mut last_seq = tx.prepare_cached("SELECT last_seq FROM chats WHERE chatid = ?1")?;
        for job in batch {
            let message = &job.message;
            if !counters.contains_key(message.chatid.as_str()) {
                let last = last_seq
                    .query_row(params![message.chatid], |row| row.get::<_, i64>(0))
                    .optional()?;
                match last {
                    Some(last) => {
                        counters.insert(message.chatid.as_str(), (last, false));
                    }
                    None => {
                        outcomes.push(Err(StoreError::NotFound("chat")));
                        continue;
                    }
                }
            }
            let counter = counters
                .get_mut(message.chatid.as_str())
                .expect("read just above");
            let chat_seq = counter.0 + 1;
            let attachments = serde_json::to_string(&message.attachments)
                .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?;
            let mentions = serde_json::to_string(&message.mentions)
                .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?;
            let inserted = insert.execute(params![
                job.messageid,
                message.chatid,
                message.senderid,
                message.client_message_id,
                message.message_type,
                message.content,
                attachments,
                message.reply_to,
                mentions,
                millis(message.created_at),
                chat_seq,
            ]);
            let outcome = match inserted {
                Ok(0) => Ok((
                    // A retry of a stored message (possibly of this batch).
                    existing.query_row(
                        params![message.senderid, message.client_message_id],
                        message_row,
                    )?,
                    false,
                )),
                Ok(_) => {
                    *counter = (chat_seq, true);
                    Ok((inserted_row(job, tx.last_insert_rowid(), chat_seq), true))
                }
                Err(error) if is_constraint(&error) => {
                    Err(StoreError::NotFound("chat or replied-to message"))
                }
                Err(error) => return Err(error),
            };
            outcomes.push(outcome);
        }
        let mut store_counter =
            tx.prepare_cached("UPDATE chats SET last_seq = ?1 WHERE chatid = ?2")?;
        for (chatid, (last, changed)) in &counters {
            if *changed {
                store_counter.execute(params![last, chatid])?;
            }
        }
    }
    tx.commit()?;
    Ok(outcomes)
}

/// The row [`INSERT_MESSAGE_UNRETURNED`] stored for `job`: `seq` is the
/// row id, every other column is what was bound.
fn inserted_row(job: &InsertJob, seq: i64, chat_seq: i64) -> MessageRow {
    let message = &job.message;
    MessageRow {
        seq,
        chat_seq,
        messageid: job.messageid.clone(),
        chatid: message.chatid.clone(),
        senderid: message.senderid.clone(),
        client_message_id: message.client_message_id.clone(),
        message_type: message.message_type.clone(),
        content: message.content.clone(),
        attachments: Json(message.attachments.clone()),
        reply_to: message.reply_to.clone(),
        mentions: Json(message.mentions.clone()),
        created_at: millis(message.created_at),
    }
}

/// A row of `message_columns!("")`.
fn message_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok(MessageRow {
        seq: row.get(0)?,
        chat_seq: row.get(1)?,
        messageid: row.get(2)?,
        chatid: row.get(3)?,
        senderid: row.get(4)?,
        client_message_id: row.get(5)?,
        message_type: row.get(6)?,
        content: row.get(7)?,
        attachments: Json(json_column(row, 8)?),
        reply_to: row.get(9)?,
        mentions: Json(json_column(row, 10)?),
        created_at: row.get(11)?,
    })
}

fn json_column<T: serde::de::DeserializeOwned>(
    row: &rusqlite::Row<'_>,
    index: usize,
) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|error| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            rusqlite::types::Type::Text,
            Box::new(error),
        )
    })
}

fn is_constraint(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

/// The writer's connection failed: the caller reports `STORAGE_UNAVAILABLE`.
fn unavailable(error: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(error)))
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;
    use crate::store::{ChatType, NewChat, NewMessage, connect};

    /// How many times the WAL at `database` has started over: SQLite counts
    /// them in the WAL header's checkpoint sequence (bytes 12..16,
    /// big-endian).
    fn wal_restarts(database: &Path) -> u32 {
        let mut wal = database.as_os_str().to_owned();
        wal.push("-wal");
        let header = std::fs::read(wal).expect("read the WAL");
        u32::from_be_bytes(header[12..16].try_into().expect("a WAL header"))
    }

    async fn store_one(writer: &mpsc::UnboundedSender<WriterCommand>, chatid: &str, n: usize) {
        let (reply, stored) = oneshot::channel();
        let job = InsertJob {
            messageid: format!("m{n}"),
            message: NewMessage {
                chatid: chatid.to_owned(),
                senderid: "alice".to_owned(),
                client_message_id: format!("c{n}"),
                message_type: "text".to_owned(),
                content: format!("message {n}"),
                attachments: Vec::new(),
                reply_to: None,
                mentions: Vec::new(),
                created_at: chrono::Utc::now(),
            },
            reply,
        };
        assert!(writer.send(WriterCommand::Insert(Box::new(job))).is_ok());
        let (_, created) = stored.await.expect("answered").expect("stored");
        assert!(created);
    }

    /// The state a background checkpoint leaves behind under load: it
    /// copied the WAL up to where it started, and the writer has appended
    /// since. A reader holding a snapshot from before the last insert makes
    /// the checkpoint stop short exactly as a concurrent insert would. Once
    /// told, the writer must finish the copy so that its next commit rewinds
    /// the WAL; without it the WAL only grows.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_raised_flag_lets_the_next_commit_rewind_the_wal() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("writer.db");
        let store = connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("create file");
        store.migrate().await.expect("migrate");
        let chat = store
            .create_chat(&NewChat {
                creator: "alice".to_owned(),
                chat_type: ChatType::Group,
                chat_name: Some("checkpoints".to_owned()),
                participants: vec!["bob".to_owned()],
                created_at: chrono::Utc::now(),
            })
            .await
            .expect("create chat");
        let chatid = chat.chat.chatid;
        // Only this test's writer and connections from here on.
        store.close().await;

        let backfilled = Arc::new(AtomicBool::new(false));
        let writer = spawn(
            &path,
            Settings {
                busy_timeout: Duration::from_secs(5),
                cache_kib: -2_000,
                wal_autocheckpoint: 16_384,
            },
            Arc::new(Mutex::new(())),
            backfilled.clone(),
        )
        .expect("start the writer");
        store_one(&writer, &chatid, 0).await;

        let reader = rusqlite::Connection::open(&path).expect("reader");
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM messages;")
            .expect("hold a snapshot");
        store_one(&writer, &chatid, 1).await;
        let checkpointer = rusqlite::Connection::open(&path).expect("checkpointer");
        let (wal_frames, copied): (i64, i64) = checkpointer
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok((row.get(1)?, row.get(2)?))
            })
            .expect("background checkpoint");
        assert!(copied < wal_frames, "the checkpoint stopped short");
        reader
            .execute_batch("COMMIT")
            .expect("release the snapshot");
        let before = wal_restarts(&path);

        backfilled.store(true, Ordering::Release);
        store_one(&writer, &chatid, 2).await;
        store_one(&writer, &chatid, 3).await;
        assert_eq!(wal_restarts(&path), before + 1, "the WAL started over");
        assert!(!backfilled.load(Ordering::Acquire), "the flag was taken");

        let (closed, done) = oneshot::channel();
        assert!(writer.send(WriterCommand::Close(closed)).is_ok());
        done.await.expect("writer closed");
    }
}
