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
use lockstep_contract::handler::ContractHandler;
use lockstep_contract::validate::Refusal;
use socketioxide::SocketIo;
use socketioxide::adapter::{Adapter, LocalAdapter};
use socketioxide::extract::SocketRef;
use tokio::net::TcpListener;

use crate::auth::TokenVerifier;
use crate::call::Calls;
use crate::call::registry::LocalCalls;
use crate::chat::typing::Typing;
use crate::config::ServeConfig;
use crate::limits::{RateLimiter, RateLimits};
use crate::presence::{Presence, PresenceRegistry};
use crate::store::{self, Store};

/// Everything the handlers share.
pub struct App<A: Adapter> {
    pub io: SocketIo<A>,
    pub store: Arc<dyn Store>,
    pub config: ServeConfig,
    pub verifier: TokenVerifier,
    pub presence: Arc<dyn PresenceRegistry>,
    pub rate_limits: Arc<dyn RateLimiter>,
    pub typing: Arc<Typing>,
    pub calls: Arc<Calls<A>>,
}

impl<A: Adapter> ContractHandler<A> for App<A> {
    fn refused(&self, socket: &SocketRef<A>, event: &str, refusal: &Refusal) {
        crate::refusal::log(socket, event, refusal);
    }
}

/// Runs the server until SIGINT/SIGTERM.
pub async fn run(config: ServeConfig) -> anyhow::Result<()> {
    let store = store::connect(&config.database_url)
        .await
        .context("connecting to the database")?;
    store
        .migrate()
        .await
        .context("applying database migrations")?;

    let (socket_layer, io) = SocketIo::builder()
        .max_payload(MAX_FRAME_BYTES)
        .build_layer();
    let app = Arc::new(App::<LocalAdapter> {
        io: io.clone(),
        store: store.clone(),
        verifier: config.token_verifier(),
        presence: Arc::new(Presence::default()),
        rate_limits: Arc::new(RateLimits::from_contract(&config.limits)),
        typing: Arc::default(),
        calls: Arc::new(Calls::new(
            io.clone(),
            store.clone(),
            Arc::new(LocalCalls::default()),
            config.call_ring_timeout,
        )),
        config: config.clone(),
    });
    crate::connection::register_namespace(&app);
    spawn_housekeeping(&app);

    let router: Router = Router::new()
        .merge(crate::chat::rest::routes())
        .merge(crate::call::rest::routes())
        .merge(crate::health::routes())
        .merge(crate::demo::routes())
        .with_state(app.clone())
        .layer(socket_layer);

    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("binding {}", config.bind))?;
    tracing::info!(bind = %config.bind, database = store.backend().as_str(), "lockstep is listening");

    let grace = config.shutdown_grace;
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal(io, grace))
    .await
    .context("serving")?;
    store.close().await;
    tracing::info!("lockstep stopped");
    Ok(())
}

/// The largest engine.io frame accepted: a 10 KB message with attachments
/// and JSON escaping fits many times over; anything bigger is refused by the
/// transport before it is parsed.
const MAX_FRAME_BYTES: u64 = 128 * 1024;

/// Periodic upkeep that keeps memory flat over a long uptime.
fn spawn_housekeeping<A: Adapter>(app: &Arc<App<A>>) {
    let app = Arc::downgrade(app);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            let Some(app) = app.upgrade() else { break };
            app.rate_limits.forget_idle();
        }
    });
}

/// Resolves on SIGINT or SIGTERM, after closing every socket so that
/// in-flight events finish and clients reconnect elsewhere; axum then stops
/// accepting and drains HTTP requests.
async fn shutdown_signal<A: Adapter>(io: SocketIo<A>, grace: Duration) {
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
    tracing::info!("shutting down");
    if tokio::time::timeout(grace, io.close()).await.is_err() {
        tracing::warn!("sockets did not close within the grace period");
    }
}
