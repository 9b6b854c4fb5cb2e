//! Every default setting, written once: the flags of `lockstep serve`
//! declare them as their default values (so `--help`, the example config
//! and a configuration with no flag given all show these), and
//! [`super::Limits`] and [`super::Exposure`] default to them.
//! The client-facing limits are the contract's (`lockstep_contract::limits`):
//! none is written here, so changing one in the manifest and regenerating
//! changes what the server enforces.

use lockstep_contract::limits;

/// Loopback only: a development server is not exposed by accident.
pub const BIND: &str = "127.0.0.1:3000";
/// An embedded SQLite file in the working directory.
pub const DATABASE_URL: &str = "sqlite://lockstep.db";

/// The contract's ring timeout.
pub const CALL_RING_TIMEOUT_SECS: u64 = limits::RING_TIMEOUT.as_secs();
/// The contract's maximum call duration.
pub const CALL_MAX_DURATION_SECS: u64 = limits::CALL_MAX_DURATION.as_secs();
/// The contract's sockets per user.
pub const MAX_SOCKETS_PER_USER: u32 = limits::SOCKETS_PER_USER;
/// New Socket.IO connections accepted per client address per minute.
pub const MAX_CONNECTIONS_PER_MINUTE: u32 = 600;
/// The contract's offline queue cap.
pub const OFFLINE_QUEUE_CAP: u32 = limits::OFFLINE_QUEUE_MAX_MESSAGES;
/// The contract's content size limit, in bytes of UTF-8.
pub const MAX_MESSAGE_BYTES: u32 = limits::CONTENT_MAX_BYTES;
/// The count of the contract's `send_message` rate (per its period).
pub const MESSAGES_PER_SECOND: u32 = limits::rate::SEND_MESSAGE.count;
/// The count of the contract's `initiate_call` rate (per its period).
pub const CALLS_PER_MINUTE: u32 = limits::rate::INITIATE_CALL.count;
/// The contract's typing timeout.
pub const TYPING_TIMEOUT_SECS: u64 = limits::TYPING_TIMEOUT.as_secs();
/// How long shutdown waits for connections to drain.
pub const SHUTDOWN_GRACE_SECS: u64 = 10;
/// Lifetime of a token minted by `lockstep token`.
pub const TOKEN_TTL: &str = "1h";
/// The contract's heartbeat interval (engine.io's own ping interval is
/// 25 s too).
pub const HEARTBEAT_INTERVAL_SECS: u64 = limits::HEARTBEAT_INTERVAL.as_secs();
/// The contract's allowed heartbeat misses.
pub const HEARTBEAT_MAX_MISSES: u32 = limits::HEARTBEAT_ALLOWED_MISSES;
/// TCP connections open at once: well under a raised file-descriptor
/// limit, well over what one node serves (BENCHMARKS.md: 10,000 idle
/// sockets).
pub const MAX_CONNECTIONS: u32 = 20_000;
/// TCP connections one address may hold open at once.
pub const MAX_CONNECTIONS_PER_ADDRESS: u32 = 256;
/// Seconds to send an HTTP request head.
pub const HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// Seconds from a Socket.IO transport's opening to its CONNECT
/// (socketioxide's default is 45).
pub const CONNECT_TIMEOUT_SECS: u64 = 10;
/// Bytes queued for one socket (besides the kernel's socket buffers):
/// two hundred messages at the largest size, thousands of ordinary
/// events, so that a reading client on a busy machine is not dropped.
pub const MAX_SEND_BUFFER_BYTES: u64 = 2 * 1024 * 1024;
