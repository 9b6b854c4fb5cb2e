//! Presence and the per-user socket limit across nodes, in Redis.
//!
//! Each user has a sorted set `lockstep:presence:user:{profileid}` of their
//! socket ids, scored by when the entry lapses; a global sorted set
//! `lockstep:presence:expiry` holds `{profileid} {sid}` with the same score
//! so the [`super::sweeper`] finds lapsed entries without scanning users.
//! Every node refreshes its own sockets' scores every third of the node
//! TTL. Connects and disconnects are Lua scripts: the limit check and the
//! first/last decision are atomic across nodes.

use std::time::Duration;

use redis::Script;
use socketioxide::socket::Sid;

use super::{Cluster, now_ms};
use crate::presence::{Presence, PresenceError, PresenceRegistry, Unavailable};

pub const EXPIRY_KEY: &str = "lockstep:presence:expiry";

pub fn user_key(profileid: &str) -> String {
    format!("lockstep:presence:user:{profileid}")
}

pub fn expiry_member(profileid: &str, sid: &str) -> String {
    format!("{profileid} {sid}")
}

/// Splits an expiry member back into (profileid, sid). Profile ids may hold
/// spaces; socket ids never do.
pub fn parse_expiry_member(member: &str) -> Option<(&str, &str)> {
    member.rsplit_once(' ')
}

/// Drops lapsed sockets, refuses past the limit, adds the socket; returns 1
/// for the user's first live socket, 0 otherwise, -1 over the limit.
const CONNECT: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local count = redis.call('ZCARD', KEYS[1])
if count >= tonumber(ARGV[4]) and not redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  return -1
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[5])
if count == 0 then return 1 else return 0 end
";

/// Removes the socket; returns 1 when no live socket of the user remains.
const DISCONNECT: &str = r"
local removed = redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if removed == 1 and redis.call('ZCARD', KEYS[1]) == 0 then return 1 else return 0 end
";

/// Cluster-wide presence; keeps a node-local mirror of its own sockets to
/// refresh them and to count them for metrics.
pub struct RedisPresence {
    cluster: Cluster,
    local: Presence,
    connect: Script,
    disconnect: Script,
}

impl RedisPresence {
    pub fn new(cluster: Cluster) -> Self {
        Self {
            cluster,
            local: Presence::default(),
            connect: Script::new(CONNECT),
            disconnect: Script::new(DISCONNECT),
        }
    }

    fn lapse_at(&self) -> i64 {
        now_ms() + i64::try_from(self.cluster.node_ttl.as_millis()).unwrap_or(i64::MAX / 2)
    }

    /// Pushes the lapse time of every socket of this node forward. Run
    /// every third of the node TTL; a node that stops running it (dead,
    /// partitioned) loses its users after the TTL.
    pub async fn refresh(&self) -> Result<(), Unavailable> {
        let sockets = self.local.sockets();
        if sockets.is_empty() {
            return Ok(());
        }
        let lapse_at = self.lapse_at();
        let key_ttl = key_ttl_ms(self.cluster.node_ttl);
        let mut pipe = redis::pipe();
        for (profileid, sid) in &sockets {
            let sid = sid.to_string();
            pipe.zadd(user_key(profileid), &sid, lapse_at)
                .ignore()
                .pexpire(user_key(profileid), key_ttl)
                .ignore()
                .zadd(EXPIRY_KEY, expiry_member(profileid, &sid), lapse_at)
                .ignore();
        }
        let mut connection = self.cluster.connection();
        let result: redis::RedisResult<()> = pipe.query_async(&mut connection).await;
        self.cluster.observe(result).map_err(|_| Unavailable)
    }
}

/// User keys outlive their entries a little, so an idle key goes away.
fn key_ttl_ms(node_ttl: Duration) -> i64 {
    i64::try_from(node_ttl.as_millis() * 2).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl PresenceRegistry for RedisPresence {
    async fn connect(&self, profileid: &str, sid: Sid, max: usize) -> Result<bool, PresenceError> {
        let sid_text = sid.to_string();
        let mut connection = self.cluster.connection();
        let result: redis::RedisResult<i64> = self
            .connect
            .key(user_key(profileid))
            .key(EXPIRY_KEY)
            .arg(now_ms())
            .arg(self.lapse_at())
            .arg(&sid_text)
            .arg(max)
            .arg(expiry_member(profileid, &sid_text))
            .arg(key_ttl_ms(self.cluster.node_ttl))
            .invoke_async(&mut connection)
            .await;
        match self.cluster.observe(result) {
            Ok(-1) => Err(PresenceError::TooManySockets),
            Ok(first) => {
                // The local mirror only tracks; the limit was Redis's call.
                let _ = self.local.connect(profileid, sid, usize::MAX);
                Ok(first == 1)
            }
            Err(_) => Err(PresenceError::Unavailable),
        }
    }

    async fn disconnect(&self, profileid: &str, sid: Sid) -> Result<bool, Unavailable> {
        self.local.disconnect(profileid, sid);
        let sid_text = sid.to_string();
        let mut connection = self.cluster.connection();
        let result: redis::RedisResult<i64> = self
            .disconnect
            .key(user_key(profileid))
            .key(EXPIRY_KEY)
            .arg(now_ms())
            .arg(&sid_text)
            .arg(expiry_member(profileid, &sid_text))
            .invoke_async(&mut connection)
            .await;
        self.cluster
            .observe(result)
            .map(|last| last == 1)
            .map_err(|_| Unavailable)
    }

    async fn partition(
        &self,
        profileids: Vec<String>,
    ) -> Result<(Vec<String>, Vec<String>), Unavailable> {
        if profileids.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let now = now_ms();
        let mut pipe = redis::pipe();
        for profileid in &profileids {
            pipe.zcount(user_key(profileid), now, "+inf");
        }
        let mut connection = self.cluster.connection();
        let result: redis::RedisResult<Vec<i64>> = pipe.query_async(&mut connection).await;
        let counts = self.cluster.observe(result).map_err(|_| Unavailable)?;
        let mut online = Vec::new();
        let mut offline = Vec::new();
        for (profileid, count) in profileids.into_iter().zip(counts) {
            if count > 0 {
                online.push(profileid)
            } else {
                offline.push(profileid)
            }
        }
        Ok((online, offline))
    }

    async fn is_online(&self, profileid: &str) -> Result<bool, Unavailable> {
        let (online, _) = self.partition(vec![profileid.to_owned()]).await?;
        Ok(!online.is_empty())
    }

    fn counts(&self) -> (usize, usize) {
        self.local.counts()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_members_round_trip_even_with_spaces_in_profile_ids() {
        let member = expiry_member("p with space", "AbCdEf123");
        assert_eq!(
            parse_expiry_member(&member),
            Some(("p with space", "AbCdEf123"))
        );
    }
}
