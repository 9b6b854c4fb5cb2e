//! Scenario 6: a connection storm. Every socket of a node that died
//! reconnects at once, to the same (surviving) server: `--sockets` clients
//! start their TCP connect in the same instant, authenticate, and each then
//! calls `sync` (a reconnecting client catches up). How long until all of
//! them are authenticated is how long the cluster is degraded.
//!
//! Reported: authenticated connects per second, time from the storm's start
//! to each socket's `authenticated` and to its `sync` ack, failures by kind,
//! and the server's CPU time per 1,000 connects (each with its `sync`) from
//! `/proc/<pid>/stat`: the figure that steal on a shared host moves least.
//! Every socket stays open until the last one is through, so the server's
//! CPU over the storm is connects and syncs, not disconnects.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

use crate::Common;
use crate::proto::{self, Conn, Frame, Target};
use crate::stats::{Errors, Latency, Window, read_proc, round3};

#[derive(Debug, Clone, clap::Args)]
pub struct StormOpts {
    /// Sockets that connect at once, each a distinct user.
    #[arg(long, default_value_t = 10_000)]
    pub sockets: usize,
    /// Call `sync` (no positions: "everything I missed") once authenticated.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub sync: bool,
    /// Seconds a socket may take from the storm's start to its `sync` ack
    /// before it counts as failed.
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
}

/// What every client of the storm reports into.
#[derive(Default)]
struct StormStats {
    authenticated: AtomicU64,
    synced: AtomicU64,
    /// µs from the storm's start to the last `authenticated` / `sync` ack.
    last_authenticated_us: AtomicU64,
    last_synced_us: AtomicU64,
    to_authenticated: Latency,
    to_synced: Latency,
    errors: Errors,
    /// Clients that are through (authenticated and synced, or failed).
    finished: AtomicU64,
    all_finished: Notify,
}

pub async fn storm(common: &Common, opts: &StormOpts) -> anyhow::Result<Value> {
    let pid = common
        .server_pid
        .ok_or_else(|| anyhow::anyhow!("the storm scenario needs --server-pid"))?;
    anyhow::ensure!(opts.sockets > 0, "--sockets must be at least 1");
    // Tokens are minted before the clock starts: a reconnecting client
    // already holds its token.
    let users: Vec<String> = (0..opts.sockets).map(|i| common.user(i)).collect();
    let tokens: Vec<String> = users.iter().map(|u| common.minter.token(u)).collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = read_proc(pid)?;

    let stats = Arc::new(StormStats::default());
    let (stop, stop_rx) = watch::channel(false);
    let window = Window::start(Some(pid));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(opts.timeout);
    let mut tasks = Vec::with_capacity(opts.sockets);
    for (index, (user, token)) in users.into_iter().zip(tokens).enumerate() {
        let target = common.target.clone();
        let source = target.source(index);
        let stats = Arc::clone(&stats);
        let stop_rx = stop_rx.clone();
        let sync = opts.sync;
        let sockets = opts.sockets as u64;
        tasks.push(tokio::spawn(async move {
            let through = tokio::time::timeout_at(
                deadline.into(),
                connect_and_sync(&target, source, &token, &user, started, sync, &stats),
            )
            .await;
            let conn = match through {
                Ok(Ok(conn)) => Some(conn),
                Ok(Err(error)) => {
                    stats.errors.add(&kind_of(&error));
                    None
                }
                Err(_) => {
                    stats.errors.add("timed out");
                    None
                }
            };
            if stats.finished.fetch_add(1, Ordering::AcqRel) + 1 == sockets {
                stats.all_finished.notify_one();
            }
            if let Some(conn) = conn {
                hold(conn, stop_rx).await;
            }
        }));
    }
    // Everyone through, or the deadline (plus a little: each client's own
    // timeout fires first and counts it).
    let _ = tokio::time::timeout_at(
        (deadline + Duration::from_secs(2)).into(),
        stats.all_finished.notified(),
    )
    .await;
    let storm_seconds = started.elapsed().as_secs_f64();
    let during = read_proc(pid)?;
    let mut measured = window.finish();
    let _ = stop.send(true);
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }

    let authenticated = stats.authenticated.load(Ordering::Relaxed);
    let synced = stats.synced.load(Ordering::Relaxed);
    let failures = stats.errors.total();
    let last_authenticated_s = stats.last_authenticated_us.load(Ordering::Relaxed) as f64 / 1e6;
    let last_synced_s = stats.last_synced_us.load(Ordering::Relaxed) as f64 / 1e6;
    let cpu_seconds = measured["server"]["cpu_seconds"].as_f64().unwrap_or(0.0);
    let per_1000 = |count: u64| (count > 0).then(|| round3(cpu_seconds * 1000.0 / count as f64));
    let rss_per_socket_kb = (authenticated > 0)
        .then(|| round3(during.rss_kb.saturating_sub(before.rss_kb) as f64 / authenticated as f64));
    eprintln!(
        "  {authenticated}/{} authenticated in {last_authenticated_s:.2}s ({:.0}/s), {synced} synced by {last_synced_s:.2}s, {failures} failed; server CPU {cpu_seconds:.2}s",
        opts.sockets,
        authenticated as f64 / last_authenticated_s.max(1e-6),
    );
    measured["storm_seconds"] = json!(round3(storm_seconds));
    Ok(json!({
        "scenario": "storm",
        "sockets": opts.sockets,
        "source_addresses": common.target.sources.len().max(1),
        "sync": opts.sync,
        "authenticated": authenticated,
        "synced": synced,
        "failures": failures,
        "error_kinds": stats.errors.summary(),
        "all_authenticated_seconds": (authenticated == opts.sockets as u64).then(|| round3(last_authenticated_s)),
        "connects_per_sec": round3(authenticated as f64 / last_authenticated_s.max(1e-6)),
        "to_authenticated_ms": stats.to_authenticated.summary(),
        "to_synced_ms": stats.to_synced.summary(),
        "server_cpu_seconds": round3(cpu_seconds),
        "server_cpu_s_per_1000_connects": per_1000(authenticated),
        "rss_before_kb": before.rss_kb,
        "rss_after_kb": during.rss_kb,
        "rss_per_socket_kb": rss_per_socket_kb,
        "window": measured,
    }))
}

/// One client: connect (from `source`), authenticate, `sync`; records its
/// times from the storm's start.
async fn connect_and_sync(
    target: &Target,
    source: Option<IpAddr>,
    token: &str,
    user: &str,
    started: Instant,
    sync: bool,
    stats: &StormStats,
) -> anyhow::Result<Conn> {
    let mut conn = Conn::connect_from(target, source, token, user).await?;
    let at = started.elapsed().as_micros() as u64;
    stats.to_authenticated.record(at);
    stats.authenticated.fetch_add(1, Ordering::Relaxed);
    stats.last_authenticated_us.fetch_max(at, Ordering::Relaxed);
    if !sync {
        return Ok(conn);
    }
    conn.send(proto::event("sync", r#"{"positions":[]}"#, Some(1)))
        .await?;
    loop {
        let text = conn
            .next_text()
            .await?
            .context("closed before the sync ack")?;
        match proto::parse(&text) {
            Frame::Ping => conn.pong().await?,
            Frame::Event { name: "ping", rest } => conn.send(proto::pong(rest)).await?,
            Frame::Ack { id: 1, args } => {
                if !args.contains(r#""success":true"#) {
                    bail!("sync refused: {args:.120}");
                }
                break;
            }
            Frame::Disconnect => bail!("disconnected before the sync ack"),
            _ => {}
        }
    }
    let at = started.elapsed().as_micros() as u64;
    stats.to_synced.record(at);
    stats.synced.fetch_add(1, Ordering::Relaxed);
    stats.last_synced_us.fetch_max(at, Ordering::Relaxed);
    Ok(conn)
}

/// Keeps a connected client alive (pings answered) until the storm ends.
async fn hold(mut conn: Conn, mut stop: watch::Receiver<bool>) {
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
                        return;
                    }
                }
                _ => return,
            },
            _ = stop.changed() => break,
        }
    }
    conn.close().await;
}

/// A failure's kind for the counts: its innermost cause (the OS error, the
/// server's refusal), cut short so that one kind stays one key.
fn kind_of(error: &anyhow::Error) -> String {
    let root = error.root_cause().to_string();
    let outer = error.to_string();
    let text = if root == outer {
        root
    } else {
        format!("{outer}: {root}")
    };
    text.chars().take(100).collect()
}
