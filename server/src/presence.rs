//! Which users are online, and the presence broadcasts.
//!
//! A user is online while at least one of their sockets is connected, on
//! any node. A [`PresenceRegistry`] counts sockets per user so that the
//! first connect and the last disconnect, and only those, change the user's
//! status, and so that the per-user socket limit is checked and taken in one
//! step. [`Presence`] is the registry of a single node; `cluster::presence`
//! keeps the same books in Redis for several nodes.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use lockstep_contract::{emit, types};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::socket::Sid;

use crate::session::{iso, now, user_room};

/// Presence that several nodes can share. Errors mean the shared state
/// cannot be reached; callers refuse the work rather than guess.
#[async_trait::async_trait]
pub trait PresenceRegistry: Send + Sync {
    /// Registers `sid` for `profileid` unless the user already has `max`
    /// sockets. Returns whether this is the user's first socket.
    async fn connect(&self, profileid: &str, sid: Sid, max: usize) -> Result<bool, PresenceError>;

    /// Unregisters `sid`; returns whether it was the user's last socket.
    async fn disconnect(&self, profileid: &str, sid: Sid) -> Result<bool, Unavailable>;

    /// Splits `profileids` into (online, offline), keeping their order.
    async fn partition(
        &self,
        profileids: Vec<String>,
    ) -> Result<(Vec<String>, Vec<String>), Unavailable>;

    async fn is_online(&self, profileid: &str) -> Result<bool, Unavailable>;

    /// Sockets connected to this node and their distinct users, for metrics.
    fn counts(&self) -> (usize, usize);
}

/// Why a socket cannot be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceError {
    /// The user already has the maximum number of sockets.
    TooManySockets,
    Unavailable,
}

/// The shared presence state cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

impl From<Unavailable> for PresenceError {
    fn from(_: Unavailable) -> Self {
        PresenceError::Unavailable
    }
}

#[async_trait::async_trait]
impl PresenceRegistry for Presence {
    async fn connect(&self, profileid: &str, sid: Sid, max: usize) -> Result<bool, PresenceError> {
        Presence::connect(self, profileid, sid, max)
            .map_err(|TooManySockets| PresenceError::TooManySockets)
    }

    async fn disconnect(&self, profileid: &str, sid: Sid) -> Result<bool, Unavailable> {
        Ok(Presence::disconnect(self, profileid, sid))
    }

    async fn partition(
        &self,
        profileids: Vec<String>,
    ) -> Result<(Vec<String>, Vec<String>), Unavailable> {
        Ok(Presence::partition(self, profileids))
    }

    async fn is_online(&self, profileid: &str) -> Result<bool, Unavailable> {
        Ok(Presence::is_online(self, profileid))
    }

    fn counts(&self) -> (usize, usize) {
        Presence::counts(self)
    }
}

/// Sockets per online user on this node.
#[derive(Default)]
pub struct Presence {
    sockets: Mutex<HashMap<String, HashSet<Sid>>>,
}

/// The user already has the maximum number of sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManySockets;

impl Presence {
    /// Registers `sid` for `profileid` unless the user already has `max`
    /// sockets. Returns whether this is the user's first socket.
    pub fn connect(&self, profileid: &str, sid: Sid, max: usize) -> Result<bool, TooManySockets> {
        let mut sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        let mine = sockets.entry(profileid.to_owned()).or_default();
        if mine.len() >= max && !mine.contains(&sid) {
            return Err(TooManySockets);
        }
        mine.insert(sid);
        Ok(mine.len() == 1)
    }

    /// Unregisters `sid`; returns whether it was the user's last socket.
    pub fn disconnect(&self, profileid: &str, sid: Sid) -> bool {
        let mut sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mine) = sockets.get_mut(profileid) else {
            return false;
        };
        let removed = mine.remove(&sid);
        if mine.is_empty() {
            sockets.remove(profileid);
            return removed;
        }
        false
    }

    pub fn is_online(&self, profileid: &str) -> bool {
        let sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        sockets.contains_key(profileid)
    }

    /// Splits `profileids` into (online, offline), keeping their order.
    pub fn partition(
        &self,
        profileids: impl IntoIterator<Item = String>,
    ) -> (Vec<String>, Vec<String>) {
        let sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        profileids
            .into_iter()
            .partition(|p| sockets.contains_key(p))
    }

    /// Every (user, socket) registered here.
    pub fn sockets(&self) -> Vec<(String, Sid)> {
        let sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        sockets
            .iter()
            .flat_map(|(user, sids)| sids.iter().map(move |sid| (user.clone(), *sid)))
            .collect()
    }

    /// Connected sockets and distinct online users, for metrics.
    pub fn counts(&self) -> (usize, usize) {
        let sockets = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        (sockets.values().map(HashSet::len).sum(), sockets.len())
    }
}

/// Tells `partners` that `profileid` came online or went offline:
/// `user_status_changed`, and the deprecated `user_online`/`user_offline`
/// when legacy events are on.
pub async fn announce<A: Adapter>(
    io: &SocketIo<A>,
    profileid: &str,
    partners: &[String],
    is_online: bool,
    legacy_events: bool,
) {
    if partners.is_empty() {
        return;
    }
    // Shutting down: socketioxide has removed the namespace already (and
    // `SocketIo::to` would panic); every socket is on its way out anyway.
    let Some(namespace) = io.of("/") else {
        tracing::debug!(%profileid, "namespace closed; presence change not announced");
        return;
    };
    let rooms: Vec<String> = partners.iter().map(|p| user_room(p)).collect();
    let changed = types::UserStatusChanged {
        profileid: profileid.to_owned(),
        is_online,
        last_seen: iso(now()),
    };
    if let Err(error) =
        emit::user_status_changed(namespace.clone().to(rooms.clone()), &changed).await
    {
        tracing::warn!(%error, "could not broadcast a presence change");
    }
    if legacy_events {
        let legacy = types::PresenceProfile {
            profileid: profileid.to_owned(),
        };
        #[allow(deprecated)] // still emitted for old clients, see the contract
        let sent = if is_online {
            emit::user_online(namespace.clone().to(rooms), &legacy).await
        } else {
            emit::user_offline(namespace.to(rooms), &legacy).await
        };
        if let Err(error) = sent {
            tracing::warn!(%error, "could not broadcast a legacy presence change");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_connect_and_last_disconnect_change_the_status() {
        let presence = Presence::default();
        let (a, b) = (Sid::new(), Sid::new());
        assert_eq!(presence.connect("p", a, 10), Ok(true));
        assert_eq!(presence.connect("p", b, 10), Ok(false));
        assert!(presence.is_online("p"));
        assert!(!presence.disconnect("p", a));
        assert!(presence.disconnect("p", b));
        assert!(!presence.is_online("p"));
        assert!(
            !presence.disconnect("p", b),
            "a second disconnect changes nothing"
        );
    }

    #[test]
    fn the_socket_limit_is_per_user() {
        let presence = Presence::default();
        for _ in 0..3 {
            presence.connect("p", Sid::new(), 3).unwrap();
        }
        assert_eq!(presence.connect("p", Sid::new(), 3), Err(TooManySockets));
        assert!(presence.connect("q", Sid::new(), 3).is_ok());
        let (sockets, users) = presence.counts();
        assert_eq!((sockets, users), (4, 2));
    }
}
