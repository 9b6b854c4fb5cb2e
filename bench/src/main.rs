//! `lockstep-bench`: the load generator for Lockstep and for the Node.js
//! baseline in `bench/baseline-node`.
//!
//! It speaks Socket.IO v5 over engine.io v4 itself (WebSocket transport,
//! see [`proto`]), mints its users' tokens with the server's secret, creates
//! chats over REST and drives the real protocol. Each scenario prints a JSON
//! result (and writes it with `--out`); `report` turns a folder of results
//! into a Markdown summary with ratios and an SVG chart.
//!
//! ```text
//! lockstep-bench --addr 127.0.0.1:3000 --secret S --server-pid PID steady --clients 2000
//! lockstep-bench report --dir target/bench/latest
//! ```
//!
//! `cargo xtask bench` starts the servers and runs every scenario against
//! each; see BENCHMARKS.md.

mod auth;
mod catchup;
mod host;
mod idle;
mod messaging;
mod proto;
mod report;
mod rest;
mod signaling;
mod stats;
mod storm;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use futures::StreamExt;
use serde_json::{Value, json};

use crate::proto::{Conn, Target, TokenVia};

#[derive(Parser)]
#[command(
    name = "lockstep-bench",
    about = "Load generator for Lockstep and its Node.js baseline"
)]
struct Cli {
    /// The server, `host:port` (keep benchmarks on loopback).
    #[arg(long, global = true, default_value = "127.0.0.1:3000")]
    addr: String,
    /// The server's JWT secret (tokens are minted with it).
    #[arg(long, global = true, env = "LOCKSTEP_JWT_SECRET", default_value = "")]
    secret: String,
    /// The server's process id, for its CPU and memory.
    #[arg(long, global = true)]
    server_pid: Option<u32>,
    /// A name for the server in the results (`lockstep-sqlite`, `node`…).
    #[arg(long, global = true, default_value = "server")]
    label: String,
    /// Extra `key=value` facts recorded with the result.
    #[arg(long = "meta", global = true, value_name = "KEY=VALUE")]
    meta: Vec<String>,
    /// Where to write the JSON result (also printed on stdout).
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    /// How the access token travels on the upgrade request.
    #[arg(long, global = true, value_enum, default_value_t = TokenVia::Bearer)]
    token_via: TokenVia,
    /// Connections opened at once while setting up.
    #[arg(long, global = true, default_value_t = 64)]
    connect_concurrency: usize,
    /// Loopback addresses the clients connect from, in turn: 127.0.0.1 to
    /// 127.0.0.N (0: the kernel picks). One address gives about 28,000
    /// ephemeral ports towards the server; 100,000 sockets need 4 or more.
    #[arg(long, global = true, default_value_t = 0)]
    source_addresses: u8,
    /// Worker threads of the generator's runtime.
    #[arg(long, global = true, default_value_t = 2)]
    threads: usize,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// 1. Steady: clients in group chats, each sending at a fixed rate.
    Steady(messaging::SteadyOpts),
    /// 2. Ramp: rising offered load until p99 ack latency passes a bound.
    Ramp(messaging::RampOpts),
    /// 3. Idle: many connected, authenticated sockets; RSS per socket.
    Idle(idle::IdleOpts),
    /// 4. Signaling: concurrent calls exchanging ICE candidates.
    Signaling(signaling::SignalingOpts),
    /// 5. Catch-up: a reader that missed messages across many chats syncs.
    Catchup(catchup::CatchupOpts),
    /// 6. Storm: many sockets connect at once (a node's users reconnecting
    ///    after it died), each then calls `sync`.
    Storm(storm::StormOpts),
    /// Summarise a folder of results: summary.md, summary.json, charts.
    Report(report::ReportOpts),
}

/// What every scenario needs.
pub struct Common {
    pub target: Target,
    pub minter: auth::Minter,
    pub server_pid: Option<u32>,
    /// The clock every latency is measured against.
    pub epoch: Instant,
    /// Makes user ids unique per run, so a rerun against the same database
    /// never collides with an earlier run's idempotency keys.
    pub run_tag: String,
    pub connect_concurrency: usize,
}

impl Common {
    /// The profile id of benchmark user `index`.
    pub fn user(&self, index: usize) -> String {
        format!("b{}-{index}", self.run_tag)
    }
}

/// Connects one client per user, `connect_concurrency` at a time, in order.
pub async fn connect_all(
    common: &Common,
    users: &[String],
    tokens: &[String],
) -> anyhow::Result<Vec<Conn>> {
    let results: Vec<anyhow::Result<Conn>> = futures::stream::iter(users.iter().zip(tokens))
        .enumerate()
        .map(|(i, (user, token))| {
            Conn::connect_from(&common.target, common.target.source(i), token, user)
        })
        .buffered(common.connect_concurrency.max(1))
        .collect()
        .await;
    let mut conns = Vec::with_capacity(results.len());
    for (i, result) in results.into_iter().enumerate() {
        conns.push(result.with_context(|| format!("connecting client {i}"))?);
    }
    Ok(conns)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Scenario::Report(opts) = &cli.scenario {
        return report::run(opts);
    }
    let fd_limit = stats::raise_fd_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(run(cli, fd_limit))
}

async fn run(cli: Cli, fd_limit: u64) -> anyhow::Result<()> {
    anyhow::ensure!(
        !cli.secret.is_empty(),
        "--secret (or LOCKSTEP_JWT_SECRET) is required"
    );
    let run_tag = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
            % 0xff_ffff_ffff
    );
    let common = Common {
        target: Target {
            addr: cli.addr.clone(),
            token_via: cli.token_via,
            sources: (1..=cli.source_addresses)
                .map(|n| std::net::IpAddr::from([127, 0, 0, n]))
                .collect(),
        },
        minter: auth::Minter::new(&cli.secret),
        server_pid: cli.server_pid,
        epoch: Instant::now(),
        run_tag,
        connect_concurrency: cli.connect_concurrency,
    };
    let started = Instant::now();
    let self_cpu = stats::self_cpu_seconds();
    eprintln!("{}: {}", cli.label, scenario_name(&cli.scenario));
    let mut result = match &cli.scenario {
        Scenario::Steady(opts) => messaging::steady(&common, opts).await?,
        Scenario::Ramp(opts) => messaging::ramp(&common, opts).await?,
        Scenario::Idle(opts) => idle::idle(&common, opts).await?,
        Scenario::Signaling(opts) => signaling::signaling(&common, opts).await?,
        Scenario::Catchup(opts) => catchup::catchup(&common, opts).await?,
        Scenario::Storm(opts) => storm::storm(&common, opts).await?,
        Scenario::Report(_) => unreachable!("handled before the runtime starts"),
    };
    let wall = started.elapsed().as_secs_f64();
    let meta: serde_json::Map<String, Value> = cli
        .meta
        .iter()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    result["label"] = json!(cli.label);
    result["meta"] = Value::Object(meta);
    result["generator_total"] = json!({
        "wall_seconds": stats::round3(wall),
        "cpu_seconds": stats::round3(stats::self_cpu_seconds() - self_cpu),
        "threads": cli.threads,
        "fd_limit": fd_limit,
        "token_via": cli.token_via,
    });
    let text = serde_json::to_string_pretty(&result)?;
    if let Some(path) = &cli.out {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{text}");
    Ok(())
}

fn scenario_name(scenario: &Scenario) -> &'static str {
    match scenario {
        Scenario::Steady(_) => "steady",
        Scenario::Ramp(_) => "ramp",
        Scenario::Idle(_) => "idle",
        Scenario::Signaling(_) => "signaling",
        Scenario::Catchup(_) => "catchup",
        Scenario::Storm(_) => "storm",
        Scenario::Report(_) => "report",
    }
}
