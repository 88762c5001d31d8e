//! A `tracing` span entered and closed on one thread, per span:
//! `no_layer` with a subscriber that records nothing (the `tracing_subscriber`
//! registry alone), `nanometrics` with the `MetricsLayer` timing the span
//! into a histogram family labelled by span name and one field, and
//! `not_selected` with the layer installed but the span not among those it
//! times (what the layer costs the spans it does not time).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use nanometrics_benches::config;
use nanometrics_exporters::bridge::tracing::MetricsLayer;
use tracing_subscriber::layer::SubscriberExt;

fn span(c: &mut Criterion) {
    let mut g = c.benchmark_group("tracing/span");
    let run = |g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
               name: &str,
               dispatch: tracing::Dispatch| {
        tracing::dispatcher::with_default(&dispatch, || {
            g.bench_function(criterion::BenchmarkId::new(name, 1), |b| {
                b.iter(|| {
                    let s = tracing::info_span!("decode", model = "llama");
                    let _e = black_box(&s).enter();
                })
            });
        });
    };
    let layer = |spans: &[&str]| {
        MetricsLayer::builder(nanometrics::Registry::new())
            .spans(spans.iter().copied())
            .fields(["model"])
            .no_events()
            .build()
            .unwrap()
    };
    run(
        &mut g,
        "nanometrics",
        tracing::Dispatch::new(tracing_subscriber::registry().with(layer(&["decode"]))),
    );
    run(
        &mut g,
        "not_selected",
        tracing::Dispatch::new(tracing_subscriber::registry().with(layer(&["prefill"]))),
    );
    // Last: the first group in a process pays the span slab's growth.
    run(
        &mut g,
        "no_layer",
        tracing::Dispatch::new(tracing_subscriber::registry()),
    );
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = span
}
criterion_main!(benches);
