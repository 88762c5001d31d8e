//! Counter increment on a resolved handle: nanometrics, the peer crates and
//! two raw baselines, in one group per scenario so they share a run.
//!
//! - `counter/uncontended`: one thread.
//! - `counter/contended_2t`: two threads incrementing the *same series* at
//!   once (start/end barriers, time per op per thread). `plain_store` is the
//!   exception: each thread stores to its own padded atomic, the lower bound
//!   a per-thread-sharded counter can reach.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use crossbeam_utils::CachePadded;
use nanometrics_benches::{bench_contended, bench_uncontended, config, Contended};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};

/// Every implementation's counter, one series each.
struct Counters {
    nanometrics: nanometrics::Counter,
    prometheus: prometheus::IntCounter,
    prometheus_client: prometheus_client::metrics::counter::Counter<u64>,
    metrics: metrics::Counter,
    opentelemetry: opentelemetry::metrics::Counter<u64>,
    /// Keeps the OpenTelemetry pipeline alive (dropping it shuts it down).
    _otel_provider: SdkMeterProvider,
    /// A watch and a stream client on the nanometrics series, with
    /// `NANOMETRICS_BENCH_REALTIME=1` (the hot path must not notice them).
    _realtime: Option<nanometrics_benches::RealtimeLoad>,
    _registry: nanometrics::Registry,
}

impl Counters {
    fn new() -> Counters {
        let registry = nanometrics::Registry::new();
        let nanometrics = registry.counter("requests_total", "Requests.").unwrap();

        let prometheus = prometheus::IntCounter::new("requests_total", "Requests.").unwrap();
        let prometheus_client = prometheus_client::metrics::counter::Counter::<u64>::default();

        // metrics 0.24 ships no recorder of its own (metrics-util, which has
        // them, is deliberately not a dependency). `metrics::Counter` is a
        // handle over `Arc<dyn CounterFn>`, and `AtomicU64` implements
        // `CounterFn` with one `fetch_add`, which is also what
        // metrics-exporter-prometheus stores per counter. So this is the
        // cost of a `metrics` handle backed by a recorder's atomic.
        let metrics = metrics::Counter::from_arc(Arc::new(AtomicU64::new(0)));

        let otel_provider = SdkMeterProvider::builder()
            .with_reader(ManualReader::builder().build())
            .build();
        let opentelemetry = otel_provider
            .meter("nanometrics-benches")
            .u64_counter("requests")
            .build();

        Counters {
            nanometrics,
            prometheus,
            prometheus_client,
            metrics,
            opentelemetry,
            _otel_provider: otel_provider,
            _realtime: nanometrics_benches::RealtimeLoad::from_env(&registry, "requests_total"),
            _registry: registry,
        }
    }
}

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter/uncontended");
    let m = Arc::new(Counters::new());

    bench_uncontended(&mut g, "nanometrics", m.clone(), |m, _, _| {
        black_box(&m.nanometrics).inc()
    });
    bench_uncontended(
        &mut g,
        "plain_store",
        CachePadded::new(AtomicU64::new(0)),
        |a, _, _| plain_store(black_box(a)),
    );
    bench_uncontended(
        &mut g,
        "shared_fetch_add",
        CachePadded::new(AtomicU64::new(0)),
        |a, _, _| {
            black_box(a).fetch_add(1, Ordering::Relaxed);
        },
    );
    bench_uncontended(&mut g, "prometheus", m.clone(), |m, _, _| {
        black_box(&m.prometheus).inc()
    });
    bench_uncontended(&mut g, "prometheus_client", m.clone(), |m, _, _| {
        black_box(&m.prometheus_client).inc();
    });
    bench_uncontended(&mut g, "metrics", m.clone(), |m, _, _| {
        black_box(&m.metrics).increment(1)
    });
    bench_uncontended(&mut g, "opentelemetry", m, |m, _, _| {
        black_box(&m.opentelemetry).add(1, &[])
    });
    g.finish();
}

fn contended_2t(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter/contended_2t");
    let pool = Contended::new(2);
    let m = Arc::new(Counters::new());

    bench_contended(&mut g, &pool, "nanometrics", m.clone(), |m, _, _| {
        black_box(&m.nanometrics).inc()
    });
    // Each thread its own cache line: no sharing at all.
    bench_contended(
        &mut g,
        &pool,
        "plain_store",
        [
            CachePadded::new(AtomicU64::new(0)),
            CachePadded::new(AtomicU64::new(0)),
        ],
        |a, tid, _| plain_store(black_box(&a[tid])),
    );
    bench_contended(
        &mut g,
        &pool,
        "shared_fetch_add",
        CachePadded::new(AtomicU64::new(0)),
        |a, _, _| {
            black_box(a).fetch_add(1, Ordering::Relaxed);
        },
    );
    bench_contended(&mut g, &pool, "prometheus", m.clone(), |m, _, _| {
        black_box(&m.prometheus).inc()
    });
    bench_contended(&mut g, &pool, "prometheus_client", m.clone(), |m, _, _| {
        black_box(&m.prometheus_client).inc();
    });
    bench_contended(&mut g, &pool, "metrics", m.clone(), |m, _, _| {
        black_box(&m.metrics).increment(1)
    });
    bench_contended(&mut g, &pool, "opentelemetry", m, |m, _, _| {
        black_box(&m.opentelemetry).add(1, &[])
    });
    g.finish();
}

/// `counter/while_scraping`: one thread increments a resolved counter while
/// another thread scrapes the same registry in a loop (snapshot + text
/// encoding of 1,000 series), for nanometrics and for `prometheus`
/// (`gather()` + `TextEncoder`). Compare with `counter/uncontended`: the
/// ratio is what a continuous scrape costs the hot path.
fn while_scraping(c: &mut Criterion) {
    use std::sync::atomic::AtomicBool;
    let mut g = c.benchmark_group("counter/while_scraping");

    let registry = nanometrics::Registry::new();
    let hot = registry.counter("hot_total", "Hot.").unwrap();
    let f = registry
        .counter_family("other_total", "Other.", &["i"])
        .unwrap();
    for i in 0..1000 {
        f.with_labels(&[i.to_string()]).unwrap().inc();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let scraper = {
        let (registry, mut buf) = (registry.clone(), Vec::new());
        start_scraper(stop.clone(), move || {
            buf.clear();
            nanometrics_exporters::prometheus::encode(&registry.snapshot(), &mut buf);
        })
    };
    bench_uncontended(&mut g, "nanometrics", hot, |c, _, _| black_box(c).inc());
    stop.store(true, Ordering::Relaxed);
    scraper.join().unwrap();

    let prom_registry = prometheus::Registry::new();
    let hot = prometheus::IntCounter::new("hot_total", "Hot.").unwrap();
    prom_registry.register(Box::new(hot.clone())).unwrap();
    let vec =
        prometheus::IntCounterVec::new(prometheus::Opts::new("other_total", "Other."), &["i"])
            .unwrap();
    prom_registry.register(Box::new(vec.clone())).unwrap();
    for i in 0..1000 {
        vec.with_label_values(&[&i.to_string()]).inc();
    }
    stop.store(false, Ordering::Relaxed);
    let scraper = {
        use prometheus::Encoder as _;
        let (enc, mut buf) = (prometheus::TextEncoder::new(), Vec::new());
        start_scraper(stop.clone(), move || {
            buf.clear();
            enc.encode(&prom_registry.gather(), &mut buf).unwrap();
        })
    };
    bench_uncontended(&mut g, "prometheus", hot, |c, _, _| black_box(c).inc());
    stop.store(true, Ordering::Relaxed);
    scraper.join().unwrap();
    g.finish();
}

/// Runs `scrape` in a loop on a new thread until `stop` is set, and returns
/// once its first scrape is done: the measurement that follows runs while
/// scraping is under way (also when a filter skips that measurement).
fn start_scraper(
    stop: Arc<std::sync::atomic::AtomicBool>,
    mut scrape: impl FnMut() + Send + 'static,
) -> std::thread::JoinHandle<()> {
    let (started, wait) = std::sync::mpsc::channel();
    let scraper = std::thread::spawn(move || {
        scrape();
        let _ = started.send(());
        while !stop.load(Ordering::Relaxed) {
            scrape();
        }
    });
    wait.recv().expect("the scraper thread panicked");
    scraper
}

/// The single-writer increment a sharded counter does: relaxed load, relaxed
/// store, no locked read-modify-write.
#[inline]
fn plain_store(a: &AtomicU64) {
    let v = a.load(Ordering::Relaxed);
    a.store(v.wrapping_add(1), Ordering::Relaxed);
}

criterion_group! {
    name = benches;
    config = config();
    targets = uncontended, contended_2t, while_scraping
}
criterion_main!(benches);
