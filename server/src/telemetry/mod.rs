//! Prometheus metrics and what the server knows about each socket for logs.
//!
//! Code records through the `metrics` facade (`counter!`, `gauge!`,
//! `histogram!`); [`handle`] installs `metrics-exporter-prometheus` as the
//! process's recorder once, and `GET /metrics` (in `health`) renders it in
//! the Prometheus text format. Every metric this server exports is named in
//! [`names`] and described by [`describe`]; README.md's Operations section
//! says what each one means.
//!
//! Labels only ever take values from closed sets (contract event names,
//! error codes, store operations), never anything a client chose: an unknown
//! event name is counted as `unknown`.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Duration;

use axum::http::Request;
use lockstep_contract::events;
use lockstep_contract::types::ErrorCode;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::DisconnectReason;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, TraceLayer};
use tracing::Span;

mod liveness;

pub use liveness::{Answer, Beat, Liveness};

/// The closed sets some labels take their values from.
pub mod labels {
    /// Every `op` label value: the store operations, so that their series exist
    /// at zero from the first scrape. A test in `crate::store::metered` keeps it
    /// in step with the store calls it times.
    pub const DB_OPERATIONS: &[&str] = &[
        "migrate",
        "ping",
        "upsert_profile",
        "get_profiles",
        "start_session",
        "create_chat",
        "get_chat",
        "list_chats_for",
        "list_participants",
        "chat_partners",
        "shared_chat",
        "insert_message",
        "get_message",
        "get_messages",
        "history",
        "chat_heads",
        "reactions_for",
        "mark_read",
        "flush_deliveries",
        "take_offline",
        "ack_offline",
        "upsert_calls",
        "call_exists",
        "list_calls",
    ];

    /// Every `kind` label value of a failed store call (`crate::store::metered`).
    pub const DB_FAILURE_KINDS: &[&str] =
        &["unavailable", "corrupt", "config", "migrate", "database"];
}

/// Why a connection was closed at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedBecause {
    TooManyConnections,
    TooManyFromAddress,
}

impl RefusedBecause {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooManyConnections => "max_connections",
            Self::TooManyFromAddress => "max_connections_per_address",
        }
    }
}

/// The `reason` label of [`names::DISCONNECTS`].
pub fn disconnect_label(reason: DisconnectReason) -> &'static str {
    match reason {
        DisconnectReason::TransportClose => "transport_close",
        DisconnectReason::MultipleHttpPollingError => "multiple_polling",
        DisconnectReason::PacketParsingError => "bad_packet",
        // Among others: the kernel's send timeout aborted the connection of
        // a client that stopped reading (see `crate::transport`).
        DisconnectReason::TransportError => "transport_error",
        DisconnectReason::HeartbeatTimeout => "engineio_ping_timeout",
        DisconnectReason::ClientNSDisconnect => "client_disconnect",
        DisconnectReason::ServerNSDisconnect => "server_disconnect",
        DisconnectReason::ClosingServer => "server_closing",
    }
}

/// Every metric name, in one place.
pub mod names {
    /// Gauge: sockets connected to this node.
    pub const CONNECTED_SOCKETS: &str = "lockstep_connected_sockets";
    /// Counter `{reason}`: sockets disconnected, by why (a client that
    /// stopped reading and was cut off by the send timeout counts as
    /// `transport_error`).
    pub const DISCONNECTS: &str = "lockstep_disconnects_total";
    /// Gauge: distinct users with at least one socket on this node.
    pub const ONLINE_USERS: &str = "lockstep_online_users";
    /// Gauge: calls ringing or in progress.
    pub const ACTIVE_CALLS: &str = "lockstep_active_calls";
    /// Counter `{event}`: client events received (served or refused).
    pub const EVENTS_RECEIVED: &str = "lockstep_events_received_total";
    /// Counter `{code}`: refusals, by contract error code.
    pub const REFUSALS: &str = "lockstep_refusals_total";
    /// Counter `{event}`: events refused by a rate limit.
    pub const RATE_LIMITED: &str = "lockstep_rate_limited_total";
    /// Histogram `{event}`: time a handler took, queue wait excluded.
    pub const HANDLER_DURATION: &str = "lockstep_handler_duration_seconds";
    /// Histogram: recipients (users other than the sender) of each new message.
    pub const MESSAGE_RECIPIENTS: &str = "lockstep_message_recipients";
    /// Counter `{delivery="live"|"queued"}`: message deliveries fanned out.
    pub const FANOUT: &str = "lockstep_fanout_total";
    /// Counter: entries added to offline queues.
    pub const OFFLINE_QUEUED: &str = "lockstep_offline_queued_total";
    /// Counter: queued entries delivered on reconnect (and removed).
    pub const OFFLINE_DELIVERED: &str = "lockstep_offline_delivered_total";
    /// Counter: oldest queued entries dropped to honour the per-user cap.
    pub const OFFLINE_DROPPED: &str = "lockstep_offline_dropped_total";
    /// Counter: `heartbeat` (and `ping`) rounds sent to sockets.
    pub const HEARTBEATS_SENT: &str = "lockstep_heartbeats_sent_total";
    /// Histogram `{event="heartbeat_response"|"pong"}`: answer round trip.
    pub const HEARTBEAT_RTT: &str = "lockstep_heartbeat_rtt_seconds";
    /// Counter: heartbeats still unanswered when the next one was due.
    pub const HEARTBEAT_MISSES: &str = "lockstep_heartbeat_misses_total";
    /// Counter: sockets disconnected for missing heartbeats in a row.
    pub const HEARTBEAT_DISCONNECTS: &str = "lockstep_heartbeat_disconnects_total";
    /// Counter `{event}`: answers that echo no timestamp the server sent.
    pub const HEARTBEAT_BAD_ANSWERS: &str = "lockstep_heartbeat_bad_answers_total";
    /// Histogram `{op}`: database round trips, by store operation.
    pub const DB_QUERY_DURATION: &str = "lockstep_db_query_duration_seconds";
    /// Counter `{op}`: store operations that failed.
    pub const DB_QUERY_ERRORS: &str = "lockstep_db_query_errors_total";
    /// Counter `{reason}`: HTTP requests and handshakes refused by the origin policy.
    pub const ORIGIN_REFUSED: &str = "lockstep_origin_refused_total";
    /// Counter `{limit}`: TCP connections closed at accept by a connection cap.
    pub const CONNECTIONS_REFUSED: &str = "lockstep_connections_refused_total";
    /// Counter: sockets dropped because their outgoing buffer passed
    /// `--max-send-buffer-bytes` (a client that does not read).
    pub const SLOW_CONSUMER_DROPS: &str = "lockstep_slow_consumer_drops_total";
    /// Counter `{contract}`: sockets admitted, by the contract version the
    /// client stated in its handshake (`none`, `3.0`, `3.1`, `3.newer`):
    /// tells an operator when an old version can be dropped.
    pub const CONNECTIONS_BY_CONTRACT: &str = "lockstep_connections_by_contract_total";
    /// Gauge `{version}`: always 1; the running version.
    pub const BUILD_INFO: &str = "lockstep_build_info";
}

/// Latency buckets (seconds): 250 µs to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
];

/// Round-trip buckets (seconds): 1 ms to 30 s (a heartbeat answer may
/// arrive one interval late and still count).
const RTT_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Recipient-count buckets.
const RECIPIENT_BUCKETS: &[f64] = &[
    0.0, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0,
];

/// The recorder's configuration: every histogram as a real Prometheus
/// histogram (buckets), not a summary.
pub fn builder() -> PrometheusBuilder {
    let buckets = [
        (names::HEARTBEAT_RTT, RTT_BUCKETS),
        (names::MESSAGE_RECIPIENTS, RECIPIENT_BUCKETS),
        (names::HANDLER_DURATION, LATENCY_BUCKETS),
        (names::DB_QUERY_DURATION, LATENCY_BUCKETS),
    ];
    let mut builder = PrometheusBuilder::new();
    for (name, values) in buckets {
        // Only fails for an empty bucket list, and none is.
        builder = match builder.set_buckets_for_metric(Matcher::Full(name.to_owned()), values) {
            Ok(next) => next,
            Err(_) => unreachable!("bucket lists are not empty"),
        };
    }
    builder
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use. Safe to call
/// from anywhere, any number of times. If another recorder was installed
/// first (an embedding program), metrics go there and `/metrics` renders
/// only what this handle sees (nothing).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
        }
        describe();
        PROCESS.describe();
        gauge!(names::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        register_at_zero();
        spawn_upkeep(handle.clone());
        handle
    })
}

/// Process metrics (`process_resident_memory_bytes`, `process_cpu_seconds_total`,
/// `process_open_fds`, `process_start_time_seconds`, …), the standard
/// Prometheus set, read by `metrics-process` at each scrape.
static PROCESS: LazyLock<metrics_process::Collector> =
    LazyLock::new(metrics_process::Collector::default);

/// Reads the process metrics now; called by each scrape.
pub fn collect_process_metrics() {
    PROCESS.collect();
}

/// Every documented series exists from the first scrape, at zero, so that
/// an alert on a counter's rate sees its first increment and a dashboard
/// shows 0 rather than "no data". Labelled series are registered for every
/// value of their closed label set (contract events and error codes, store
/// operations and failure kinds, disconnect reasons, …). Adding zero
/// never resets a series that already counts.
fn register_at_zero() {
    use names::*;
    for name in [
        OFFLINE_QUEUED,
        OFFLINE_DELIVERED,
        OFFLINE_DROPPED,
        HEARTBEATS_SENT,
        HEARTBEAT_MISSES,
        HEARTBEAT_DISCONNECTS,
    ] {
        counter!(name).increment(0);
    }
    for name in [CONNECTED_SOCKETS, ONLINE_USERS, ACTIVE_CALLS] {
        gauge!(name).increment(0.0);
    }
    let client_events = events::ALL
        .iter()
        .filter(|spec| spec.direction == events::Direction::ClientToServer);
    for spec in client_events {
        counter!(EVENTS_RECEIVED, "event" => spec.name).increment(0);
        let _ = histogram!(HANDLER_DURATION, "event" => spec.name);
        if spec.rate.is_some() {
            counter!(RATE_LIMITED, "event" => spec.name).increment(0);
        }
    }
    counter!(EVENTS_RECEIVED, "event" => "unknown").increment(0);
    for code in error_codes() {
        counter!(REFUSALS, "code" => code.to_string()).increment(0);
    }
    let _ = histogram!(MESSAGE_RECIPIENTS);
    for delivery in ["live", "queued"] {
        counter!(FANOUT, "delivery" => delivery).increment(0);
    }
    for answer in [Answer::Heartbeat, Answer::Pong] {
        counter!(HEARTBEAT_BAD_ANSWERS, "event" => answer.event()).increment(0);
        let _ = histogram!(HEARTBEAT_RTT, "event" => answer.event());
    }
    for reason in [
        DisconnectReason::TransportClose,
        DisconnectReason::MultipleHttpPollingError,
        DisconnectReason::PacketParsingError,
        DisconnectReason::TransportError,
        DisconnectReason::HeartbeatTimeout,
        DisconnectReason::ClientNSDisconnect,
        DisconnectReason::ServerNSDisconnect,
        DisconnectReason::ClosingServer,
    ] {
        counter!(DISCONNECTS, "reason" => disconnect_label(reason)).increment(0);
    }
    for op in labels::DB_OPERATIONS {
        let _ = histogram!(DB_QUERY_DURATION, "op" => *op);
        for kind in labels::DB_FAILURE_KINDS {
            counter!(DB_QUERY_ERRORS, "op" => *op, "kind" => *kind).increment(0);
        }
    }
    for reason in ["http", "socket"] {
        counter!(ORIGIN_REFUSED, "reason" => reason).increment(0);
    }
    for limit in [
        RefusedBecause::TooManyConnections,
        RefusedBecause::TooManyFromAddress,
    ] {
        counter!(CONNECTIONS_REFUSED, "limit" => limit.as_str()).increment(0);
    }
    counter!(SLOW_CONSUMER_DROPS).increment(0);
    // The label set grows with the versions clients state; at start, the
    // clients that state none and those of the server's own contract.
    for contract in crate::auth::contract_version::labels_at_start() {
        counter!(CONNECTIONS_BY_CONTRACT, "contract" => contract).increment(0);
    }
}

/// The contract's error codes, read from its schema bundle.
fn error_codes() -> Vec<ErrorCode> {
    let bundle: serde_json::Value =
        serde_json::from_str(lockstep_contract::validate::BUNDLE).unwrap_or_default();
    bundle["$defs"]["ErrorCode"]["enum"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|code| code.as_str()?.parse().ok())
        .collect()
}

/// Histograms are drained into their buckets by upkeep; without a scrape
/// they would otherwise grow. Runs if there is a tokio runtime to run on.
fn spawn_upkeep(handle: PrometheusHandle) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            handle.run_upkeep();
        }
    });
}

/// `# HELP` lines for every metric.
pub fn describe() {
    use names::*;
    describe_gauge!(CONNECTED_SOCKETS, "Sockets connected to this node.");
    describe_gauge!(
        ONLINE_USERS,
        "Distinct users with at least one socket on this node."
    );
    describe_gauge!(ACTIVE_CALLS, "Calls ringing or in progress.");
    describe_counter!(
        EVENTS_RECEIVED,
        "Client events received, by event name (served or refused)."
    );
    describe_counter!(REFUSALS, "Refused client events, by contract error code.");
    describe_counter!(
        RATE_LIMITED,
        "Client events refused by a rate limit, by event."
    );
    describe_histogram!(
        HANDLER_DURATION,
        "Time an event handler took in seconds, by event (queue wait excluded)."
    );
    describe_histogram!(
        MESSAGE_RECIPIENTS,
        "Recipients (participants other than the sender) of each new message."
    );
    describe_counter!(
        FANOUT,
        "Message deliveries fanned out: live to an online user, or queued for an offline one."
    );
    describe_counter!(OFFLINE_QUEUED, "Entries added to offline queues.");
    describe_counter!(
        OFFLINE_DELIVERED,
        "Offline queue entries delivered on reconnect and removed."
    );
    describe_counter!(
        OFFLINE_DROPPED,
        "Oldest offline queue entries dropped to keep a user within the cap."
    );
    describe_counter!(
        HEARTBEATS_SENT,
        "Heartbeat rounds (heartbeat + ping) sent to sockets."
    );
    describe_histogram!(
        HEARTBEAT_RTT,
        "Round trip of heartbeat_response / pong answers in seconds."
    );
    describe_counter!(
        HEARTBEAT_MISSES,
        "Heartbeats still unanswered when the next one was due."
    );
    describe_counter!(DISCONNECTS, "Sockets disconnected, by reason.");
    describe_counter!(
        CONNECTIONS_BY_CONTRACT,
        "Sockets admitted, by the client's contract version (MAJOR.MINOR, none, MAJOR.newer)."
    );
    describe_counter!(
        HEARTBEAT_DISCONNECTS,
        "Sockets disconnected for missing heartbeats in a row."
    );
    describe_counter!(
        HEARTBEAT_BAD_ANSWERS,
        "Heartbeat answers echoing no timestamp the server sent recently."
    );
    describe_histogram!(
        DB_QUERY_DURATION,
        "Database round trips in seconds, by store operation."
    );
    describe_counter!(
        DB_QUERY_ERRORS,
        "Store operations that failed, by operation."
    );
    describe_counter!(
        ORIGIN_REFUSED,
        "HTTP requests and Socket.IO handshakes refused for a disallowed Origin."
    );
    describe_counter!(
        CONNECTIONS_REFUSED,
        "TCP connections closed at accept by --max-connections or --max-connections-per-address."
    );
    describe_counter!(
        SLOW_CONSUMER_DROPS,
        "Sockets dropped because their outgoing buffer passed --max-send-buffer-bytes."
    );
    describe_gauge!(
        BUILD_INFO,
        "Always 1; the version label says which build runs."
    );
}

/// The label for a client event name: the contract's own `&'static str`
/// for client events, `unknown` for anything else.
pub fn event_label(event: &str) -> &'static str {
    match events::client_spec(event) {
        Some(spec) => spec.name,
        None => "unknown",
    }
}

/// A client event arrived (whether it is then served or refused).
pub fn event_received(event: &str) {
    counter!(names::EVENTS_RECEIVED, "event" => event_label(event)).increment(1);
}

/// A handler finished serving `event` after `elapsed`.
pub fn event_served(event: &'static str, elapsed: Duration) {
    counter!(names::EVENTS_RECEIVED, "event" => event_label(event)).increment(1);
    histogram!(names::HANDLER_DURATION, "event" => event_label(event))
        .record(elapsed.as_secs_f64());
}

/// A client event was refused with `code`.
pub fn refused(event: &str, code: ErrorCode) {
    counter!(names::REFUSALS, "code" => code.to_string()).increment(1);
    if code == ErrorCode::RateLimited {
        counter!(names::RATE_LIMITED, "event" => event_label(event)).increment(1);
    }
}

/// A TCP connection was closed at accept by the cap named `limit`.
pub fn connection_refused(limit: &'static str) {
    counter!(names::CONNECTIONS_REFUSED, "limit" => limit).increment(1);
}

/// A socket was dropped for not reading its outgoing buffer.
pub fn slow_consumer_dropped() {
    counter!(names::SLOW_CONSUMER_DROPS).increment(1);
}

/// Counts an admitted socket by the client's contract version (a label
/// from `ClientContract::metric_label`, bounded).
pub fn connection_admitted(contract: &str) {
    counter!(names::CONNECTIONS_BY_CONTRACT, "contract" => contract.to_string()).increment(1);
}

/// A handshake was refused with `code` (authentication, socket limit).
pub fn handshake_refused(code: ErrorCode) {
    counter!(names::REFUSALS, "code" => code.to_string()).increment(1);
}

/// A new message reached `live` online recipients and was queued for
/// `queued` offline ones.
pub fn fanout(live: usize, queued: usize) {
    histogram!(names::MESSAGE_RECIPIENTS).record((live + queued) as f64);
    counter!(names::FANOUT, "delivery" => "live").increment(live as u64);
    counter!(names::FANOUT, "delivery" => "queued").increment(queued as u64);
}

/// Every HTTP request (REST, probes, Socket.IO handshakes) runs in an
/// `http` span naming its method, path and client address, so whatever is
/// logged while serving it (a REST authentication failure, say) says who
/// asked. Nothing of the query string, headers or body is recorded.
#[derive(Debug, Clone, Copy)]
pub struct HttpSpan {
    trust_proxy: bool,
}

impl<B> MakeSpan<B> for HttpSpan {
    fn make_span(&mut self, request: &Request<B>) -> Span {
        let client =
            crate::auth::client_ip(request.headers(), request.extensions(), self.trust_proxy);
        tracing::info_span!(
            "http",
            method = %request.method(),
            path = %request.uri().path(),
            client = %Client(client),
        )
    }
}

/// The request span layer. Responses are logged at DEBUG; 5xx answers
/// are not logged again here (their handlers log why).
pub fn http_trace_layer(
    trust_proxy: bool,
) -> TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    HttpSpan,
    (),
    tower_http::trace::DefaultOnResponse,
    (),
    (),
    (),
> {
    TraceLayer::new_for_http()
        .make_span_with(HttpSpan { trust_proxy })
        .on_request(())
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

/// What the server keeps per socket for heartbeats and logs: put in the
/// socket's extensions when it is admitted (a few dozen bytes).
#[derive(Debug, Default)]
pub struct SocketTelemetry {
    /// The client address the handshake came from (see `auth::client_ip`).
    pub client: Option<IpAddr>,
    pub liveness: Liveness,
}

impl SocketTelemetry {
    /// Attaches telemetry to an admitted socket.
    pub fn attach<A: Adapter>(socket: &SocketRef<A>, client: Option<IpAddr>) -> Arc<Self> {
        let telemetry = Arc::new(Self {
            client,
            liveness: Liveness::default(),
        });
        socket.extensions.insert(Arc::clone(&telemetry));
        telemetry
    }

    /// The socket's telemetry, attached now (without an address) if the
    /// socket has none yet.
    pub fn of<A: Adapter>(socket: &SocketRef<A>) -> Arc<Self> {
        socket
            .extensions
            .get::<Arc<Self>>()
            .unwrap_or_else(|| Self::attach(socket, None))
    }

    /// The socket's telemetry if it has any.
    pub fn get<A: Adapter>(socket: &SocketRef<A>) -> Option<Arc<Self>> {
        socket.extensions.get::<Arc<Self>>()
    }
}

/// A client address in logs: the IP, or `-` when unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client(pub Option<IpAddr>);

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// The client address of `socket`, for logs.
pub fn client_of<A: Adapter>(socket: &SocketRef<A>) -> Option<IpAddr> {
    SocketTelemetry::get(socket).and_then(|t| t.client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_labels_are_contract_names_or_unknown() {
        assert_eq!(event_label("send_message"), "send_message");
        assert_eq!(event_label("heartbeat_response"), "heartbeat_response");
        // A server-to-client name sent by a client is not a client event.
        assert_eq!(event_label("new_message"), "unknown");
        assert_eq!(event_label("DROP TABLE"), "unknown");
    }

    #[test]
    fn histograms_render_as_buckets_and_counters_with_labels() {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            event_served(events::SEND_MESSAGE, Duration::from_millis(3));
            event_received("no_such_event");
            refused("send_message", ErrorCode::RateLimited);
            refused("join_chat", ErrorCode::NotParticipant);
            fanout(2, 1);
        });
        let text = handle.render();
        for line in [
            "lockstep_events_received_total{event=\"send_message\"} 1",
            "lockstep_events_received_total{event=\"unknown\"} 1",
            "lockstep_handler_duration_seconds_count{event=\"send_message\"} 1",
            "lockstep_handler_duration_seconds_bucket{event=\"send_message\",le=\"0.005\"} 1",
            "lockstep_refusals_total{code=\"RATE_LIMITED\"} 1",
            "lockstep_refusals_total{code=\"NOT_PARTICIPANT\"} 1",
            "lockstep_rate_limited_total{event=\"send_message\"} 1",
            "lockstep_fanout_total{delivery=\"live\"} 2",
            "lockstep_fanout_total{delivery=\"queued\"} 1",
            "lockstep_message_recipients_sum 3",
        ] {
            assert!(text.contains(line), "missing {line:?} in:\n{text}");
        }
    }
}
