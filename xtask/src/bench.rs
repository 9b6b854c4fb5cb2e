//! `cargo xtask bench`: builds Lockstep and the load generator, installs the
//! Node.js baseline, then for every scenario starts each server on a fresh
//! database on loopback, drives it with `lockstep-bench`, stops it, and
//! finally writes the report (`summary.md`, `summary.json`, `ramp.svg`).
//!
//! ```text
//! cargo xtask bench --smoke                      # CI: seconds, debug build, SQLite + Node
//! cargo xtask bench --release                    # the real numbers (BENCHMARKS.md)
//! cargo xtask bench --release --database postgres --scenario steady
//! cargo xtask bench --release --scenario storm,idle --pairs 3  # median of 3 paired runs
//! ```
//!
//! With `--pairs N` every scenario runs N times in turn (Lockstep, then
//! Node.js, then Lockstep again…), so each Lockstep run has a Node.js run
//! of the same few minutes beside it; the report gives each figure's median
//! and spread, and the median of the pairs' ratios.
//!
//! Each server runs alone (never two at once), with its open-file limit
//! raised to the hard maximum (`ulimit -n`) for the idle scenario's 10,000
//! sockets; the generator raises its own. The next server starts only once
//! the previous one's database is gone and the disk has written back what
//! was pending: otherwise one server's leftover writeback (tens of MB after
//! a steady run) lands in the next one's first seconds.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::process::{cargo, run_in};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// A few seconds of every scenario against Lockstep and the Node.js
    /// baseline, failing on any error: what CI runs.
    #[arg(long)]
    smoke: bool,
    /// Build and run the release profile (use it for real measurements).
    #[arg(long)]
    release: bool,
    /// Scenarios to run (default: all five).
    #[arg(long, value_delimiter = ',', value_parser = ["steady", "ramp", "idle", "signaling", "storm"])]
    scenario: Vec<String>,
    /// Paired runs: every scenario N times, each server in turn (Lockstep,
    /// then Node.js); the report gives medians, spreads and paired ratios.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    pairs: u32,
    /// Loopback addresses the generator connects from (127.0.0.1 to
    /// 127.0.0.N): one gives about 28,000 ephemeral ports towards the server.
    #[arg(long)]
    source_addresses: Option<u8>,
    /// Databases to run Lockstep on (default: sqlite). `postgres` creates a
    /// fresh database per run on --postgres-url and drops it afterwards.
    #[arg(long, value_delimiter = ',', value_parser = ["sqlite", "postgres"])]
    database: Vec<String>,
    /// The PostgreSQL server for `--database postgres` (no database name).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres_url: String,
    /// Skip the Node.js baseline.
    #[arg(long)]
    no_baseline: bool,
    /// Where results go (default: target/bench/<smoke|debug|release>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Steady and ramp: connected clients.
    #[arg(long)]
    clients: Option<usize>,
    /// Steady and ramp: members per group chat.
    #[arg(long)]
    chat_size: Option<usize>,
    /// Steady: messages per second per client.
    #[arg(long)]
    rate: Option<f64>,
    /// Steady: measured seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Steady: unmeasured seconds before.
    #[arg(long)]
    warmup: Option<f64>,
    /// Ramp: first offered rate (messages per second in total).
    #[arg(long)]
    ramp_start: Option<f64>,
    /// Ramp: factor between steps.
    #[arg(long)]
    ramp_factor: Option<f64>,
    /// Ramp: seconds per step.
    #[arg(long)]
    ramp_step_seconds: Option<f64>,
    /// Ramp: most steps.
    #[arg(long)]
    ramp_max_steps: Option<usize>,
    /// Idle: sockets.
    #[arg(long)]
    idle_sockets: Option<usize>,
    /// Idle: seconds held open.
    #[arg(long)]
    idle_hold: Option<f64>,
    /// Storm: sockets connecting at once.
    #[arg(long)]
    storm_sockets: Option<usize>,
    /// Storm: skip the `sync` each socket calls once authenticated.
    #[arg(long)]
    storm_no_sync: bool,
    /// The Node.js baseline's listen backlog (default: Node.js's own, 511).
    /// Lockstep asks for 8,192 (the kernel caps both at somaxconn); give the
    /// baseline the same to compare storms with equal accept queues.
    #[arg(long)]
    node_backlog: Option<u32>,
    /// Signaling: concurrent calls.
    #[arg(long)]
    calls: Option<usize>,
    /// Signaling: ICE candidates per second per side.
    #[arg(long)]
    ice_rate: Option<f64>,
    /// Signaling: measured seconds.
    #[arg(long)]
    call_duration: Option<f64>,
    /// Worker threads of the generator.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// A server under test.
#[derive(Clone)]
enum Server {
    Lockstep { database: String },
    Node,
}

impl Server {
    fn label(&self) -> String {
        match self {
            Server::Lockstep { database } => format!("lockstep-{database}"),
            Server::Node => "node".into(),
        }
    }
}

pub fn run(root: &Path, args: &BenchArgs) -> anyhow::Result<()> {
    let profile = if args.release { "release" } else { "debug" };
    let out = args.out.clone().unwrap_or_else(|| {
        root.join("target/bench")
            .join(if args.smoke { "smoke" } else { profile })
    });
    let scenarios: Vec<String> = if args.scenario.is_empty() {
        ["steady", "ramp", "idle", "signaling", "storm"]
            .map(String::from)
            .to_vec()
    } else {
        args.scenario.clone()
    };
    let databases: Vec<String> = if args.database.is_empty() {
        vec!["sqlite".into()]
    } else {
        args.database.clone()
    };

    step(&format!("build ({profile}): lockstep, lockstep-bench"));
    let mut build = vec!["build", "-p", "lockstep", "-p", "lockstep-bench"];
    if args.release {
        build.push("--release");
    }
    cargo(root, &build)?;
    let bin = root.join("target").join(profile);

    let baseline = root.join("bench/baseline-node");
    if !args.no_baseline {
        let ci = std::env::var_os("CI").is_some();
        if ci || !baseline.join("node_modules").exists() {
            step("npm ci (bench/baseline-node)");
            run_in(&baseline, "npm", &["ci", "--no-audit", "--no-fund"])?;
        }
    }

    if out.exists() {
        for entry in std::fs::read_dir(&out)? {
            let path = entry?.path();
            if path.is_file() {
                std::fs::remove_file(path)?;
            }
        }
    }
    let scratch = out.join("data");
    std::fs::create_dir_all(&scratch)?;
    let secret = random_hex(32)?;

    let mut servers: Vec<Server> = databases
        .iter()
        .map(|database| Server::Lockstep {
            database: database.clone(),
        })
        .collect();
    if !args.no_baseline {
        servers.push(Server::Node);
    }

    for scenario in &scenarios {
        for pair in 1..=args.pairs {
            for server in &servers {
                let label = server.label();
                let run = Run {
                    scenario,
                    pair: (args.pairs > 1).then_some(pair),
                };
                step(&format!("{scenario}: {label}{}", run.suffix()));
                let mut running = start(root, &bin, server, args, &scratch, &out, &secret, &run)?;
                let outcome = drive(&bin, &running, args, &out, &secret, &run, &label);
                running.stop();
                outcome?;
            }
        }
    }

    step("report");
    let mut report = vec![
        "report".to_owned(),
        "--dir".to_owned(),
        out.display().to_string(),
        "--baseline".to_owned(),
        "node".to_owned(),
    ];
    if args.smoke {
        report.push("--strict".into());
    }
    let status = Command::new(bin.join("lockstep-bench"))
        .args(&report)
        .status()
        .context("running lockstep-bench report")?;
    if !status.success() {
        bail!("the benchmark report found problems (see above)");
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!("\nresults: {}", out.display());
    Ok(())
}

/// One run of a scenario, and its pair when runs are paired.
struct Run<'a> {
    scenario: &'a str,
    pair: Option<u32>,
}

impl Run<'_> {
    /// What its files' names carry after the scenario: `.2` for pair 2.
    fn suffix(&self) -> String {
        self.pair.map(|pair| format!(".{pair}")).unwrap_or_default()
    }
}

/// A started server: its process and the database to remove after it: a
/// PostgreSQL database to drop, or a SQLite file (Lockstep's or Node's).
struct Running {
    child: Child,
    addr: String,
    drop_database: Option<(String, String)>,
    database_file: Option<PathBuf>,
}

impl Running {
    /// SIGTERM, a few seconds' grace, then SIGKILL; removes the scratch
    /// database and waits for the disk (see the module's doc).
    fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
            }
        }
        if let Some((base, name)) = self.drop_database.take() {
            let _ = psql(
                &base,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
        if let Some(file) = self.database_file.take() {
            // Removed first, its dirty pages need no writing back.
            remove_database_files(&file);
        }
        let _ = Command::new("sync").status();
    }
}

#[allow(clippy::too_many_arguments)]
fn start(
    root: &Path,
    bin: &Path,
    server: &Server,
    args: &BenchArgs,
    scratch: &Path,
    out: &Path,
    secret: &str,
    run: &Run<'_>,
) -> anyhow::Result<Running> {
    let scenario = run.scenario;
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let label = server.label();
    let log_name = format!("{label}.{scenario}{}.log", run.suffix());
    let log = std::fs::File::create(out.join(&log_name))?;
    let mut drop_database = None;
    let mut database_file = None;
    // Raise the open-file limit to the hard maximum, then become the server
    // (same pid, so its /proc entries are the server's).
    let mut command = Command::new("bash");
    command.args([
        "-c",
        r#"ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@""#,
        "bash",
    ]);
    match server {
        Server::Lockstep { database } => {
            let url = match database.as_str() {
                "postgres" => {
                    let name = format!("lockstep_bench_{}_{scenario}", std::process::id());
                    let base = args.postgres_url.trim_end_matches('/').to_owned();
                    psql(
                        &base,
                        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    )?;
                    psql(&base, &format!("CREATE DATABASE {name}"))?;
                    drop_database = Some((base.clone(), name.clone()));
                    format!("{base}/{name}")
                }
                _ => {
                    let file = scratch.join(format!("{label}-{scenario}.db"));
                    remove_database_files(&file);
                    let url = format!("sqlite://{}", file.display());
                    database_file = Some(file);
                    url
                }
            };
            command.arg(bin.join("lockstep")).args([
                "serve",
                "--bind",
                &addr,
                "--database-url",
                &url,
                "--jwt-secret",
                secret,
                // Every benchmark client comes from 127.0.0.1: the
                // per-address flood guard would refuse all but 600 a minute.
                "--max-connections-per-minute",
                "0",
                // Likewise the cap on open connections per address.
                "--max-connections-per-address",
                "0",
                // And on open connections in all: idle and storm hold more
                // than its default (the benchmark's open-file limit is the cap).
                "--max-connections",
                "0",
            ]);
        }
        Server::Node => {
            let file = scratch.join(format!("{label}-{scenario}.db"));
            remove_database_files(&file);
            command
                .arg("node")
                .arg(root.join("bench/baseline-node/server.mjs"))
                .args(["--port", &port.to_string(), "--db"])
                .arg(&file)
                .args(["--jwt-secret", secret]);
            if let Some(backlog) = args.node_backlog {
                command.args(["--backlog", &backlog.to_string()]);
            }
            database_file = Some(file);
        }
    }
    let child = command
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {label}"))?;
    let mut running = Running {
        child,
        addr,
        drop_database,
        database_file,
    };
    if let Err(error) = wait_healthy(&mut running) {
        running.stop();
        return Err(error.context(format!(
            "{label} did not come up; see {}",
            out.join(&log_name).display()
        )));
    }
    Ok(running)
}

fn drive(
    bin: &Path,
    running: &Running,
    args: &BenchArgs,
    out: &Path,
    secret: &str,
    run: &Run<'_>,
    label: &str,
) -> anyhow::Result<()> {
    let scenario = run.scenario;
    let result = out.join(format!("{label}.{scenario}{}.json", run.suffix()));
    let mut command = Command::new(bin.join("lockstep-bench"));
    command
        .args(["--addr", &running.addr, "--secret", secret])
        .args(["--server-pid", &running.child.id().to_string()])
        .args(["--label", label, "--threads", &args.threads.to_string()]);
    if let Some(pair) = run.pair {
        command.args(["--meta", &format!("pair={pair}")]);
    }
    if let Some(sources) = args.source_addresses {
        command.args(["--source-addresses", &sources.to_string()]);
    }
    command
        .arg("--out")
        .arg(&result)
        .arg(scenario)
        .args(scenario_args(args, scenario))
        .stdout(Stdio::null());
    let status = command.status().context("running lockstep-bench")?;
    if !status.success() {
        bail!("lockstep-bench {scenario} against {label} failed ({status})");
    }
    Ok(())
}

/// How long a smoke phase waits for its last acks and deliveries. The wait
/// ends as soon as everything arrived, so a generous bound costs nothing on a
/// healthy run and keeps a shared machine's slow disk from reading as loss.
const SMOKE_DRAIN_SECONDS: &str = "15";

/// The generator's flags for `scenario`: the smoke preset or the defaults,
/// with any explicit flag on top.
fn scenario_args(args: &BenchArgs, scenario: &str) -> Vec<String> {
    let mut flags: Vec<(&str, String)> = Vec::new();
    let mut set = |flag: &'static str, explicit: Option<String>, smoke: &str| {
        if let Some(value) = explicit {
            flags.push((flag, value));
        } else if args.smoke && !smoke.is_empty() {
            flags.push((flag, smoke.to_owned()));
        }
    };
    let s = |x: Option<f64>| x.map(|v| v.to_string());
    let u = |x: Option<usize>| x.map(|v| v.to_string());
    match scenario {
        "steady" => {
            set("--clients", u(args.clients), "20");
            set("--chat-size", u(args.chat_size), "10");
            set("--rate", s(args.rate), "");
            set("--duration", s(args.duration), "5");
            set("--warmup", s(args.warmup), "1");
            set("--drain", None, SMOKE_DRAIN_SECONDS);
        }
        "ramp" => {
            set("--clients", u(args.clients), "20");
            set("--chat-size", u(args.chat_size), "10");
            set("--start-rate", s(args.ramp_start), "20");
            set("--factor", s(args.ramp_factor), "2");
            set("--step-seconds", s(args.ramp_step_seconds), "1");
            set("--max-steps", u(args.ramp_max_steps), "2");
            set("--drain", None, SMOKE_DRAIN_SECONDS);
        }
        "idle" => {
            set("--sockets", u(args.idle_sockets), "100");
            set("--hold", s(args.idle_hold), "1");
        }
        "storm" => {
            set("--sockets", u(args.storm_sockets), "200");
            if args.storm_no_sync {
                flags.push(("--sync", "false".to_owned()));
            }
        }
        "signaling" => {
            set("--calls", u(args.calls), "5");
            set("--ice-rate", s(args.ice_rate), "");
            set("--duration", s(args.call_duration), "2");
        }
        _ => {}
    }
    flags
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_owned(), value])
        .collect()
}

/// Polls `GET /health` until it answers 200 (or the process dies).
fn wait_healthy(running: &mut Running) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(status) = running.child.try_wait()? {
            bail!("the server exited ({status})");
        }
        if let Ok(mut stream) = TcpStream::connect(&running.addr) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let request = format!(
                "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                running.addr
            );
            let mut response = String::new();
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_to_string(&mut response).is_ok()
                && response.starts_with("HTTP/1.1 200")
            {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("no answer from /health within 60 s")
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn remove_database_files(file: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = file.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

fn psql(base_url: &str, statement: &str) -> anyhow::Result<()> {
    let status = Command::new("psql")
        .args([
            &format!("{base_url}/postgres"),
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            statement,
        ])
        .stdout(Stdio::null())
        .status()
        .context("running psql (is the PostgreSQL client installed?)")?;
    if !status.success() {
        bail!("psql failed: {statement}");
    }
    Ok(())
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buffer = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buffer)?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}

fn step(title: &str) {
    println!("\n==> bench: {title}");
}
