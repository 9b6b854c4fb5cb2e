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

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use sqlx::types::Json;
use tokio::sync::{Mutex, mpsc};

use super::{
    INSERT_MESSAGE, InsertJob, InsertOutcome, MAX_BATCH, MessageRow, SELECT_MESSAGE_BY_CLIENT_ID,
    WriterCommand, millis,
};
use crate::store::{StoreError, StoreResult};

/// Opens the writer's connection to the database file at `path` (already
/// created, in WAL mode, and migrated by the pool) with the pool's
/// durability settings, and starts the thread.
pub(super) fn spawn(
    path: &Path,
    busy_timeout: Duration,
    cache_kib: i64,
    wal_autocheckpoint: u32,
    turns: Arc<Mutex<()>>,
) -> StoreResult<mpsc::UnboundedSender<WriterCommand>> {
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
        .spawn(move || run(conn, queue, &turns))
        .map_err(|error| StoreError::Unavailable(sqlx::Error::Io(error)))?;
    Ok(commands)
}

/// The writer's loop: waits for work, takes the process's write turn, adds
/// whatever else arrived meanwhile, stores it all in one transaction, and
/// answers every caller after the commit.
fn run(
    mut conn: rusqlite::Connection,
    mut queue: mpsc::UnboundedReceiver<WriterCommand>,
    turns: &Mutex<()>,
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
            for (job, outcome) in batch.drain(..).zip(outcomes) {
                let _ = job.reply.send(outcome);
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

/// Stores `batch` in one `BEGIN IMMEDIATE` transaction. A constraint that
/// refuses one message (its chat or its replied-to message is gone) undoes
/// only that statement and answers only that caller; `Err` means the
/// transaction as a whole failed and nothing of it was committed.
fn insert_batch(
    conn: &mut rusqlite::Connection,
    batch: &[InsertJob],
) -> rusqlite::Result<Vec<InsertOutcome>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(batch.len());
    {
        let mut insert = tx.prepare_cached(INSERT_MESSAGE)?;
        let mut existing = tx.prepare_cached(SELECT_MESSAGE_BY_CLIENT_ID)?;
        for job in batch {
            let message = &job.message;
            let attachments = serde_json::to_string(&message.attachments)
                .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?;
            let mentions = serde_json::to_string(&message.mentions)
                .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))?;
            let inserted = insert
                .query_row(
                    params![
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
                    ],
                    message_row,
                )
                .optional();
            let outcome = match inserted {
                Ok(Some(row)) => Ok((row, true)),
                // A retry of a stored message (possibly of this batch).
                Ok(None) => Ok((
                    existing.query_row(
                        params![message.senderid, message.client_message_id],
                        message_row,
                    )?,
                    false,
                )),
                Err(error) if is_constraint(&error) => {
                    Err(StoreError::NotFound("chat or replied-to message"))
                }
                Err(error) => return Err(error),
            };
            outcomes.push(outcome);
        }
    }
    tx.commit()?;
    Ok(outcomes)
}

/// A row of `message_columns!("")`.
fn message_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok(MessageRow {
        seq: row.get(0)?,
        messageid: row.get(1)?,
        chatid: row.get(2)?,
        senderid: row.get(3)?,
        client_message_id: row.get(4)?,
        message_type: row.get(5)?,
        content: row.get(6)?,
        attachments: Json(json_column(row, 7)?),
        reply_to: row.get(8)?,
        mentions: Json(json_column(row, 9)?),
        created_at: row.get(10)?,
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
