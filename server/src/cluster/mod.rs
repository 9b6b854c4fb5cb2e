//! Several `lockstep` nodes behind one load balancer, sharing Redis.
//!
//! `--redis-url` turns this on. socketioxide's Redis adapter carries
//! broadcasts and room emits between nodes; this module keeps the state that
//! must be cluster-wide in Redis: presence and the per-user socket limit
//! ([`presence`]), rate limits ([`limits`]) and live calls ([`calls`]).
//! Durable data stays in the database (PostgreSQL when several nodes share
//! it).
//!
//! A node that dies stops refreshing its sockets' presence entries; they
//! lapse after the node TTL, and the [`sweeper`] on a surviving node
//! announces those users offline and ends their calls. Redis pub/sub
//! delivers at most once: nothing acknowledged depends on it, since a
//! message is acknowledged after the database commit and offline recipients
//! read the database.

pub mod calls;
pub mod limits;
pub mod presence;
pub mod sweeper;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManager;

/// How long a single Redis command may take before the cluster state is
/// considered unreachable.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// The shared Redis connection and this node's identity.
#[derive(Clone)]
pub struct Cluster {
    pub client: redis::Client,
    connection: ConnectionManager,
    /// A random id for this node's process.
    pub node_id: String,
    /// How long a node's presence entries live without a refresh: the bound
    /// on how long a dead node's users still look online.
    pub node_ttl: Duration,
    up: Arc<AtomicBool>,
}

impl Cluster {
    /// Connects to Redis. socketioxide's adapter needs RESP3, so the URL gets
    /// `protocol=resp3` when it does not say otherwise.
    pub async fn connect(url: &str, node_ttl: Duration) -> anyhow::Result<Self> {
        let url = with_resp3(url);
        let client = redis::Client::open(url.as_str())?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_connection_timeout(Some(COMMAND_TIMEOUT));
        let connection = ConnectionManager::new_with_config(client.clone(), config).await?;
        Ok(Self {
            client,
            connection,
            node_id: ulid::Ulid::new().to_string(),
            node_ttl,
            up: Arc::new(AtomicBool::new(true)),
        })
    }

    /// A handle on the multiplexed connection (cheap to clone); it
    /// reconnects by itself when Redis comes back.
    pub fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }

    /// Records the outcome of a Redis call and passes it on.
    pub fn observe<T>(&self, result: redis::RedisResult<T>) -> redis::RedisResult<T> {
        let ok = result.is_ok();
        if self.up.swap(ok, Ordering::Relaxed) != ok {
            if ok {
                tracing::info!("Redis is reachable again");
            } else if let Err(error) = &result {
                tracing::warn!(%error, "Redis is unreachable: refusing work that needs cluster state");
            }
        }
        result
    }

    /// A PING within the command timeout, for `/ready`.
    pub async fn ping(&self) -> bool {
        let mut connection = self.connection();
        let pong: redis::RedisResult<String> =
            redis::cmd("PING").query_async(&mut connection).await;
        self.observe(pong).is_ok()
    }
}

fn with_resp3(url: &str) -> String {
    if url.contains("protocol=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}protocol=resp3")
}

/// Milliseconds since the epoch, Redis's clock for our scores.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::with_resp3;

    #[test]
    fn resp3_is_added_unless_the_url_chooses() {
        assert_eq!(
            with_resp3("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379?protocol=resp3"
        );
        assert_eq!(
            with_resp3("redis://h/0?x=1"),
            "redis://h/0?x=1&protocol=resp3"
        );
        assert_eq!(
            with_resp3("redis://h?protocol=resp2"),
            "redis://h?protocol=resp2"
        );
    }
}
