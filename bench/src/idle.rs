//! Scenario 3: many connected, authenticated sockets doing nothing; the
//! server's resident memory per socket.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::watch;

use crate::Common;
use crate::proto::{self, Frame};
use crate::stats::{Window, read_proc, round3};

#[derive(Debug, Clone, clap::Args)]
pub struct IdleOpts {
    /// Sockets to open, each a distinct user.
    #[arg(long, default_value_t = 10_000)]
    pub sockets: usize,
    /// Seconds to hold them open (measuring the server's CPU) before the
    /// memory is read.
    #[arg(long, default_value_t = 10.0)]
    pub hold: f64,
    /// How far each socket goes: `authenticated` (the scenario), or only
    /// `engineio` (WebSocket open, no Socket.IO connect) or `tcp` (accepted,
    /// nothing sent), to tell the transport's share of a socket's memory
    /// from the rest. A socket that never sends the Socket.IO connect is
    /// closed after the server's `--connect-timeout`: raise it for these.
    #[arg(long, value_enum, default_value_t = Stage::Authenticated)]
    pub stage: Stage,
}

/// See [`IdleOpts::stage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Tcp,
    Engineio,
    Authenticated,
}

/// The idle scenario's partial stages: memory per socket that got only as
/// far as `stage`.
async fn idle_partial(common: &Common, opts: &IdleOpts, pid: u32) -> anyhow::Result<Value> {
    use futures::StreamExt;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = read_proc(pid)?;
    let users: Vec<String> = (0..opts.sockets).map(|i| common.user(i)).collect();
    let tokens: Vec<String> = users.iter().map(|u| common.minter.token(u)).collect();
    let started = Instant::now();
    let target = &common.target;
    let stage = opts.stage;
    let held: Vec<anyhow::Result<Box<dyn Send>>> = futures::stream::iter(tokens.iter().enumerate())
        .map(|(i, token)| async move {
            let held: Box<dyn Send> = match stage {
                Stage::Tcp => Box::new(proto::tcp_connect(&target.addr, target.source(i)).await?),
                _ => Box::new(proto::Conn::open_engineio(target, target.source(i), token).await?),
            };
            anyhow::Ok(held)
        })
        .buffer_unordered(common.connect_concurrency.max(1))
        .collect()
        .await;
    let connect_seconds = started.elapsed().as_secs_f64();
    let failed = held.iter().filter(|h| h.is_err()).count();
    tokio::time::sleep(Duration::from_secs_f64(opts.hold)).await;
    let after = read_proc(pid)?;
    drop(held);
    let n = (opts.sockets - failed).max(1) as f64;
    let per_socket_kb = after.rss_kb.saturating_sub(before.rss_kb) as f64 / n;
    eprintln!(
        "  {stage:?}: server RSS {} KB -> {} KB: {per_socket_kb:.2} KB per socket; {failed} failed",
        before.rss_kb, after.rss_kb
    );
    Ok(json!({
        "scenario": "idle",
        "stage": stage,
        "sockets": opts.sockets,
        "connect_seconds": round3(connect_seconds),
        "rss_before_kb": before.rss_kb,
        "rss_after_kb": after.rss_kb,
        "rss_per_socket_kb": round3(per_socket_kb),
        "dropped_while_held": failed,
        "errors": failed,
    }))
}

pub async fn idle(common: &Common, opts: &IdleOpts) -> anyhow::Result<Value> {
    let pid = common
        .server_pid
        .ok_or_else(|| anyhow::anyhow!("the idle scenario needs --server-pid"))?;
    if opts.stage != Stage::Authenticated {
        return idle_partial(common, opts, pid).await;
    }
    // Let the server settle, then read its memory with no client at all.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = read_proc(pid)?;
    let users: Vec<String> = (0..opts.sockets).map(|i| common.user(i)).collect();
    let tokens: Vec<String> = users.iter().map(|u| common.minter.token(u)).collect();
    let started = Instant::now();
    let connecting = Window::start(Some(pid));
    let conns = crate::connect_all(common, &users, &tokens).await?;
    let connect_seconds = started.elapsed().as_secs_f64();
    let connecting = connecting.finish();
    eprintln!(
        "  {} sockets connected in {connect_seconds:.1}s",
        conns.len()
    );

    // Keep each socket alive (answer engine.io pings) without other work.
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::with_capacity(conns.len());
    for mut conn in conns {
        let mut stop_rx = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let mut dropped = false;
            loop {
                tokio::select! {
                    frame = conn.next_text() => match frame {
                        Ok(Some(text)) => {
                            let failed = match proto::parse(&text) {
                                Frame::Ping => conn.pong().await.is_err(),
                                Frame::Event { name: "ping", rest } => {
                                    conn.send(proto::pong(rest)).await.is_err()
                                }
                                Frame::Disconnect => true,
                                _ => false,
                            };
                            if failed {
                                dropped = true;
                                break;
                            }
                        }
                        _ => {
                            dropped = true;
                            break;
                        }
                    },
                    _ = stop_rx.changed() => break,
                }
            }
            if !dropped {
                conn.close().await;
            }
            dropped
        }));
    }
    let window = Window::start(Some(pid));
    tokio::time::sleep(Duration::from_secs_f64(opts.hold)).await;
    let after = read_proc(pid)?;
    let held = window.finish();
    let _ = stop.send(true);
    let mut dropped = 0;
    for task in tasks {
        if let Ok(true) = task.await {
            dropped += 1;
        }
    }
    let n = opts.sockets as f64;
    // The idle server's CPU is its heartbeats (engine.io's ping and the
    // contract's `heartbeat`/`ping` rounds) and their answers; it grows with
    // the sockets, so it is given per 100,000 of them. Read it over a hold
    // of at least one heartbeat interval (25 s by default).
    let heartbeat_cpu_percent_per_100k = held["server"]["cpu_percent"]
        .as_f64()
        .map(|percent| round3(percent * 100_000.0 / n));
    let per_socket_kb = after.rss_kb.saturating_sub(before.rss_kb) as f64 / n;
    eprintln!(
        "  server RSS {} KB -> {} KB: {per_socket_kb:.2} KB per socket; {dropped} dropped",
        before.rss_kb, after.rss_kb
    );
    Ok(json!({
        "scenario": "idle",
        "stage": opts.stage,
        "sockets": opts.sockets,
        "connect_seconds": round3(connect_seconds),
        "connects_per_sec": round3(n / connect_seconds.max(1e-6)),
        "server_cpu_s_per_1000_connects": crate::report::cpu_per_1000(
            connecting["server"]["cpu_seconds"].as_f64(),
            Some(n),
        ),
        "heartbeat_cpu_percent_per_100k": heartbeat_cpu_percent_per_100k,
        "source_addresses": common.target.sources.len().max(1),
        "connecting": connecting,
        "rss_before_kb": before.rss_kb,
        "rss_after_kb": after.rss_kb,
        "rss_per_socket_kb": round3(per_socket_kb),
        "vm_hwm_kb": after.hwm_kb,
        "dropped_while_held": dropped,
        "errors": dropped,
        "hold": held,
    }))
}
