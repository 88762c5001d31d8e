//! Shared helpers for the criterion benches in `benches/`.
//!
//! - [`Contended`]: runs one closure on N threads at once between a start and
//!   an end barrier, for `Bencher::iter_custom` (the shape of
//!   tracing-subscriber's `MultithreadedBench`). The calling thread is one of
//!   the N, so a 2-thread bench keeps exactly two threads busy on a 2-core
//!   machine, and the helper threads live as long as the [`Contended`] value:
//!   a thread's first-use costs (a metric crate's per-thread state) are paid
//!   once, not in every sample.
//! - [`bench_uncontended`], [`bench_contended`]: one implementation's
//!   operation measured on one thread, or on a [`Contended`] pool, with the
//!   same loop.
//! - [`latency_values`]: a fixed, latency-like input stream for histograms.
//! - [`config`]: the criterion configuration every bench group uses.

use std::fmt;
use std::sync::{Arc, Barrier, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion};

/// The criterion configuration of every bench: short enough that
/// `cargo bench -p nanometrics-benches` finishes in a few minutes. Command
/// line flags (`--warm-up-time`, `--measurement-time`, `--sample-size`)
/// override it, which is what `ci/bench-check.sh` relies on.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
}

/// Work for one thread: `(thread index, iterations)`.
type Job = Arc<dyn Fn(usize, u64) + Send + Sync>;

struct Shared {
    /// Iterations and job of the current round; `None` tells the helpers to
    /// exit.
    job: Mutex<Option<(u64, Job)>>,
    start: Barrier,
    end: Barrier,
}

/// `threads` threads that run a job together: all start at one barrier and
/// the time is taken when the last one reaches the end barrier.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// let pool = nanometrics_benches::Contended::new(2);
/// let n = Arc::new(AtomicU64::new(0));
/// let n2 = n.clone();
/// pool.run(1000, move |_, iters| {
///     for _ in 0..iters {
///         n2.fetch_add(1, Ordering::Relaxed);
///     }
/// });
/// assert_eq!(n.load(Ordering::Relaxed), 2000);
/// ```
pub struct Contended {
    threads: usize,
    shared: Arc<Shared>,
    helpers: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Contended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contended")
            .field("threads", &self.threads)
            .finish()
    }
}

impl Contended {
    /// Starts `threads - 1` helper threads; the caller of [`run`](Self::run)
    /// is thread 0.
    pub fn new(threads: usize) -> Contended {
        assert!(threads >= 1);
        let shared = Arc::new(Shared {
            job: Mutex::new(None),
            start: Barrier::new(threads),
            end: Barrier::new(threads),
        });
        let helpers = (1..threads)
            .map(|tid| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("bench-{tid}"))
                    .spawn(move || helper(tid, &shared))
                    .expect("spawn bench thread")
            })
            .collect();
        Contended {
            threads,
            shared,
            helpers,
        }
    }

    /// Number of threads that run each job (the caller included).
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f(tid, iters)` on every thread at once and returns the wall
    /// time from the start barrier until the last thread is done.
    ///
    /// Every thread makes `iters` operations, so for `iter_custom` this is
    /// the time **per operation per thread** (criterion divides by `iters`).
    pub fn run(&self, iters: u64, f: impl Fn(usize, u64) + Send + Sync + 'static) -> Duration {
        let job: Job = Arc::new(f);
        *lock(&self.shared.job) = Some((iters, job.clone()));
        self.shared.start.wait();
        // The helpers read the job after the start barrier: one uncontended
        // lock, noise next to a sample's millions of operations.
        let t0 = Instant::now();
        job(0, iters);
        self.shared.end.wait();
        t0.elapsed()
    }
}

impl Drop for Contended {
    fn drop(&mut self) {
        *lock(&self.shared.job) = None;
        self.shared.start.wait();
        for h in self.helpers.drain(..) {
            let _ = h.join();
        }
    }
}

fn helper(tid: usize, shared: &Shared) {
    loop {
        shared.start.wait();
        let Some((iters, job)) = lock(&shared.job).clone() else {
            return;
        };
        job(tid, iters);
        shared.end.wait();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Measures `op(&state, 0, i)` for `i in 0..iters` on the calling thread,
/// as `BenchmarkId::new(name, 1)` (the parameter is the thread count).
///
/// The loop is the one [`bench_contended`] runs on each thread, so the two
/// groups differ only in contention. `op` gets the iteration index for
/// benches that cycle through inputs; it should `black_box` its handle.
pub fn bench_uncontended<T, F>(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, state: T, op: F)
where
    F: Fn(&T, usize, u64),
{
    g.bench_function(BenchmarkId::new(name, 1), |b| {
        b.iter_custom(|iters| {
            let t0 = Instant::now();
            for i in 0..iters {
                op(&state, 0, i);
            }
            t0.elapsed()
        })
    });
}

/// Measures `op(&state, tid, i)` for `i in 0..iters` on every thread of
/// `pool` at once, as `BenchmarkId::new(name, pool.threads())`. The reported
/// time is per operation per thread (see [`Contended::run`]).
pub fn bench_contended<T, F>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    pool: &Contended,
    name: &str,
    state: T,
    op: F,
) where
    T: Send + Sync + 'static,
    F: Fn(&T, usize, u64) + Clone + Send + Sync + 'static,
{
    let state = Arc::new(state);
    g.bench_function(BenchmarkId::new(name, pool.threads()), |b| {
        b.iter_custom(|iters| {
            let (state, op) = (state.clone(), op.clone());
            pool.run(iters, move |tid, n| {
                for i in 0..n {
                    op(&state, tid, i);
                }
            })
        })
    });
}

/// Number of values in [`latency_values`]; a power of two, so the benches
/// cycle with `i & (LATENCY_VALUES - 1)`.
pub const LATENCY_VALUES: usize = 1024;

/// 1024 latency-like values in seconds, log-uniform between 1e-4 and 5, in a
/// fixed pseudo-random order (so the bucket index changes from one
/// observation to the next and the branch predictor cannot learn it). The
/// same sequence in every run and for every implementation.
///
/// ```
/// let v = nanometrics_benches::latency_values();
/// assert_eq!(v.len(), nanometrics_benches::LATENCY_VALUES);
/// assert!(v.iter().all(|x| (1e-4..=5.0).contains(x)));
/// ```
pub fn latency_values() -> Vec<f64> {
    let (lo, hi) = (1e-4f64.ln(), 5f64.ln());
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..LATENCY_VALUES)
        .map(|_| {
            // xorshift64*: deterministic, no dependency.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            let r = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
            let u = r as f64 / (1u64 << 53) as f64;
            (lo + u * (hi - lo)).exp().clamp(1e-4, 5.0)
        })
        .collect()
}

/// The bucket bounds every histogram bench uses, for every implementation:
/// `nanometrics::Buckets::default()`, which is the Prometheus client default
/// of Python's `prometheus_client` (14 bounds, `.005` to `10`). The Rust
/// `prometheus` crate's `DEFAULT_BUCKETS` has 11 of them (no `.075`, `.75`,
/// `7.5`) and the OpenTelemetry SDK's default goes from 0 to 10,000, so both
/// get these bounds explicitly: same buckets, same work.
pub const BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The real-time load a bench can run beside its hot loop
/// (`NANOMETRICS_BENCH_REALTIME=1`): a ticker (100 ms, or
/// `NANOMETRICS_BENCH_TICK_MS`), a watch with a callback on the benched
/// family, and a `/metrics/stream` client reading the same family's
/// frames over a socket. Dropping it stops them.
///
/// ```
/// let r = nanometrics::Registry::new();
/// r.counter("x_total", "x").unwrap();
/// let load = nanometrics_benches::RealtimeLoad::start(&r, "x_total", std::time::Duration::from_millis(10));
/// load.wait_for_frames(2);
/// ```
pub struct RealtimeLoad {
    ticker: nanometrics::realtime::Ticker,
    frames: Arc<std::sync::atomic::AtomicU64>,
    streamed: Arc<std::sync::atomic::AtomicU64>,
    _watch: nanometrics::realtime::Watch,
    _server: nanometrics_exporters::http::MetricsServer,
}

impl fmt::Debug for RealtimeLoad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RealtimeLoad")
            .field("ticker", &self.ticker)
            .finish()
    }
}

impl RealtimeLoad {
    /// The load when `NANOMETRICS_BENCH_REALTIME` is `1`, else `None`.
    pub fn from_env(registry: &nanometrics::Registry, family: &str) -> Option<RealtimeLoad> {
        if std::env::var("NANOMETRICS_BENCH_REALTIME").as_deref() != Ok("1") {
            return None;
        }
        let ms = std::env::var("NANOMETRICS_BENCH_TICK_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100);
        let load = RealtimeLoad::start(registry, family, Duration::from_millis(ms));
        load.wait_for_frames(1);
        eprintln!("real-time load on {family}: a watch and a stream client, {ms} ms ticks");
        Some(load)
    }

    /// Starts the load on `family` of `registry`.
    pub fn start(registry: &nanometrics::Registry, family: &str, tick: Duration) -> RealtimeLoad {
        use std::io::{BufRead, BufReader, Write};
        use std::sync::atomic::{AtomicU64, Ordering};
        let ticker = nanometrics::realtime::Ticker::new(tick);
        let frames = Arc::new(AtomicU64::new(0));
        let f = frames.clone();
        let watch = registry
            .watch(family)
            .and_then(|w| {
                w.ticker(&ticker)
                    .window(Duration::from_secs(10))
                    .call(move |_| {
                        f.fetch_add(1, Ordering::Relaxed);
                    })
            })
            .expect("a watch on the benched family");
        let server = nanometrics_exporters::http::MetricsServer::builder()
            .bind("127.0.0.1:0")
            .registry(registry.clone())
            .ticker(ticker.clone())
            .start()
            .expect("a metrics server on a free port");
        let addr = server.local_addr();
        let streamed = Arc::new(AtomicU64::new(0));
        let s = streamed.clone();
        let path = format!("/metrics/stream?family={family}&window=10s");
        std::thread::spawn(move || {
            let Ok(mut conn) = std::net::TcpStream::connect(addr) else {
                return;
            };
            let _ = write!(conn, "GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n");
            for line in BufReader::new(conn).lines().map_while(Result::ok) {
                if line.starts_with("data: ") {
                    s.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        RealtimeLoad {
            ticker,
            frames,
            streamed,
            _watch: watch,
            _server: server,
        }
    }

    /// Waits until the watch and the stream client have each had `n`
    /// frames (panics after 30 s).
    pub fn wait_for_frames(&self, n: u64) {
        use std::sync::atomic::Ordering;
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.frames.load(Ordering::Relaxed) < n || self.streamed.load(Ordering::Relaxed) < n {
            assert!(
                Instant::now() < deadline,
                "the real-time load delivers no frames"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// `(watch frames, streamed frames)` so far.
    pub fn frames(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering;
        (
            self.frames.load(Ordering::Relaxed),
            self.streamed.load(Ordering::Relaxed),
        )
    }
}

impl Drop for RealtimeLoad {
    fn drop(&mut self) {
        let (w, s) = self.frames();
        eprintln!("real-time load: {w} watch frames, {s} streamed frames");
        self.ticker.stop();
    }
}
