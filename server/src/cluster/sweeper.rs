//! The cluster's upkeep, run by every node: refresh this node's presence
//! entries, and clean up after nodes that died.
//!
//! A dead node's sockets stop being refreshed; once their entries lapse
//! (at most the node TTL plus one sweep period after the death), whichever
//! node removes an entry from the global expiry set first owns it: it drops
//! the socket from the user's set and, if that was the user's last live
//! socket, announces the user offline and ends their call with
//! `participant_disconnected`.

use std::sync::Arc;

use socketioxide::adapter::Adapter;
use socketioxide::socket::Sid;

use super::presence::{EXPIRY_KEY, RedisPresence, parse_expiry_member, user_key};
use super::{Cluster, now_ms};
use crate::state::App;

/// Entries handled per sweep; the rest wait for the next one.
const SWEEP_BATCH: isize = 500;

/// Starts the upkeep loop for `app`.
pub fn spawn<A: Adapter>(app: Arc<App<A>>, cluster: Cluster, presence: Arc<RedisPresence>) {
    let period = cluster.node_ttl / 3;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if presence.refresh().await.is_err() {
                continue;
            }
            if let Err(error) = sweep(&app, &cluster).await {
                tracing::debug!(%error, "presence sweep failed; retrying next period");
            }
        }
    });
}

async fn sweep<A: Adapter>(app: &Arc<App<A>>, cluster: &Cluster) -> redis::RedisResult<()> {
    let now = now_ms();
    let mut connection = cluster.connection();
    let lapsed: Vec<String> = cluster.observe(
        redis::cmd("ZRANGEBYSCORE")
            .arg(EXPIRY_KEY)
            .arg("-inf")
            .arg(now)
            .arg("LIMIT")
            .arg(0)
            .arg(SWEEP_BATCH)
            .query_async(&mut connection)
            .await,
    )?;
    for member in lapsed {
        // ZREM answers 1 to exactly one node: that node cleans up.
        let claimed: i64 = redis::cmd("ZREM")
            .arg(EXPIRY_KEY)
            .arg(&member)
            .query_async(&mut connection)
            .await?;
        let Some((profileid, sid)) = parse_expiry_member(&member).filter(|_| claimed == 1) else {
            continue;
        };
        let user = user_key(profileid);
        let _: i64 = redis::cmd("ZREM")
            .arg(&user)
            .arg(sid)
            .query_async(&mut connection)
            .await?;
        let live: i64 = redis::cmd("ZCOUNT")
            .arg(&user)
            .arg(now)
            .arg("+inf")
            .query_async(&mut connection)
            .await?;
        tracing::info!(
            profileid,
            sid,
            "a socket of a node that stopped refreshing lapsed"
        );
        if let Ok(sid) = sid.parse::<Sid>() {
            app.calls.socket_gone(sid, profileid).await;
        }
        if live == 0 {
            crate::connection::announce_presence(app, profileid, false).await;
        }
    }
    Ok(())
}
