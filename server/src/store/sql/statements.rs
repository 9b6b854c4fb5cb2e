//! SQL shared by the store's queries and its message writers: column lists
//! in row order, the message insert and how it binds, and the single-message
//! insert outside a batch.

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
pub(super) const NEXT_CHAT_SEQ: &str =
    "UPDATE chats SET last_seq = last_seq + 1 WHERE chatid = $1 RETURNING last_seq";

/// [`insert_message!`], answering with the stored row.
pub(super) const INSERT_MESSAGE: &str =
    concat!(insert_message!(), " RETURNING ", message_columns!(""));

/// [`insert_message!`] as it is, for the SQLite writer, which knows every
/// column of the row but `seq`, the row id (`chat_seq` it binds itself). SQLite answers `RETURNING`
/// through a temporary table that it opens and closes for every statement:
/// work on the writer's thread, which every acknowledgement waits for.
pub(super) const INSERT_MESSAGE_UNRETURNED: &str = insert_message!();

/// The chats of participant `$1` with their newest `seq` (`sync`): the
/// participant index (profileid, chatid), then one primary-key lookup per
/// chat. A subquery, not a join: with a join PostgreSQL preferred hashing
/// every row of `chats` to probing it a hundred times. Plans on both
/// databases in ARCHITECTURE.md and in the store tests.
pub(in crate::store) const CHAT_HEADS: &str = "SELECT p.chatid, \
     (SELECT c.last_seq FROM chats c WHERE c.chatid = p.chatid) AS last_seq \
     FROM chat_participants p WHERE p.profileid = $1";

/// Messages of chat `$1` after `seq` `$2`, oldest first, at most `$3`: one
/// range scan of `messages_by_chat_seq`.
pub(in crate::store) const MESSAGES_AFTER: &str = concat!(
    "SELECT ",
    message_columns!(""),
    " FROM messages WHERE chatid = $1 AND chat_seq > $2 ORDER BY chat_seq LIMIT $3"
);

/// The stored message of a (senderid, client_message_id) pair.
pub(super) const SELECT_MESSAGE_BY_CLIENT_ID: &str = concat!(
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
