//! The manifest format: `contract/manifest.json`, the list of events.
//!
//! These types are the single definition of the format. `serde` reads the
//! manifest with them (unknown keys are errors, so a typo cannot silently
//! drop a limit) and `schemars` derives `generated/schema/manifest.schema.json`
//! from them, which the manifest names in its `$schema` so editors validate it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The whole contract manifest.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Manifest {
    /// Path of the JSON Schema of this file (for editors).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Human title of the contract.
    pub title: String,
    /// Version of the contract (semver).
    pub version: String,
    /// What the contract covers, in Markdown.
    pub description: String,
    /// How a client connects and authenticates (the seed's automatic `connect`).
    pub handshake: Handshake,
    /// Reference to the schema every refused ack follows.
    pub ack_failure: SchemaRef,
    /// The server event that carries refusals of client events without an ack.
    pub error_event: String,
    /// The limits every client meets that belong to no single event (the
    /// per-event ones, rates and content size, are on the events).
    pub limits: ClientLimits,
    /// Every event, in both directions, legacy aliases included.
    pub events: Vec<Event>,
}

/// The Socket.IO handshake.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Handshake {
    /// Schema of the handshake `auth` object.
    pub auth: SchemaRef,
    /// How authentication works, in Markdown.
    pub description: String,
}

/// Limits that belong to no single event. Every number carries its unit in
/// its name; the generated code turns seconds into durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClientLimits {
    /// Sockets one user may have open at once; the next one is refused with
    /// `TOO_MANY_CONNECTIONS`.
    pub sockets_per_user: u32,
    /// Messages kept for a user while they are offline; older ones are
    /// dropped from the queue (they stay in the history).
    pub offline_queue_max_messages: u32,
    /// Seconds an unanswered call rings before it becomes `call_missed`.
    pub ring_timeout_seconds: u32,
    /// Seconds an answered call may last before the server ends it.
    pub call_max_duration_seconds: u32,
    /// Seconds a typing indicator lasts without `typing_stop`.
    pub typing_timeout_seconds: u32,
    /// Seconds between two rounds of `heartbeat` and `ping`.
    pub heartbeat_interval_seconds: u32,
    /// Heartbeats in a row a socket may leave unanswered before the server
    /// disconnects it.
    pub heartbeat_allowed_misses: u32,
}

/// The unit of one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitUnit {
    /// A count of things (sockets, messages, misses).
    Count,
    /// A length of time in seconds.
    Seconds,
    /// A size in bytes.
    Bytes,
}

/// One limit as the renderers list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitEntry {
    /// The manifest key (`ringTimeoutSeconds`), also the TypeScript key.
    pub key: &'static str,
    /// The Rust constant (`RING_TIMEOUT`: a `Duration` for seconds).
    pub const_name: &'static str,
    pub value: u32,
    pub unit: LimitUnit,
    /// What it limits, for doc comments.
    pub doc: &'static str,
}

impl ClientLimits {
    /// Every limit, in manifest order.
    pub fn entries(&self) -> Vec<LimitEntry> {
        use LimitUnit::{Count, Seconds};
        let entry = |key, const_name, value, unit, doc| LimitEntry {
            key,
            const_name,
            value,
            unit,
            doc,
        };
        vec![
            entry(
                "socketsPerUser",
                "SOCKETS_PER_USER",
                self.sockets_per_user,
                Count,
                "Sockets one user may have open at once; the next one is refused with `TOO_MANY_CONNECTIONS`.",
            ),
            entry(
                "offlineQueueMaxMessages",
                "OFFLINE_QUEUE_MAX_MESSAGES",
                self.offline_queue_max_messages,
                Count,
                "Messages kept for a user while they are offline; older ones are dropped from the queue (they stay in the history).",
            ),
            entry(
                "ringTimeoutSeconds",
                "RING_TIMEOUT",
                self.ring_timeout_seconds,
                Seconds,
                "How long an unanswered call rings before it becomes `call_missed`.",
            ),
            entry(
                "callMaxDurationSeconds",
                "CALL_MAX_DURATION",
                self.call_max_duration_seconds,
                Seconds,
                "How long an answered call may last before the server ends it (`call_ended`, reason `timeout`).",
            ),
            entry(
                "typingTimeoutSeconds",
                "TYPING_TIMEOUT",
                self.typing_timeout_seconds,
                Seconds,
                "How long a typing indicator lasts without `typing_stop`.",
            ),
            entry(
                "heartbeatIntervalSeconds",
                "HEARTBEAT_INTERVAL",
                self.heartbeat_interval_seconds,
                Seconds,
                "Time between two rounds of `heartbeat` and `ping` to every socket.",
            ),
            entry(
                "heartbeatAllowedMisses",
                "HEARTBEAT_ALLOWED_MISSES",
                self.heartbeat_allowed_misses,
                Count,
                "Heartbeats in a row a socket may leave unanswered before the server disconnects it.",
            ),
        ]
    }
}

/// A reference to a schema definition: `FILE.json#/$defs/NAME`, relative to
/// `contract/schemas/`.
pub type SchemaRef = String;

/// Who emits an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The browser emits it; the server handles it.
    ClientToServer,
    /// The server emits it; the browser listens.
    ServerToClient,
}

/// The part of the server that owns an event. Client events of one domain
/// form one handler trait, implemented by the server module of that name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// Handshake and session.
    Connection,
    /// Chat rooms and typing.
    Chat,
    /// Messages, receipts, reactions, offline delivery.
    Message,
    /// Online status.
    Presence,
    /// Calls, WebRTC signaling and call controls.
    Call,
    /// Ping and heartbeat.
    Health,
    /// Refusals.
    Error,
}

impl Domain {
    /// Every domain, in documentation order.
    pub const ALL: [Domain; 7] = [
        Domain::Connection,
        Domain::Chat,
        Domain::Message,
        Domain::Presence,
        Domain::Call,
        Domain::Health,
        Domain::Error,
    ];

    /// The snake_case name used in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Connection => "connection",
            Domain::Chat => "chat",
            Domain::Message => "message",
            Domain::Presence => "presence",
            Domain::Call => "call",
            Domain::Health => "health",
            Domain::Error => "error",
        }
    }
}

/// One Socket.IO event.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Event {
    /// The event name on the wire.
    pub name: String,
    /// Who emits it.
    pub direction: Direction,
    /// The domain that owns it.
    pub domain: Domain,
    /// One line saying what it is for.
    pub summary: String,
    /// Behaviour and decisions taken where the seed contract is ambiguous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// For a legacy client event: the event it behaves exactly like. An alias
    /// has no payload or ack of its own; it shares its target's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias_of: Option<String>,
    /// The payload schema; absent for an event without payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<SchemaRef>,
    /// The ack (callback) schema of a client event that has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack: Option<SchemaRef>,
    /// Limits the server enforces for this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// Set on deprecated events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecated: Option<Deprecation>,
    /// For a server event whose name the seed also lists as a client event:
    /// the client event it is accepted as when a client emits it (a
    /// deprecated legacy alias of that event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_alias_of: Option<String>,
    /// For a client event: how its handler's refusals reach the client:
    /// `ack` (its ack; the default for an event with one) or the name of the
    /// server event that carries them (the default: `errorEvent`). The
    /// refusal event's payload has `error` and `message`; request fields it
    /// shares with the refused payload (such as `chatid`) are echoed. A
    /// payload refused before its handler ran is always answered in the ack,
    /// or with `errorEvent`. Aliases share their target's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusals: Option<String>,
}

/// Limits that apply to one client event.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Limits {
    /// At most `count` events per `periodSeconds`, per user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateLimit>,
    /// Maximum size of the `content` field, counted in bytes of its UTF-8
    /// encoding (not characters); larger content is `CONTENT_TOO_LARGE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_max_bytes: Option<u32>,
}

/// A per-user rate limit.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RateLimit {
    /// Events allowed per period.
    pub count: u32,
    /// Length of the period in seconds.
    pub period_seconds: u32,
}

/// Deprecation of a legacy event.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Deprecation {
    /// The event to use instead.
    pub replaced_by: String,
}

/// The JSON Schema of the manifest format, as published under
/// `generated/schema/`.
pub fn manifest_json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Manifest);
    serde_json::to_value(schema).expect("a derived schema always serialises")
}
