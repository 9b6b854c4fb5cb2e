//! Who is on a socket, where their events go, and the clock.
//!
//! The session is put in the socket's extensions by the connect middleware
//! once the handshake authenticated; every handler reads it from there.
//! Handlers are only registered on authenticated sockets, so a handler that
//! finds no session is looking at a socket torn down mid-event.

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use lockstep_contract::types::IsoTimestamp;
use serde_json::{Map, Value};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

/// The authenticated user of one socket.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub profileid: String,
    pub user_id: String,
    pub username: String,
    pub displayname: String,
    pub avatar: String,
    pub email: String,
    pub permissions: Map<String, Value>,
    pub connected_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The session of `socket`, if it is (still) authenticated.
pub fn session_of<A: Adapter>(socket: &SocketRef<A>) -> Option<Arc<Session>> {
    socket.extensions.get::<Arc<Session>>()
}

/// The room every socket of one user joins, on every node: emitting to it
/// reaches all of the user's devices.
pub fn user_room(profileid: &str) -> String {
    format!("user:{profileid}")
}

/// The prefix of chat rooms.
pub const CHAT_ROOM_PREFIX: &str = "chat:";

/// The room of the sockets that joined a chat (`join_chat`).
pub fn chat_room(chatid: &str) -> String {
    format!("{CHAT_ROOM_PREFIX}{chatid}")
}

/// Now, to the millisecond: what the database keeps and what clients parse.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// A timestamp as the contract's ISO 8601 type.
pub fn iso(at: DateTime<Utc>) -> IsoTimestamp {
    IsoTimestamp(at.trunc_subsecs(3))
}
