//! Histogram record on a resolved handle: nanometrics and the peer crates,
//! all with the same 14 bucket bounds (`nanometrics_benches::BOUNDS`, the
//! Prometheus default of `.005` to `10`), fed the same 1024 latency-like
//! values (1e-4 to 5 s, log-uniform, fixed pseudo-random order) so the bucket
//! changes from one observation to the next.
//!
//! - `histogram/uncontended`: one thread. `plain_store` is the harness's
//!   floor: the same value fetch, then a relaxed store of the value's bits to
//!   an owned, padded slot (no bucketing); no histogram can record for less.
//! - `histogram/contended_2t`: two threads recording into the same series at
//!   once (start/end barriers, time per op per thread); thread 1 starts half
//!   way through the values.
//! - `histogram/with_exemplar`: one thread recording with an exemplar each
//!   time (one of 16 prebuilt trace ids, round robin, so the bucket's
//!   exemplar changes every record), beside the same records without one
//!   and the floor; `prometheus_client`'s `HistogramWithExemplars` with
//!   the same labels (as `&'static str`s: no allocation either) and the
//!   time of the record, as nanometrics keeps it.
//!
//! The `metrics` crate is not measured here: it ships no histogram storage
//! (that lives in metrics-util or an exporter), and `Histogram::from_arc` over
//! a trivial `HistogramFn` would time an empty virtual call, not bucketing.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crossbeam_utils::CachePadded;

use criterion::{criterion_group, criterion_main, Criterion};
use nanometrics_benches::{
    bench_contended, bench_uncontended, config, latency_values, Contended, BOUNDS, LATENCY_VALUES,
};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};

/// Every implementation's histogram, one series each, and the input values.
struct Histograms {
    values: Vec<f64>,
    nanometrics: nanometrics::Histogram,
    prometheus: prometheus::Histogram,
    prometheus_client: prometheus_client::metrics::histogram::Histogram,
    opentelemetry: opentelemetry::metrics::Histogram<f64>,
    /// The `plain_store` floor's slot.
    plain: CachePadded<AtomicU64>,
    /// Keeps the OpenTelemetry pipeline alive (dropping it shuts it down).
    _otel_provider: SdkMeterProvider,
    /// A watch and a stream client on the nanometrics series, with
    /// `NANOMETRICS_BENCH_REALTIME=1` (the hot path must not notice them).
    _realtime: Option<nanometrics_benches::RealtimeLoad>,
    _registry: nanometrics::Registry,
}

impl Histograms {
    fn new() -> Histograms {
        assert_eq!(nanometrics::Buckets::default().bounds(), Some(&BOUNDS[..]));

        let registry = nanometrics::Registry::new();
        let nanometrics = registry
            .histogram(
                "latency_seconds",
                "Latency.",
                nanometrics::Buckets::default(),
            )
            .unwrap();

        // prometheus's own DEFAULT_BUCKETS has 11 bounds; give it the same 14.
        let prometheus = prometheus::Histogram::with_opts(
            prometheus::HistogramOpts::new("latency_seconds", "Latency.").buckets(BOUNDS.to_vec()),
        )
        .unwrap();

        let prometheus_client = prometheus_client::metrics::histogram::Histogram::new(BOUNDS);

        // The SDK's default boundaries go from 0 to 10,000; give it the same 14.
        let otel_provider = SdkMeterProvider::builder()
            .with_reader(ManualReader::builder().build())
            .build();
        let opentelemetry = otel_provider
            .meter("nanometrics-benches")
            .f64_histogram("latency")
            .with_unit("s")
            .with_boundaries(BOUNDS.to_vec())
            .build();

        Histograms {
            values: latency_values(),
            nanometrics,
            prometheus,
            prometheus_client,
            opentelemetry,
            plain: CachePadded::new(AtomicU64::new(0)),
            _otel_provider: otel_provider,
            _realtime: nanometrics_benches::RealtimeLoad::from_env(&registry, "latency_seconds"),
            _registry: registry,
        }
    }

    /// The `i`-th input of thread `tid`.
    #[inline]
    fn value(&self, tid: usize, i: u64) -> f64 {
        let k = (i as usize).wrapping_add(tid * (LATENCY_VALUES / 2)) & (LATENCY_VALUES - 1);
        black_box(self.values[k])
    }
}

fn uncontended(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram/uncontended");
    let h = Arc::new(Histograms::new());

    bench_uncontended(&mut g, "nanometrics", h.clone(), |h, t, i| {
        black_box(&h.nanometrics).record(h.value(t, i))
    });
    bench_uncontended(&mut g, "plain_store", h.clone(), |h, t, i| {
        black_box(&h.plain).store(h.value(t, i).to_bits(), Ordering::Relaxed)
    });
    bench_uncontended(&mut g, "prometheus", h.clone(), |h, t, i| {
        black_box(&h.prometheus).observe(h.value(t, i))
    });
    bench_uncontended(&mut g, "prometheus_client", h.clone(), |h, t, i| {
        black_box(&h.prometheus_client).observe(h.value(t, i))
    });
    bench_uncontended(&mut g, "opentelemetry", h, |h, t, i| {
        black_box(&h.opentelemetry).record(h.value(t, i), &[])
    });
    g.finish();
}

fn contended_2t(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram/contended_2t");
    let pool = Contended::new(2);
    let h = Arc::new(Histograms::new());

    bench_contended(&mut g, &pool, "nanometrics", h.clone(), |h, t, i| {
        black_box(&h.nanometrics).record(h.value(t, i))
    });
    bench_contended(&mut g, &pool, "prometheus", h.clone(), |h, t, i| {
        black_box(&h.prometheus).observe(h.value(t, i))
    });
    bench_contended(&mut g, &pool, "prometheus_client", h.clone(), |h, t, i| {
        black_box(&h.prometheus_client).observe(h.value(t, i))
    });
    bench_contended(&mut g, &pool, "opentelemetry", h, |h, t, i| {
        black_box(&h.opentelemetry).record(h.value(t, i), &[])
    });
    g.finish();
}

fn with_exemplar(c: &mut Criterion) {
    let mut g = c.benchmark_group("histogram/with_exemplar");
    let h = Arc::new(Histograms::new());
    // Trace ids as a tracing system hands them over: 32 hex digits.
    let ids: Vec<&'static str> = (0..16u32)
        .map(|i| &*format!("{:032x}", 0x4bf9_2f35_u128 * (u128::from(i) + 1)).leak())
        .collect();
    let ours: Arc<Vec<nanometrics::Exemplar>> = Arc::new(
        ids.iter()
            .map(|id| nanometrics::Exemplar::new([("trace_id", *id)]).unwrap())
            .collect(),
    );
    let theirs: Arc<Vec<[(&'static str, &'static str); 1]>> =
        Arc::new(ids.iter().map(|id| [("trace_id", *id)]).collect());
    let peer = Arc::new(
        prometheus_client::metrics::exemplar::HistogramWithExemplars::<
            [(&'static str, &'static str); 1],
        >::new(BOUNDS.iter().copied()),
    );

    bench_uncontended(&mut g, "nanometrics", h.clone(), move |h, t, i| {
        black_box(&h.nanometrics).observe_with_exemplar(h.value(t, i), &ours[i as usize & 15])
    });
    bench_uncontended(&mut g, "nanometrics_without", h.clone(), |h, t, i| {
        black_box(&h.nanometrics).record(h.value(t, i))
    });
    bench_uncontended(&mut g, "plain_store", h.clone(), |h, t, i| {
        black_box(&h.plain).store(h.value(t, i).to_bits(), Ordering::Relaxed)
    });
    bench_uncontended(&mut g, "prometheus_client", h, move |h, t, i| {
        black_box(&*peer).observe(
            h.value(t, i),
            Some(theirs[i as usize & 15]),
            Some(std::time::SystemTime::now()),
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = uncontended, contended_2t, with_exemplar
}
criterion_main!(benches);
