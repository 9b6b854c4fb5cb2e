//! The message writer's queue (group commit): what waits for it and the
//! loop that stores whatever is waiting at once. The PostgreSQL connection
//! it runs on is in `postgres_writer`; SQLite has its own (`sqlite_writer`).

use tokio::sync::{mpsc, oneshot};

use super::rows::MessageRow;
use crate::store::{NewMessage, StoreResult};

/// One `insert_message` waiting for the message writer.
pub(super) struct InsertJob {
    pub(super) messageid: String,
    pub(super) message: NewMessage,
    pub(super) reply: oneshot::Sender<InsertOutcome>,
}

/// What [`Store::insert_message`] makes of one message: the row and whether
/// this call created it.
pub(super) type InsertOutcome = StoreResult<(MessageRow, bool)>;

/// What the message writer is asked to do.
pub(super) enum WriterCommand {
    Insert(Box<InsertJob>),
    /// Close the writer's connection and stop; answered once done.
    Close(oneshot::Sender<()>),
}

/// Most messages stored in one transaction.
pub(super) const MAX_BATCH: usize = 256;

/// A connection the message writer stores batches on.
pub(super) trait BatchConnection: Send + 'static {
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
pub(super) fn spawn_message_writer<C: BatchConnection>(
    conn: C,
) -> mpsc::UnboundedSender<WriterCommand> {
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
