//! Live calls shared by every node, in Redis.
//!
//! A call is a hash `lockstep:call:{id}`; `lockstep:incall:{profileid}`
//! marks each party busy and `lockstep:callsocket:{sid}` maps the socket of
//! each party in the call back to it, so the node where that socket lives
//! (or the sweeper, when the node died) can end the call. Every change is one
//! Lua script, so two nodes racing to start, answer or end a call agree on
//! the outcome. Keys expire a while after the longest possible call (the
//! configured ring timeout plus the configured maximum duration), so a node
//! dying mid-call leaves nothing behind for good.

use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::Script;
use socketioxide::socket::Sid;

use super::Cluster;
use crate::call::registry::{AnswerError, Busy, CallRegistry, LiveCall};

const LIVE_COUNT_KEY: &str = "lockstep:calls:live";

/// How much longer than the longest possible call its state lives: the
/// sweeper ends a dead node's calls long before.
const LIVE_STATE_SLACK: Duration = Duration::from_secs(60 * 60);

/// How long a live call's keys live: longer than any call can, ringing plus
/// the duration cap (both as configured) plus [`LIVE_STATE_SLACK`].
fn live_state_ttl(ring_timeout: Duration, max_duration: Duration) -> Duration {
    ring_timeout
        .saturating_add(max_duration)
        .saturating_add(LIVE_STATE_SLACK)
}

fn call_key(call_id: &str) -> String {
    format!("lockstep:call:{call_id}")
}

fn busy_key(profileid: &str) -> String {
    format!("lockstep:incall:{profileid}")
}

fn socket_key(sid: &str) -> String {
    format!("lockstep:callsocket:{sid}")
}

/// KEYS: call, busy(caller), busy(callee), socket(caller).
/// ARGV: id, ttl ms, then the hash's field/value pairs.
const BEGIN: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 'taken' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'caller' end
if redis.call('EXISTS', KEYS[3]) == 1 then return 'receiver' end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[2])
redis.call('INCR', KEYS[5])
return 'ok'
";

/// KEYS: call, socket(answering socket). ARGV: id, sid, answered_at, ttl ms.
const ANSWER: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
if redis.call('HEXISTS', KEYS[1], 'answered_at') == 1 then return 'answered' end
redis.call('HSET', KEYS[1], 'callee_socket', ARGV[2], 'answered_at', ARGV[3])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[4])
return 'ok'
";

/// KEYS: call, live counter. ARGV: id, 'ringing' to end only a call that
/// still rings. Returns the hash (empty when already gone or answered).
const FINISH: &str = r"
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return fields end
if ARGV[2] == 'ringing' and redis.call('HEXISTS', KEYS[1], 'answered_at') == 1 then return {} end
local call = {}
for i = 1, #fields, 2 do call[fields[i]] = fields[i + 1] end
redis.call('DEL', KEYS[1])
for _, party in ipairs({call.caller, call.callee}) do
  local busy = 'lockstep:incall:' .. party
  if redis.call('GET', busy) == ARGV[1] then redis.call('DEL', busy) end
end
for _, sid in ipairs({call.caller_socket, call.callee_socket}) do
  if sid then redis.call('DEL', 'lockstep:callsocket:' .. sid) end
end
if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
return fields
";

pub struct RedisCalls {
    cluster: Cluster,
    /// The TTL of a live call's keys, in milliseconds.
    ttl_ms: i64,
    begin: Script,
    answer: Script,
    finish: Script,
}

impl RedisCalls {
    /// `ring_timeout` and `max_duration` are the configured ones
    /// (`--call-ring-timeout`, `--call-max-duration`).
    pub fn new(cluster: Cluster, ring_timeout: Duration, max_duration: Duration) -> Self {
        let ttl = live_state_ttl(ring_timeout, max_duration);
        Self {
            cluster,
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
            begin: Script::new(BEGIN),
            answer: Script::new(ANSWER),
            finish: Script::new(FINISH),
        }
    }

    async fn finish_when(&self, call_id: &str, condition: &str) -> Option<LiveCall> {
        let mut connection = self.cluster.connection();
        let result: redis::RedisResult<Vec<String>> = self
            .finish
            .key(call_key(call_id))
            .key(LIVE_COUNT_KEY)
            .arg(call_id)
            .arg(condition)
            .invoke_async(&mut connection)
            .await;
        from_fields(&self.cluster.observe(result).ok()?)
    }
}

/// The hash fields of a call.
fn to_fields(call: &LiveCall) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("call_id", call.call_id.clone()),
        ("caller", call.caller.clone()),
        ("callee", call.callee.clone()),
        ("video", if call.video { "1" } else { "0" }.to_owned()),
        ("caller_socket", call.caller_socket.to_string()),
        ("rung_at", call.rung_at.timestamp_millis().to_string()),
    ];
    if let Some(chatid) = &call.chatid {
        fields.push(("chatid", chatid.clone()));
    }
    if let Some(sid) = call.callee_socket {
        fields.push(("callee_socket", sid.to_string()));
    }
    if let Some(at) = call.answered_at {
        fields.push(("answered_at", at.timestamp_millis().to_string()));
    }
    fields
}

/// A call back from its hash fields (a flat field, value, ... list).
fn from_fields(flat: &[String]) -> Option<LiveCall> {
    let field = |name: &str| {
        flat.chunks(2)
            .find(|pair| pair[0] == name)
            .and_then(|pair| pair.get(1))
            .cloned()
    };
    let millis = |text: String| {
        text.parse::<i64>()
            .ok()
            .and_then(DateTime::<Utc>::from_timestamp_millis)
    };
    Some(LiveCall {
        call_id: field("call_id")?,
        caller: field("caller")?,
        callee: field("callee")?,
        video: field("video")? == "1",
        chatid: field("chatid"),
        caller_socket: field("caller_socket")?.parse().ok()?,
        callee_socket: field("callee_socket").and_then(|s| s.parse().ok()),
        rung_at: millis(field("rung_at")?)?,
        answered_at: field("answered_at").and_then(millis),
    })
}

#[async_trait::async_trait]
impl CallRegistry for RedisCalls {
    async fn begin(&self, call: LiveCall) -> Result<(), Busy> {
        let mut invocation = self.begin.prepare_invoke();
        invocation
            .key(call_key(&call.call_id))
            .key(busy_key(&call.caller))
            .key(busy_key(&call.callee))
            .key(socket_key(&call.caller_socket.to_string()))
            .key(LIVE_COUNT_KEY)
            .arg(&call.call_id)
            .arg(self.ttl_ms);
        for (name, value) in to_fields(&call) {
            invocation.arg(name).arg(value);
        }
        let mut connection = self.cluster.connection();
        let result: redis::RedisResult<String> = invocation.invoke_async(&mut connection).await;
        match self.cluster.observe(result).as_deref() {
            Ok("ok") => Ok(()),
            Ok("caller") => Err(Busy::Caller),
            Ok("receiver") => Err(Busy::Receiver),
            Ok(_) => Err(Busy::CallIdTaken),
            Err(_) => Err(Busy::Unavailable),
        }
    }

    async fn get(&self, call_id: &str) -> Option<LiveCall> {
        let mut connection = self.cluster.connection();
        // RESP3 answers HGETALL with a map.
        let result: redis::RedisResult<std::collections::HashMap<String, String>> =
            redis::cmd("HGETALL")
                .arg(call_key(call_id))
                .query_async(&mut connection)
                .await;
        let flat: Vec<String> = self
            .cluster
            .observe(result)
            .ok()?
            .into_iter()
            .flat_map(|(field, value)| [field, value])
            .collect();
        from_fields(&flat)
    }

    async fn answer(
        &self,
        call_id: &str,
        socket: Sid,
        at: DateTime<Utc>,
    ) -> Result<LiveCall, AnswerError> {
        let sid = socket.to_string();
        let mut connection = self.cluster.connection();
        let result: redis::RedisResult<String> = self
            .answer
            .key(call_key(call_id))
            .key(socket_key(&sid))
            .arg(call_id)
            .arg(&sid)
            .arg(at.timestamp_millis())
            .arg(self.ttl_ms)
            .invoke_async(&mut connection)
            .await;
        match self.cluster.observe(result).as_deref() {
            Ok("ok") => self.get(call_id).await.ok_or(AnswerError::NotFound),
            Ok("answered") => Err(AnswerError::NotRinging),
            _ => Err(AnswerError::NotFound),
        }
    }

    async fn finish(&self, call_id: &str) -> Option<LiveCall> {
        self.finish_when(call_id, "any").await
    }

    async fn finish_ringing(&self, call_id: &str) -> Option<LiveCall> {
        self.finish_when(call_id, "ringing").await
    }

    async fn call_of_socket(&self, socket: Sid) -> Option<LiveCall> {
        let mut connection = self.cluster.connection();
        let result: redis::RedisResult<Option<String>> = redis::cmd("GET")
            .arg(socket_key(&socket.to_string()))
            .query_async(&mut connection)
            .await;
        let call_id = self.cluster.observe(result).ok()??;
        self.get(&call_id).await
    }

    async fn live_count(&self) -> usize {
        let mut connection = self.cluster.connection();
        let result: redis::RedisResult<Option<i64>> = redis::cmd("GET")
            .arg(LIVE_COUNT_KEY)
            .query_async(&mut connection)
            .await;
        self.cluster
            .observe(result)
            .ok()
            .flatten()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_call_state_outlives_the_configured_maximum_duration() {
        let ring = Duration::from_secs(30);
        // Longer than the contract's default and than the old fixed TTL
        // (3 h + 1 h), which let such a call's state expire mid-call.
        let max_duration = Duration::from_secs(5 * 60 * 60);
        let ttl = live_state_ttl(ring, max_duration);
        assert!(ttl > ring + max_duration, "{ttl:?}");
        // And it follows the configuration, not a constant.
        assert!(live_state_ttl(ring, max_duration * 2) > ring + max_duration * 2);
        assert_eq!(
            live_state_ttl(Duration::MAX, Duration::MAX),
            Duration::MAX,
            "saturates instead of overflowing"
        );
    }

    #[test]
    fn a_call_survives_the_round_trip_through_hash_fields() {
        let call = LiveCall {
            call_id: "c1".into(),
            caller: "a".into(),
            callee: "b".into(),
            video: true,
            chatid: Some("chat".into()),
            caller_socket: Sid::new(),
            callee_socket: Some(Sid::new()),
            rung_at: DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
            answered_at: DateTime::from_timestamp_millis(1_700_000_005_000),
        };
        let flat: Vec<String> = to_fields(&call)
            .into_iter()
            .flat_map(|(k, v)| [k.to_owned(), v])
            .collect();
        assert_eq!(from_fields(&flat), Some(call));
    }
}
