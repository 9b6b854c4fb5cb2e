//! The limits a connection lives under below Socket.IO: frame size, how
//! long the server waits on a client that takes no data, and what an idle
//! connection keeps in memory.
//!
//! The first two guard memory against one client. A frame is read whole
//! before it is parsed, so its size is capped where it is read (the
//! WebSocket reader, and the body of a long-polling POST). A client that
//! stops reading leaves the server's writes pending; socketioxide then
//! buffers up to [`SEND_BUFFER_PACKETS`] packets for it and refuses the
//! rest, but that buffer can only be emptied by the very writer that is
//! stuck, so neither `disconnect()` nor engine.io's own close gets through.
//! The kernel can: with `TCP_USER_TIMEOUT`, a connection whose data sits
//! unacknowledged or unsent (the client's window stays shut) for longer than
//! the bound is aborted, every pending read and write fails, and the socket
//! goes through the normal disconnect path.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use std::num::NonZeroU32;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::http::{Extensions, HeaderMap, HeaderName, HeaderValue, Uri, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;
use hyper::upgrade::OnUpgrade;
use lockstep_contract::types::ErrorCode;
use socket2::SockRef;
use socketioxide::{ParserConfig, SocketIo, SocketIoBuilder};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::config::{Exposure, ServeConfig};
use crate::limits::ConnectionRate;
use crate::telemetry::RefusedBecause;

/// The largest engine.io frame accepted: a 10 KB message with attachments
/// and JSON escaping fits many times over. A bigger WebSocket message closes
/// the connection before it is parsed; a bigger polling body is answered
/// with 413.
pub const MAX_FRAME_BYTES: usize = 128 * 1024;

/// Initial size of a WebSocket's read buffer. engine.io's default is 4 KB
/// per socket, mostly idle: contract events are a few hundred bytes, and a
/// larger frame grows the buffer (in more, cheap reads from the kernel).
const WS_READ_BUFFER_BYTES: usize = 1024;

/// Packets socketioxide queues for one socket before refusing more
/// (`InternalChannelFull`: the packet, be it a `new_message` or an ack, is
/// dropped). engine.io's default of 128 is overrun by a client that does
/// read, merely a few milliseconds late: in a busy chat one second brings a
/// sender ~10 packets per message it sends (the ack, `message_sent`, a
/// `message_delivered` per recipient) on top of every `new_message`, and on
/// a loaded machine the socket's writer task runs behind the handlers that
/// fill its queue. The queue's memory grows only as it fills (tokio
/// allocates it in blocks of 32 slots, a slot one pointer to a packet with
/// our engine.io patch, `vendor/README.md`), so an idle socket pays nothing
/// for the headroom; a client that really stops reading is dropped by the
/// send timeout before the queue matters.
pub const SEND_BUFFER_PACKETS: usize = 1024;

/// Caps the bytes queued for each socket at `--max-send-buffer-bytes`
/// (engine.io, patched: vendor/README.md). The packet count
/// ([`SEND_BUFFER_PACKETS`]) does not bound memory: a thousand 10 KB
/// messages queued for each of a hundred clients that stopped reading is a
/// gigabyte. Past the cap the socket is closed at once, its queue released,
/// and the drop logged and counted ([`slow_consumer_dropped`]), rather than
/// held until the kernel's send timeout gives up on the connection.
pub fn cap_send_buffers(exposure: &Exposure) {
    engineioxide::socket::set_max_buffered_bytes(exposure.max_send_buffer_bytes);
    engineioxide::socket::on_slow_consumer(slow_consumer_dropped);
}

/// A socket was closed for passing the send buffer cap.
fn slow_consumer_dropped(sid: engineioxide::sid::Sid, queued_bytes: usize) {
    crate::telemetry::slow_consumer_dropped();
    tracing::warn!(
        engine_sid = %sid,
        queued_bytes,
        "slow consumer dropped: its outgoing buffer passed --max-send-buffer-bytes"
    );
}

/// Where Socket.IO (engine.io) takes requests: socket.io-client's default.
pub const SOCKET_IO_PATH: &str = "/socket.io";

/// Binary attachments one Socket.IO packet may announce. socketioxide holds
/// a packet's attachments until the last one arrived, even before the
/// CONNECT: with its defaults (10,000 attachments, 10 MB in all) one
/// anonymous connection could make the server hold about 10 MB. The contract
/// has no binary events, so one attachment is plenty: such an event is
/// still answered with a refusal rather than a closed connection. With
/// [`MAX_FRAME_BYTES`] as the budget of a whole packet's attachments, a
/// packet costs at most two frames; one past either limit closes its
/// connection.
pub const MAX_INCOMING_BINARIES: usize = 1;

/// The Socket.IO builder with this module's frame and queue limits, and the
/// CONNECT deadline of `exposure` (how long a transport may stay open, and
/// cost memory, before it says who it is).
pub fn socket_io(exposure: &Exposure) -> SocketIoBuilder {
    SocketIo::builder()
        .req_path(SOCKET_IO_PATH)
        .with_parser(
            ParserConfig::common()
                .max_incoming_binaries(MAX_INCOMING_BINARIES)
                .max_incoming_binary_buf_size(MAX_FRAME_BYTES),
        )
        .connect_timeout(exposure.connect_timeout)
        .max_buffer_size(SEND_BUFFER_PACKETS)
        .max_payload(MAX_FRAME_BYTES as u64)
        .ws_max_message_size(MAX_FRAME_BYTES)
        .ws_max_frame_size(MAX_FRAME_BYTES)
        .ws_read_buffer_size(WS_READ_BUFFER_BYTES)
}

/// How long a connection may leave the server's data untaken before it is
/// dropped: as long as a client that answers nothing may stay connected
/// (`--heartbeat-interval` × `--heartbeat-max-misses`). Whether a client
/// stopped answering or stopped reading, the same bound applies.
pub fn send_timeout(config: &ServeConfig) -> Duration {
    config
        .heartbeat_interval
        .saturating_mul(config.heartbeat_max_misses)
}

/// Applied to every accepted connection: no Nagle delay (events are small
/// and latency-bound; Nagle with delayed ACKs holds a reply for up to 40 ms)
/// and the kernel's send timeout (see the module documentation).
pub fn tune(stream: &TcpStream, send_timeout: Duration) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::warn!(%error, "could not set TCP_NODELAY");
    }
    if let Err(error) = SockRef::from(stream).set_tcp_user_timeout(Some(send_timeout)) {
        tracing::warn!(%error, "could not set TCP_USER_TIMEOUT; a client that stops reading is not dropped");
    }
}

/// Connections accepted beyond `--max-connections`, served only `/health`,
/// `/ready` and `/metrics` with a short head deadline and no keep-alive: a
/// full server still tells its orchestrator it is alive.
pub const HEALTH_RESERVE: usize = 16;

/// How long a connection in the [`HEALTH_RESERVE`] has to send its head.
pub const HEALTH_RESERVE_HEADER_TIMEOUT: Duration = Duration::from_secs(1);

/// Counts open TCP connections, in all and per client address, and decides
/// at accept (before a byte is read) whether a new one is served. Every kind
/// of connection counts: REST, WebSocket, long-polling. A refused
/// connection is closed at once, which costs the server nothing and tells
/// the client to back off, rather than accepting and starving everyone.
#[derive(Debug)]
pub struct ConnectionGuard {
    max_total: Option<usize>,
    max_per_address: Option<usize>,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    reserve: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// What [`ConnectionGuard::admit`] decided.
#[derive(Debug)]
pub enum Admission {
    /// Serve everything.
    Full(ConnectionSlot),
    /// Over `--max-connections`: serve only the health routes.
    HealthOnly(ConnectionSlot),
    /// Close it.
    Refused(RefusedBecause),
}

impl ConnectionGuard {
    /// With `trust_proxy` every TCP peer is the proxy, so the per-address
    /// cap is left to the proxy (which terminates the client's connection);
    /// the total cap still holds.
    pub fn new(exposure: &Exposure, trust_proxy: bool) -> Arc<Self> {
        Arc::new(Self {
            max_total: exposure.max_connections,
            max_per_address: exposure
                .max_connections_per_address
                .filter(|_| !trust_proxy),
            counts: Mutex::default(),
        })
    }

    /// Takes a slot for a connection from `address`, or refuses it.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Admission {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let from_address = counts.per_address.get(&address).copied().unwrap_or(0);
        if self.max_per_address.is_some_and(|max| from_address >= max) {
            return Admission::Refused(RefusedBecause::TooManyFromAddress);
        }
        let reserve = match self.max_total {
            Some(max) if counts.total >= max => {
                if counts.reserve >= HEALTH_RESERVE {
                    return Admission::Refused(RefusedBecause::TooManyConnections);
                }
                counts.reserve += 1;
                true
            }
            _ => {
                counts.total += 1;
                false
            }
        };
        *counts.per_address.entry(address).or_insert(0) += 1;
        let slot = ConnectionSlot {
            guard: self.clone(),
            address,
            reserve,
        };
        if reserve {
            Admission::HealthOnly(slot)
        } else {
            Admission::Full(slot)
        }
    }

    #[cfg(test)]
    /// Open connections (those in the health reserve included).
    pub fn open(&self) -> usize {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.total + counts.reserve
    }

    fn release(&self, address: IpAddr, reserve: bool) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if reserve {
            counts.reserve = counts.reserve.saturating_sub(1);
        } else {
            counts.total = counts.total.saturating_sub(1);
        }
        if let Some(count) = counts.per_address.get_mut(&address) {
            *count -= 1;
            if *count == 0 {
                counts.per_address.remove(&address);
            }
        }
    }
}

/// One connection's place under the caps, given back when it is dropped.
#[derive(Debug)]
pub struct ConnectionSlot {
    guard: Arc<ConnectionGuard>,
    address: IpAddr,
    reserve: bool,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.guard.release(self.address, self.reserve);
    }
}

pin_project_lite::pin_project! {
    /// A TCP stream that holds its [`ConnectionSlot`] for as long as it is
    /// open. The slot must live with the stream, not with hyper's
    /// connection task: a WebSocket upgrade ends that task and hands the
    /// stream on to engine.io.
    pub struct SlottedStream {
        #[pin]
        stream: TcpStream,
        slot: ConnectionSlot,
    }
}

impl SlottedStream {
    pub fn new(stream: TcpStream, slot: ConnectionSlot) -> Self {
        Self { stream, slot }
    }
}

impl AsyncRead for SlottedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.project().stream.poll_read(cx, buf)
    }
}

impl AsyncWrite for SlottedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.project().stream.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.project().stream.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().stream.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().stream.poll_shutdown(cx)
    }
}

/// New engine.io sessions (a WebSocket or long-polling transport opened
/// without a `sid`) one client address may open per minute: twice
/// `--max-connections-per-minute`. That limit is checked at the Socket.IO
/// CONNECT, where it is answered with `TOO_MANY_CONNECTIONS`; a client that
/// connects and reconnects opens one session per CONNECT and always meets
/// that answer first. This one counts every kind of connection, those that
/// never CONNECT included (a flood of raw WebSockets or polling sessions),
/// and answers HTTP 429 with the same code.
#[derive(Clone)]
pub struct SessionOpens {
    rate: Arc<ConnectionRate>,
    trust_proxy: bool,
}

impl SessionOpens {
    /// `None` when `--max-connections-per-minute` is 0 (off).
    pub fn new(config: &ServeConfig) -> Option<Self> {
        let per_minute = config
            .limits
            .connections_per_minute?
            .saturating_mul(SESSION_OPENS_PER_CONNECT);
        let rate = Arc::new(ConnectionRate::new(Some(per_minute))?);
        let weak = Arc::downgrade(&rate);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(rate) = weak.upgrade() else { break };
                rate.forget_idle();
            }
        });
        Some(Self {
            rate,
            trust_proxy: config.trust_proxy,
        })
    }
}

/// Engine.io sessions per address allowed for each Socket.IO CONNECT of
/// `--max-connections-per-minute`.
const SESSION_OPENS_PER_CONNECT: NonZeroU32 = NonZeroU32::new(2).expect("non-zero");

/// Whether a request opens a new engine.io session (it names no `sid`).
fn opens_session(uri: &Uri) -> bool {
    uri.path().starts_with(SOCKET_IO_PATH)
        && !uri
            .query()
            .unwrap_or("")
            .split('&')
            .any(|pair| pair.starts_with("sid="))
}

/// Middleware: refuses a new engine.io session past [`SessionOpens`]'s
/// budget.
pub async fn limit_session_opens(
    State(opens): State<Option<SessionOpens>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(opens) = opens
        && opens_session(request.uri())
        && let Some(address) =
            crate::auth::client_ip(request.headers(), request.extensions(), opens.trust_proxy)
        && !opens.rate.admit(address)
    {
        crate::telemetry::connection_refused("max_connections_per_minute");
        let body = serde_json::json!({
            "error": ErrorCode::TooManyConnections,
            "message": "too many new connections from your address; retry in a minute",
        });
        return (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    }
    next.run(request).await
}

/// The headers a Socket.IO request keeps ([`detach_head`]): those read
/// after it reached Socket.IO, where its head is kept for the socket's life.
/// engine.io reads `Sec-WebSocket-Key` (to answer the upgrade) and
/// `Content-Type` (a polling POST's payload); the handshake
/// (`connection::admit`) reads the tokens (`Authorization`, `Cookie`), the
/// client's address behind a proxy (`X-Forwarded-For`) and `User-Agent`.
/// Origin, host and the upgrade's own headers are checked before (the CORS
/// and origin layers, hyper). A handler that reads another header from
/// `socket.req_parts()` must add it here.
const KEPT_HEADERS: [HeaderName; 6] = [
    header::AUTHORIZATION,
    header::COOKIE,
    header::USER_AGENT,
    header::CONTENT_TYPE,
    header::SEC_WEBSOCKET_KEY,
    HeaderName::from_static("x-forwarded-for"),
];

/// Middleware in front of Socket.IO: gives a Socket.IO request owned copies
/// of its URI and of the headers read later ([`KEPT_HEADERS`]), and only the
/// extensions Socket.IO and the handshake use. Other requests pass
/// untouched.
///
/// hyper parses a request head in place: the header values and the URI are
/// slices of the connection's 16 KB read buffer. engine.io keeps each
/// socket's request head for the socket's whole life, so every connected
/// socket pinned that buffer for a few hundred bytes of headers: 16 of an
/// idle socket's 37 KB (BENCHMARKS.md). The copies cost a few small
/// allocations per Socket.IO request. The extensions are kept for life
/// too; of those routing and other layers add (axum's path parameters, its
/// `OriginalUri`, still a slice of that buffer) only two are read later:
/// hyper's upgrade handle (engine.io's WebSocket upgrade) and the peer
/// address (the handshake's rate limit and logs). Of the headers, likewise,
/// only those read once the request reached Socket.IO are kept: a browser
/// sends a dozen more (`Accept-Language`, `Sec-WebSocket-Extensions`,
/// `Cache-Control`, ...), each an entry in the socket's header map and a
/// copied value.
pub async fn detach_head(mut request: Request, next: Next) -> Response {
    // A REST request lives no longer than its response, and its handler
    // may need its path parameters.
    if !request.uri().path().starts_with(SOCKET_IO_PATH) {
        return next.run(request).await;
    }
    let kept = KEPT_HEADERS
        .iter()
        .map(|name| request.headers().get_all(name).iter().count())
        .sum();
    let mut headers = HeaderMap::with_capacity(kept);
    for name in KEPT_HEADERS {
        for value in request.headers().get_all(&name) {
            // The names are static; the values would still point into the
            // buffer.
            let value = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| value.clone());
            headers.append(name.clone(), value);
        }
    }
    *request.headers_mut() = headers;
    if let Ok(uri) = Uri::try_from(request.uri().to_string()) {
        *request.uri_mut() = uri;
    }
    let mut kept = Extensions::new();
    let extensions = request.extensions_mut();
    if let Some(upgrade) = extensions.remove::<OnUpgrade>() {
        kept.insert(upgrade);
    }
    if let Some(peer) = extensions.remove::<ConnectInfo<SocketAddr>>() {
        kept.insert(peer);
    }
    *extensions = kept;
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use axum::Router;
    use axum::body::Body;
    use axum::extract::Path;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    /// What the handler behind the middleware finds in the request's
    /// extensions.
    async fn extensions_seen(request: Request) -> String {
        let extensions = request.extensions();
        format!(
            "original_uri={} peer={}",
            extensions.get::<axum::extract::OriginalUri>().is_some(),
            extensions.get::<ConnectInfo<SocketAddr>>().is_some(),
        )
    }

    fn router() -> Router {
        Router::new()
            .route(
                "/api/chats/{chatid}",
                get(|Path(chatid): Path<String>| async move { chatid }),
            )
            .route("/socket.io/", get(extensions_seen))
            .route("/other/", get(extensions_seen))
            .layer(axum::middleware::from_fn(detach_head))
    }

    async fn get_text(path: &str) -> (u16, String) {
        let mut request = axum::http::Request::get(path)
            .body(Body::empty())
            .expect("request");
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4711))));
        let response = router().oneshot(request).await.expect("response");
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn exposure(total: usize, per_address: usize) -> Exposure {
        Exposure {
            max_connections: Some(total),
            max_connections_per_address: Some(per_address),
            ..Exposure::default()
        }
    }

    #[test]
    fn connections_are_capped_per_address_and_in_all_with_a_health_reserve() {
        let guard = ConnectionGuard::new(&exposure(3, 2), false);
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        let first = guard.admit(a);
        assert!(matches!(first, Admission::Full(_)));
        let _second = guard.admit(a);
        assert!(matches!(
            guard.admit(a),
            Admission::Refused(RefusedBecause::TooManyFromAddress)
        ));
        let _third = guard.admit(b);
        let mut reserved = Vec::new();
        for _ in 0..HEALTH_RESERVE {
            let admission = guard.admit(IpAddr::V4(Ipv4Addr::new(10, 1, 0, reserved.len() as u8)));
            assert!(matches!(admission, Admission::HealthOnly(_)));
            reserved.push(admission);
        }
        assert!(matches!(
            guard.admit(IpAddr::V4(Ipv4Addr::new(10, 2, 0, 1))),
            Admission::Refused(RefusedBecause::TooManyConnections)
        ));
        assert_eq!(guard.open(), 3 + HEALTH_RESERVE);
        drop(reserved);
        drop(first);
        assert_eq!(guard.open(), 2);
        assert!(matches!(guard.admit(a), Admission::Full(_)));
    }

    #[test]
    fn a_session_is_opened_by_a_socket_io_request_without_sid() {
        let uri = |text: &str| Uri::try_from(text).expect("uri");
        assert!(opens_session(&uri("/socket.io/?EIO=4&transport=polling")));
        assert!(opens_session(&uri("/socket.io/?EIO=4&transport=websocket")));
        assert!(!opens_session(&uri(
            "/socket.io/?EIO=4&transport=polling&sid=abc"
        )));
        assert!(!opens_session(&uri(
            "/socket.io/?sid=abc&EIO=4&transport=websocket"
        )));
        assert!(!opens_session(&uri("/api/chats")));
    }

    #[test]
    fn behind_a_trusted_proxy_only_the_total_is_capped() {
        let guard = ConnectionGuard::new(&exposure(100, 2), true);
        let proxy = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let slots: Vec<_> = (0..50).map(|_| guard.admit(proxy)).collect();
        assert!(slots.iter().all(|s| matches!(s, Admission::Full(_))));
    }

    #[test]
    fn zero_means_no_cap() {
        let guard = ConnectionGuard::new(
            &Exposure {
                max_connections: None,
                max_connections_per_address: None,
                ..Exposure::default()
            },
            false,
        );
        let a = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let slots: Vec<_> = (0..1000).map(|_| guard.admit(a)).collect();
        assert!(slots.iter().all(|s| matches!(s, Admission::Full(_))));
    }

    #[tokio::test]
    async fn rest_handlers_keep_their_path_parameters() {
        assert_eq!(get_text("/api/chats/c42").await, (200, "c42".to_owned()));
        assert_eq!(
            get_text("/other/").await,
            (200, "original_uri=true peer=true".to_owned())
        );
    }

    #[tokio::test]
    async fn socket_io_requests_keep_only_the_headers_read_later() {
        let app = Router::new()
            .route(
                "/socket.io/",
                get(|request: Request| async move {
                    let mut seen: Vec<String> = request
                        .headers()
                        .iter()
                        .map(|(name, value)| format!("{name}={}", value.to_str().unwrap_or("?")))
                        .collect();
                    seen.sort();
                    seen.join(" ")
                }),
            )
            .layer(axum::middleware::from_fn(detach_head));
        let request = axum::http::Request::get("/socket.io/?EIO=4&transport=websocket")
            .header("host", "chat.example")
            .header("authorization", "Bearer t")
            .header("accept-language", "fr")
            .header("x-forwarded-for", "10.0.0.1")
            .header("x-forwarded-for", "10.0.0.2")
            .header("sec-websocket-key", "k")
            .header("sec-websocket-extensions", "permessage-deflate")
            .body(Body::empty())
            .expect("request");
        let response = app.oneshot(request).await.expect("response");
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(
            String::from_utf8_lossy(&body),
            "authorization=Bearer t sec-websocket-key=k x-forwarded-for=10.0.0.1 x-forwarded-for=10.0.0.2"
        );
    }

    #[tokio::test]
    async fn socket_io_requests_keep_only_what_is_read_later() {
        assert_eq!(
            get_text("/socket.io/?EIO=4&transport=polling").await,
            (200, "original_uri=false peer=true".to_owned())
        );
    }
}
