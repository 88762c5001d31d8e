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

fn macro_labels(c: &mut Criterion) {
    let mut g = c.benchmark_group("facade/macro_labels");
    let (ours, theirs) = recorders();
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
