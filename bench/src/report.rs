//! `lockstep-bench report`: reads the JSON results of one run (one file per
//! server and scenario) and writes `summary.md` (every figure per server,
//! with each server's ratio to the baseline), `summary.json`, and
//! `ramp.svg` (ack latency percentiles against offered load).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};

#[derive(Debug, Clone, clap::Args)]
pub struct ReportOpts {
    /// The folder holding `<label>.<scenario>.json` files.
    #[arg(long)]
    pub dir: PathBuf,
    /// The label the ratios divide by.
    #[arg(long, default_value = "node")]
    pub baseline: String,
    /// Fail (exit 1) when any scenario reported errors or delivered nothing:
    /// for CI smoke runs.
    #[arg(long)]
    pub strict: bool,
}

/// How a figure compares: whether more is better decides nothing in the
/// ratio itself, only the hint printed beside it.
#[derive(Clone, Copy)]
enum Better {
    Higher,
    Lower,
}

struct Figure {
    name: &'static str,
    path: &'static str,
    better: Better,
}

const fn fig(name: &'static str, path: &'static str, better: Better) -> Figure {
    Figure { name, path, better }
}

fn figures(scenario: &str) -> Vec<Figure> {
    use Better::{Higher, Lower};
    match scenario {
        "steady" => vec![
            fig("messages acked / s", "result.msgs_per_sec", Higher),
            fig("deliveries / s", "result.deliveries_per_sec", Higher),
            fig("ack p50 (ms)", "result.ack_latency_ms.p50", Lower),
            fig("ack p95 (ms)", "result.ack_latency_ms.p95", Lower),
            fig("ack p99 (ms)", "result.ack_latency_ms.p99", Lower),
            fig("ack max (ms)", "result.ack_latency_ms.max", Lower),
            fig("delivery p50 (ms)", "result.delivery_latency_ms.p50", Lower),
            fig("delivery p95 (ms)", "result.delivery_latency_ms.p95", Lower),
            fig("delivery p99 (ms)", "result.delivery_latency_ms.p99", Lower),
            fig("delivery max (ms)", "result.delivery_latency_ms.max", Lower),
            fig("errors", "result.errors", Lower),
            fig(
                "server CPU (% of one core)",
                "result.window.server.cpu_percent",
                Lower,
            ),
            fig(
                "server CPU per 1,000 acked messages (s)",
                "result.server_cpu_s_per_1000_msgs",
                Lower,
            ),
            fig(
                "server peak RSS (KB)",
                "result.window.server.rss_peak_sampled_kb",
                Lower,
            ),
            fig(
                "generator CPU (% of one core)",
                "result.window.generator.cpu_percent",
                Lower,
            ),
            fig(
                "ack p99, seconds the host stole < 1 % of the CPU (ms)",
                "result.calm_host.ack_p99_ms",
                Lower,
            ),
            fig(
                "seconds the host stole < 1 % of the CPU",
                "result.calm_host.calm_seconds",
                Higher,
            ),
            fig(
                "server disk writes per message (KB)",
                "result.disk_write_kb_per_msg",
                Lower,
            ),
            // The host's share: not the server's doing, but what its tail
            // has to be read against (see bench/src/host.rs).
            fig(
                "host CPU stolen (% of all cores)",
                "result.window.host.cpu_steal_percent",
                Lower,
            ),
            fig(
                "host iowait (% of all cores)",
                "result.window.host.cpu_iowait_percent",
                Lower,
            ),
            fig(
                "disk flush latency, mean (ms)",
                "result.window.host.disk_flush_ms_mean",
                Lower,
            ),
            fig(
                "disk flush latency, worst second's mean (ms)",
                "result.window.host.worst_second.disk_flush_ms_mean",
                Lower,
            ),
        ],
        "ramp" => vec![
            fig(
                "highest sustainable messages / s",
                "max_sustainable_msgs_per_sec",
                Higher,
            ),
            fig(
                "deliveries / s at that rate",
                "max_sustainable_deliveries_per_sec",
                Higher,
            ),
            fig(
                "ack p99 at that rate (ms)",
                "best_step.ack_latency_ms.p99",
                Lower,
            ),
            fig(
                "delivery p99 at that rate (ms)",
                "best_step.delivery_latency_ms.p99",
                Lower,
            ),
            fig(
                "server CPU at that rate (%)",
                "best_step.window.server.cpu_percent",
                Lower,
            ),
            fig(
                "server CPU per 1,000 acked messages at that rate (s)",
                "best_step.server_cpu_s_per_1000_msgs",
                Lower,
            ),
            fig(
                "generator CPU at that rate (%)",
                "best_step.window.generator.cpu_percent",
                Lower,
            ),
        ],
        "idle" => vec![
            fig("sockets", "sockets", Higher),
            fig("RSS per socket (KB)", "rss_per_socket_kb", Lower),
            fig("RSS before (KB)", "rss_before_kb", Lower),
            fig("RSS after (KB)", "rss_after_kb", Lower),
            fig("connects / s", "connects_per_sec", Higher),
            fig(
                "server CPU per 1,000 connects (s)",
                "server_cpu_s_per_1000_connects",
                Lower,
            ),
            fig(
                "server CPU while idle (%)",
                "hold.server.cpu_percent",
                Lower,
            ),
            fig(
                "heartbeat CPU per 100,000 idle sockets (% of one core)",
                "heartbeat_cpu_percent_per_100k",
                Lower,
            ),
            fig("dropped", "dropped_while_held", Lower),
        ],
        "signaling" => vec![
            fig("calls established", "established", Higher),
            fig("ICE relays / s", "ice_relays_per_sec", Higher),
            fig("ICE relay p50 (ms)", "ice_relay_ms.p50", Lower),
            fig("ICE relay p95 (ms)", "ice_relay_ms.p95", Lower),
            fig("ICE relay p99 (ms)", "ice_relay_ms.p99", Lower),
            fig("ICE relay max (ms)", "ice_relay_ms.max", Lower),
            fig("offer relay p99 (ms)", "offer_relay_ms.p99", Lower),
            fig("call setup p50 (ms)", "call_setup_ms.p50", Lower),
            fig("call setup p99 (ms)", "call_setup_ms.p99", Lower),
            fig("errors", "errors", Lower),
            fig("server CPU (%)", "window.server.cpu_percent", Lower),
            fig(
                "server CPU per 1,000 ICE relays (s)",
                "server_cpu_s_per_1000_relays",
                Lower,
            ),
            fig(
                "server peak RSS (KB)",
                "window.server.rss_peak_sampled_kb",
                Lower,
            ),
        ],
        "storm" => vec![
            fig("sockets", "sockets", Higher),
            fig("authenticated", "authenticated", Higher),
            fig("failures", "failures", Lower),
            fig("connects / s", "connects_per_sec", Higher),
            fig(
                "all authenticated after (s)",
                "all_authenticated_seconds",
                Lower,
            ),
            fig(
                "time to authenticated p50 (ms)",
                "to_authenticated_ms.p50",
                Lower,
            ),
            fig(
                "time to authenticated p99 (ms)",
                "to_authenticated_ms.p99",
                Lower,
            ),
            fig("time to sync ack p99 (ms)", "to_synced_ms.p99", Lower),
            fig(
                "server CPU per 1,000 connects, with their sync (s)",
                "server_cpu_s_per_1000_connects",
                Lower,
            ),
            fig("server RSS per socket (KB)", "rss_per_socket_kb", Lower),
            fig(
                "generator CPU (% of one core)",
                "window.generator.cpu_percent",
                Lower,
            ),
            fig(
                "host CPU stolen (% of all cores)",
                "window.host.cpu_steal_percent",
                Lower,
            ),
        ],
        _ => vec![],
    }
}

const SCENARIOS: [&str; 5] = ["steady", "ramp", "idle", "signaling", "storm"];

/// Server CPU seconds per 1,000 units of work, from a window's
/// `server.cpu_seconds` (`/proc/<pid>/stat`) and a count.
pub fn cpu_per_1000(cpu_seconds: Option<f64>, units: Option<f64>) -> Option<Value> {
    match (cpu_seconds, units) {
        (Some(cpu), Some(units)) if units > 0.0 => {
            Some(json!(crate::stats::round3(cpu * 1000.0 / units)))
        }
        _ => None,
    }
}

/// Adds the figures a result implies but may not carry (results written
/// before the generator computed them): CPU per unit of work.
fn derive(scenario: &str, value: &mut Value) {
    let put = |value: &mut Value, at: &str, figure: Option<Value>| {
        let mut parts: Vec<&str> = at.split('.').collect();
        let Some(last) = parts.pop() else { return };
        let Some(target) = parts.iter().try_fold(&mut *value, |v, key| v.get_mut(*key)) else {
            return;
        };
        if let (Some(object), Some(figure)) = (target.as_object_mut(), figure)
            && !object.contains_key(last)
        {
            object.insert(last.to_owned(), figure);
        }
    };
    match scenario {
        "steady" => {
            let figure = cpu_per_1000(
                number(value, "result.window.server.cpu_seconds"),
                number(value, "result.acked"),
            );
            put(value, "result.server_cpu_s_per_1000_msgs", figure);
        }
        "ramp" => {
            if let Some(steps) = value.get_mut("steps").and_then(Value::as_array_mut) {
                for step in steps {
                    let figure = cpu_per_1000(
                        number(step, "window.server.cpu_seconds"),
                        number(step, "acked"),
                    );
                    put(step, "server_cpu_s_per_1000_msgs", figure);
                }
            }
            if let Some(best) = value.get_mut("best_step") {
                let figure = cpu_per_1000(
                    number(best, "window.server.cpu_seconds"),
                    number(best, "acked"),
                );
                put(best, "server_cpu_s_per_1000_msgs", figure);
            }
        }
        "signaling" => {
            let figure = cpu_per_1000(
                number(value, "window.server.cpu_seconds"),
                number(value, "ice_received"),
            );
            put(value, "server_cpu_s_per_1000_relays", figure);
        }
        _ => {}
    }
}

fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(value, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

fn number(value: &Value, path: &str) -> Option<f64> {
    lookup(value, path).and_then(Value::as_f64)
}

fn format_number(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x.abs() >= 1000.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// Reads every result in `dir`: scenario → label → result.
fn load(dir: &Path) -> anyhow::Result<BTreeMap<String, Vec<(String, Value)>>> {
    let mut by_scenario: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| p.file_name().is_some_and(|n| n != "summary.json"))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path)?;
        let mut value: Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if let Some(scenario) = value["scenario"].as_str().map(str::to_owned) {
            derive(&scenario, &mut value);
        }
        let (Some(scenario), Some(label)) = (
            value["scenario"].as_str().map(str::to_owned),
            value["label"].as_str().map(str::to_owned),
        ) else {
            continue;
        };
        by_scenario
            .entry(scenario)
            .or_default()
            .push((label, value));
    }
    Ok(by_scenario)
}

/// A figure over one server's runs of a scenario: the median, and the
/// lowest and highest (their spread) when there was more than one run.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Spread {
    median: f64,
    low: f64,
    high: f64,
    runs: usize,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            low: values[0],
            high: values[n - 1],
            runs: n,
        })
    }

    fn cell(&self, format: impl Fn(f64) -> String) -> String {
        if self.runs == 1 {
            format(self.median)
        } else {
            format!(
                "{} ({}–{})",
                format(self.median),
                format(self.low),
                format(self.high)
            )
        }
    }

    fn json(&self) -> Value {
        json!({ "median": self.median, "low": self.low, "high": self.high, "runs": self.runs })
    }
}

/// Which pair of a paired sitting a result belongs to (`--meta pair=N`;
/// 1 for a single run).
fn pair_of(value: &Value) -> u64 {
    value["meta"]["pair"]
        .as_str()
        .and_then(|p| p.parse().ok())
        .or_else(|| value["meta"]["pair"].as_u64())
        .unwrap_or(1)
}

/// Each server's ratio to the baseline, pair by pair (a run of Lockstep and
/// the Node.js run right after it): the ratio of two runs in the same few
/// minutes, which the host moves less than either figure.
fn paired_ratios(runs: &[&(String, Value)], base: &[&(String, Value)], path: &str) -> Vec<f64> {
    runs.iter()
        .filter_map(|(_, value)| {
            let pair = pair_of(value);
            let (_, base) = base.iter().find(|(_, b)| pair_of(b) == pair)?;
            match (number(value, path), number(base, path)) {
                (Some(a), Some(b)) if b != 0.0 => Some(a / b),
                _ => None,
            }
        })
        .collect()
}

pub fn run(opts: &ReportOpts) -> anyhow::Result<()> {
    let results = load(&opts.dir)?;
    let mut md = String::new();
    let mut summary = serde_json::Map::new();
    let mut problems = Vec::new();
    for scenario in SCENARIOS {
        let Some(runs) = results.get(scenario) else {
            continue;
        };
        // The baseline last, the others in name order; each label's runs by pair.
        let mut runs: Vec<&(String, Value)> = runs.iter().collect();
        runs.sort_by_key(|(label, value)| (*label == opts.baseline, label.clone(), pair_of(value)));
        let mut labels: Vec<&String> = runs.iter().map(|(label, _)| label).collect();
        labels.dedup();
        let runs_of = |label: &str| -> Vec<&(String, Value)> {
            runs.iter().copied().filter(|(l, _)| l == label).collect()
        };
        let baseline = labels.iter().any(|l| **l == opts.baseline);
        let others: Vec<&String> = labels
            .iter()
            .copied()
            .filter(|l| **l != opts.baseline)
            .collect();
        let most_runs = labels.iter().map(|l| runs_of(l).len()).max().unwrap_or(1);
        let _ = writeln!(md, "### {scenario}\n");
        if most_runs > 1 {
            let _ = writeln!(
                md,
                "{most_runs} paired runs (each server in turn, the baseline last): \
                 the median, with the lowest and highest run in brackets; a ratio is \
                 the median of the pairs' ratios.\n"
            );
        }
        let mut header = String::from("| figure |");
        let mut rule = String::from("| --- |");
        for label in &labels {
            let _ = write!(header, " {label} |");
            rule.push_str(" ---: |");
        }
        if baseline {
            for label in &others {
                let _ = write!(header, " {label} / {} |", opts.baseline);
                rule.push_str(" ---: |");
            }
        }
        let _ = writeln!(md, "{header}\n{rule}");
        let mut table = serde_json::Map::new();
        for figure in figures(scenario) {
            let hint = match figure.better {
                Better::Higher => "higher is better",
                Better::Lower => "lower is better",
            };
            let _ = write!(md, "| {} |", figure.name);
            let mut row = serde_json::Map::new();
            for label in &labels {
                let spread = Spread::of(
                    runs_of(label)
                        .iter()
                        .filter_map(|(_, v)| number(v, figure.path))
                        .collect(),
                );
                let _ = write!(
                    md,
                    " {} |",
                    spread.map_or("–".into(), |s| s.cell(format_number))
                );
                row.insert((*label).clone(), json!(spread.map(|s| s.median)));
                if most_runs > 1 {
                    row.insert(format!("{label} runs"), json!(spread.map(|s| s.json())));
                }
            }
            if baseline {
                let base = runs_of(&opts.baseline);
                for label in &others {
                    let ratios = Spread::of(paired_ratios(&runs_of(label), &base, figure.path));
                    let _ = write!(
                        md,
                        " {} |",
                        ratios.map_or("–".into(), |r| r.cell(|x| format!("{x:.2}×")))
                    );
                    row.insert(
                        format!("{label}/{}", opts.baseline),
                        json!(ratios.map(|r| r.median)),
                    );
                    if most_runs > 1 {
                        row.insert(
                            format!("{label}/{} runs", opts.baseline),
                            json!(ratios.map(|r| r.json())),
                        );
                    }
                }
            }
            md.push('\n');
            row.insert("better".into(), json!(hint));
            table.insert(figure.name.into(), Value::Object(row));
        }
        // Per-run notes and tables name a run by its label, and its pair
        // when there are several.
        let named: Vec<(String, Value)> = runs
            .iter()
            .map(|(label, value)| {
                let name = if most_runs > 1 {
                    format!("{label} #{}", pair_of(value))
                } else {
                    label.clone()
                };
                (name, value.clone())
            })
            .collect();
        let named_refs: Vec<&(String, Value)> = named.iter().collect();
        if scenario == "ramp" {
            for (label, value) in &named {
                let _ = writeln!(
                    md,
                    "\n{label}: stopped at {} ({}).",
                    value["steps"]
                        .as_array()
                        .and_then(|s| s.last())
                        .and_then(|s| number(s, "offered_msgs_per_sec"))
                        .map(format_number)
                        .unwrap_or_default(),
                    value["stop_reason"].as_str().unwrap_or("?")
                );
            }
        }
        if scenario == "steady" {
            md.push_str(&slowest_seconds_table(&named_refs));
        }
        md.push('\n');
        summary.insert(scenario.into(), Value::Object(table));
        for (label, value) in &named {
            problems.extend(check(scenario, label, value));
        }
    }
    if let Some(ramps) = results.get("ramp") {
        let svg = ramp_chart(ramps, &opts.baseline);
        std::fs::write(opts.dir.join("ramp.svg"), svg)?;
        let _ = writeln!(md, "![ack latency against offered load](ramp.svg)\n");
    }
    std::fs::write(opts.dir.join("summary.md"), &md)?;
    std::fs::write(
        opts.dir.join("summary.json"),
        serde_json::to_string_pretty(&Value::Object(summary))?,
    )?;
    print!("{md}");
    if !problems.is_empty() {
        eprintln!("problems:");
        for problem in &problems {
            eprintln!("  {problem}");
        }
        if opts.strict {
            anyhow::bail!("{} problem(s) in the results", problems.len());
        }
    }
    Ok(())
}

/// How many of a steady run's slowest seconds the table shows.
const SLOWEST_SECONDS: usize = 5;

/// Each server's slowest seconds of a steady run (by its slowest ack) beside
/// what the host did in the same second: whether a tail came with stolen
/// CPU or a slow disk, or with neither.
fn slowest_seconds_table(runs: &[&(String, Value)]) -> String {
    let mut md = format!(
        "\nThe {SLOWEST_SECONDS} seconds with the slowest ack, and the host in that second \
         (±1 s: the two clocks are read apart):\n\n\
         | server | second | acks | slowest ack (ms) | CPU stolen (%) | iowait (%) | disk flushes | flush mean (ms) |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    );
    for (label, value) in runs {
        for row in slowest_seconds(value) {
            let host = |i: usize| {
                row.host
                    .and_then(|h| h.get(i))
                    .and_then(Value::as_f64)
                    .map(format_number)
                    .unwrap_or("–".into())
            };
            let _ = writeln!(
                md,
                "| {label} | {} | {} | {} | {} | {} | {} | {} |",
                row.second,
                row.acks,
                format_number(row.slowest_ms),
                host(3),
                host(2),
                row.host
                    .and_then(|h| h.get(6))
                    .and_then(Value::as_u64)
                    .map_or("–".into(), |n| n.to_string()),
                host(7),
            );
        }
    }
    md
}

struct SlowSecond<'a> {
    second: u64,
    acks: u64,
    slowest_ms: f64,
    /// The host's `per_second` row for the same second, if sampled.
    host: Option<&'a Vec<Value>>,
}

/// The [`SLOWEST_SECONDS`] seconds of `result.timeline` (`[second, acks,
/// slowest ms]`, seconds from the fleet's start) with the slowest ack,
/// slowest first, each with its row of `result.window.host.per_second`
/// (`[n, ...]`, the n-th second after the window started at
/// `result.window.started_at_s`) that overlaps it most.
fn slowest_seconds(value: &Value) -> Vec<SlowSecond<'_>> {
    let started_at = number(value, "result.window.started_at_s").unwrap_or(0.0);
    let host_rows = lookup(value, "result.window.host.per_second").and_then(Value::as_array);
    let mut seconds: Vec<SlowSecond> = lookup(value, "result.timeline")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|row| {
            let second = row.get(0)?.as_u64()?;
            // Warm-up seconds come before the measured window.
            let n = crate::host::row_of_second(second, started_at)?;
            Some(SlowSecond {
                second,
                acks: row.get(1)?.as_u64()?,
                slowest_ms: row.get(2)?.as_f64()?,
                host: host_rows
                    .and_then(|rows| rows.get(n - 1))
                    .and_then(Value::as_array),
            })
        })
        .collect();
    seconds.sort_by(|a, b| b.slowest_ms.total_cmp(&a.slowest_ms));
    seconds.truncate(SLOWEST_SECONDS);
    seconds
}

/// What a smoke run must not show.
fn check(scenario: &str, label: &str, value: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut need = |ok: bool, what: &str| {
        if !ok {
            problems.push(format!("{label} {scenario}: {what}"));
        }
    };
    match scenario {
        "steady" => {
            need(
                number(value, "result.errors") == Some(0.0),
                "errors or missing deliveries",
            );
            need(
                number(value, "result.acked").unwrap_or(0.0) > 0.0,
                "no message acked",
            );
            need(
                number(value, "result.deliveries").unwrap_or(0.0) > 0.0,
                "no message delivered",
            );
        }
        // Whether a step passed depends on latency, and latency on a shared
        // machine's disk: one slow fsync in a one-second step fails it. The
        // smoke run proves the ramp drives load and sees every message
        // through; the numbers belong in BENCHMARKS.md.
        "ramp" => {
            let steps = value["steps"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            need(!steps.is_empty(), "no step ran");
            need(
                steps.iter().all(|step| number(step, "errors") == Some(0.0)),
                "errors or missing deliveries",
            );
            need(
                steps
                    .iter()
                    .all(|step| number(step, "acked").unwrap_or(0.0) > 0.0),
                "a step acked no message",
            );
        }
        "idle" => {
            need(
                number(value, "dropped_while_held") == Some(0.0),
                "sockets dropped",
            );
            need(
                number(value, "rss_after_kb").unwrap_or(0.0) > 0.0,
                "no memory reading",
            );
        }
        "storm" => {
            need(
                number(value, "failures") == Some(0.0),
                "sockets failed to connect",
            );
            need(
                number(value, "authenticated").unwrap_or(0.0) > 0.0
                    && number(value, "authenticated") == number(value, "sockets"),
                "not every socket authenticated",
            );
            if value["sync"].as_bool() == Some(true) {
                need(
                    number(value, "synced") == number(value, "sockets"),
                    "not every socket synced",
                );
            }
        }
        "signaling" => {
            need(number(value, "errors") == Some(0.0), "errors");
            need(
                number(value, "ice_received").unwrap_or(0.0) > 0.0,
                "no ICE candidate relayed",
            );
        }
        _ => {}
    }
    problems
}

/// Ack latency p50/p95/p99 against offered load, one colour per server,
/// on a log scale, with the ramp's bound drawn across.
fn ramp_chart(runs: &[(String, Value)], baseline: &str) -> String {
    const W: f64 = 760.0;
    const H: f64 = 440.0;
    const LEFT: f64 = 70.0;
    const RIGHT: f64 = 190.0;
    const TOP: f64 = 40.0;
    const BOTTOM: f64 = 60.0;
    let colours = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b"];
    let baseline_colour = "#d62728";
    let percentiles = [("p50", "2,3"), ("p95", "6,3"), ("p99", "")];

    let mut runs: Vec<&(String, Value)> = runs.iter().collect();
    runs.sort_by_key(|(label, _)| (label == baseline, label.clone()));
    let mut series = Vec::new();
    let mut max_x: f64 = 1.0;
    let mut max_y: f64 = 1.0;
    let mut min_y: f64 = f64::INFINITY;
    let bound = runs
        .iter()
        .find_map(|(_, v)| number(v, "p99_limit_ms"))
        .unwrap_or(50.0);
    for (i, (label, value)) in runs.iter().enumerate() {
        let colour = if label == baseline {
            baseline_colour
        } else {
            colours[i % colours.len()]
        };
        for (p, dash) in percentiles {
            let points: Vec<(f64, f64)> = value["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| {
                    Some((
                        number(s, "offered_msgs_per_sec")?,
                        number(s, &format!("ack_latency_ms.{p}"))?,
                    ))
                })
                .collect();
            for (x, y) in &points {
                max_x = max_x.max(*x);
                max_y = max_y.max(*y);
                min_y = min_y.min(*y);
            }
            series.push((format!("{label} {p}"), colour, dash, points));
        }
    }
    let min_y = if min_y.is_finite() {
        min_y.max(0.01)
    } else {
        0.1
    };
    let lo = 10f64.powf(min_y.log10().floor());
    let hi = 10f64.powf(max_y.max(bound).log10().ceil());
    let max_x = nice_ceiling(max_x);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let px = |x: f64| LEFT + plot_w * x / max_x;
    let py = |y: f64| {
        TOP + plot_h * (1.0 - (y.max(lo).log10() - lo.log10()) / (hi.log10() - lo.log10()))
    };

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">send_message ack latency against offered load</text>"#,
        LEFT + plot_w / 2.0
    );
    // Axes and grid.
    let mut decade = lo;
    while decade <= hi * 1.0001 {
        let y = py(decade);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            format_number(decade)
        );
        decade *= 10.0;
    }
    for i in 0..=5 {
        let x = max_x * f64::from(i) / 5.0;
        let sx = px(x);
        let _ = writeln!(
            svg,
            r##"<line x1="{sx:.1}" y1="{TOP}" x2="{sx:.1}" y2="{:.1}" stroke="#eee"/><text x="{sx:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + plot_h,
            TOP + plot_h + 16.0,
            format_number(x)
        );
    }
    let _ = writeln!(
        svg,
        r#"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="black"/>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">offered load (messages / s, each to 9 recipients)</text>"#,
        LEFT + plot_w / 2.0,
        H - 18.0
    );
    let _ = writeln!(
        svg,
        r#"<text transform="translate(18,{:.1}) rotate(-90)" text-anchor="middle">ack latency (ms, log scale)</text>"#,
        TOP + plot_h / 2.0
    );
    let by = py(bound);
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{by:.1}" x2="{:.1}" y2="{by:.1}" stroke="#888" stroke-dasharray="8,4"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">p99 bound {} ms</text>"##,
        LEFT + plot_w,
        LEFT + plot_w - 4.0,
        by - 4.0,
        format_number(bound)
    );
    // Series and legend.
    for (i, (name, colour, dash, points)) in series.iter().enumerate() {
        if points.is_empty() {
            continue;
        }
        let path: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        let dash_attr = if dash.is_empty() {
            String::new()
        } else {
            format!(r#" stroke-dasharray="{dash}""#)
        };
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>"#,
            path.join(" ")
        );
        for (x, y) in points {
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{colour}"/>"#,
                px(*x),
                py(*y)
            );
        }
        let ly = TOP + 10.0 + 18.0 * i as f64;
        let lx = LEFT + plot_w + 12.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="2"{dash_attr}/><text x="{:.1}" y="{:.1}">{name}</text>"#,
            lx + 24.0,
            lx + 30.0,
            ly + 4.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// 1, 2 or 5 times a power of ten, at least `x`.
fn nice_ceiling(x: f64) -> f64 {
    let power = 10f64.powf(x.log10().floor());
    for step in [1.0, 2.0, 5.0, 10.0] {
        if step * power >= x {
            return step * power;
        }
    }
    10.0 * power
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(steps: Value) -> Value {
        json!({ "scenario": "ramp", "max_sustainable_msgs_per_sec": 0, "steps": steps })
    }

    #[test]
    fn a_ramp_step_slow_on_latency_alone_is_not_a_smoke_problem() {
        let slow = ramp(json!([{ "acked": 21, "errors": 0, "passed": false }]));
        assert_eq!(check("ramp", "lockstep", &slow), Vec::<String>::new());
    }

    #[test]
    fn a_ramp_that_loses_messages_or_runs_nothing_is_a_smoke_problem() {
        let lossy = ramp(json!([{ "acked": 21, "errors": 3, "passed": false }]));
        assert_eq!(
            check("ramp", "lockstep", &lossy),
            ["lockstep ramp: errors or missing deliveries"]
        );
        let empty = ramp(json!([]));
        assert_eq!(
            check("ramp", "lockstep", &empty),
            ["lockstep ramp: no step ran"]
        );
        let silent = ramp(json!([{ "acked": 0, "errors": 0 }]));
        assert_eq!(
            check("ramp", "lockstep", &silent),
            ["lockstep ramp: a step acked no message"]
        );
    }

    #[test]
    fn paired_runs_report_the_median_spread_and_pairwise_ratios() {
        let spread = Spread::of(vec![30.0, 10.0, 20.0]).expect("values");
        assert_eq!((spread.median, spread.low, spread.high), (20.0, 10.0, 30.0));
        assert_eq!(spread.cell(|x| format!("{x}")), "20 (10–30)");
        assert_eq!(Spread::of(vec![4.0, 2.0]).map(|s| s.median), Some(3.0));
        let run = |label: &str, pair: u64, rate: f64| {
            (
                label.to_owned(),
                json!({ "meta": { "pair": pair.to_string() }, "connects_per_sec": rate }),
            )
        };
        let ours = [run("lockstep", 1, 300.0), run("lockstep", 2, 100.0)];
        // The baseline's second run was slow too: the pair's ratio stays.
        let base = [run("node", 2, 50.0), run("node", 1, 100.0)];
        let ours: Vec<&(String, Value)> = ours.iter().collect();
        let base: Vec<&(String, Value)> = base.iter().collect();
        assert_eq!(paired_ratios(&ours, &base, "connects_per_sec"), [3.0, 2.0]);
    }

    #[test]
    fn cpu_per_unit_of_work_is_derived_for_results_without_it() {
        let mut steady = json!({
            "scenario": "steady",
            "result": { "acked": 4000, "window": { "server": { "cpu_seconds": 2.0 } } }
        });
        derive("steady", &mut steady);
        assert_eq!(
            number(&steady, "result.server_cpu_s_per_1000_msgs"),
            Some(0.5)
        );
        let mut ramp = json!({
            "steps": [{ "acked": 100, "window": { "server": { "cpu_seconds": 0.3 } } }],
            "best_step": { "acked": 100, "window": { "server": { "cpu_seconds": 0.3 } } }
        });
        derive("ramp", &mut ramp);
        assert_eq!(
            number(&ramp, "best_step.server_cpu_s_per_1000_msgs"),
            Some(3.0)
        );
        // A figure the generator already wrote is kept.
        let mut storm = json!({ "server_cpu_s_per_1000_connects": 1.5 });
        derive("storm", &mut storm);
        assert_eq!(number(&storm, "server_cpu_s_per_1000_connects"), Some(1.5));
    }

    #[test]
    fn a_storm_with_a_failed_socket_is_a_smoke_problem() {
        let storm = |authenticated: u64, failures: u64| {
            json!({ "sockets": 10, "authenticated": authenticated, "synced": authenticated,
                    "failures": failures, "sync": true })
        };
        assert_eq!(
            check("storm", "lockstep", &storm(10, 0)),
            Vec::<String>::new()
        );
        assert_eq!(
            check("storm", "lockstep", &storm(9, 1)),
            [
                "lockstep storm: sockets failed to connect",
                "lockstep storm: not every socket authenticated",
                "lockstep storm: not every socket synced"
            ]
        );
    }

    #[test]
    fn slowest_seconds_skip_the_warm_up_and_line_up_with_the_host() {
        let steady = json!({
            "result": {
                // Seconds 3 and 4 are warm-up: the window starts at 5.4.
                "timeline": [[3, 10, 90.0], [4, 10, 80.0], [5, 10, 2.0], [6, 10, 30.0], [7, 10, 4.0]],
                "window": {
                    "started_at_s": 5.4,
                    "host": { "per_second": [
                        [1, 50.0, 1.0, 0.0, 100, 1.0, 10, 0.5],
                        [2, 50.0, 9.0, 7.0, 100, 1.0, 10, 25.0],
                        [3, 50.0, 1.0, 0.0, 100, 1.0, 10, 0.5]
                    ] }
                }
            }
        });
        let slowest = slowest_seconds(&steady);
        let seconds: Vec<u64> = slowest.iter().map(|s| s.second).collect();
        assert_eq!(seconds, [6, 7, 5]);
        // Second 6 began 0.6 s into the window: the host's second row.
        let host = slowest[0].host.expect("sampled");
        assert_eq!(host[3], json!(7.0));
        assert_eq!(host[7], json!(25.0));
    }
}
