//! Scenario 4: concurrent calls. Each call is two clients sharing a direct
//! chat: the caller sends `initiate_call` (acked), the callee answers on
//! `incoming_call`, the caller sends a `webrtc_offer` once `call_answered`
//! arrives and the callee a `webrtc_answer`, and then both sides trickle
//! `webrtc_ice_candidate`s at a fixed rate. The send time rides in the
//! candidate string (`… lsbt<micros>`), so the receiving side measures the
//! relay latency. At the end the caller hangs up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::Common;
use crate::proto::{self, Conn, Frame};
use crate::stats::{Errors, Latency, Window, round3};

#[derive(Debug, Clone, clap::Args)]
pub struct SignalingOpts {
    /// Concurrent calls (two clients each).
    #[arg(long, default_value_t = 500)]
    pub calls: usize,
    /// ICE candidates per second sent by each side of each call.
    #[arg(long, default_value_t = 5.0)]
    pub ice_rate: f64,
    /// Seconds of ICE exchange, measured, once every call is up.
    #[arg(long, default_value_t = 30.0)]
    pub duration: f64,
    /// Seconds to wait for every call to be set up.
    #[arg(long, default_value_t = 30.0)]
    pub setup_timeout: f64,
}

#[derive(Default)]
struct Shared {
    setup: Latency,
    offer: Latency,
    answer: Latency,
    ice: Latency,
    ice_sent: AtomicU64,
    ice_received: AtomicU64,
    established: AtomicUsize,
    ended: AtomicU64,
    errors: Errors,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stage {
    Setup,
    Ice,
    /// Stop sending candidates; the ones in flight still arrive.
    Quiet,
    Hangup,
}

pub async fn signaling(common: &Common, opts: &SignalingOpts) -> anyhow::Result<Value> {
    let users: Vec<String> = (0..opts.calls * 2).map(|i| common.user(i)).collect();
    let tokens: Vec<String> = users.iter().map(|u| common.minter.token(u)).collect();
    let chatids: Vec<String> = futures::stream::iter(0..opts.calls)
        .map(|c| {
            let addr = common.target.addr.clone();
            let token = tokens[2 * c].clone();
            let callee = users[2 * c + 1].clone();
            async move {
                crate::rest::create_chat(&addr, &token, "direct", "call", &[callee]).await
            }
        })
        .buffered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()
        .context("creating the direct chats")?;
    let started = Instant::now();
    let conns = crate::connect_all(common, &users, &tokens).await?;
    eprintln!(
        "  {} clients connected in {:.1}s",
        conns.len(),
        started.elapsed().as_secs_f64()
    );

    let shared = Arc::new(Shared::default());
    let (stage, stage_rx) = watch::channel(Stage::Setup);
    let mut tasks = Vec::new();
    for (i, conn) in conns.into_iter().enumerate() {
        let call = i / 2;
        let side = Side {
            conn,
            caller: i % 2 == 0,
            peer: users[i ^ 1].clone(),
            chatid: chatids[call].clone(),
            shared: shared.clone(),
            stage: stage_rx.clone(),
            epoch: common.epoch,
            ice_period: Duration::from_secs_f64(1.0 / opts.ice_rate.max(0.001)),
            spread: (i as f64 * 0.618_033_988_749_895).fract(),
        };
        tasks.push(tokio::spawn(side.run()));
    }

    // Wait for every call to be established (offer and answer relayed).
    let deadline = Instant::now() + Duration::from_secs_f64(opts.setup_timeout);
    while shared.established.load(Ordering::Relaxed) < opts.calls && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let established = shared.established.load(Ordering::Relaxed);
    eprintln!(
        "  {established}/{} calls up in {:.1}s",
        opts.calls,
        started.elapsed().as_secs_f64()
    );

    let window = Window::start(common.server_pid);
    let _ = stage.send(Stage::Ice);
    tokio::time::sleep(Duration::from_secs_f64(opts.duration)).await;
    let _ = stage.send(Stage::Quiet);
    let sending = window.elapsed();
    // Let the last candidates arrive, then hang up.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while shared.ice_received.load(Ordering::Relaxed) < shared.ice_sent.load(Ordering::Relaxed)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let measured = window.finish();
    let _ = stage.send(Stage::Hangup);
    let deadline = Instant::now() + Duration::from_secs(5);
    while shared.ended.load(Ordering::Relaxed) < 2 * established as u64 && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    for task in tasks {
        let abort = task.abort_handle();
        if tokio::time::timeout_at(deadline, task).await.is_err() {
            abort.abort();
        }
    }
    let ice_sent = shared.ice_sent.load(Ordering::Relaxed);
    let ice_received = shared.ice_received.load(Ordering::Relaxed);
    let missing_calls = (opts.calls - established) as u64;
    let errors = shared.errors.total() + ice_sent.saturating_sub(ice_received) + missing_calls;
    Ok(json!({
        "scenario": "signaling",
        "calls": opts.calls,
        "established": established,
        "ice_rate_per_side": opts.ice_rate,
        "seconds": round3(sending),
        "ice_sent": ice_sent,
        "ice_received": ice_received,
        "ice_relays_per_sec": round3(ice_received as f64 / sending.max(1e-6)),
        "call_setup_ms": shared.setup.summary(),
        "offer_relay_ms": shared.offer.summary(),
        "answer_relay_ms": shared.answer.summary(),
        "ice_relay_ms": shared.ice.summary(),
        "calls_ended_seen": shared.ended.load(Ordering::Relaxed),
        "errors": errors,
        "error_kinds": shared.errors.summary(),
        "server_cpu_s_per_1000_relays": crate::report::cpu_per_1000(
            measured["server"]["cpu_seconds"].as_f64(),
            Some(ice_received as f64),
        ),
        "window": measured,
    }))
}

struct Side {
    conn: Conn,
    caller: bool,
    peer: String,
    chatid: String,
    shared: Arc<Shared>,
    stage: watch::Receiver<Stage>,
    epoch: Instant,
    ice_period: Duration,
    spread: f64,
}

impl Side {
    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    async fn run(mut self) {
        if let Err(error) = self.drive().await {
            self.shared.errors.add(&format!("{error:#}"));
        }
        self.conn.close().await;
    }

    async fn drive(&mut self) -> anyhow::Result<()> {
        let shared = self.shared.clone();
        let mut call_id: Option<String> = None;
        let mut initiated_us = 0;
        if self.caller {
            initiated_us = self.now_us();
            let payload = format!(
                r#"{{"targetId":"{}","callType":"voice","chatid":"{}"}}"#,
                self.peer, self.chatid
            );
            self.conn
                .send(proto::event("initiate_call", &payload, Some(0)))
                .await?;
        }
        let mut ice: Option<tokio::time::Interval> = None;
        loop {
            tokio::select! {
                frame = self.conn.next_text() => {
                    let Some(text) = frame? else {
                        anyhow::bail!("disconnected");
                    };
                    match proto::parse(&text) {
                        Frame::Ping => self.conn.pong().await?,
                        Frame::Event { name: "ping", rest } => self.conn.send(proto::pong(rest)).await?,
                        Frame::Ack { args, .. } => {
                            if !args.contains(r#""success":true"#) {
                                let code = proto::find_str(args, r#""code":""#).unwrap_or("no code");
                                anyhow::bail!("initiate_call refused: {code}");
                            }
                            call_id = proto::find_str(args, r#""callId":""#).map(str::to_owned);
                        }
                        Frame::Event { name: "incoming_call", rest } => {
                            let id = proto::find_str(rest, r#""callId":""#)
                                .context("incoming_call without callId")?
                                .to_owned();
                            let payload = format!(r#"{{"callId":"{id}","acceptsVideo":false}}"#);
                            self.conn.send(proto::event("answer_call", &payload, None)).await?;
                            call_id = Some(id);
                        }
                        Frame::Event { name: "call_answered", rest } if self.caller => {
                            shared.setup.record(self.now_us().saturating_sub(initiated_us));
                            let id = proto::find_str(rest, r#""callId":""#)
                                .context("call_answered without callId")?
                                .to_owned();
                            let payload = format!(
                                r#"{{"callId":"{id}","targetId":"{}","offer":{{"type":"offer","sdp":"v=0 lsbt{}"}}}}"#,
                                self.peer,
                                self.now_us()
                            );
                            self.conn.send(proto::event("webrtc_offer", &payload, None)).await?;
                            call_id = Some(id);
                        }
                        Frame::Event { name: "webrtc_offer_received", rest } => {
                            self.record_marker(&shared.offer, rest);
                            let id = call_id.clone().context("an offer before the call")?;
                            let payload = format!(
                                r#"{{"callId":"{id}","targetId":"{}","answer":{{"type":"answer","sdp":"v=0 lsbt{}"}}}}"#,
                                self.peer,
                                self.now_us()
                            );
                            self.conn.send(proto::event("webrtc_answer", &payload, None)).await?;
                        }
                        Frame::Event { name: "webrtc_answer_received", rest } => {
                            self.record_marker(&shared.answer, rest);
                            shared.established.fetch_add(1, Ordering::Relaxed);
                        }
                        Frame::Event { name: "webrtc_ice_candidate_received", rest } => {
                            self.record_marker(&shared.ice, rest);
                            shared.ice_received.fetch_add(1, Ordering::Relaxed);
                        }
                        Frame::Event { name: "call_ended", .. } => {
                            shared.ended.fetch_add(1, Ordering::Relaxed);
                            if *self.stage.borrow() == Stage::Hangup {
                                return Ok(());
                            }
                            anyhow::bail!("the call ended early");
                        }
                        Frame::Event { name: name @ ("error" | "call_rejected" | "call_missed" | "rate_limited"), rest } => {
                            shared.errors.add(&format!("event {name}: {rest:.120}"));
                        }
                        Frame::Disconnect => anyhow::bail!("disconnected by the server"),
                        _ => {}
                    }
                }
                _ = async {
                    match &mut ice {
                        Some(interval) => interval.tick().await,
                        None => std::future::pending().await,
                    }
                } => {
                    let Some(id) = &call_id else { continue };
                    let payload = format!(
                        r#"{{"callId":"{id}","targetId":"{}","candidate":{{"candidate":"candidate:1 1 udp 2122260223 127.0.0.1 9 typ host lsbt{}","sdpMid":"0","sdpMLineIndex":0}}}}"#,
                        self.peer,
                        self.now_us()
                    );
                    shared.ice_sent.fetch_add(1, Ordering::Relaxed);
                    self.conn.send(proto::event("webrtc_ice_candidate", &payload, None)).await?;
                }
                changed = self.stage.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    let stage = *self.stage.borrow_and_update();
                    match stage {
                        Stage::Ice => {
                            let start = tokio::time::Instant::now() + self.ice_period.mul_f64(self.spread);
                            let mut interval = tokio::time::interval_at(start, self.ice_period);
                            interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
                            ice = Some(interval);
                        }
                        Stage::Quiet => ice = None,
                        Stage::Hangup => {
                            ice = None;
                            let Some(id) = &call_id else {
                                return Ok(());
                            };
                            if self.caller {
                                let payload = format!(r#"{{"callId":"{id}"}}"#);
                                self.conn.send(proto::event("end_call", &payload, None)).await?;
                            }
                        }
                        Stage::Setup => {}
                    }
                }
            }
        }
    }

    fn record_marker(&self, latency: &Latency, rest: &str) {
        if let Some(sent) = rest.find("lsbt").map(|at| &rest[at + 4..]).map(|s| {
            s.bytes()
                .take_while(u8::is_ascii_digit)
                .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'))
        }) {
            latency.record(self.now_us().saturating_sub(sent));
        }
    }
}
