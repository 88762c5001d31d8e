//! Push backends: something that takes the registry's [`Snapshot`]s on a
//! period (an OTLP exporter, a custom sink), beside the pull server.
//!
//! A component declares its metrics against a [`Registry`] and never names
//! a backend; the process chooses at start-up which ones run
//! ([`PushExporter::start`] for each push backend, `MetricsServer` for
//! pull), several at once if it likes.
//!
//! ```
//! use std::time::Duration;
//! use nanometrics::{Registry, Snapshot};
//! use nanometrics_exporters::push::{BackendError, PushBackend, PushExporter};
//!
//! /// Prints each family's series count (a custom backend in a few lines).
//! struct Log;
//!
//! impl PushBackend for Log {
//!     fn export(&mut self, snapshot: &Snapshot) -> Result<(), BackendError> {
//!         for f in &snapshot.families {
//!             println!("{} {}", f.name, f.series.len());
//!         }
//!         Ok(())
//!     }
//! }
//!
//! let registry = Registry::new();
//! registry.counter("jobs_total", "Jobs.")?.inc();
//! let exporter = PushExporter::start(registry, Duration::from_secs(60), Log)?;
//! exporter.shutdown()?; // a final export, then the backend's shutdown
//! # Ok::<(), nanometrics_exporters::push::BackendError>(())
//! ```

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::sync::lock;
use nanometrics::{Registry, Snapshot};

/// Why an export failed; [`PushExporter`] counts it and goes on at the
/// next period (cumulative values lose nothing by a missed export).
pub type BackendError = Box<dyn std::error::Error + Send + Sync>;

/// A destination for snapshots, called on the exporter's own thread.
pub trait PushBackend: Send + 'static {
    /// Sends one snapshot. Taking longer than the period delays the next
    /// export; it never blocks a recording thread.
    fn export(&mut self, snapshot: &Snapshot) -> Result<(), BackendError>;

    /// Called once after the final export, before the thread ends.
    fn shutdown(&mut self) -> Result<(), BackendError> {
        Ok(())
    }
}

/// A boxed backend is one (backends chosen at run time).
impl<B: PushBackend + ?Sized> PushBackend for Box<B> {
    fn export(&mut self, snapshot: &Snapshot) -> Result<(), BackendError> {
        (**self).export(snapshot)
    }

    fn shutdown(&mut self) -> Result<(), BackendError> {
        (**self).shutdown()
    }
}

/// What a [`PushExporter`] has done.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct PushStats {
    /// Exports that succeeded.
    pub exports: u64,
    /// Exports that failed.
    pub failures: u64,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// When the last export succeeded.
    pub last_success: Option<std::time::SystemTime>,
}

enum Command {
    Now(mpsc::Sender<Result<(), String>>),
    Stop(mpsc::Sender<Result<(), String>>),
}

/// A backend driven on its own thread (`nanometrics-push`): an export
/// every period, one on [`export_now`](Self::export_now), and a final one
/// at [`shutdown`](Self::shutdown) (or drop), so that nothing recorded
/// before shutdown is lost.
pub struct PushExporter {
    commands: Mutex<mpsc::Sender<Command>>,
    stats: Arc<Mutex<PushStats>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for PushExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushExporter")
            .field("stats", &self.stats())
            .finish()
    }
}

impl PushExporter {
    /// Exports `registry` to `backend` every `interval` (1 ms to a day),
    /// the first one an interval from now.
    pub fn start(
        registry: Registry,
        interval: Duration,
        backend: impl PushBackend,
    ) -> std::io::Result<PushExporter> {
        let interval = interval.clamp(Duration::from_millis(1), Duration::from_secs(86_400));
        let (commands, rx) = mpsc::channel();
        let stats = Arc::new(Mutex::new(PushStats::default()));
        let st = stats.clone();
        let thread = std::thread::Builder::new()
            .name("nanometrics-push".into())
            .spawn(move || drive(registry, interval, backend, rx, st))?;
        Ok(PushExporter {
            commands: Mutex::new(commands),
            stats,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Exports now (besides the periodic exports) and waits for it.
    pub fn export_now(&self) -> Result<(), BackendError> {
        let (tx, rx) = mpsc::channel();
        lock(&self.commands)
            .send(Command::Now(tx))
            .map_err(|_| "the exporter's thread has stopped")?;
        rx.recv()
            .map_err(|_| "the exporter's thread has stopped")?
            .map_err(Into::into)
    }

    /// What it has done so far.
    pub fn stats(&self) -> PushStats {
        lock(&self.stats).clone()
    }

    /// The final export, then the backend's shutdown; waits for both and
    /// returns the first error. Later calls (and drop) do nothing.
    pub fn shutdown(&self) -> Result<(), BackendError> {
        let Some(thread) = lock(&self.thread).take() else {
            return Ok(());
        };
        let (tx, rx) = mpsc::channel();
        let sent = lock(&self.commands).send(Command::Stop(tx));
        let result = match sent {
            Ok(()) => rx
                .recv()
                .unwrap_or_else(|_| Err("the exporter's thread stopped".into())),
            Err(_) => Err("the exporter's thread had stopped".into()),
        };
        let _ = thread.join();
        result.map_err(Into::into)
    }
}

impl Drop for PushExporter {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// One export: a snapshot to the backend, the outcome in the stats.
fn export_once(
    registry: &Registry,
    backend: &mut impl PushBackend,
    stats: &Mutex<PushStats>,
) -> Result<(), String> {
    // A collect hook (or the backend) that panics fails this export, not
    // the exporter.
    let result = catch_unwind(AssertUnwindSafe(|| {
        let snapshot = registry.snapshot();
        backend.export(&snapshot).map_err(|e| e.to_string())
    }))
    .unwrap_or_else(|_| Err("a collect hook or the backend panicked".to_string()));
    let mut s = lock(stats);
    match &result {
        Ok(()) => {
            s.exports += 1;
            s.last_success = Some(std::time::SystemTime::now());
        }
        Err(e) => {
            s.failures += 1;
            s.last_error = Some(e.clone());
        }
    }
    result
}

/// The exporter's thread.
fn drive(
    registry: Registry,
    interval: Duration,
    mut backend: impl PushBackend,
    commands: mpsc::Receiver<Command>,
    stats: Arc<Mutex<PushStats>>,
) {
    let mut next = Instant::now() + interval;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        match commands.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {
                let _ = export_once(&registry, &mut backend, &stats);
                next += interval;
                // Late (a slow export): the next period from now.
                if next <= Instant::now() {
                    next = Instant::now() + interval;
                }
            }
            Ok(Command::Now(reply)) => {
                let _ = reply.send(export_once(&registry, &mut backend, &stats));
            }
            Ok(Command::Stop(reply)) => {
                let last = export_once(&registry, &mut backend, &stats);
                let down = backend.shutdown().map_err(|e| e.to_string());
                let _ = reply.send(last.and(down));
                return;
            }
            // The exporter was dropped without a stop (cannot happen:
            // Drop stops it); end with a final export all the same.
            Err(RecvTimeoutError::Disconnected) => {
                let _ = export_once(&registry, &mut backend, &stats);
                let _ = backend.shutdown();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    struct Count(Arc<Mutex<u32>>);

    impl PushBackend for Count {
        fn export(&mut self, _: &Snapshot) -> Result<(), BackendError> {
            *lock(&self.0) += 1;
            Ok(())
        }
    }

    #[test]
    fn a_panicking_collect_hook_fails_one_export_not_the_exporter() {
        let r = Registry::new();
        let once = Arc::new(AtomicBool::new(true));
        let o = once.clone();
        let _hook = r.on_collect(move || {
            if o.swap(false, Ordering::SeqCst) {
                panic!("a collect hook bug (expected by the test)");
            }
        });
        let n = Arc::new(Mutex::new(0));
        let e = PushExporter::start(r, Duration::from_secs(3600), Count(n.clone())).unwrap();
        let err = e.export_now().unwrap_err().to_string();
        assert!(err.contains("panicked"), "{err}");
        e.export_now().unwrap();
        e.shutdown().unwrap();
        assert_eq!(*lock(&n), 2, "the second export and the final one");
        assert_eq!((e.stats().exports, e.stats().failures), (2, 1));
    }
}
