//! Scenarios 1 and 2: group chats, every client sending `send_message` with
//! an ack at a paced rate, every recipient timing `new_message`.
//!
//! The load is open-loop: each client sends on its own timer whatever the
//! acks do, so a slow server shows up as latency rather than as a lower
//! offered rate. The send time travels in the `clientMessageId`
//! (`lsb.<client>.<seq>.<phase>.<micros since the generator started>`), so
//! each recipient measures delivery latency against the same clock without
//! any bookkeeping shared between tasks. Every latency is attributed to the
//! phase (warm-up, the measured window, a ramp step) its message was sent in.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};

use crate::Common;
use crate::proto::{self, Conn, Frame};
use crate::stats::{Errors, Latency, Window, round3};

/// Options shared by the steady and ramp scenarios.
#[derive(Debug, Clone, clap::Args)]
pub struct GroupOpts {
    /// Connected clients, each a distinct user.
    #[arg(long, default_value_t = 2000)]
    pub clients: usize,
    /// Members per group chat (the clients are split into chats of this size).
    #[arg(long, default_value_t = 10)]
    pub chat_size: usize,
    /// Bytes of `content` per message.
    #[arg(long, default_value_t = 100)]
    pub message_bytes: usize,
    /// Seconds to wait after a phase for its acks and deliveries.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
}

/// One phase of the load: a rate per client for a while.
#[derive(Debug, Clone, Copy)]
struct Phase {
    /// Messages per second per client (0: silent).
    per_client: f64,
    seconds: f64,
}

/// The counters of one phase, attributed by send time.
#[derive(Default)]
struct PhaseStats {
    sent: AtomicU64,
    acked: AtomicU64,
    refused: AtomicU64,
    deliveries: AtomicU64,
    ack: Latency,
    delivery: Latency,
    lag: Latency,
    /// Every ack as (second it was sent, from the fleet's start; latency
    /// in µs), to split a run's latency by what the host did each second.
    acks_by_second: Mutex<Vec<(u32, u32)>>,
}

struct Shared {
    epoch: Instant,
    phases: Vec<PhaseStats>,
    errors: Errors,
    /// Sends still waiting for their ack, across all clients.
    pending: AtomicI64,
    /// `message_sent`, `message_delivered` and other events counted, not timed.
    other_events: AtomicU64,
    recipients_per_message: Vec<u64>,
    /// Per second of the run (by send time): acks and the slowest ack, µs.
    timeline: Vec<(AtomicU64, AtomicU64)>,
}

/// Seconds of per-second timeline kept.
const TIMELINE_SECONDS: usize = 3600;

impl Shared {
    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn record_ack(&self, sent_us: u64, latency_us: u64) {
        if let Some((count, max)) = self.timeline.get((sent_us / 1_000_000) as usize) {
            count.fetch_add(1, Ordering::Relaxed);
            max.fetch_max(latency_us, Ordering::Relaxed);
        }
    }

    /// `[second, acks, slowest ack in ms]` for every second with acks.
    fn timeline(&self) -> Value {
        let rows: Vec<Value> = self
            .timeline
            .iter()
            .enumerate()
            .filter(|(_, (count, _))| count.load(Ordering::Relaxed) > 0)
            .map(|(second, (count, max))| {
                json!([
                    second,
                    count.load(Ordering::Relaxed),
                    round3(max.load(Ordering::Relaxed) as f64 / 1000.0)
                ])
            })
            .collect();
        Value::Array(rows)
    }
}

/// What the clients are told to do.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pace {
    /// Send every `period`, attributing to `phase`.
    Send { phase: usize, period: Duration },
    /// Stay connected, send nothing.
    Pause,
    /// Close and finish.
    Stop,
}

/// Connected clients in their chats, ready to be paced.
struct Fleet {
    shared: Arc<Shared>,
    pace: watch::Sender<Pace>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    clients: usize,
    chat_size: usize,
    chats: usize,
}

impl Fleet {
    /// Creates the chats over REST, then connects every client.
    async fn start(common: &Common, opts: &GroupOpts, phases: usize) -> anyhow::Result<Fleet> {
        anyhow::ensure!(opts.chat_size >= 2, "--chat-size must be at least 2");
        anyhow::ensure!(
            opts.clients >= opts.chat_size,
            "--clients must be at least --chat-size"
        );
        let users: Vec<String> = (0..opts.clients).map(|i| common.user(i)).collect();
        let tokens: Vec<String> = users.iter().map(|u| common.minter.token(u)).collect();
        let groups: Vec<std::ops::Range<usize>> = (0..opts.clients)
            .step_by(opts.chat_size)
            .map(|start| start..(start + opts.chat_size).min(opts.clients))
            .filter(|g| g.len() >= 2)
            .collect();
        let started = Instant::now();
        let chatids: Vec<String> = futures::stream::iter(groups.iter().enumerate())
            .map(|(g, members)| {
                let addr = common.target.addr.clone();
                let token = tokens[members.start].clone();
                let participants: Vec<String> = users[members.clone()].to_vec();
                async move {
                    crate::rest::create_chat(
                        &addr,
                        &token,
                        "group",
                        &format!("bench {g}"),
                        &participants,
                    )
                    .await
                }
            })
            .buffered(16)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<anyhow::Result<_>>()
            .context("creating the chats")?;
        eprintln!(
            "  {} chats created in {:.1}s",
            chatids.len(),
            started.elapsed().as_secs_f64()
        );

        let mut chat_of = vec![None; opts.clients];
        let mut recipients_per_client = vec![0u64; opts.clients];
        for (group, chatid) in groups.iter().zip(&chatids) {
            for i in group.clone() {
                chat_of[i] = Some(chatid.clone());
                recipients_per_client[i] = group.len() as u64 - 1;
            }
        }

        let shared = Arc::new(Shared {
            epoch: common.epoch,
            phases: (0..phases).map(|_| PhaseStats::default()).collect(),
            errors: Errors::default(),
            pending: AtomicI64::new(0),
            other_events: AtomicU64::new(0),
            recipients_per_message: recipients_per_client.clone(),
            timeline: (0..TIMELINE_SECONDS)
                .map(|_| (AtomicU64::new(0), AtomicU64::new(0)))
                .collect(),
        });
        let (pace, pace_rx) = watch::channel(Pace::Pause);
        let started = Instant::now();
        let conns = crate::connect_all(common, &users, &tokens).await?;
        eprintln!(
            "  {} clients connected in {:.1}s",
            conns.len(),
            started.elapsed().as_secs_f64()
        );
        let content = "x".repeat(opts.message_bytes);
        let tasks = conns
            .into_iter()
            .enumerate()
            .filter_map(|(i, conn)| {
                let chatid = chat_of[i].clone()?;
                let prefix = format!(
                    r#"{{"chatid":"{chatid}","messageType":"text","content":"{content}","clientMessageId":"lsb.{i}."#
                );
                let client = Client {
                    conn,
                    prefix,
                    shared: shared.clone(),
                    pace: pace_rx.clone(),
                    spread: spread(i),
                };
                Some(tokio::spawn(client.run()))
            })
            .collect();
        Ok(Fleet {
            shared,
            pace,
            tasks,
            clients: opts.clients,
            chat_size: opts.chat_size,
            chats: chatids.len(),
        })
    }

    /// Runs one phase, then pauses and waits (up to `drain`) for its acks
    /// and deliveries. Returns the phase's wall time measurements.
    async fn run_phase(
        &self,
        common: &Common,
        index: usize,
        phase: Phase,
        drain: f64,
    ) -> (Value, f64) {
        let started_at = self.shared.epoch.elapsed();
        let window = Window::start(common.server_pid);
        if phase.per_client > 0.0 {
            let period = Duration::from_secs_f64(1.0 / phase.per_client);
            let _ = self.pace.send(Pace::Send {
                phase: index,
                period,
            });
        }
        tokio::time::sleep(Duration::from_secs_f64(phase.seconds)).await;
        let _ = self.pace.send(Pace::Pause);
        let sending = window.elapsed();
        let drained = self.drain(index, drain).await;
        let mut measured = window.finish();
        measured["sending_seconds"] = json!(round3(sending));
        measured["drained"] = json!(drained);
        // The timeline's seconds count from the fleet's start; this lines
        // the host's seconds up with them.
        measured["started_at_s"] = json!(round3(started_at.as_secs_f64()));
        (measured, sending)
    }

    /// Waits until no ack is pending and the phase's deliveries arrived.
    async fn drain(&self, index: usize, seconds: f64) -> bool {
        // A client whose timer fired as the pause went out sends once more.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let deadline = Instant::now() + Duration::from_secs_f64(seconds);
        loop {
            let stats = &self.shared.phases[index];
            let expected = self.expected_deliveries(index);
            if self.shared.pending.load(Ordering::Relaxed) <= 0
                && stats.deliveries.load(Ordering::Relaxed) >= expected
            {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn expected_deliveries(&self, index: usize) -> u64 {
        // Every group has chat_size members except perhaps the last; an
        // acked message reaches every other member.
        let per_message = (self.chat_size - 1) as u64;
        self.shared.phases[index].acked.load(Ordering::Relaxed) * per_message
    }

    /// The results of phase `index` over `seconds` of sending.
    fn phase_result(&self, index: usize, offered_total: f64, seconds: f64) -> Value {
        let stats = &self.shared.phases[index];
        let sent = stats.sent.load(Ordering::Relaxed);
        let acked = stats.acked.load(Ordering::Relaxed);
        let deliveries = stats.deliveries.load(Ordering::Relaxed);
        let refused = stats.refused.load(Ordering::Relaxed);
        let seconds = seconds.max(1e-6);
        json!({
            "offered_msgs_per_sec": round3(offered_total),
            "seconds": round3(seconds),
            "sent": sent,
            "acked": acked,
            "refused": refused,
            "unacked": sent.saturating_sub(acked + refused),
            "deliveries": deliveries,
            "expected_deliveries": self.expected_deliveries(index),
            "msgs_per_sec": round3(acked as f64 / seconds),
            "deliveries_per_sec": round3(deliveries as f64 / seconds),
            "ack_latency_ms": stats.ack.summary(),
            "delivery_latency_ms": stats.delivery.summary(),
            "send_lag_ms": stats.lag.summary(),
        })
    }

    fn phase_errors(&self, index: usize) -> u64 {
        let stats = &self.shared.phases[index];
        let sent = stats.sent.load(Ordering::Relaxed);
        let acked = stats.acked.load(Ordering::Relaxed);
        let delivered = stats.deliveries.load(Ordering::Relaxed);
        // Refusals, missing acks and missing deliveries all count.
        sent.saturating_sub(acked) + self.expected_deliveries(index).saturating_sub(delivered)
    }

    /// Stops every client and waits for them to close.
    async fn stop(self) -> Arc<Shared> {
        let _ = self.pace.send(Pace::Stop);
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        self.shared
    }

    fn shape(&self) -> Value {
        json!({
            "clients": self.clients,
            "chat_size": self.chat_size,
            "chats": self.chats,
            "recipients_per_message": self.shared.recipients_per_message.iter().copied().max().unwrap_or(0),
        })
    }
}

/// Spreads clients' send times evenly over a period (golden-ratio sequence).
fn spread(index: usize) -> f64 {
    (index as f64 * 0.618_033_988_749_895).fract()
}

struct Client {
    conn: Conn,
    /// The send payload up to the clientMessageId's variable part.
    prefix: String,
    shared: Arc<Shared>,
    pace: watch::Receiver<Pace>,
    spread: f64,
}

async fn tick(interval: &mut Option<Interval>) -> tokio::time::Instant {
    match interval {
        Some(interval) => interval.tick().await,
        None => std::future::pending().await,
    }
}

impl Client {
    async fn run(mut self) {
        let mut pending: VecDeque<(u64, u64, usize)> = VecDeque::new();
        let mut next_ack: u64 = 0;
        let mut seq: u64 = 0;
        let mut phase = 0usize;
        let mut interval: Option<Interval> = None;
        let shared = self.shared.clone();
        loop {
            tokio::select! {
                frame = self.conn.next_text() => {
                    let text = match frame {
                        Ok(Some(text)) => text,
                        Ok(None) | Err(_) => {
                            shared.errors.add("disconnected");
                            break;
                        }
                    };
                    if let Err(error) = self.on_frame(&text, &mut pending).await {
                        shared.errors.add(&format!("send failed: {error}"));
                        break;
                    }
                }
                scheduled = tick(&mut interval) => {
                    let now = shared.now_us();
                    let lag = tokio::time::Instant::now().saturating_duration_since(scheduled);
                    let stats = &shared.phases[phase];
                    stats.lag.record(lag.as_micros() as u64);
                    let id = next_ack;
                    next_ack += 1;
                    seq += 1;
                    let mut payload = String::with_capacity(self.prefix.len() + 48);
                    payload.push_str(&self.prefix);
                    payload.push_str(&format!("{seq}.{phase}.{now}\"}}"));
                    let frame = proto::event("send_message", &payload, Some(id));
                    pending.push_back((id, now, phase));
                    shared.pending.fetch_add(1, Ordering::Relaxed);
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                    if let Err(error) = self.conn.send(frame).await {
                        shared.errors.add(&format!("send failed: {error}"));
                        break;
                    }
                }
                changed = self.pace.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let pace = *self.pace.borrow_and_update();
                    match pace {
                        Pace::Send { phase: p, period } => {
                            phase = p;
                            let offset = period.mul_f64(self.spread);
                            let mut new = tokio::time::interval_at(
                                tokio::time::Instant::now() + offset,
                                period,
                            );
                            new.set_missed_tick_behavior(MissedTickBehavior::Burst);
                            interval = Some(new);
                        }
                        Pace::Pause => interval = None,
                        Pace::Stop => break,
                    }
                }
            }
        }
        for _ in pending.drain(..) {
            shared.pending.fetch_sub(1, Ordering::Relaxed);
            shared.errors.add("unacked at the end");
        }
        self.conn.close().await;
    }

    async fn on_frame(
        &mut self,
        text: &str,
        pending: &mut VecDeque<(u64, u64, usize)>,
    ) -> anyhow::Result<()> {
        let shared = &self.shared;
        match proto::parse(text) {
            Frame::Ping => self.conn.pong().await?,
            Frame::Ack { id, args } => {
                let Some(at) = pending.iter().position(|(pid, ..)| *pid == id) else {
                    shared.errors.add("ack for an unknown id");
                    return Ok(());
                };
                let (_, sent_us, phase) = pending.remove(at).expect("position is in range");
                shared.pending.fetch_sub(1, Ordering::Relaxed);
                let stats = &shared.phases[phase];
                if args.contains(r#""success":true"#) {
                    let latency = shared.now_us().saturating_sub(sent_us);
                    stats.ack.record(latency);
                    shared.record_ack(sent_us, latency);
                    stats
                        .acks_by_second
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((
                            (sent_us / 1_000_000) as u32,
                            latency.min(u32::MAX as u64) as u32,
                        ));
                    stats.acked.fetch_add(1, Ordering::Relaxed);
                } else {
                    stats.refused.fetch_add(1, Ordering::Relaxed);
                    let code = proto::find_str(args, r#""code":""#).unwrap_or("no code");
                    shared.errors.add(&format!("ack refused: {code}"));
                }
            }
            Frame::Event {
                name: "new_message",
                rest,
            } => match proto::find_str(rest, r#""clientMessageId":"lsb."#).and_then(parse_marker) {
                Some((phase, sent_us)) if phase < shared.phases.len() => {
                    let stats = &shared.phases[phase];
                    stats
                        .delivery
                        .record(shared.now_us().saturating_sub(sent_us));
                    stats.deliveries.fetch_add(1, Ordering::Relaxed);
                }
                _ => shared.errors.add("new_message without a benchmark id"),
            },
            Frame::Event { name: "ping", rest } => self.conn.send(proto::pong(rest)).await?,
            Frame::Event {
                name: name @ ("rate_limited" | "error" | "chat_error" | "auth_error"),
                ..
            } => shared.errors.add(&format!("event {name}")),
            Frame::Event { .. } => {
                shared.other_events.fetch_add(1, Ordering::Relaxed);
            }
            Frame::Disconnect => shared.errors.add("disconnected by the server"),
            Frame::Other => {}
        }
        Ok(())
    }
}

/// `<client>.<seq>.<phase>.<micros>` → (phase, micros).
fn parse_marker(marker: &str) -> Option<(usize, u64)> {
    let mut parts = marker.rsplitn(3, '.');
    let micros = parts.next()?.parse().ok()?;
    let phase = parts.next()?.parse().ok()?;
    Some((phase, micros))
}

/// Options of scenario 1.
#[derive(Debug, Clone, clap::Args)]
pub struct SteadyOpts {
    #[command(flatten)]
    pub group: GroupOpts,
    /// Messages per second per client.
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// Seconds of measured load.
    #[arg(long, default_value_t = 60.0)]
    pub duration: f64,
    /// Seconds of unmeasured load before it.
    #[arg(long, default_value_t = 5.0)]
    pub warmup: f64,
}

/// Scenario 1: a fixed rate for a fixed time.
pub async fn steady(common: &Common, opts: &SteadyOpts) -> anyhow::Result<Value> {
    let fleet = Fleet::start(common, &opts.group, 2).await?;
    let offered_total = opts.rate * fleet.tasks.len() as f64;
    if opts.warmup > 0.0 {
        eprintln!("  warm-up {:.0}s at {offered_total:.0} msg/s", opts.warmup);
        fleet
            .run_phase(
                common,
                0,
                Phase {
                    per_client: opts.rate,
                    seconds: opts.warmup,
                },
                opts.group.drain,
            )
            .await;
    }
    eprintln!(
        "  measuring {:.0}s at {offered_total:.0} msg/s",
        opts.duration
    );
    let (window, seconds) = fleet
        .run_phase(
            common,
            1,
            Phase {
                per_client: opts.rate,
                seconds: opts.duration,
            },
            opts.group.drain,
        )
        .await;
    let mut result = fleet.phase_result(1, offered_total, seconds);
    let phase_errors = fleet.phase_errors(1);
    let shape = fleet.shape();
    let shared = fleet.stop().await;
    // Bytes the server itself wrote (its SQLite WAL and checkpoints; 0 for
    // PostgreSQL, whose own processes write): unlike latency, this does not
    // move with the host, so it compares storage layouts run to run.
    let acked = result["acked"].as_u64().unwrap_or(0).max(1);
    if let Some(bytes) = window["server"]["disk_write_bytes"].as_u64() {
        result["disk_write_kb_per_msg"] = json!(round3(bytes as f64 / 1024.0 / acked as f64));
    }
    result["calm_host"] = {
        let samples = shared.phases[1]
            .acks_by_second
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        calm_host_acks(&samples, &window)
    };
    result["server_cpu_s_per_1000_msgs"] = json!(crate::report::cpu_per_1000(
        window["server"]["cpu_seconds"].as_f64(),
        result["acked"].as_f64(),
    ));
    result["window"] = window;
    result["errors"] = json!(phase_errors);
    result["error_kinds"] = shared.errors.summary();
    result["other_events"] = json!(shared.other_events.load(Ordering::Relaxed));
    result["timeline"] = shared.timeline();
    Ok(json!({
        "scenario": "steady",
        "shape": shape,
        "rate_per_client": opts.rate,
        "message_bytes": opts.group.message_bytes,
        "result": result,
    }))
}

/// A second in which the host stole less than this share of all cores
/// counts as calm.
const CALM_STEAL_PERCENT: f64 = 1.0;

/// Ack latency over the calm seconds of a window only: what the server
/// gave while the hypervisor left the machine alone. Beside the whole
/// run's figures, never instead of them: on a shared VM a neighbour can
/// take half of both cores for tens of seconds (BENCHMARKS.md), and no
/// server's tail survives that. Null when the host was not sampled.
fn calm_host_acks(samples: &[(u32, u32)], window: &Value) -> Value {
    let Some(rows) = window["host"]["per_second"].as_array() else {
        return Value::Null;
    };
    let started_at = window["started_at_s"].as_f64().unwrap_or(0.0);
    let calm: std::collections::HashSet<usize> = rows
        .iter()
        .filter_map(|row| {
            let n = row.get(0)?.as_u64()? as usize;
            (row.get(3)?.as_f64()? < CALM_STEAL_PERCENT).then_some(n)
        })
        .collect();
    let mut latencies: Vec<u32> = samples
        .iter()
        .filter(|(second, _)| {
            crate::host::row_of_second(u64::from(*second), started_at)
                .is_some_and(|n| calm.contains(&n))
        })
        .map(|(_, latency)| *latency)
        .collect();
    latencies.sort_unstable();
    let percentile = |q: f64| -> Value {
        if latencies.is_empty() {
            return Value::Null;
        }
        let index = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        json!(round3(f64::from(latencies[index]) / 1000.0))
    };
    json!({
        "steal_below_percent": CALM_STEAL_PERCENT,
        "calm_seconds": calm.len(),
        "of_seconds": rows.len(),
        "acks": latencies.len(),
        "ack_p50_ms": percentile(0.50),
        "ack_p99_ms": percentile(0.99),
    })
}

/// Options of scenario 2.
#[derive(Debug, Clone, clap::Args)]
pub struct RampOpts {
    #[command(flatten)]
    pub group: GroupOpts,
    /// First offered rate, messages per second in total.
    #[arg(long, default_value_t = 500.0)]
    pub start_rate: f64,
    /// Each step offers this many times the previous rate.
    #[arg(long, default_value_t = 1.25)]
    pub factor: f64,
    /// Stop after this rate even if the server keeps up.
    #[arg(long, default_value_t = 50_000.0)]
    pub max_rate: f64,
    /// Seconds per step.
    #[arg(long, default_value_t = 10.0)]
    pub step_seconds: f64,
    /// The latency bound: a step passes while p99 ack latency stays under it.
    #[arg(long, default_value_t = 50.0)]
    pub p99_limit_ms: f64,
    /// Most steps to run.
    #[arg(long, default_value_t = 30)]
    pub max_steps: usize,
}

/// The server's per-user budget is 10 messages a second; stay under it.
const MAX_PER_CLIENT: f64 = 9.5;

/// Scenario 2: rising offered load until p99 ack latency passes the bound.
pub async fn ramp(common: &Common, opts: &RampOpts) -> anyhow::Result<Value> {
    let fleet = Fleet::start(common, &opts.group, opts.max_steps).await?;
    let senders = fleet.tasks.len() as f64;
    let mut steps = Vec::new();
    let mut best: Option<Value> = None;
    let mut rate = opts.start_rate;
    let mut stop_reason = "max steps";
    for index in 0..opts.max_steps {
        if rate > opts.max_rate {
            stop_reason = "max rate";
            break;
        }
        let per_client = rate / senders;
        if per_client > MAX_PER_CLIENT {
            stop_reason = "the per-user rate limit (add clients)";
            break;
        }
        let (window, seconds) = fleet
            .run_phase(
                common,
                index,
                Phase {
                    per_client,
                    seconds: opts.step_seconds,
                },
                opts.group.drain,
            )
            .await;
        let mut step = fleet.phase_result(index, rate, seconds);
        let errors = fleet.phase_errors(index);
        let p99 = fleet.shared.phases[index].ack.p99_ms();
        let acked = fleet.shared.phases[index].acked.load(Ordering::Relaxed) as f64;
        let kept_up = acked >= 0.95 * rate * seconds;
        let passed = errors == 0 && p99 <= opts.p99_limit_ms && kept_up;
        step["server_cpu_s_per_1000_msgs"] = json!(crate::report::cpu_per_1000(
            window["server"]["cpu_seconds"].as_f64(),
            Some(acked),
        ));
        step["window"] = window;
        step["errors"] = json!(errors);
        step["passed"] = json!(passed);
        eprintln!(
            "  step {index}: offered {rate:.0} msg/s, acked {:.0}/s, p99 ack {p99:.1} ms, p99 delivery {:.1} ms, errors {errors}: {}",
            acked / seconds.max(1e-6),
            fleet.shared.phases[index].delivery.p99_ms(),
            if passed { "pass" } else { "FAIL" }
        );
        steps.push(step.clone());
        if passed {
            best = Some(step);
        } else {
            stop_reason = if p99 > opts.p99_limit_ms {
                "p99 ack latency over the bound"
            } else if errors > 0 {
                "errors"
            } else {
                "throughput fell behind the offered rate"
            };
            break;
        }
        rate *= opts.factor;
    }
    let shape = fleet.shape();
    let shared = fleet.stop().await;
    Ok(json!({
        "scenario": "ramp",
        "shape": shape,
        "message_bytes": opts.group.message_bytes,
        "p99_limit_ms": opts.p99_limit_ms,
        "step_seconds": opts.step_seconds,
        "stop_reason": stop_reason,
        "max_sustainable_msgs_per_sec": best.as_ref().map(|b| b["offered_msgs_per_sec"].clone()).unwrap_or(json!(0)),
        "max_sustainable_deliveries_per_sec": best.as_ref().map(|b| b["deliveries_per_sec"].clone()).unwrap_or(json!(0)),
        "best_step": best,
        "steps": steps,
        "error_kinds": shared.errors.summary(),
        "other_events": shared.other_events.load(Ordering::Relaxed),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calm_acks_leave_out_stolen_seconds_and_the_warm_up() {
        // The window starts 10.0 s after the fleet; host rows 1 and 3 are
        // calm, row 2 had 30 % of the CPU stolen.
        let window = json!({
            "started_at_s": 10.0,
            "host": { "per_second": [
                [1, 50.0, 1.0, 0.0, 0, 0.0, 0, 0.0],
                [2, 50.0, 1.0, 30.0, 0, 0.0, 0, 0.0],
                [3, 50.0, 1.0, 0.5, 0, 0.0, 0, 0.0]
            ] }
        });
        let mut samples = vec![(9, 500_000)]; // warm-up
        samples.extend((0..100).map(|i| (10, 1_000 + i))); // row 1
        samples.extend((0..100).map(|_| (11, 80_000))); // row 2, stolen
        samples.extend((0..100).map(|i| (12, 2_000 + i))); // row 3
        let calm = calm_host_acks(&samples, &window);
        assert_eq!(calm["calm_seconds"], json!(2));
        assert_eq!(calm["of_seconds"], json!(3));
        assert_eq!(calm["acks"], json!(200));
        // Nearest rank: the 198th of 200.
        assert_eq!(calm["ack_p99_ms"], json!(2.097));
        assert_eq!(calm["ack_p50_ms"], json!(1.099));
        // No host readings, no calm figure.
        assert_eq!(calm_host_acks(&samples, &json!({})), Value::Null);
    }
}
