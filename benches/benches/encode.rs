//! Rendering 10,000 series as text: what one scrape costs the exporter.
//!
//! `encode/10k_series`: one counter family with two labels (`model`,
//! `status`) and 10,000 series, rendered into a reused buffer:
//! - `nanometrics`: `prometheus::encode_registry` (reads every shard and
//!   writes text 0.0.4 without building a snapshot: what a scrape does);
//! - `nanometrics_snapshot`: `Registry::snapshot()` + `prometheus::encode`;
//! - `prometheus_client`: `encoding::text::encode` of its registry (it reads
//!   the metrics while encoding; OpenMetrics text);
//! - `prometheus`: `Registry::gather()` + `TextEncoder::encode` (0.0.4).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use nanometrics_benches::config;
use prometheus::Encoder as _;
use prometheus_client::metrics::counter::Counter as PcCounter;
use prometheus_client::metrics::family::Family as PcFamily;

const SERIES: usize = 10_000;

fn labels(i: usize) -> [String; 2] {
    [
        format!("model-{}", i / 4),
        ["ok", "error", "timeout", "cancelled"][i % 4].to_string(),
    ]
}

fn encode_10k(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode/10k_series");

    let registry = nanometrics::Registry::new();
    let f = registry
        .metric("requests_total", "Requests by model and status.")
        .cardinality_limit(SERIES)
        .family::<nanometrics::Counter>(&["model", "status"])
        .unwrap();
    for i in 0..SERIES {
        f.with_labels(&labels(i)).unwrap().inc_by(i as u64 * 7919);
    }
    let mut buf = Vec::with_capacity(1 << 20);
    // What a scrape of the HTTP server does: encode straight from the registry.
    g.bench_function(criterion::BenchmarkId::new("nanometrics", SERIES), |b| {
        b.iter(|| {
            buf.clear();
            nanometrics_exporters::prometheus::encode_registry(&registry, &mut buf);
            black_box(buf.len())
        })
    });
    // Through an owned `Snapshot` first (what `encode(&registry.snapshot())` costs).
    g.bench_function(
        criterion::BenchmarkId::new("nanometrics_snapshot", SERIES),
        |b| {
            b.iter(|| {
                buf.clear();
                nanometrics_exporters::prometheus::encode(&registry.snapshot(), &mut buf);
                black_box(buf.len())
            })
        },
    );

    let mut pc_registry = prometheus_client::registry::Registry::default();
    let pc = PcFamily::<Vec<(String, String)>, PcCounter>::default();
    pc_registry.register("requests", "Requests by model and status.", pc.clone());
    for i in 0..SERIES {
        let [m, s] = labels(i);
        pc.get_or_create(&vec![("model".to_string(), m), ("status".to_string(), s)])
            .inc_by(i as u64 * 7919);
    }
    let mut text = String::with_capacity(1 << 20);
    g.bench_function(
        criterion::BenchmarkId::new("prometheus_client", SERIES),
        |b| {
            b.iter(|| {
                text.clear();
                prometheus_client::encoding::text::encode(&mut text, &pc_registry).unwrap();
                black_box(text.len())
            })
        },
    );

    let prom_registry = prometheus::Registry::new();
    let prom = prometheus::IntCounterVec::new(
        prometheus::Opts::new("requests_total", "Requests by model and status."),
        &["model", "status"],
    )
    .unwrap();
    prom_registry.register(Box::new(prom.clone())).unwrap();
    for i in 0..SERIES {
        let [m, s] = labels(i);
        prom.with_label_values(&[&m, &s]).inc_by(i as u64 * 7919);
    }
    let encoder = prometheus::TextEncoder::new();
    let mut out = Vec::with_capacity(1 << 20);
    g.bench_function(criterion::BenchmarkId::new("prometheus", SERIES), |b| {
        b.iter(|| {
            out.clear();
            encoder.encode(&prom_registry.gather(), &mut out).unwrap();
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = encode_10k
}
criterion_main!(benches);
