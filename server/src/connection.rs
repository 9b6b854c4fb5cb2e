//! A socket's life: the authenticated handshake, the welcome, the session's
//! expiry and the goodbye.
//!
//! Authentication runs in socketioxide's connect *middleware*, which
//! completes before the client is told it is connected: the event handlers
//! are registered there, so an event the client emits right after `connect`
//! cannot arrive before its handler. Middleware cannot emit, so it records
//! its verdict in the socket's extensions and the connect handler that runs
//! next says `authenticated`, or `auth_error` and disconnects. A refused
//! socket never has a handler registered: no event of it is ever served.

use std::convert::Infallible;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use lockstep_contract::handler::{self, ContractHandler};
use lockstep_contract::types::{self, ErrorCode};
use lockstep_contract::{emit, validate::Refusal};
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::DisconnectReason;
use socketioxide_core::adapter::DefinedAdapter;

use crate::auth::{self, AuthenticatedSession};
use crate::expiry::Deadlines;
use crate::presence::{self, PresenceError};
use crate::session::{Session, iso, now, session_of, user_room};
use crate::state::App;
use crate::store::Profile;
use crate::telemetry::{disconnect_label, names};

/// The middleware's verdict, taken by the connect handler.
#[derive(Clone)]
enum Admission {
    Welcome(Arc<Welcome>),
    Refused(Refusal),
}

/// What the connect handler tells an admitted client.
struct Welcome {
    authenticated: types::Authenticated,
    refreshed: bool,
    first_socket: bool,
}

/// Registers the default namespace: authentication middleware plus the
/// connect handler.
pub fn register_namespace<A: Adapter + DefinedAdapter>(app: &Arc<App<A>>) -> A::InitRes
where
    App<A>: ContractHandler<A>,
{
    let admit_socket = {
        let app = Arc::clone(app);
        move |socket: SocketRef<A>, TryData(auth): TryData<Value>| {
            let app = Arc::clone(&app);
            async move {
                let admission = match admit(&app, &socket, auth.ok()).await {
                    Ok(welcome) => Admission::Welcome(Arc::new(welcome)),
                    Err(refusal) => Admission::Refused(refusal),
                };
                socket.extensions.insert(admission);
                Ok::<(), Infallible>(())
            }
        }
    };
    let greet_socket = {
        let app = Arc::clone(app);
        move |socket: SocketRef<A>| {
            let app = Arc::clone(&app);
            async move { greet(&app, socket).await }
        }
    };
    app.io.ns("/", greet_socket.with(admit_socket))
}

/// Authenticates the handshake, takes a slot under the per-user socket limit,
/// and registers the handlers.
async fn admit<A: Adapter>(
    app: &Arc<App<A>>,
    socket: &SocketRef<A>,
    auth: Option<Value>,
) -> Result<Welcome, Refusal>
where
    App<A>: ContractHandler<A>,
{
    let connected_at = now();
    let parts = socket.req_parts();
    let client_ip = auth::client_ip(&parts.headers, &parts.extensions, app.config.trust_proxy);
    if let (Some(rate), Some(address)) = (&app.connection_rate, client_ip)
        && !rate.admit(address)
    {
        tracing::warn!(client = %address, "too many new connections from one address");
        return Err(Refusal::new(
            ErrorCode::TooManyConnections,
            "too many new connections from your address; retry in a minute",
        ));
    }
    let session = match auth::authenticate_handshake(
        &app.verifier,
        &parts.headers,
        auth.as_ref(),
        connected_at,
    ) {
        Ok(session) => session,
        Err(failure) => {
            tracing::warn!(sid = %socket.id, client = %crate::telemetry::Client(client_ip), code = failure.code(), reason = ?failure, "authentication failed");
            return Err(failure.refusal());
        }
    };
    // After the token (a client that is not signed in most needs to hear
    // that), before anything is taken: a client whose contract this server
    // does not serve is told so at once.
    let client_contract = match auth::parse_handshake_auth(auth.as_ref())
        .map(|handshake| auth::contract_version::negotiate(&handshake))
    {
        Ok(Ok(contract)) => contract,
        Ok(Err(incompatible)) => {
            tracing::warn!(sid = %socket.id, client = %crate::telemetry::Client(client_ip), reason = %incompatible, "contract version not served");
            return Err(Refusal::new(
                ErrorCode::ContractIncompatible,
                incompatible.0,
            ));
        }
        Err(failure) => return Err(failure.refusal()),
    };
    let claims = &session.claims;
    let user_agent = parts
        .headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let first_socket = app
        .presence
        .connect(&claims.profileid, socket.id, app.config.limits.max_sockets_per_user)
        .await
        .map_err(|error| match error {
            PresenceError::TooManySockets => {
                tracing::warn!(profileid = %claims.profileid, client = %crate::telemetry::Client(client_ip), "socket limit reached");
                Refusal::new(
                    ErrorCode::TooManyConnections,
                    format!(
                        "at most {} connections per user; close another one first",
                        app.config.limits.max_sockets_per_user
                    ),
                )
            }
            PresenceError::Unavailable => crate::refusal::cluster_unavailable(),
        })?;

    // From here on nothing refuses: the presence slot is released by the
    // disconnect handler registered below.
    let session_info = Arc::new(session_from(&session, connected_at));
    socket.extensions.insert(Arc::clone(&session_info));
    crate::telemetry::SocketTelemetry::attach(socket, client_ip);
    // Its own id as a room too: calls address one socket of a user by it,
    // across nodes.
    socket.join(vec![
        user_room(&session_info.profileid),
        socket.id.to_string(),
    ]);
    handler::register(socket, Arc::clone(app), app.drain.clone());
    socket.on_disconnect({
        let app = Arc::clone(app);
        move |socket: SocketRef<A>, reason: DisconnectReason| {
            // Counted when socketioxide calls this (as the socket closes),
            // not when its task first runs: shutdown waits for every one.
            let running = app.goodbyes.token();
            async move {
                metrics::counter!(names::DISCONNECTS, "reason" => disconnect_label(reason))
                    .increment(1);
                tracing::debug!(sid = %socket.id, %reason, "disconnected");
                goodbye(&app, &socket).await;
                drop(running);
            }
        }
    });

    // The profile (for other users' views of it) and the device, in one
    // store call: a store may commit many connects' writes at once.
    let fingerprint = auth::fingerprint(user_agent.as_deref(), client_ip);
    let device_trusted = match app
        .store
        .start_session(&profile_of(&session_info), &fingerprint, connected_at)
        .await
    {
        Ok(seen) => seen.previously_seen,
        Err(error) => {
            tracing::warn!(%error, "could not store the profile and device; treating the device as new");
            false
        }
    };
    let risk = auth::risk_score(device_trusted, session.refreshed, user_agent.is_some());
    tracing::info!(sid = %socket.id, profileid = %session_info.profileid, client = %crate::telemetry::Client(client_ip), refreshed = session.refreshed, "authenticated");
    crate::telemetry::connection_admitted(&client_contract.metric_label());

    Ok(Welcome {
        authenticated: types::Authenticated {
            user: types::AuthenticatedUser {
                id: session_info.user_id.clone(),
                username: session_info.username.clone(),
                email: session_info.email.clone(),
                permissions: session_info.permissions.clone(),
            },
            profile: types::AuthenticatedProfile {
                profileid: session_info.profileid.clone(),
                username: session_info.username.clone(),
                displayname: session_info.displayname.clone(),
                avatar: session_info.avatar.clone(),
            },
            security: types::SessionSecurity {
                risk_score: i64::from(risk),
                device_trusted,
                device_fingerprint: fingerprint,
            },
            session: types::SessionWindow {
                connected_at: iso(connected_at),
                expires_at: iso(session.expires_at),
            },
            contract_version: lockstep_contract::CONTRACT_VERSION.to_string(),
        },
        refreshed: session.refreshed,
        first_socket,
    })
}

/// The connect handler: tells the client the verdict, then brings it up to
/// date (presence, offline queue) and arms the session's expiry.
async fn greet<A: Adapter>(app: &Arc<App<A>>, socket: SocketRef<A>) {
    // Taken out, not read: an idle socket should not carry its welcome
    // (the whole `authenticated` payload) for the rest of its life.
    let welcome = match socket.extensions.remove::<Admission>() {
        Some(Admission::Welcome(welcome)) => welcome,
        Some(Admission::Refused(refusal)) => return refuse_connection(&socket, refusal).await,
        None => {
            let refusal = Refusal::new(
                ErrorCode::InternalError,
                "the connection could not be authenticated",
            );
            return refuse_connection(&socket, refusal).await;
        }
    };
    let Some(session) = session_of(&socket) else {
        return;
    };

    let _ = emit::authenticated(&socket, &welcome.authenticated).await;
    if welcome.refreshed {
        let refreshed = types::TokensRefreshed {
            expires_at: iso(session.expires_at),
            refreshed: true,
        };
        let _ = emit::tokens_refreshed(&socket, &refreshed).await;
    }
    if welcome.first_socket {
        announce_presence(app, &session.profileid, true).await;
    }
    crate::message::offline::deliver(app.messages.services(), &socket, &session).await;
    expire_session_at(app, &socket, session.expires_at);
}

async fn refuse_connection<A: Adapter>(socket: &SocketRef<A>, refusal: Refusal) {
    crate::telemetry::handshake_refused(refusal.code);
    let payload = types::AuthError {
        error: refusal.code,
        message: refusal.message,
    };
    let _ = emit::auth_error(socket, &payload).await;
    // Events the client sent before it heard the verdict may still be in
    // flight; one arriving after the disconnect makes the transport close
    // at once, dropping the queued `auth_error`. A short grace lets the
    // verdict out first (the refused socket has no handlers meanwhile).
    let socket = socket.clone();
    tokio::spawn(async move {
        tokio::time::sleep(REFUSAL_GRACE).await;
        let _ = socket.disconnect();
    });
}

/// How long a refused socket stays open after `auth_error`.
const REFUSAL_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// Past the token's expiry the session ends: `auth_required`, then a
/// disconnect (by [`spawn_session_ends`]'s task). Only the socket id is
/// kept, not the socket, and [`goodbye`] takes it out.
fn expire_session_at<A: Adapter>(
    app: &Arc<App<A>>,
    socket: &SocketRef<A>,
    expires_at: DateTime<Utc>,
) {
    let wait = (expires_at - Utc::now()).to_std().unwrap_or_default();
    app.session_ends
        .schedule(socket.id, tokio::time::Instant::now() + wait);
}

/// Starts the task that ends sessions as their tokens expire (one for the
/// server, see [`Deadlines`]).
pub fn spawn_session_ends<A: Adapter>(
    io: SocketIo<A>,
    deadlines: Arc<Deadlines>,
) -> tokio::task::AbortHandle {
    let task = tokio::spawn(async move {
        deadlines
            .run(|sid| {
                let Some(socket) = io.get_socket(sid) else {
                    return;
                };
                tokio::spawn(async move {
                    tracing::info!(%sid, "session expired");
                    let _ = emit::auth_required(&socket).await;
                    let _ = socket.disconnect();
                });
            })
            .await
    });
    task.abort_handle()
}

/// The disconnect handler: ends the socket's call, releases the presence
/// slot and, for the user's last socket, tells their partners they went
/// offline. Once per socket: see [`farewell`].
async fn goodbye<A: Adapter>(app: &Arc<App<A>>, socket: &SocketRef<A>) {
    app.session_ends.cancel(socket.id);
    // Whichever of `farewell` and the disconnect handler marks the socket
    // first says the goodbye. The session stays: an event still queued may
    // need it.
    if socket.extensions.insert(GoodbyeSaid).is_some() {
        return;
    }
    let Some(session) = session_of(socket) else {
        return;
    };
    app.calls.socket_gone(socket.id, &session.profileid).await;
    // Unreachable shared state: the node's heartbeat in it lapses and the
    // cluster sweeper announces the user offline instead.
    if app
        .presence
        .disconnect(&session.profileid, socket.id)
        .await
        .unwrap_or(false)
    {
        announce_presence(app, &session.profileid, false).await;
    }
}

/// Marks a socket whose goodbye was said.
#[derive(Clone)]
struct GoodbyeSaid;

/// How many sockets [`farewell`] says goodbye for at once: each may query
/// the store, whose pool is far smaller than a node's sockets.
const FAREWELLS_AT_ONCE: usize = 64;

/// At shutdown, before the sockets are closed: the goodbye of every socket
/// still connected here. Closing the namespace also closes the adapter, so
/// a disconnect handler that runs after it can no longer reach other nodes:
/// their users would keep seeing this node's users online (whose Redis
/// entries the handler had removed, leaving the sweeper nothing to
/// announce) and their calls ringing on.
pub async fn farewell<A: Adapter>(app: &Arc<App<A>>) {
    let Some(namespace) = app.io.of("/") else {
        return;
    };
    futures::stream::iter(namespace.sockets())
        .for_each_concurrent(FAREWELLS_AT_ONCE, |socket| async move {
            goodbye(app, &socket).await;
        })
        .await;
}

pub async fn announce_presence<A: Adapter>(app: &Arc<App<A>>, profileid: &str, is_online: bool) {
    // A lone node shutting down closes every partner's socket too: there is
    // nobody to tell. Nor is there once the namespace is gone.
    let lone_node_stopping = app.cluster.is_none() && app.drain.is_draining();
    if lone_node_stopping || app.io.of("/").is_none() {
        return;
    }
    match app.store.chat_partners(profileid).await {
        Ok(partners) => {
            presence::announce(
                &app.io,
                profileid,
                &partners,
                is_online,
                app.config.legacy_events,
            )
            .await;
        }
        Err(error) => tracing::warn!(%error, "could not load chat partners for a presence change"),
    }
}

/// The profile of the token's claims, kept for other users' views of it.
fn profile_of(session: &Session) -> Profile {
    Profile {
        profileid: session.profileid.clone(),
        user_id: session.user_id.clone(),
        username: session.username.clone(),
        displayname: Some(session.displayname.clone()),
        avatar: Some(session.avatar.clone()),
        email: Some(session.email.clone()).filter(|e| !e.is_empty()),
        updated_at: session.connected_at,
    }
}

fn session_from(session: &AuthenticatedSession, connected_at: DateTime<Utc>) -> Session {
    let claims = &session.claims;
    Session {
        profileid: claims.profileid.clone(),
        user_id: claims.sub.clone(),
        username: claims.username.clone(),
        displayname: claims
            .displayname
            .clone()
            .unwrap_or_else(|| claims.username.clone()),
        avatar: claims.avatar.clone().unwrap_or_default(),
        email: claims.email.clone().unwrap_or_default(),
        permissions: claims.permissions.clone().unwrap_or_default(),
        connected_at,
        expires_at: session.expires_at,
    }
}
