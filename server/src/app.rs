//! Wires the HTTP router, the Socket.IO layer and the domain modules together.
//!
//! [`App`] is the state every handler shares. It implements the generated
//! handler traits, one per domain, in the domain modules (`chat`, `message`,
//! `call`, `health`); [`crate::connection`] authenticates each socket and
//! registers the implementation on it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use lockstep_contract::handler::ContractHandler;
use socketioxide::SocketIo;
use socketioxide::adapter::{Adapter, LocalAdapter};
use socketioxide::layer::SocketIoLayer;
use socketioxide_redis::{RedisAdapter, RedisAdapterCtr};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::call::registry::LocalCalls;
use crate::cluster::Cluster;
use crate::cluster::calls::RedisCalls;
use crate::cluster::limits::RedisRateLimits;
use crate::cluster::presence::RedisPresence;
use crate::config::ServeConfig;
use crate::expiry::Deadlines;
use crate::failure::{self, Failure};
use crate::limits::RateLimits;
use crate::presence::Presence;
use crate::state::{App, Components};
use crate::store::{self, Store};
use crate::transport::{Admission, ConnectionGuard, SlottedStream};

/// How long a node's presence entries in Redis live without a refresh:
/// a dead node's users go offline for their partners within this plus a
/// third of it.
pub const NODE_TTL: Duration = Duration::from_secs(10);

/// The node's state, with the task that ends sessions when their tokens
/// expire (`crate::connection`) already running.
fn assemble<A: Adapter>(
    io: SocketIo<A>,
    store: Arc<dyn Store>,
    config: ServeConfig,
    parts: Components,
) -> Arc<App<A>> {
    let session_ends = Arc::new(Deadlines::default());
    let session_ends_task = crate::connection::spawn_session_ends(io.clone(), session_ends.clone());
    App::new(io, store, config, parts, (session_ends, session_ends_task))
}

/// Binds the listen address: the first thing `serve` does, so that a port
/// in use is reported before the database is created or touched.
pub async fn bind(config: &ServeConfig) -> Result<TcpListener, Failure> {
    failure::bind(config.bind).await
}

/// Probes the dependencies before anything is created: a Redis URL that
/// does not parse, a Redis or PostgreSQL that refuses connections, a SQLite
/// directory that does not exist are reported within seconds, in one line.
pub async fn preflight(config: &ServeConfig) -> Result<(), Failure> {
    if let Some(url) = &config.redis_url {
        failure::probe_redis(url).await?;
    }
    failure::probe_database(&config.database_url).await
}

/// [`run`] on a listener bound by [`bind`], after [`preflight`].
pub async fn run_on(listener: TcpListener, config: ServeConfig) -> anyhow::Result<()> {
    let store = store::connect(&config.database_url)
        .await
        .map_err(|error| failure::explain_store_error(&config.database_url, "open", &error))?;
    let store = store::metered::MeteredStore::wrap(store);
    let applied = store
        .migrate()
        .await
        .map_err(|error| failure::explain_store_error(&config.database_url, "migrate", &error))?;
    if !applied.is_empty() {
        tracing::info!(applied = ?applied, "database migrations applied");
    }
    let sockets = crate::transport::socket_io(&config.exposure);
    crate::transport::cap_send_buffers(&config.exposure);

    match config.redis_url.clone() {
        None => {
            let (layer, io) = sockets.build_layer();
            let parts = Components {
                presence: Arc::new(Presence::default()),
                rate_limits: Arc::new(RateLimits::from_contract(&config.limits)),
                calls: Arc::new(LocalCalls::default()),
                cluster: None,
            };
            let app = assemble::<LocalAdapter>(io, store, config, parts);
            crate::connection::register_namespace(&app);
            serve(app, layer, listener).await
        }
        Some(url) => {
            let cluster = Cluster::connect(&url, NODE_TTL)
                .await
                .map_err(|error| failure::explain_redis_error(&url, &error))?;
            let adapter = RedisAdapterCtr::new_with_redis(&cluster.client)
                .await
                .context("starting the Redis adapter")?;
            let (layer, io) = sockets
                .with_adapter::<RedisAdapter<_>>(adapter)
                .build_layer();
            let presence = Arc::new(RedisPresence::new(cluster.clone()));
            let parts = Components {
                presence: presence.clone(),
                rate_limits: Arc::new(RedisRateLimits::new(cluster.clone(), &config.limits)),
                calls: Arc::new(RedisCalls::new(
                    cluster.clone(),
                    config.call_ring_timeout,
                    config.call_max_duration,
                )),
                cluster: Some(cluster.clone()),
            };
            let app = assemble(io, store, config, parts);
            crate::connection::register_namespace(&app)
                .await
                .context("registering the namespace with the Redis adapter")?;
            crate::cluster::sweeper::spawn(app.clone(), cluster, presence);
            tracing::info!(node = %app.cluster.as_ref().map(|c| c.node_id.as_str()).unwrap_or("-"), "cluster mode (Redis)");
            serve(app, layer, listener).await
        }
    }
}

/// Serves HTTP and Socket.IO for `app` until a shutdown signal.
async fn serve<A: Adapter>(
    app: Arc<App<A>>,
    socket_layer: SocketIoLayer<A>,
    listener: TcpListener,
) -> anyhow::Result<()>
where
    App<A>: ContractHandler<A>,
{
    spawn_housekeeping(&app);
    let heartbeat = crate::health::heartbeat::spawn(
        app.io.clone(),
        app.config.heartbeat_interval,
        app.config.heartbeat_max_misses,
    );
    let config = app.config.clone();
    let origins = Arc::new(crate::origin::OriginPolicy::new(
        config.allowed_origins.clone(),
        config.trust_proxy,
    ));
    let router = Router::new()
        .merge(crate::chat::rest::routes())
        .merge(crate::call::rest::routes::<A, _>())
        .merge(crate::health::routes())
        .merge(crate::demo::routes())
        .merge(crate::about::routes(config.dev_mode));
    let router: Router = crate::rest::with_fallbacks(router)
        .with_state(app.clone())
        .layer(socket_layer)
        .layer(axum::middleware::from_fn(crate::transport::detach_head))
        .layer(axum::middleware::from_fn_with_state(
            crate::transport::SessionOpens::new(&config),
            crate::transport::limit_session_opens,
        ))
        .layer(axum::middleware::from_fn_with_state(
            origins.clone(),
            crate::origin::guard,
        ))
        .layer(crate::origin::cors_layer(origins))
        .layer(crate::telemetry::http_trace_layer(config.trust_proxy));

    let health_router: Router = crate::health::routes().with_state(app.clone());

    announce(&app, listener.local_addr().unwrap_or(config.bind));

    accept_loop(
        listener,
        router,
        health_router,
        &config,
        shutdown_signal(app.clone()),
    )
    .await;
    heartbeat.abort();
    app.messages.flush_receipts().await;
    app.store.close().await;
    tracing::info!("lockstep stopped");
    Ok(())
}

/// Accepts connections and serves them over HTTP/1 (with upgrades, for
/// WebSockets) until `shutdown` resolves, then lets the open ones finish
/// their requests. This is `axum::serve` plus what it lacks: a deadline for
/// a request head (`--header-read-timeout`; without it one header line
/// every few seconds holds a connection forever) and the connection caps
/// of [`ConnectionGuard`], checked before a byte is read. Connections past
/// the caps are closed at once; a few past `--max-connections` are served
/// the health routes only, so a full server still answers `/health`.
async fn accept_loop(
    listener: TcpListener,
    router: Router,
    health_router: Router,
    config: &ServeConfig,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let guard = ConnectionGuard::new(&config.exposure, config.trust_proxy);
    let send_timeout = crate::transport::send_timeout(config);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new());
    // hyper's own default (30 s) only works with a timer; set it either way.
    http.header_read_timeout(config.exposure.header_read_timeout);
    let mut reserve_http = http.clone();
    reserve_http
        .keep_alive(false)
        .header_read_timeout(crate::transport::HEALTH_RESERVE_HEADER_TIMEOUT);
    let stopping = CancellationToken::new();
    let connections = TaskTracker::new();
    let mut accept_errors = RateLimitedWarning::default();
    let mut refusals = RateLimitedWarning::default();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_errors.warn(|count| tracing::warn!(%error, count, "accept error"));
                    // Out of descriptors: give the open connections a moment.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (slot, http, service) = match guard.admit(peer.ip()) {
            Admission::Full(slot) => (slot, &http, router.clone()),
            Admission::HealthOnly(slot) => (slot, &reserve_http, health_router.clone()),
            Admission::Refused(because) => {
                crate::telemetry::connection_refused(because.as_str());
                refusals.warn(|count| tracing::warn!(client = %peer.ip(), limit = because.as_str(), count, "connection refused at accept"));
                drop(stream);
                continue;
            }
        };
        crate::transport::tune(&stream, send_timeout);
        let service =
            service.map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let connection = http
            .serve_connection(
                TokioIo::new(SlottedStream::new(stream, slot)),
                TowerToHyperService::new(service),
            )
            .with_upgrades();
        let stopping = stopping.clone();
        connections.spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                () = stopping.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
    }
    drop(listener);
    stopping.cancel();
    connections.close();
    connections.wait().await;
}

/// A warning that may fire in a tight loop (every accept): written at most
/// once a second, with how many times it fired since.
#[derive(Default)]
struct RateLimitedWarning {
    last: Option<std::time::Instant>,
    count: u64,
}

impl RateLimitedWarning {
    fn warn(&mut self, write: impl FnOnce(u64)) {
        self.count += 1;
        let now = std::time::Instant::now();
        if self
            .last
            .is_none_or(|last| now.duration_since(last) >= Duration::from_secs(1))
        {
            write(self.count);
            self.count = 0;
            self.last = Some(now);
        }
    }
}

/// The start-up line: where the server listens, what it runs on and in
/// which mode, with passwords redacted.
fn announce<A: Adapter>(app: &App<A>, listen: SocketAddr) {
    let config = &app.config;
    let demo = config
        .dev_mode
        .then(|| format!("http://{listen}{}", crate::about::DEMO_PATH));
    // Development mode only: one link per demo user that signs in by itself.
    let demo_links = config
        .dev_mode
        .then(|| crate::demo::dev_links(&format!("http://{listen}")).join(" "));
    let redis = config
        .redis_url
        .as_deref()
        .map(|url| crate::config::redact_url_password(url).into_owned());
    tracing::info!(
        listen = %listen,
        database = app.store.backend().as_str(),
        database_location = %failure::database_location(&config.database_url),
        redis = redis.as_deref().unwrap_or("none"),
        mode = if config.dev_mode { "development" } else { "production" },
        contract_version = crate::version::contract(),
        version = crate::version::SERVER,
        demo = demo.as_deref(),
        demo_links = demo_links.as_deref(),
        "lockstep is listening"
    );
}

/// Periodic upkeep that keeps memory flat over a long uptime.
fn spawn_housekeeping<A: Adapter>(app: &Arc<App<A>>) {
    let app = Arc::downgrade(app);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let Some(app) = app.upgrade() else { break };
            app.rate_limits.forget_idle();
            if let Some(rate) = &app.connection_rate {
                rate.forget_idle();
            }
        }
    });
}

/// Resolves on SIGINT or SIGTERM, once
/// 1. the sockets' queued events were handled and answered (new ones are
///    refused with `SERVICE_UNAVAILABLE`),
/// 2. every socket's goodbye was said while other nodes can still hear it
///    (its call ended, its user offline for partners elsewhere; see
///    [`crate::connection::farewell`]),
/// 3. every socket was closed, so clients reconnect elsewhere,
/// 4. and every disconnect handler finished, so that the store, closed
///    after axum stopped accepting and drained HTTP requests, served them.
///
/// Each step is bounded by the shutdown grace period.
async fn shutdown_signal<A: Adapter>(app: Arc<App<A>>) {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: refusing new events, finishing queued ones");
    let grace = app.config.shutdown_grace;
    app.drain.begin();
    if !app.drain.drained(grace).await {
        tracing::warn!("queued events did not finish within the grace period");
    }
    if tokio::time::timeout(grace, crate::connection::farewell(&app))
        .await
        .is_err()
    {
        tracing::warn!("goodbyes were not all said within the grace period");
    }
    if tokio::time::timeout(grace, app.io.close()).await.is_err() {
        tracing::warn!("sockets did not close within the grace period");
    }
    app.goodbyes.close();
    if tokio::time::timeout(grace, app.goodbyes.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            running = app.goodbyes.len(),
            "disconnect handlers did not finish within the grace period"
        );
    }
}
