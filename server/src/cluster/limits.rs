//! Rate limits shared by every node, in Redis.
//!
//! A fixed window per (event, user): `INCR` a counter that expires with the
//! window. Simpler than the single node's GCRA and shared by all nodes; a
//! burst straddling two windows can reach twice the count, which the
//! per-second and per-minute limits of the contract tolerate.

use std::collections::HashMap;
use std::time::Duration;

use redis::Script;

use super::Cluster;
use crate::config::Limits;
use crate::limits::{EventLimit, RateLimitError, RateLimiter, event_limits};

/// Counts one event; returns the window's remaining milliseconds when over
/// the limit, -1 otherwise.
const COUNT: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if count > tonumber(ARGV[2]) then
  local left = redis.call('PTTL', KEYS[1])
  if left < 0 then return tonumber(ARGV[1]) end
  return left
end
return -1
";

pub struct RedisRateLimits {
    cluster: Cluster,
    by_event: HashMap<&'static str, EventLimit>,
    count: Script,
}

impl RedisRateLimits {
    pub fn new(cluster: Cluster, limits: &Limits) -> Self {
        Self {
            cluster,
            by_event: event_limits(limits),
            count: Script::new(COUNT),
        }
    }
}

#[async_trait::async_trait]
impl RateLimiter for RedisRateLimits {
    async fn check(&self, event: &'static str, profileid: &str) -> Result<(), RateLimitError> {
        let Some(limit) = self.by_event.get(event) else {
            return Ok(());
        };
        let mut connection = self.cluster.connection();
        let result: redis::RedisResult<i64> = self
            .count
            .key(format!("lockstep:rate:{event}:{profileid}"))
            .arg(i64::try_from(limit.period.as_millis()).unwrap_or(i64::MAX))
            .arg(limit.count.get())
            .invoke_async(&mut connection)
            .await;
        match self.cluster.observe(result) {
            Ok(-1) => Ok(()),
            Ok(left) => Err(RateLimitError::Limited(Duration::from_millis(
                u64::try_from(left).unwrap_or(0),
            ))),
            Err(_) => Err(RateLimitError::Unavailable),
        }
    }
}
