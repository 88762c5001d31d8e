//! A `tracing` span entered and closed on one thread, per span:
//! `no_layer` with a subscriber that records nothing (the `tracing_subscriber`
//! registry alone), `nanometrics` with the `MetricsLayer` timing the span
//! into a histogram family labelled by span name and one field, and
//! `not_selected` with the layer installed but the span not among those it
//! times (what the layer costs the spans it does not time). In
//! `tracing/span_traced`, each span has a W3C `traceparent` field:
//! `nanometrics` records its duration with the trace as the bucket's
//! exemplar (parsing the field, building the exemplar), `no_exemplars`
//! with the layer's `.no_exemplars()`, and `no_layer` as above.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use nanometrics_benches::config;
use nanometrics_exporters::bridge::tracing::MetricsLayer;
use tracing_subscriber::layer::SubscriberExt;

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// Times a span made by `span`, entered, exited and closed, under
/// `dispatch`.
fn run(
    g: &mut Group<'_>,
    name: &str,
    dispatch: tracing::Dispatch,
    span: impl Fn() -> tracing::Span,
) {
    tracing::dispatcher::with_default(&dispatch, || {
        g.bench_function(criterion::BenchmarkId::new(name, 1), |b| {
            b.iter(|| {
                let s = span();
                let _e = black_box(&s).enter();
            })
        });
    });
}

fn span(c: &mut Criterion) {
    let mut g = c.benchmark_group("tracing/span");
    let make = || tracing::info_span!("decode", model = "llama");
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
        make,
    );
    run(
        &mut g,
        "not_selected",
        tracing::Dispatch::new(tracing_subscriber::registry().with(layer(&["prefill"]))),
        make,
    );
    // Last: the first group in a process pays the span slab's growth.
    run(
        &mut g,
        "no_layer",
        tracing::Dispatch::new(tracing_subscriber::registry()),
        make,
    );
    g.finish();
}

fn span_traced(c: &mut Criterion) {
    let mut g = c.benchmark_group("tracing/span_traced");
    let make = || {
        tracing::info_span!(
            "decode",
            model = "llama",
            traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        )
    };
    let layer = |exemplars: bool| {
        let b = MetricsLayer::builder(nanometrics::Registry::new())
            .fields(["model"])
            .no_events();
        if exemplars { b } else { b.no_exemplars() }
            .build()
            .unwrap()
    };
    run(
        &mut g,
        "nanometrics",
        tracing::Dispatch::new(tracing_subscriber::registry().with(layer(true))),
        make,
    );
    run(
        &mut g,
        "no_exemplars",
        tracing::Dispatch::new(tracing_subscriber::registry().with(layer(false))),
        make,
    );
    run(
        &mut g,
        "no_layer",
        tracing::Dispatch::new(tracing_subscriber::registry()),
        make,
    );
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = span, span_traced
}
criterion_main!(benches);
