//! `App`, the state the shell shares with every part of the node: the
//! domains, each with its own state, and what the wiring needs besides
//! (the socket.io handle, presence, the drain, the session deadlines).
//!
//! It lives apart from `app.rs` (building and serving the node) so that
//! the socket life cycle (`connection.rs`), the demo routes and the
//! cluster's sweeper can read it without importing the wiring that
//! imports them: the shell has no circle either.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use futures::future::BoxFuture;
use lockstep_contract::handler::{ContractHandler, Observe};
use lockstep_contract::types::ErrorCode;
use lockstep_contract::validate::Refusal;
use lockstep_runtime::Drain;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use tokio_util::task::TaskTracker;

use crate::auth::TokenVerifier;
use crate::call::registry::CallRegistry;
use crate::call::rest::CallApi;
use crate::call::{CallHandlers, Calls};
use crate::chat::ChatRooms;
use crate::chat::rest::ChatApi;
use crate::cluster::Cluster;
use crate::config::ServeConfig;
use crate::expiry::Deadlines;
use crate::health::{HealthApi, HeartbeatAnswers, NodeState};
use crate::limits::{ConnectionRate, RateLimiter};
use crate::message::Messages;
use crate::presence::PresenceRegistry;
use crate::services::Services;
use crate::store::Store;

/// Everything the handlers share.
pub struct App<A: Adapter> {
    pub io: SocketIo<A>,
    pub store: Arc<dyn Store>,
    pub config: ServeConfig,
    pub verifier: TokenVerifier,
    pub presence: Arc<dyn PresenceRegistry>,
    pub rate_limits: Arc<dyn RateLimiter>,
    /// New connections per client address; `None` when unlimited.
    pub connection_rate: Option<ConnectionRate>,
    pub calls: Arc<Calls<A>>,
    /// The domains, each with its own state, serving the client events.
    pub chat: ChatRooms<A>,
    pub messages: Messages<A>,
    pub call_handlers: CallHandlers<A>,
    pub heartbeat_answers: HeartbeatAnswers,
    /// The Redis cluster state, when this node is one of several.
    pub cluster: Option<Cluster>,
    /// When each socket's session ends (`crate::connection`).
    pub session_ends: Arc<Deadlines>,
    session_ends_task: tokio::task::AbortHandle,
    /// Disconnect handlers still running. Closing the sockets at shutdown
    /// only starts them; the store must stay open until they finished, or
    /// a user's partners on other nodes are never told they went offline.
    pub goodbyes: TaskTracker,
    /// Stops the sockets taking events at shutdown and counts the events
    /// still queued; every socket's dispatch gets a clone.
    pub drain: Drain,
}

impl<A: Adapter> Drop for App<A> {
    fn drop(&mut self) {
        self.session_ends_task.abort();
    }
}

impl<A: Adapter> ContractHandler<A> for App<A> {
    type Session = crate::session::Session;
    type Chat = ChatRooms<A>;
    type Message = Messages<A>;
    type Call = CallHandlers<A>;
    type Health = HeartbeatAnswers;

    fn chat(&self) -> &ChatRooms<A> {
        &self.chat
    }

    fn message(&self) -> &Messages<A> {
        &self.messages
    }

    fn call(&self) -> &CallHandlers<A> {
        &self.call_handlers
    }

    fn health(&self) -> &HeartbeatAnswers {
        &self.heartbeat_answers
    }
}

impl<A: Adapter> Observe<A, ErrorCode> for App<A> {
    fn refused(&self, socket: &SocketRef<A>, event: &str, refusal: &Refusal) {
        crate::telemetry::event_received(event);
        crate::refusal::log(socket, event, refusal);
    }

    fn declined(&self, socket: &SocketRef<A>, event: &'static str, refusal: &Refusal) {
        crate::refusal::log(socket, event, refusal);
    }

    fn served(&self, event: &'static str, elapsed: Duration) {
        crate::telemetry::event_served(event, elapsed);
    }
}

/// The chat REST API's part of the shell's state.
impl<A: Adapter> FromRef<Arc<App<A>>> for ChatApi {
    fn from_ref(app: &Arc<App<A>>) -> Self {
        ChatApi {
            store: Arc::clone(&app.store),
        }
    }
}

/// The call REST API's part of the shell's state.
impl<A: Adapter> FromRef<Arc<App<A>>> for CallApi<A> {
    fn from_ref(app: &Arc<App<A>>) -> Self {
        CallApi {
            calls: Arc::clone(&app.calls),
            store: Arc::clone(&app.store),
        }
    }
}

/// The health routes' part of the shell's state.
impl<A: Adapter> FromRef<Arc<App<A>>> for HealthApi {
    fn from_ref(app: &Arc<App<A>>) -> Self {
        HealthApi {
            store: Arc::clone(&app.store),
            redis_url: app.config.redis_url.clone(),
            presence: Arc::clone(&app.presence),
            node: Arc::clone(app) as Arc<dyn NodeState>,
        }
    }
}

impl<A: Adapter> NodeState for App<A> {
    fn ping_cluster(&self) -> Option<BoxFuture<'_, Result<(), ()>>> {
        let cluster = self.cluster.as_ref()?;
        Some(Box::pin(async move {
            cluster.ping().await.then_some(()).ok_or(())
        }))
    }

    fn live_calls(&self) -> BoxFuture<'_, usize> {
        Box::pin(self.calls.live_count())
    }
}

/// The shared state a deployment chooses: in process for one node, in Redis
/// for several.
pub struct Components {
    pub presence: Arc<dyn PresenceRegistry>,
    pub rate_limits: Arc<dyn RateLimiter>,
    pub calls: Arc<dyn CallRegistry>,
    pub cluster: Option<Cluster>,
}

impl<A: Adapter> App<A> {
    pub fn new(
        io: SocketIo<A>,
        store: Arc<dyn Store>,
        config: ServeConfig,
        parts: Components,
        session_ends: (Arc<Deadlines>, tokio::task::AbortHandle),
    ) -> Arc<Self> {
        let (session_ends, session_ends_task) = session_ends;
        let services = Services {
            io: io.clone(),
            store: store.clone(),
            presence: parts.presence.clone(),
            rate_limits: parts.rate_limits.clone(),
        };
        let calls = Arc::new(Calls::new(
            io.clone(),
            store.clone(),
            parts.calls,
            config.call_ring_timeout,
            config.call_max_duration,
        ));
        Arc::new(App {
            session_ends,
            session_ends_task,
            goodbyes: TaskTracker::new(),
            verifier: config.token_verifier(),
            presence: parts.presence,
            rate_limits: parts.rate_limits,
            connection_rate: ConnectionRate::new(config.limits.connections_per_minute),
            chat: ChatRooms::new(services.clone(), config.typing_timeout),
            messages: Messages::new(
                services.clone(),
                config.limits.max_message_bytes,
                config.limits.offline_queue_cap,
            ),
            call_handlers: CallHandlers::new(Arc::clone(&calls), services),
            heartbeat_answers: HeartbeatAnswers::new(
                config.heartbeat_interval,
                config.heartbeat_max_misses,
            ),
            calls,
            cluster: parts.cluster,
            drain: Drain::new(),
            io,
            store,
            config,
        })
    }
}

/// REST routes learn the caller from the token (`rest::Caller`).
impl<A: Adapter> crate::rest::Authenticates for Arc<App<A>> {
    fn token_verifier(&self) -> &crate::auth::TokenVerifier {
        &self.verifier
    }
}
