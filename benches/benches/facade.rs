//! The `metrics` facade: nanometrics' recorder (`bridge::metrics`) against
//! metrics-exporter-prometheus's `PrometheusRecorder`, the facade's usual
//! Prometheus backend, in the same groups.
//!
//! - `facade/handle_inc`: `counter.increment(1)` on a handle the caller
//!   keeps (registered once).
//! - `facade/macro_labels`: `counter!("requests_total", "model" => …,
//!   "status" => "ok").increment(1)` each time: the recorder resolves the
//!   key (name and two labels) on every call.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use metrics::Recorder;
use metrics_exporter_prometheus::PrometheusBuilder;
use nanometrics_benches::{bench_uncontended, config};
use nanometrics_exporters::bridge::metrics::NanometricsRecorder;

const MODELS: [&str; 4] = ["llama", "mistral", "qwen", "phi"];

fn recorders() -> (
    NanometricsRecorder,
    metrics_exporter_prometheus::PrometheusRecorder,
) {
    (
        NanometricsRecorder::new(nanometrics::Registry::new()),
        PrometheusBuilder::new().build_recorder(),
    )
}

fn handle_inc(c: &mut Criterion) {
    let mut g = c.benchmark_group("facade/handle_inc");
    let (ours, theirs) = recorders();
    let key = metrics::Key::from_name("requests_total");
    let meta = metrics::Metadata::new(module_path!(), metrics::Level::INFO, None);
    let a = ours.register_counter(&key, &meta);
    let b = theirs.register_counter(&key, &meta);
    bench_uncontended(&mut g, "nanometrics", a, |h, _, _| {
        black_box(h).increment(1)
    });
    bench_uncontended(&mut g, "metrics_exporter_prometheus", b, |h, _, _| {
        black_box(h).increment(1)
    });
    g.finish();
}

/// The floor of the macro group: a recorder that hands out one counter for
/// every key (no lookup at all). What remains is the facade's own cost:
/// building the key (its label vector), hashing it, cloning and dropping
/// the handle's `Arc`, one relaxed add.
#[derive(Debug)]
struct FloorRecorder(metrics::Counter);

impl Recorder for FloorRecorder {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        black_box(key.get_hash());
        self.0.clone()
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }
    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

struct Relaxed(std::sync::atomic::AtomicU64);

impl metrics::CounterFn for Relaxed {
    fn increment(&self, v: u64) {
        self.0.fetch_add(v, std::sync::atomic::Ordering::Relaxed);
    }
    fn absolute(&self, _: u64) {}
}

fn macro_labels(c: &mut Criterion) {
    let mut g = c.benchmark_group("facade/macro_labels");
    let (ours, theirs) = recorders();
    let floor = FloorRecorder(metrics::Counter::from_arc(std::sync::Arc::new(Relaxed(
        std::sync::atomic::AtomicU64::new(0),
    ))));
    {
        let _local = metrics::set_default_local_recorder(&floor);
        bench_uncontended(&mut g, "floor", (), |_, _, i| {
            let model = MODELS[(i & 3) as usize];
            metrics::counter!("requests_total", "model" => model, "status" => "ok").increment(1)
        });
    }
    {
        let _local = metrics::set_default_local_recorder(&ours);
        bench_uncontended(&mut g, "nanometrics", (), |_, _, i| {
            let model = MODELS[(i & 3) as usize];
            metrics::counter!("requests_total", "model" => model, "status" => "ok").increment(1)
        });
    }
    {
        let _local = metrics::set_default_local_recorder(&theirs);
        bench_uncontended(&mut g, "metrics_exporter_prometheus", (), |_, _, i| {
            let model = MODELS[(i & 3) as usize];
            metrics::counter!("requests_total", "model" => model, "status" => "ok").increment(1)
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = handle_inc, macro_labels
}
criterion_main!(benches);
