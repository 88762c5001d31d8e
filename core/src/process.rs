//! [`ProcessCollector`] (Linux): the process's own figures, read from
//! `/proc/self` at each read of the registry, under the names the
//! `prometheus` crate's `process` feature and Python's `prometheus_client`
//! use, so existing dashboards keep working:
//!
//! | name | type | from |
//! |---|---|---|
//! | `process_cpu_seconds_total` | counter | user + system CPU time (`/proc/self/stat`) |
//! | `process_resident_memory_bytes` | gauge | `VmRSS` (`/proc/self/status`) |
//! | `process_virtual_memory_bytes` | gauge | `VmSize` |
//! | `process_start_time_seconds` | gauge | start time since the epoch (`stat` and `/proc/stat`'s `btime`) |
//! | `process_open_fds` | gauge | entries of `/proc/self/fd` |
//! | `process_max_fds` | gauge | the soft `Max open files` limit (`/proc/self/limits`) |
//! | `process_threads` | gauge | `Threads` (`/proc/self/status`) |
//!
//! ```
//! let registry = nanometrics::Registry::new();
//! let _process = nanometrics::process::ProcessCollector::register(&registry)?;
//! let snap = registry.snapshot();
//! let rss = snap.family("process_resident_memory_bytes").unwrap();
//! assert!(rss.series[0].value.as_gauge().unwrap() > 0.0);
//! # Ok::<(), nanometrics::Error>(())
//! ```
//!
//! A figure that cannot be read (a `/proc` without it) is left out of that
//! read; nothing panics. CPU time is in the kernel's `USER_HZ` ticks, 100 a
//! second on every Linux the `/proc` ABI serves.

use std::sync::Arc;

use crate::collected::{CollectedFamily, CollectedValue};
use crate::error::Error;
use crate::registry::{CollectHook, Registry};
use crate::snapshot::MetricKind;

/// `/proc`'s clock ticks a second (`USER_HZ`).
const TICKS_PER_SECOND: f64 = 100.0;

/// The process's figures in a registry; dropping it stops updating them
/// (the families stay, empty after the next read).
#[derive(Debug)]
pub struct ProcessCollector {
    _hook: CollectHook,
}

struct Families {
    cpu: CollectedFamily,
    rss: CollectedFamily,
    vsize: CollectedFamily,
    start: CollectedFamily,
    open_fds: CollectedFamily,
    max_fds: CollectedFamily,
    threads: CollectedFamily,
}

impl ProcessCollector {
    /// Declares the families in `registry` (a sub-registry's prefix and
    /// constant labels apply) and reads `/proc/self` at each read of it.
    ///
    /// # Errors
    ///
    /// A name the registry already has otherwise.
    pub fn register(registry: &Registry) -> Result<ProcessCollector, Error> {
        let gauge = |name: &str, help: &str| {
            registry
                .metric(name, help)
                .collected(MetricKind::Gauge, &[])
        };
        let f = Arc::new(Families {
            cpu: registry
                .metric(
                    "process_cpu_seconds_total",
                    "Total user and system CPU time spent in seconds.",
                )
                .unit("seconds")
                .collected(MetricKind::Counter, &[])?,
            rss: gauge(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
            )?,
            vsize: gauge(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
            )?,
            start: gauge(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
            )?,
            open_fds: gauge("process_open_fds", "Number of open file descriptors.")?,
            max_fds: gauge(
                "process_max_fds",
                "Maximum number of open file descriptors.",
            )?,
            threads: gauge("process_threads", "Number of OS threads in the process.")?,
        });
        let hook = registry.on_collect(move || f.read());
        Ok(ProcessCollector { _hook: hook })
    }
}

impl Families {
    fn read(&self) {
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        let fields = stat.as_deref().and_then(stat_fields);
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let kb = |key: &str| status_value(&status, key).map(|v| v * 1024.0);
        let set = |f: &CollectedFamily, v: Option<CollectedValue>| {
            // One unlabelled series, or none when the figure is missing.
            let _ = f.set(v.map(|v| (Vec::new(), v)));
        };
        let gauge = |v: Option<f64>| v.map(CollectedValue::Gauge);
        set(
            &self.cpu,
            fields
                .as_ref()
                .and_then(|f| {
                    Some(
                        (f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
                            / TICKS_PER_SECOND,
                    )
                })
                .map(CollectedValue::FloatCounter),
        );
        set(&self.rss, gauge(kb("VmRSS:")));
        set(&self.vsize, gauge(kb("VmSize:")));
        set(&self.threads, gauge(status_value(&status, "Threads:")));
        set(
            &self.start,
            gauge(fields.as_ref().and_then(|f| {
                let ticks: f64 = f.get(19)?.parse().ok()?;
                Some(boot_time()? + ticks / TICKS_PER_SECOND)
            })),
        );
        set(
            &self.open_fds,
            gauge(
                std::fs::read_dir("/proc/self/fd")
                    .ok()
                    .map(|d| d.count() as f64),
            ),
        );
        set(&self.max_fds, gauge(max_open_files()));
    }
}

/// The fields of `/proc/self/stat` after the command name (which may hold
/// spaces and parentheses): index 0 is the state (field 3 of proc(5)).
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let after = &stat[stat.rfind(')')? + 1..];
    Some(after.split_whitespace().collect())
}

/// The number after `key` in `/proc/self/status` (`VmRSS:  1234 kB`).
fn status_value(status: &str, key: &str) -> Option<f64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// When the machine booted, in seconds since the epoch (`btime`).
fn boot_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The soft limit of open files (`unlimited`: none reported).
fn max_open_files() -> Option<f64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
}

/// Now, in seconds since the epoch (for the tests' bounds).
#[cfg(test)]
fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_figures_are_this_process_s() {
        let r = Registry::new();
        let _p = ProcessCollector::register(&r).unwrap();
        let threads: Vec<_> = (0..3)
            .map(|_| {
                std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(300)))
            })
            .collect();
        let snap = r.snapshot();
        let v = |name: &str| {
            snap.family(name).unwrap_or_else(|| panic!("{name}")).series[0]
                .value
                .as_f64()
                .unwrap()
        };
        assert!(v("process_resident_memory_bytes") > 1e6);
        assert!(v("process_virtual_memory_bytes") >= v("process_resident_memory_bytes"));
        assert!(v("process_open_fds") >= 3.0);
        assert!(v("process_max_fds") >= v("process_open_fds"));
        assert!(v("process_threads") >= 4.0, "this thread and three more");
        let start = v("process_start_time_seconds");
        assert!(
            start <= now_seconds() && start > now_seconds() - 86_400.0,
            "{start}"
        );
        let cpu = v("process_cpu_seconds_total");
        assert!(cpu >= 0.0);
        // CPU time grows with work.
        let mut x = 0u64;
        let t0 = std::time::Instant::now();
        while t0.elapsed() < std::time::Duration::from_millis(120) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let later = r.snapshot();
        let cpu2 = later.family("process_cpu_seconds_total").unwrap().series[0]
            .value
            .as_f64()
            .unwrap();
        assert!(cpu2 >= cpu + 0.05, "{cpu} then {cpu2}");
        for t in threads {
            t.join().unwrap();
        }
    }

    #[test]
    fn stat_fields_survive_a_command_name_with_spaces_and_parentheses() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 1234 0";
        let f = stat_fields(stat).unwrap();
        assert_eq!((f[0], f[11], f[12], f[19]), ("S", "250", "50", "1234"));
        assert_eq!(status_value("VmRSS:\t  2048 kB\n", "VmRSS:"), Some(2048.0));
        assert_eq!(status_value("Other: 1\n", "VmRSS:"), None);
    }

    #[test]
    fn a_name_taken_otherwise_is_an_error() {
        let r = Registry::new();
        r.gauge("process_open_fds", "Mine.").unwrap();
        assert!(ProcessCollector::register(&r).is_err());
    }
}
