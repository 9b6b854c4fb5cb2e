//! The PostgreSQL message writer's connection: a whole batch in one
//! `UNNEST` statement.

use std::collections::{HashMap, HashSet};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::types::Json;
use sqlx::{ConnectOptions, Connection};

use super::rows::{MessageRow, millis};
use super::statements::{INSERT_MESSAGE, NEXT_CHAT_SEQ, SELECT_MESSAGE_BY_CLIENT_ID};
use super::writer::{BatchConnection, InsertJob, InsertOutcome};
use crate::store::StoreError;
use crate::store::error::{connect_error, missing};

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
pub(super) struct PgWriterConnection {
    pub(super) options: PgConnectOptions,
    pub(super) conn: Option<PgConnection>,
}

impl PgWriterConnection {
    pub(super) async fn conn(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
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
