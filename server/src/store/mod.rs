//! Durable storage for Lockstep: profiles, chats and participants, messages
//! with receipts and reactions, the offline queue and known devices.
//!
//! # Shape
//!
//! Domain modules hold an `Arc<dyn Store>` made by [`connect`], which picks
//! the backend from the URL scheme:
//!
//! * `sqlite://path/to/file.db` (the default deployment: one embedded file,
//!   created if missing);
//! * `postgres://user@host/db` (or `postgresql://`), for several server nodes
//!   sharing one database.
//!
//! [`Store`] is a trait rather than an enum so that domain modules can be
//! tested against a stand-in (for example one that fails with
//! [`StoreError::Unavailable`] to exercise `STORAGE_UNAVAILABLE`) and so a
//! decorator (metrics, caching) can wrap it without touching call sites.
//! There is one real implementation, `sql::SqlStore`, and it writes every
//! statement and every step once for both databases: each method body is
//! expanded per concrete pool type by a small macro. (The alternatives: code
//! generic over `sqlx::Database` needs higher-ranked bounds that
//! async-trait's `Send` futures handle poorly; sqlx's `Any` driver would
//! drop JSONB and the typed SQLite options.) Both drivers accept `$1`
//! placeholders, and the schemas in `migrations/{sqlite,postgres}` keep the
//! same tables and constraint names, so the SQL text is identical on both.
//!
//! # Guarantees the server relies on
//!
//! * Every write has been committed when its method returns `Ok` (SQLite
//!   runs with `synchronous=FULL`, see [`connect`]), so a message can be
//!   acknowledged as soon as [`Store::insert_message`] returns.
//! * Idempotency lives in the database, not in memory: unique constraints
//!   plus `INSERT … ON CONFLICT`, so concurrent retries from several tasks or
//!   several nodes still produce one row.
//! * Errors never carry SQL or database text in their `Display`.
//!
//! Nothing here knows about sockets, rooms or the wire format.

mod error;
pub mod metered;
mod model;
mod sql;

#[cfg(test)]
use sql::{CHAT_HEADS, MESSAGES_AFTER};

#[cfg(test)]
mod tests;

use std::collections::HashMap;

pub use error::{StoreError, StoreResult};
pub use model::{
    Backend, CallRecord, Chat, ChatHead, ChatSummary, ChatType, CreatedChat, DeliveredRange,
    DeliveryFlush, DeviceSeen, HistoryMessage, HistoryPage, Inserted, NewChat, NewMessage,
    OfflineEnqueued, Participant, Profile, QueuedMessage, Reaction, Role, SeqPage, StoredMessage,
    Timestamp, UnknownVariant,
};
pub use sql::connect;

#[cfg(test)]
/// The contract's limit on queued offline messages per user.
pub const DEFAULT_OFFLINE_CAP: u32 = lockstep_contract::limits::OFFLINE_QUEUE_MAX_MESSAGES;

/// The storage operations the server needs.
///
/// Reads of a single thing return `Ok(None)` when it does not exist; writes
/// that refer to something missing fail with [`StoreError::NotFound`].
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// Which database this is.
    fn backend(&self) -> Backend;

    /// Applies pending migrations and returns the ones it applied
    /// (`VERSION DESCRIPTION`, oldest first; empty when the schema was up to
    /// date). Safe to run on every start and from several nodes at once on
    /// PostgreSQL (sqlx takes an advisory lock).
    async fn migrate(&self) -> StoreResult<Vec<String>>;

    /// A cheap round trip (`SELECT 1`) for the readiness check.
    async fn ping(&self) -> StoreResult<()>;

    /// Closes the pool, waiting for connections in use to be returned. Later
    /// calls fail with [`StoreError::Unavailable`].
    async fn close(&self);

    // --- profiles ---

    /// Inserts or refreshes a profile. Optional fields that are `None` keep
    /// the value already stored (a token without `displayname` does not
    /// erase it).
    async fn upsert_profile(&self, profile: &Profile) -> StoreResult<()>;

    /// The known profiles among `profileids`, in no particular order; unknown
    /// ids are left out.
    async fn get_profiles(&self, profileids: &[String]) -> StoreResult<Vec<Profile>>;

    // --- chats ---

    /// Creates a chat and its participants in one transaction: the creator
    /// is `owner`, every other distinct id is `member`.
    ///
    /// A `direct` chat must have exactly two distinct members, the creator
    /// and one other (else [`StoreError::Invalid`]). If a direct chat between
    /// the same two people exists, it is returned with `created: false`
    /// instead of creating a second one, so "message B" always lands in the
    /// same conversation; the database enforces this even for concurrent
    /// requests on several nodes.
    async fn create_chat(&self, new_chat: &NewChat) -> StoreResult<CreatedChat>;

    async fn get_chat(&self, chatid: &str) -> StoreResult<Option<Chat>>;

    /// The chats `profileid` takes part in, most recently active first (by
    /// newest message, else creation time), with their role and member count.
    async fn list_chats_for(&self, profileid: &str) -> StoreResult<Vec<ChatSummary>>;

    /// The role of `profileid` in `chatid`, or `None` if not a participant
    /// (or the chat does not exist).
    async fn get_participant(&self, chatid: &str, profileid: &str) -> StoreResult<Option<Role>>;

    /// Participants in join order.
    async fn list_participants(&self, chatid: &str) -> StoreResult<Vec<Participant>>;

    /// Adds a participant; returns true if they were not one already. An
    /// existing participant keeps their role. Unknown chat: `NotFound`.
    async fn add_participant(
        &self,
        chatid: &str,
        profileid: &str,
        role: Role,
        at: Timestamp,
    ) -> StoreResult<bool>;

    /// Everyone who shares at least one chat with `profileid` (not
    /// `profileid` itself), sorted: the audience of presence changes.
    async fn chat_partners(&self, profileid: &str) -> StoreResult<Vec<String>>;

    /// A chat both people are in, preferring their direct chat; for calls.
    async fn shared_chat(&self, a: &str, b: &str) -> StoreResult<Option<String>>;

    // --- messages ---

    /// Stores a message, idempotently on (senderid, client_message_id): when
    /// that pair exists, the stored row is returned with `created: false`
    /// (whatever the retry carried). The store makes the messageid (a ULID).
    /// Unknown chat or `reply_to`: `NotFound`.
    async fn insert_message(&self, message: &NewMessage) -> StoreResult<Inserted>;

    async fn get_message(&self, messageid: &str) -> StoreResult<Option<StoredMessage>>;

    /// The stored messages among `messageids`, in no particular order;
    /// unknown ids are left out. One query per few hundred ids.
    async fn get_messages(&self, messageids: &[String]) -> StoreResult<Vec<StoredMessage>>;

    // --- catch-up (`sync`) ---

    /// Every chat `profileid` takes part in, with the `seq` of its newest
    /// message: one query on the participant index and the chats' keys, so
    /// `sync` reads messages only of chats that have news.
    async fn chat_heads(&self, profileid: &str) -> StoreResult<Vec<ChatHead>>;

    /// Up to `limit` messages of `chatid` with a `seq` greater than `after`,
    /// oldest first: one range scan of the index on (chatid, seq).
    async fn messages_after(&self, chatid: &str, after: i64, limit: u32) -> StoreResult<SeqPage>;

    /// Up to `limit` messages of `chatid`, newest first, older than the
    /// message `before` if given, with their reactions (loaded with one query
    /// for the page). `before` must be a message of this chat, else
    /// `NotFound`.
    async fn history(
        &self,
        chatid: &str,
        before: Option<&str>,
        limit: u32,
    ) -> StoreResult<HistoryPage>;

    /// Reactions of each of `messageids` (oldest first), in one query per
    /// few hundred ids. Messages without reactions are absent from the map.
    async fn reactions_for(
        &self,
        messageids: &[String],
    ) -> StoreResult<HashMap<String, Vec<Reaction>>>;

    // --- receipts and reactions ---

    /// Records delivery of each of `messageids` to `profileid` in one
    /// statement; returns the ids delivered for the
    /// first time (whose senders have not been told yet). Unknown ids
    /// (deleted meanwhile) are skipped.
    ///
    /// First time: the message's receipt row has no `delivered_at` yet (a
    /// missed live delivery, see [`Store::flush_deliveries`]), or it has no
    /// row and its `seq` is outside the recipient's delivered range in its
    /// chat. The delivery is then recorded in a row, so it is not reported
    /// again.
    async fn mark_delivered_many(
        &self,
        messageids: &[String],
        profileid: &str,
        at: Timestamp,
    ) -> StoreResult<Vec<String>>;

    /// Writes the receipt log's flush (in one transaction on PostgreSQL, in
    /// a few short ones on SQLite): first each missed
    /// delivery as a receipt row without `delivered_at` (an exception to
    /// the range; an existing row is kept), then each recipient's delivered
    /// range in its chat, raised, never lowered (its lower end is set only
    /// when the row is made). Messages and chats deleted meanwhile are
    /// skipped.
    async fn flush_deliveries(&self, flush: &DeliveryFlush) -> StoreResult<()>;

    /// Records delivery to `profileid`; true only the first time (the rule
    /// of [`Store::mark_delivered_many`]). Unknown message: false.
    async fn mark_delivered(
        &self,
        messageid: &str,
        profileid: &str,
        at: Timestamp,
    ) -> StoreResult<bool>;

    /// Records that `profileid` read the message (and so received it); true
    /// only the first time, so `message_read` is emitted once.
    async fn mark_read(&self, messageid: &str, profileid: &str, at: Timestamp)
    -> StoreResult<bool>;

    /// Adds a reaction; true if this (profile, emoji) was new on the message.
    /// Unknown message: `NotFound`.
    async fn add_reaction(
        &self,
        messageid: &str,
        profileid: &str,
        emoji: &str,
        at: Timestamp,
    ) -> StoreResult<bool>;

    // --- offline queue ---

    /// Queues `messageid` for each of `profileids` in one transaction (a few
    /// multi-row inserts, not one statement per recipient), then drops each
    /// recipient's oldest entries beyond `cap` (the messages stay in history).
    /// Queuing a message twice for someone is a no-op.
    ///
    /// On PostgreSQL, two enqueues for the same user committing at the same
    /// moment can leave that user one entry over the cap until the next one.
    async fn enqueue_offline(
        &self,
        profileids: &[String],
        messageid: &str,
        at: Timestamp,
        cap: u32,
    ) -> StoreResult<OfflineEnqueued>;

    /// The user's queued messages in queue order. Does not remove them:
    /// deliver, then [`Store::ack_offline`], so a crash in between re-delivers
    /// rather than loses.
    async fn take_offline(&self, profileid: &str) -> StoreResult<Vec<QueuedMessage>>;

    /// Deletes the delivered entries (their `queue_id`s) from the user's
    /// queue; returns how many were deleted.
    ///
    /// Ids rather than "everything up to id N": on PostgreSQL an entry with
    /// a lower id can commit after a higher one was read, and a range delete
    /// would drop it undelivered.
    async fn ack_offline(&self, profileid: &str, queue_ids: &[i64]) -> StoreResult<u64>;

    // --- devices ---

    /// Records a connection from a device fingerprint and says whether the
    /// profile had used it before (`deviceTrusted`).
    async fn touch_device(
        &self,
        profileid: &str,
        fingerprint: &str,
        at: Timestamp,
    ) -> StoreResult<DeviceSeen>;

    /// What a connect records before it is told `authenticated`: the
    /// token's profile ([`Store::upsert_profile`]) and its device
    /// ([`Store::touch_device`]). A store may write many connects' sessions
    /// in one commit (SQLite: the message writer's batches), so that a
    /// reconnect storm is not one fsync'd commit after another, two per
    /// socket. Either both are stored or, on an error, possibly neither.
    async fn start_session(
        &self,
        profile: &Profile,
        fingerprint: &str,
        at: Timestamp,
    ) -> StoreResult<DeviceSeen> {
        self.upsert_profile(profile).await?;
        self.touch_device(&profile.profileid, fingerprint, at).await
    }

    // --- calls ---

    /// Writes call records in one transaction, in order: a call's record is
    /// inserted when it starts ringing and overwritten as it is answered and
    /// ends, so a later state of one call may follow an earlier one in the
    /// same batch (see `call::log`).
    async fn upsert_calls(&self, calls: &[CallRecord]) -> StoreResult<()>;

    /// Whether a call with this id was ever recorded (client-chosen call ids
    /// must not reuse one: the record would be overwritten).
    async fn call_exists(&self, call_id: &str) -> StoreResult<bool>;

    /// The calls `profileid` took part in (either side), newest first.
    async fn list_calls(&self, profileid: &str, limit: u32) -> StoreResult<Vec<CallRecord>>;
}
