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
/// (the families stay, with their last values: `Registry::unregister`
/// removes them).
#[derive(Debug)]
#[must_use = "dropping the ProcessCollector stops its updates"]
pub struct ProcessCollector {
    _hook: CollectHook,
}

struct Families {
    /// Read once: `btime` moves with the wall clock (NTP), a start time
    /// must not.
    start_time: std::sync::OnceLock<Option<f64>>,
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
        let mut declared: Vec<&str> = Vec::new();
        let families = Families::declare(registry, &mut declared).inspect_err(|_| {
            // All or nothing: take back what this call declared.
            for name in &declared {
                registry.unregister(name);
            }
        })?;
        let f = Arc::new(families);
        let hook = registry.on_collect(move || f.read());
        Ok(ProcessCollector { _hook: hook })
    }
}

impl Families {
    fn declare<'a>(registry: &Registry, declared: &mut Vec<&'a str>) -> Result<Families, Error> {
        let mut family = |kind: MetricKind, name: &'a str, help: &str, unit: Option<&str>| {
            let mut b = registry.metric(name, help);
            if let Some(u) = unit {
                b = b.unit(u);
            }
            let f = b.collected(kind, &[])?;
            declared.push(name);
            Ok::<_, Error>(f)
        };
        use MetricKind::{Counter, Gauge};
        Ok(Families {
            start_time: std::sync::OnceLock::new(),
            cpu: family(
                Counter,
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                Some("seconds"),
            )?,
            rss: family(
                Gauge,
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                None,
            )?,
            vsize: family(
                Gauge,
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                None,
            )?,
            start: family(
                Gauge,
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                None,
            )?,
            open_fds: family(
                Gauge,
                "process_open_fds",
                "Number of open file descriptors.",
                None,
            )?,
            max_fds: family(
                Gauge,
                "process_max_fds",
                "Maximum number of open file descriptors.",
                None,
            )?,
            threads: family(
                Gauge,
                "process_threads",
                "Number of OS threads in the process.",
                None,
            )?,
        })
    }

    fn read(&self) {
        // As bytes: the command name in both files may be any bytes.
        let text = |path: &str| {
            std::fs::read(path)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        let stat = text("/proc/self/stat");
        let fields = stat.as_deref().and_then(stat_fields);
        let status = text("/proc/self/status").unwrap_or_default();
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
        let start = *self.start_time.get_or_init(|| {
            fields.as_ref().and_then(|f| {
                let ticks: f64 = f.get(19)?.parse().ok()?;
                Some(boot_time()? + ticks / TICKS_PER_SECOND)
            })
        });
        set(&self.start, gauge(start));
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
        let cpu_now = || {
            r.snapshot()
                .family("process_cpu_seconds_total")
                .unwrap()
                .series[0]
                .value
                .as_f64()
                .unwrap()
        };
        let (mut x, t0) = (0u64, std::time::Instant::now());
        while cpu_now() < cpu + 0.05 {
            for _ in 0..1_000_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(30),
                "CPU time stood still at {cpu}"
            );
        }
        std::hint::black_box(x);
        let start2 = r
            .snapshot()
            .family("process_start_time_seconds")
            .unwrap()
            .series[0]
            .value
            .as_f64()
            .unwrap();
        assert_eq!(start2, start, "read once");
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
    fn a_name_taken_otherwise_is_an_error_and_nothing_stays() {
        let r = Registry::new();
        r.gauge("process_open_fds", "Mine.").unwrap();
        assert!(ProcessCollector::register(&r).is_err());
        let names: Vec<String> = r
            .snapshot()
            .families
            .iter()
            .map(|f| f.name.clone())
            .collect();
        assert_eq!(names, ["process_open_fds"]);
    }
}
