//! PostgreSQL only: keeps this node's cached participant lists true to the
//! changes other nodes make.
//!
//! Every send reads the chat's participant list (the sender must be one,
//! and the message goes to each). Reading it from PostgreSQL on every send
//! was half of the database's work per message (BENCHMARKS.md); cached, it
//! is a hash lookup. Several nodes share one database, so a node that adds
//! a participant says so with `NOTIFY` in the same statement (PostgreSQL
//! delivers it when that statement commits), and every node listening here
//! drops that chat's list.
//!
//! What a node may miss it forgets instead: while the listener has no
//! connection nothing is cached, after a reconnect every list is dropped,
//! and every [`FULL_REFRESH`] every list is dropped anyway, which bounds how
//! long a list can stay stale if the connection dies without the socket
//! noticing (a silent network partition).

use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use super::cache::Cache;

/// The notification channel; the payload is the chat's id.
pub(super) const CHANNEL: &str = "lockstep_participants";

/// How often every cached list is dropped whatever was heard: one query per
/// active chat, against a list that could otherwise stay stale for as long
/// as a dead connection goes unnoticed.
const FULL_REFRESH: Duration = Duration::from_secs(30);

/// The wait before listening again after the connection failed.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The listener's `application_name`, so an operator (or a test) can tell
/// its connection from the pool's in `pg_stat_activity`.
pub(super) const APPLICATION_NAME: &str = "lockstep-listener";

/// Starts listening; returns the listener's one-connection pool, which
/// [`Store::close`](super::Store::close) closes to stop it. The tasks also
/// stop once `cache` is gone.
pub(super) fn spawn(
    options: PgConnectOptions,
    acquire_timeout: Duration,
    cache: &Arc<Cache>,
) -> PgPool {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(acquire_timeout)
        .connect_lazy_with(options.application_name(APPLICATION_NAME));
    tokio::spawn(listen(pool.clone(), Arc::downgrade(cache)));
    tokio::spawn(refresh(Arc::downgrade(cache)));
    pool
}

async fn listen(pool: PgPool, cache: Weak<Cache>) {
    while !pool.is_closed() {
        let mut listener = match subscribe(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                if pool.is_closed() {
                    break;
                }
                tracing::warn!(%error, "cannot listen for participant changes; participant lists are read from the database until it can");
                tokio::time::sleep(RETRY_AFTER).await;
                continue;
            }
        };
        // Listening from here on: lists read from now on can be cached.
        match cache.upgrade() {
            Some(cache) => cache.set_participants_live(true),
            None => break,
        }
        loop {
            let received = listener.try_recv().await;
            let Some(cache) = cache.upgrade() else { return };
            match received {
                Ok(Some(notification)) => cache.participants_changed(notification.payload()),
                // The connection was lost and is back (sqlx reconnects and
                // listens again before returning): what was said in between
                // went unheard.
                Ok(None) => cache.forget_participants(),
                Err(error) => {
                    cache.set_participants_live(false);
                    if !pool.is_closed() {
                        tracing::warn!(%error, "lost the participant-change listener; participant lists are read from the database until it is back");
                        tokio::time::sleep(RETRY_AFTER).await;
                    }
                    break;
                }
            }
        }
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn refresh(cache: Weak<Cache>) {
    let mut tick = tokio::time::interval(FULL_REFRESH);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(cache) = cache.upgrade() else { return };
        cache.forget_participants();
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use chrono::DateTime;
    use sqlx::{Connection, PgConnection};

    use super::super::SqlStore;
    use super::super::pool::open;
    use super::*;
    use crate::store::tests::TestDatabase;
    use crate::store::{ChatType, NewChat, Role, Store};

    /// Two nodes (stores) on one fresh database; `None` when PostgreSQL is
    /// not there (the store tests say why).
    async fn two_nodes() -> Option<(TestDatabase, Arc<SqlStore>, Arc<SqlStore>)> {
        let database = TestDatabase::create().await?;
        let this = open(&database.url).await.expect("open this node's store");
        this.migrate().await.expect("migrate");
        let other = open(&database.url)
            .await
            .expect("open the other node's store");
        Some((database, this, other))
    }

    async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !check().await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting until {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether `node` serves `chatid`'s list from memory and it names
    /// `profileid`.
    async fn cached_list_names(node: &SqlStore, chatid: &str, profileid: &str) -> bool {
        let list = node.list_participants(chatid).await.expect("list");
        node.cache.participants(chatid).is_some() && list.iter().any(|p| p.profileid == profileid)
    }

    async fn with_two_nodes<Fut: Future<Output = ()>>(
        case: impl FnOnce(Arc<SqlStore>, Arc<SqlStore>, PgConnection, String) -> Fut,
    ) {
        let Some((database, this, other)) = two_nodes().await else {
            return;
        };
        let admin = PgConnection::connect(&database.url)
            .await
            .expect("admin connection");
        case(this.clone(), other.clone(), admin, database.name.clone()).await;
        this.close().await;
        other.close().await;
        database.drop().await;
    }

    async fn new_group(node: &SqlStore) -> String {
        node.create_chat(&NewChat {
            creator: "alice".into(),
            chat_type: ChatType::Group,
            chat_name: Some("team".into()),
            participants: vec!["bob".into()],
            created_at: DateTime::from_timestamp(1_700_000_000, 0).expect("time"),
        })
        .await
        .expect("create chat")
        .chat
        .chatid
    }

    async fn add_erin(node: &SqlStore, chatid: &str) {
        let added = node
            .add_participant(
                chatid,
                "erin",
                Role::Member,
                DateTime::from_timestamp(1_700_000_010, 0).expect("time"),
            )
            .await
            .expect("add participant");
        assert!(added);
    }

    /// Waits until `this` serves `chatid`'s list from memory, which it only
    /// does while it listens.
    async fn until_cached(this: &SqlStore, chatid: &str) {
        eventually("this node caches the list", async || {
            cached_list_names(this, chatid, "bob").await
        })
        .await;
    }

    /// `other` adds a participant; `this` must drop its cached list and
    /// cache the new one.
    async fn a_participant_added_by(other: &SqlStore, reaches: &SqlStore, chatid: &str) {
        add_erin(other, chatid).await;
        eventually(
            "this node's cached list names the new participant",
            async || cached_list_names(reaches, chatid, "erin").await,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_participant_added_on_another_node_reaches_this_nodes_cache() {
        with_two_nodes(async |this, other, _, _| {
            let chatid = new_group(&this).await;
            until_cached(&this, &chatid).await;
            a_participant_added_by(&other, &this, &chatid).await;
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_listener_listens_again_after_losing_its_connection() {
        with_two_nodes(async |this, other, mut admin, database| {
            let chatid = new_group(&this).await;
            until_cached(&this, &chatid).await;
            // `this` caching says only that its own listener is live: the
            // other node's may still be connecting on a busy machine.
            eventually("both nodes listen", async || {
                let listening: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE application_name = $1 AND datname = $2 \
                       AND state = 'idle' AND query LIKE 'LISTEN%'",
                )
                .bind(APPLICATION_NAME)
                .bind(&database)
                .fetch_one(&mut admin)
                .await
                .expect("count the listeners");
                listening == 2
            })
            .await;
            let killed: Vec<i32> = sqlx::query_scalar(
                "WITH listeners AS MATERIALIZED ( \
                     SELECT pid FROM pg_stat_activity \
                     WHERE application_name = $1 AND datname = $2 \
                 ) \
                 SELECT pid FROM listeners WHERE pg_terminate_backend(pid)",
            )
            .bind(APPLICATION_NAME)
            .bind(&database)
            .fetch_all(&mut admin)
            .await
            .expect("terminate the listeners");
            assert_eq!(killed.len(), 2, "one listener per node");
            eventually("both nodes listen again on new connections", async || {
                let listening: Vec<i32> = sqlx::query_scalar(
                    "SELECT pid FROM pg_stat_activity \
                     WHERE application_name = $1 AND datname = $2 \
                       AND state = 'idle' AND query LIKE 'LISTEN%'",
                )
                .bind(APPLICATION_NAME)
                .bind(&database)
                .fetch_all(&mut admin)
                .await
                .expect("list the listeners");
                listening.len() == 2 && listening.iter().all(|pid| !killed.contains(pid))
            })
            .await;
            // Lists are cached again, and changes are heard again.
            until_cached(&this, &chatid).await;
            a_participant_added_by(&other, &this, &chatid).await;
        })
        .await;
    }
}
