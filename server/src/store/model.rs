//! The values the store takes and returns.
//!
//! Plain data, independent of the wire format: the domain modules map these to
//! and from the generated contract types. Timestamps are `DateTime<Utc>` and
//! are kept with millisecond precision (the database holds milliseconds since
//! the epoch), so a value read back may have fewer sub-second digits than the
//! one written.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// A point in time as the store keeps it (millisecond precision, UTC).
pub type Timestamp = DateTime<Utc>;

/// Which database a store talks to (for logs and metrics labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A text value that names no variant of one of the store's enums (from a
/// request or, for stored data, reported as [`super::StoreError::Corrupt`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind}: {value:?}")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

/// Declares a closed set of text values with `as_str`, `FromStr` and
/// `Display`, spelled exactly as in the database CHECK constraints and the
/// contract.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $kind:literal, { $($variant:ident => $text:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownVariant;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                match value {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownVariant { kind: $kind, value: value.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// `chatType` in the contract.
    ChatType, "chat type", {
        Direct => "direct",
        Group => "group",
        Channel => "channel",
    }
);

text_enum!(
    /// A participant's role in a chat (`role` in `chat_joined`), ordered from
    /// most to least privileged.
    Role, "role", {
        Owner => "owner",
        Admin => "admin",
        Moderator => "moderator",
        Member => "member",
    }
);

/// A user's public profile, as carried by their latest verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub profileid: String,
    pub user_id: String,
    pub username: String,
    pub displayname: Option<String>,
    pub avatar: Option<String>,
    pub email: Option<String>,
    pub updated_at: Timestamp,
}

/// A request to create a chat. See [`super::Store::create_chat`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChat {
    /// Becomes the `owner`; added even if `participants` leaves them out.
    pub creator: String,
    pub chat_type: ChatType,
    pub chat_name: Option<String>,
    /// Other members (become `member`). The creator and duplicates may appear
    /// and are ignored.
    pub participants: Vec<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chat {
    pub chatid: String,
    pub chat_type: ChatType,
    pub chat_name: Option<String>,
    /// A JSON object; `{}` unless someone changed the chat's settings.
    pub settings: Value,
    pub created_by: String,
    pub created_at: Timestamp,
}

/// The result of [`super::Store::create_chat`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedChat {
    pub chat: Chat,
    /// False when an existing direct chat between the same two people was
    /// returned instead of creating a second one.
    pub created: bool,
}

/// One entry of a user's chat list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatSummary {
    pub chat: Chat,
    /// The role of the user whose list this is.
    pub role: Role,
    pub participant_count: i64,
    /// When the newest message was stored; `None` for a chat without messages.
    pub last_message_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub profileid: String,
    pub role: Role,
    pub joined_at: Timestamp,
}

/// A message to store. See [`super::Store::insert_message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub chatid: String,
    pub senderid: String,
    /// The sender's idempotency key: one stored message per
    /// (senderid, client_message_id), whatever the number of retries.
    pub client_message_id: String,
    pub message_type: String,
    pub content: String,
    /// JSON objects as sent (`type`, `url`, `name`, `size`, `mimetype`).
    pub attachments: Vec<Value>,
    /// The messageid this one replies to. It must exist (else `NotFound`).
    pub reply_to: Option<String>,
    /// Mentioned profile ids.
    pub mentions: Vec<String>,
    /// The server's timestamp for the message.
    pub created_at: Timestamp,
}

/// A message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Storage order across all chats (ascending = older). Unique, but not
    /// contiguous: the history cursor.
    pub row_order: i64,
    /// The message's number in its chat (`seq` on the wire): 1, 2, 3, … in
    /// commit order, without gaps, never reused.
    pub seq: i64,
    pub messageid: String,
    pub chatid: String,
    pub senderid: String,
    pub client_message_id: String,
    pub message_type: String,
    pub content: String,
    pub attachments: Vec<Value>,
    pub reply_to: Option<String>,
    pub mentions: Vec<String>,
    pub created_at: Timestamp,
}

/// The result of [`super::Store::insert_message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inserted {
    pub message: StoredMessage,
    /// False when the (senderid, client_message_id) pair was already stored:
    /// `message` is then the earlier row, and nothing new should be broadcast.
    pub created: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub profileid: String,
    pub emoji: String,
    pub created_at: Timestamp,
}

/// A message of a history page with its reactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryMessage {
    pub message: StoredMessage,
    /// Oldest first.
    pub reactions: Vec<Reaction>,
}

/// One page of a chat's history. See [`super::Store::history`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// Newest first.
    pub messages: Vec<HistoryMessage>,
    /// Whether older messages exist beyond this page.
    pub has_more: bool,
}

impl HistoryPage {
    /// The cursor for the next (older) page: the oldest message of this page,
    /// when there are more. This is the REST API's `nextBefore`.
    pub fn next_before(&self) -> Option<&str> {
        if self.has_more {
            self.messages
                .last()
                .map(|entry| entry.message.messageid.as_str())
        } else {
            None
        }
    }
}

/// Where a chat stands, for `sync`: see [`super::Store::chat_heads`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatHead {
    pub chatid: String,
    /// The `seq` of the chat's newest committed message; 0 without messages.
    pub last_seq: i64,
}

/// Messages of one chat after a position. See [`super::Store::messages_after`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqPage {
    /// Oldest first, consecutive `seq`s.
    pub messages: Vec<StoredMessage>,
    /// Whether messages beyond this page exist.
    pub has_more: bool,
}

/// The result of [`super::Store::enqueue_offline`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OfflineEnqueued {
    /// New queue entries (a recipient who already had the message queued is
    /// not counted).
    pub queued: u64,
    /// Older entries dropped to keep recipients within the cap.
    pub dropped: u64,
}

/// A message waiting in a user's offline queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Pass to [`super::Store::ack_offline`] once delivered.
    pub queue_id: i64,
    pub message: StoredMessage,
    pub queued_at: Timestamp,
}

/// The result of [`super::Store::touch_device`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceSeen {
    /// Whether this profile had connected from this fingerprint before this
    /// call (the contract's `deviceTrusted`).
    pub previously_seen: bool,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Connections seen from this device, this one included.
    pub seen_count: i64,
}

/// The durable record of one call. `status` is one of `ringing`, `active`,
/// `ended`, `missed`, `rejected`, `cancelled`; `call_type` `voice` or `video`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub call_id: String,
    pub caller: String,
    pub callee: String,
    pub call_type: String,
    pub chatid: Option<String>,
    pub status: String,
    /// The contract's `CallEndReason`, once ended.
    pub end_reason: Option<String>,
    /// A profile id, or `system`.
    pub ended_by: Option<String>,
    pub rung_at: Timestamp,
    pub answered_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub duration_seconds: Option<i64>,
}

/// Live deliveries of one chat's messages to one recipient, as a range of
/// `seq`s: the receipt log's summary of what it saw since its last flush.
/// See [`super::Store::flush_deliveries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredRange {
    pub chatid: String,
    pub profileid: String,
    /// The lowest `seq` handed live in this flush.
    pub from_seq: i64,
    /// The highest `seq` handed live in this flush.
    pub to_seq: i64,
    /// When the latest of them was handed.
    pub at: Timestamp,
}

/// What the receipt log writes at once: see [`super::Store::flush_deliveries`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFlush {
    /// Recipients who were handed messages live, per chat.
    pub delivered: Vec<DeliveredRange>,
    /// (messageid, profileid): recipients a message was not handed live
    /// (offline, a full socket queue, a refused cluster broadcast).
    pub missed: Vec<(String, String)>,
}

impl DeliveryFlush {
    pub fn is_empty(&self) -> bool {
        self.delivered.is_empty() && self.missed.is_empty()
    }
}
