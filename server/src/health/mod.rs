//! Liveness and readiness over HTTP, the Prometheus scrape endpoint, and
//! the contract's application-level heartbeat (`heartbeat` / `ping` sent by
//! [`heartbeat`], answered by `heartbeat_response` / `pong`).

pub mod heartbeat;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use lockstep_contract::handler::{EventContext, HealthEvents};
use lockstep_contract::{rest, types};
use metrics::gauge;
use socketioxide::adapter::Adapter;

use futures::future::BoxFuture;

use crate::config::SecretUrl;
use crate::presence::PresenceRegistry;
use crate::refusal::Refusal;
use crate::session::Session;
use crate::store::Store;
use crate::telemetry::Answer;
use crate::telemetry::{self, names};

/// How long `/ready` waits for each dependency before calling it down.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a scrape waits for a count kept outside the process.
const SCRAPE_LOOKUP_TIMEOUT: Duration = Duration::from_secs(1);

/// `GET /health`, `GET /ready` and `GET /metrics`. Building the routes
/// installs the process's metrics recorder.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    HealthApi: FromRef<S>,
{
    telemetry::handle();
    Router::new()
        .route(rest::HEALTH.path, get(health))
        .route(rest::READY.path, get(ready))
        .route(rest::METRICS.path, get(scrape))
}

/// What the health routes read: the dependencies to probe and the state
/// to count; the shell builds it from its own.
#[derive(Clone)]
pub struct HealthApi {
    pub store: Arc<dyn Store>,
    /// The Redis URL, probed on its own when there is no cluster connection.
    pub redis_url: Option<SecretUrl>,
    pub presence: Arc<dyn PresenceRegistry>,
    /// The cluster's connection and the live calls, which only the shell
    /// knows.
    pub node: Arc<dyn NodeState>,
}

/// What the health routes ask of parts of the node that are not theirs:
/// the cluster's own Redis connection and the count of live calls. The
/// shell implements it, so this domain depends on neither the cluster nor
/// the call domain.
pub trait NodeState: Send + Sync + 'static {
    /// A `PING` over the cluster's Redis connection (which has a timeout
    /// of its own); `None` when this node is not part of a cluster.
    fn ping_cluster(&self) -> Option<BoxFuture<'_, Result<(), ()>>>;

    /// Calls live now (with Redis, across the cluster).
    fn live_calls(&self) -> BoxFuture<'_, usize>;
}

/// The process is alive and serving HTTP.
async fn health() -> Json<types::HealthStatus> {
    Json(types::HealthStatus {
        status: types::HealthStatusStatus::Ok,
    })
}

/// The state of one dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Up,
    Down,
    /// Timed out: counts as down.
    Timeout,
    NotConfigured,
}

impl Check {
    fn to_wire(self) -> types::DependencyState {
        match self {
            Check::Up => types::DependencyState::Up,
            Check::Down => types::DependencyState::Down,
            Check::Timeout => types::DependencyState::Timeout,
            Check::NotConfigured => types::DependencyState::NotConfigured,
        }
    }

    fn is_down(self) -> bool {
        matches!(self, Check::Down | Check::Timeout)
    }
}

/// Runs `probe` within [`READY_TIMEOUT`].
async fn check<E>(probe: impl Future<Output = Result<(), E>>) -> Check {
    match tokio::time::timeout(READY_TIMEOUT, probe).await {
        Ok(Ok(())) => Check::Up,
        Ok(Err(_)) => Check::Down,
        Err(_) => Check::Timeout,
    }
}

/// A `PING` to the configured Redis on a connection of its own (when no
/// cluster connection exists).
async fn ping_redis(url: &str) -> redis::RedisResult<()> {
    let client = redis::Client::open(url)?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    redis::cmd("PING")
        .query_async::<String>(&mut connection)
        .await
        .map(drop)
}

/// The dependencies answer within [`READY_TIMEOUT`] each (checked at the
/// same time): `200`, else `503` naming what is down in `down`.
async fn ready(State(app): State<HealthApi>) -> (StatusCode, Json<types::Readiness>) {
    let redis = async {
        if let Some(ping) = app.node.ping_cluster() {
            return check(ping).await;
        }
        match app.redis_url.as_deref() {
            Some(url) => check(ping_redis(url)).await,
            None => Check::NotConfigured,
        }
    };
    let (database, redis) = tokio::join!(check(app.store.ping()), redis);
    let mut down = Vec::new();
    if database.is_down() {
        down.push(types::ReadinessDownItem::Database);
    }
    if redis.is_down() {
        down.push(types::ReadinessDownItem::Redis);
    }
    let status = if down.is_empty() {
        StatusCode::OK
    } else {
        tracing::warn!(?down, "not ready");
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = types::Readiness {
        status: if down.is_empty() {
            types::ReadinessStatus::Ready
        } else {
            types::ReadinessStatus::Unavailable
        },
        checks: types::ReadinessChecks {
            database: database.to_wire(),
            redis: redis.to_wire(),
        },
        down,
    };
    (status, Json(body))
}

/// The Prometheus text format. Gauges of state the server already keeps
/// (sockets, users, calls) are read at scrape time.
async fn scrape(State(app): State<HealthApi>) -> impl IntoResponse {
    telemetry::collect_process_metrics();
    let (sockets, users) = app.presence.counts();
    gauge!(names::CONNECTED_SOCKETS).set(sockets as f64);
    gauge!(names::ONLINE_USERS).set(users as f64);
    // With Redis the count is a round trip; a scrape does not wait for a
    // Redis that is down (the gauge keeps its last value).
    if let Ok(calls) = tokio::time::timeout(SCRAPE_LOOKUP_TIMEOUT, app.node.live_calls()).await {
        gauge!(names::ACTIVE_CALLS).set(calls as f64);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        telemetry::handle().render(),
    )
}

/// The health domain's event handlers: answers to the heartbeat and ping.
pub struct HeartbeatAnswers {
    /// How often the heartbeat goes out, and how many may go unanswered:
    /// together, how old an echoed timestamp may be.
    interval: Duration,
    max_misses: u32,
}

impl HeartbeatAnswers {
    pub fn new(interval: Duration, max_misses: u32) -> Self {
        Self {
            interval,
            max_misses,
        }
    }
}

impl<A: Adapter> HealthEvents<A, Session> for HeartbeatAnswers {
    async fn pong(
        &self,
        ctx: EventContext<A>,
        _session: &Session,
        payload: types::EpochMillis,
    ) -> Result<(), Refusal> {
        heartbeat::answered(
            &ctx.socket,
            self.interval,
            self.max_misses,
            Answer::Pong,
            *payload,
        );
        Ok(())
    }

    async fn heartbeat_response(
        &self,
        ctx: EventContext<A>,
        _session: &Session,
        payload: types::HeartbeatResponse,
    ) -> Result<(), Refusal> {
        let echoed_ms = payload.timestamp.timestamp_millis();
        heartbeat::answered(
            &ctx.socket,
            self.interval,
            self.max_misses,
            Answer::Heartbeat,
            echoed_ms,
        );
        Ok(())
    }
}
