//! Measurements: latency histograms, the server's CPU and memory from
//! `/proc`, the generator's own CPU from `getrusage`, and the host's (see
//! [`crate::host`]).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::host::HostSampler;

/// A latency histogram in microseconds, shared by every client task.
pub struct Latency {
    histogram: Mutex<Histogram<u64>>,
}

impl Default for Latency {
    fn default() -> Self {
        Self {
            // 1 µs to 10 minutes, 3 significant digits.
            histogram: Mutex::new(
                Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds"),
            ),
        }
    }
}

impl Latency {
    pub fn record(&self, micros: u64) {
        let mut histogram = self.histogram.lock().unwrap_or_else(|e| e.into_inner());
        histogram.saturating_record(micros.max(1));
    }

    /// The 99th percentile in milliseconds (0 when empty).
    pub fn p99_ms(&self) -> f64 {
        let histogram = self.histogram.lock().unwrap_or_else(|e| e.into_inner());
        if histogram.is_empty() {
            0.0
        } else {
            histogram.value_at_quantile(0.99) as f64 / 1000.0
        }
    }

    /// p50/p95/p99/p99.9/max/mean in milliseconds, and the count.
    pub fn summary(&self) -> Value {
        let histogram = self.histogram.lock().unwrap_or_else(|e| e.into_inner());
        if histogram.is_empty() {
            return json!({ "count": 0 });
        }
        let ms = |us: u64| round3(us as f64 / 1000.0);
        json!({
            "count": histogram.len(),
            "p50": ms(histogram.value_at_quantile(0.50)),
            "p95": ms(histogram.value_at_quantile(0.95)),
            "p99": ms(histogram.value_at_quantile(0.99)),
            "p999": ms(histogram.value_at_quantile(0.999)),
            "max": ms(histogram.max()),
            "mean": round3(histogram.mean() / 1000.0),
        })
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Counters of things that went wrong, by kind.
#[derive(Default)]
pub struct Errors {
    kinds: Mutex<std::collections::BTreeMap<String, u64>>,
    total: AtomicU64,
}

impl Errors {
    pub fn add(&self, kind: &str) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let mut kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        *kinds.entry(kind.to_owned()).or_default() += 1;
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub fn summary(&self) -> Value {
        let kinds = self.kinds.lock().unwrap_or_else(|e| e.into_inner());
        json!({ "total": self.total(), "by_kind": *kinds })
    }
}

/// One reading of a process's CPU time and memory.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcReading {
    /// User + system CPU time in seconds.
    pub cpu_seconds: f64,
    pub rss_kb: u64,
    /// Peak resident set size over the process's life (`VmHWM`).
    pub hwm_kb: u64,
}

/// Reads `/proc/<pid>/stat` and `/proc/<pid>/status`.
pub fn read_proc(pid: u32) -> anyhow::Result<ProcReading> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces and parentheses: fields start after
    // the last ')'. utime and stime are fields 14 and 15 (1-based), i.e. the
    // 12th and 13th after the state field.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let hz = clock_ticks_per_second();
    let cpu_seconds = (ticks(11) + ticks(12)) as f64 / hz;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(ProcReading {
        cpu_seconds,
        rss_kb: kb("VmRSS:"),
        hwm_kb: kb("VmHWM:"),
    })
}

/// Bytes the process caused to be written to storage so far
/// (`/proc/<pid>/io` `write_bytes`; 0 where that file is not readable).
/// Read at a window's two ends only, not by the RSS sampler.
fn disk_write_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as f64 } else { 100.0 }
}

/// This process's user + system CPU seconds.
pub fn self_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return 0.0;
    }
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Raises the open-file limit to its hard maximum (each client is a socket).
pub fn raise_fd_limit() -> u64 {
    // SAFETY: plain get/setrlimit on a struct we own.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
        let _ = libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur
    }
}

/// CPU and memory of the server and of the generator over a window.
pub struct Window {
    pid: Option<u32>,
    started: Instant,
    server_start: Option<ProcReading>,
    /// The server's `disk_write_bytes` when the window started.
    server_written_start: u64,
    self_start: f64,
    peak_rss_kb: std::sync::Arc<AtomicU64>,
    sampler: Option<tokio::task::JoinHandle<()>>,
    host: HostSampler,
}

impl Window {
    /// Starts a window; samples the server's RSS every 200 ms for its peak.
    pub fn start(pid: Option<u32>) -> Self {
        let server_start = pid.and_then(|pid| read_proc(pid).ok());
        let peak_rss_kb =
            std::sync::Arc::new(AtomicU64::new(server_start.map(|r| r.rss_kb).unwrap_or(0)));
        let sampler = pid.map(|pid| {
            let peak = peak_rss_kb.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(200));
                loop {
                    tick.tick().await;
                    match read_proc(pid) {
                        Ok(reading) => {
                            peak.fetch_max(reading.rss_kb, Ordering::Relaxed);
                        }
                        Err(_) => break,
                    }
                }
            })
        });
        Self {
            pid,
            started: Instant::now(),
            server_start,
            server_written_start: pid.map_or(0, disk_write_bytes),
            self_start: self_cpu_seconds(),
            peak_rss_kb,
            sampler,
            host: HostSampler::start(),
        }
    }

    /// Seconds since the window started.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Ends the window: server CPU %, RSS (start, end, sampled peak,
    /// lifetime peak), generator CPU %, and the host's steal and disk
    /// latency (see [`HostSampler`]).
    pub fn finish(self) -> Value {
        let wall = self.elapsed().max(1e-6);
        if let Some(sampler) = &self.sampler {
            sampler.abort();
        }
        let generator_cpu = self_cpu_seconds() - self.self_start;
        let server = match (self.pid, self.server_start) {
            (Some(pid), Some(start)) => match read_proc(pid) {
                Ok(end) => json!({
                    "pid": pid,
                    "cpu_seconds": round3(end.cpu_seconds - start.cpu_seconds),
                    "cpu_percent": round3(100.0 * (end.cpu_seconds - start.cpu_seconds) / wall),
                    "rss_start_kb": start.rss_kb,
                    "rss_end_kb": end.rss_kb,
                    "rss_peak_sampled_kb": self.peak_rss_kb.load(Ordering::Relaxed).max(end.rss_kb),
                    "vm_hwm_kb": end.hwm_kb,
                    "disk_write_bytes": disk_write_bytes(pid).saturating_sub(self.server_written_start),
                }),
                Err(error) => json!({ "pid": pid, "error": error.to_string() }),
            },
            _ => Value::Null,
        };
        json!({
            "wall_seconds": round3(wall),
            "server": server,
            "generator": {
                "cpu_seconds": round3(generator_cpu),
                "cpu_percent": round3(100.0 * generator_cpu / wall),
            },
            "host": self.host.finish(),
        })
    }
}
