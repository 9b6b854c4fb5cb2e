//! The limits a connection lives under below Socket.IO: frame size, and how
//! long the server waits on a client that takes no data.
//!
//! Both guard memory against one client. A frame is read whole before it is
//! parsed, so its size is capped where it is read (the WebSocket reader, and
//! the body of a long-polling POST). A client that stops reading leaves the
//! server's writes pending; socketioxide then buffers up to 128 packets for
//! it and refuses the rest, but that buffer can only be emptied by the very
//! writer that is stuck, so neither `disconnect()` nor engine.io's own close
//! gets through. The kernel can: with `TCP_USER_TIMEOUT`, a connection whose
//! data sits unacknowledged or unsent (the client's window stays shut) for
//! longer than the bound is aborted, every pending read and write fails, and
//! the socket goes through the normal disconnect path.

use std::time::Duration;

use socket2::SockRef;
use socketioxide::{SocketIo, SocketIoBuilder};
use tokio::net::TcpStream;

use crate::config::ServeConfig;

/// The largest engine.io frame accepted: a 10 KB message with attachments
/// and JSON escaping fits many times over. A bigger WebSocket message closes
/// the connection before it is parsed; a bigger polling body is answered
/// with 413.
pub const MAX_FRAME_BYTES: usize = 128 * 1024;

/// The Socket.IO builder with this module's frame limits.
pub fn socket_io() -> SocketIoBuilder {
    SocketIo::builder()
        .max_payload(MAX_FRAME_BYTES as u64)
        .ws_max_message_size(MAX_FRAME_BYTES)
        .ws_max_frame_size(MAX_FRAME_BYTES)
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
