//! Rows: raw column values, converted to the model with checks.

use std::str::FromStr;

use serde_json::Value;
use sqlx::types::Json;

use crate::store::{
    Chat, ChatSummary, Participant, Profile, StoreError, StoreResult, StoredMessage, Timestamp,
    UnknownVariant,
};

pub(super) fn millis(at: Timestamp) -> i64 {
    at.timestamp_millis()
}

pub(super) fn from_millis(ms: i64) -> StoreResult<Timestamp> {
    chrono::DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp out of range: {ms}").into()))
}

/// Parses a stored enum value; an unknown one means bad data, not a bad
/// request.
pub(super) fn parse_stored<T: FromStr<Err = UnknownVariant>>(value: &str) -> StoreResult<T> {
    value
        .parse()
        .map_err(|e: UnknownVariant| StoreError::Corrupt(Box::new(e)))
}

#[derive(sqlx::FromRow)]
pub(super) struct ProfileRow {
    pub(super) profileid: String,
    pub(super) user_id: String,
    pub(super) username: String,
    pub(super) displayname: Option<String>,
    pub(super) avatar: Option<String>,
    pub(super) email: Option<String>,
    pub(super) updated_at: i64,
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
pub(super) struct ChatRow {
    pub(super) chatid: String,
    pub(super) chat_type: String,
    pub(super) chat_name: Option<String>,
    pub(super) settings: Json<Value>,
    pub(super) created_by: String,
    pub(super) created_at: i64,
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
pub(super) struct ChatSummaryRow {
    #[sqlx(flatten)]
    pub(super) chat: ChatRow,
    pub(super) role: String,
    pub(super) participant_count: i64,
    pub(super) last_message_at: Option<i64>,
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
pub(super) struct ParticipantRow {
    pub(super) profileid: String,
    pub(super) role: String,
    pub(super) joined_at: i64,
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
pub(super) struct MessageRow {
    pub(super) seq: i64,
    pub(super) chat_seq: i64,
    pub(super) messageid: String,
    pub(super) chatid: String,
    pub(super) senderid: String,
    pub(super) client_message_id: String,
    pub(super) message_type: String,
    pub(super) content: String,
    pub(super) attachments: Json<Vec<Value>>,
    pub(super) reply_to: Option<String>,
    pub(super) mentions: Json<Vec<String>>,
    pub(super) created_at: i64,
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
pub(super) struct QueuedRow {
    pub(super) queue_id: i64,
    pub(super) queued_at: i64,
    #[sqlx(flatten)]
    pub(super) message: MessageRow,
}

#[derive(sqlx::FromRow)]
pub(super) struct ReactionRow {
    pub(super) messageid: String,
    pub(super) profileid: String,
    pub(super) emoji: String,
    pub(super) created_at: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct CallRow {
    pub(super) callid: String,
    pub(super) caller: String,
    pub(super) callee: String,
    pub(super) call_type: String,
    pub(super) chatid: Option<String>,
    pub(super) status: String,
    pub(super) end_reason: Option<String>,
    pub(super) ended_by: Option<String>,
    pub(super) rung_at: i64,
    pub(super) answered_at: Option<i64>,
    pub(super) ended_at: Option<i64>,
    pub(super) duration_seconds: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(super) struct DeviceRow {
    pub(super) first_seen: i64,
    pub(super) last_seen: i64,
    pub(super) seen_count: i64,
}
