//! What the machine did during a measurement, apart from the server and the
//! generator: its CPU time stolen by the hypervisor, time waiting on the
//! disk, and the disk's own write and flush latency, each second.
//!
//! A benchmark on a shared virtual machine moves with its host. The same
//! build's steady p99 has swung between 4 and 38 ms within an hour here at
//! unchanged server CPU; a run's tail means little without the host's share
//! beside it. Everything is read from `/proc/stat` and `/proc/diskstats`,
//! so it costs the generator two small file reads a second.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::stats::round3;

/// Cumulative counters since boot.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    /// Jiffies of every CPU, by `/proc/stat`'s first line.
    cpu_total: u64,
    cpu_busy: u64,
    cpu_iowait: u64,
    cpu_steal: u64,
    /// Summed over whole disks (not partitions, loop or RAM devices).
    writes: u64,
    write_ms: u64,
    flushes: u64,
    flush_ms: u64,
}

fn read_counters() -> Option<Counters> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already
    // counted in user).
    let field = |i: usize| cpu.get(i).copied().unwrap_or(0);
    let mut counters = Counters {
        cpu_total: (0..8).map(field).sum(),
        cpu_busy: field(0) + field(1) + field(2) + field(5) + field(6),
        cpu_iowait: field(4),
        cpu_steal: field(7),
        ..Counters::default()
    };
    let disks = std::fs::read_to_string("/proc/diskstats").unwrap_or_default();
    for line in disks.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(name) = fields.get(2) else { continue };
        if !is_whole_disk(name) {
            continue;
        }
        // After major, minor and name: writes completed is the 5th, time
        // writing the 8th, flushes completed the 16th and time flushing the
        // 17th (the last two only on kernels from 5.5).
        let number = |i: usize| fields.get(3 + i).and_then(|f| f.parse::<u64>().ok());
        counters.writes += number(4).unwrap_or(0);
        counters.write_ms += number(7).unwrap_or(0);
        counters.flushes += number(15).unwrap_or(0);
        counters.flush_ms += number(16).unwrap_or(0);
    }
    Some(counters)
}

fn is_whole_disk(name: &str) -> bool {
    !name.starts_with("loop")
        && !name.starts_with("ram")
        && !name.starts_with("zram")
        && std::path::Path::new("/sys/block").join(name).exists()
}

/// One second of the host: CPU shares in % of all cores, disk operations
/// and their mean latency in ms (0 when there were none).
#[derive(Debug, Clone, Copy)]
struct Second {
    busy_percent: f64,
    iowait_percent: f64,
    steal_percent: f64,
    writes: u64,
    write_ms: f64,
    flushes: u64,
    flush_ms: f64,
}

fn between(before: &Counters, after: &Counters) -> Second {
    let total = after.cpu_total.saturating_sub(before.cpu_total).max(1) as f64;
    let share = |a: u64, b: u64| round3(100.0 * a.saturating_sub(b) as f64 / total);
    let mean = |ms: u64, ms0: u64, n: u64| {
        if n == 0 {
            0.0
        } else {
            round3(ms.saturating_sub(ms0) as f64 / n as f64)
        }
    };
    let writes = after.writes.saturating_sub(before.writes);
    let flushes = after.flushes.saturating_sub(before.flushes);
    Second {
        busy_percent: share(after.cpu_busy, before.cpu_busy),
        iowait_percent: share(after.cpu_iowait, before.cpu_iowait),
        steal_percent: share(after.cpu_steal, before.cpu_steal),
        writes,
        write_ms: mean(after.write_ms, before.write_ms, writes),
        flushes,
        flush_ms: mean(after.flush_ms, before.flush_ms, flushes),
    }
}

/// The row of a window's `per_second` (numbered from 1) that overlaps most
/// with `second` of a timeline whose clock started `started_at` seconds
/// before the window's; `None` for seconds before the window. Row n spans
/// `[started_at + n - 1, started_at + n)`.
pub fn row_of_second(second: u64, started_at: f64) -> Option<usize> {
    if (second as f64) < started_at.floor() {
        return None;
    }
    Some((second as f64 - started_at).round().max(0.0) as usize + 1)
}

/// Samples the host once a second until finished.
pub struct HostSampler {
    first: Option<Counters>,
    seconds: Arc<Mutex<Vec<Second>>>,
    task: tokio::task::JoinHandle<()>,
}

impl HostSampler {
    pub fn start() -> Self {
        let first = read_counters();
        let seconds = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let seconds = seconds.clone();
            async move {
                let Some(mut last) = first else { return };
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let Some(now) = read_counters() else { return };
                    let second = between(&last, &now);
                    seconds
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(second);
                    last = now;
                }
            }
        });
        Self {
            first,
            seconds,
            task,
        }
    }

    /// The whole window's shares and means, the worst second's, and every
    /// second as `[second, busy %, iowait %, steal %, writes, write ms,
    /// flushes, flush ms]` (seconds from the window's start). Null where
    /// `/proc` could not be read.
    pub fn finish(self) -> Value {
        self.task.abort();
        let (Some(first), Some(last)) = (self.first, read_counters()) else {
            return Value::Null;
        };
        let whole = between(&first, &last);
        let seconds = self.seconds.lock().unwrap_or_else(|e| e.into_inner());
        let worst = |f: fn(&Second) -> f64| seconds.iter().map(f).fold(0.0, f64::max);
        let per_second: Vec<Value> = seconds
            .iter()
            .enumerate()
            .map(|(i, s)| {
                json!([
                    i + 1,
                    s.busy_percent,
                    s.iowait_percent,
                    s.steal_percent,
                    s.writes,
                    s.write_ms,
                    s.flushes,
                    s.flush_ms
                ])
            })
            .collect();
        json!({
            "cpu_busy_percent": whole.busy_percent,
            "cpu_iowait_percent": whole.iowait_percent,
            "cpu_steal_percent": whole.steal_percent,
            "disk_writes": whole.writes,
            "disk_write_ms_mean": whole.write_ms,
            "disk_flushes": whole.flushes,
            "disk_flush_ms_mean": whole.flush_ms,
            "worst_second": {
                "cpu_steal_percent": worst(|s| s.steal_percent),
                "cpu_iowait_percent": worst(|s| s.iowait_percent),
                "disk_write_ms_mean": worst(|s| s.write_ms),
                "disk_flush_ms_mean": worst(|s| s.flush_ms),
            },
            "per_second": per_second,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_means_come_from_the_deltas() {
        let before = Counters {
            cpu_total: 1_000,
            cpu_busy: 400,
            cpu_iowait: 10,
            cpu_steal: 5,
            writes: 100,
            write_ms: 50,
            flushes: 20,
            flush_ms: 10,
        };
        let after = Counters {
            cpu_total: 1_200,
            cpu_busy: 500,
            cpu_iowait: 30,
            cpu_steal: 15,
            writes: 140,
            write_ms: 130,
            flushes: 30,
            flush_ms: 60,
        };
        let second = between(&before, &after);
        assert_eq!(second.busy_percent, 50.0);
        assert_eq!(second.iowait_percent, 10.0);
        assert_eq!(second.steal_percent, 5.0);
        assert_eq!((second.writes, second.write_ms), (40, 2.0));
        assert_eq!((second.flushes, second.flush_ms), (10, 5.0));
        // No flushes in a second is a mean of 0, not a division by zero.
        assert_eq!(between(&after, &after).flush_ms, 0.0);
    }

    #[test]
    fn reads_this_machine() {
        let counters = read_counters().expect("/proc/stat is readable on Linux");
        assert!(counters.cpu_total > 0);
        assert!(counters.cpu_busy <= counters.cpu_total);
    }
}
