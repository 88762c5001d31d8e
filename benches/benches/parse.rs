//! Parsing an engine's `/metrics` of 10,000 series (96 counter families
//! of 100 series, 4 histogram families of 100 series, one label each), as
//! our encoders write it:
//!
//! - `parse/text_10k_series`: `nanometrics` (`parse::text`, families with
//!   their samples), `prometheus_parse` (`Scrape::parse` over the lines),
//!   and `floor`: a count of the body's lines and bytes, the least any
//!   parser does.
//! - `parse/openmetrics_10k_series`: `nanometrics` (`parse::openmetrics`,
//!   with every rule of the format checked) and the same floor;
//!   `prometheus-parse` reads only the text format.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use nanometrics::{Buckets, Registry};
use nanometrics_benches::config;
use nanometrics_exporters::{openmetrics, parse, prometheus};

fn body() -> Registry {
    let r = Registry::new();
    for i in 0..96 {
        let f = r
            .counter_family(
                &format!("engine_requests_{i}_total"),
                "Requests.",
                &["shard"],
            )
            .unwrap();
        for j in 0..100u64 {
            f.with_labels(&[j.to_string()]).unwrap().inc_by(j);
        }
    }
    for i in 0..4 {
        let f = r
            .histogram_family(
                &format!("engine_latency_{i}_seconds"),
                "Latency.",
                &["shard"],
                Buckets::default(),
            )
            .unwrap();
        for j in 0..100 {
            f.with_labels(&[j.to_string()])
                .unwrap()
                .observe(f64::from(j) / 100.0);
        }
    }
    r
}

/// The floor: what reading every line costs without looking at it.
fn floor(body: &str) -> usize {
    body.lines().map(str::len).sum()
}

fn text(c: &mut Criterion) {
    let r = body();
    let body = prometheus::encode_to_string(&r.snapshot());
    assert_eq!(
        parse::text(&body)
            .unwrap()
            .iter()
            .map(|f| f.samples.len())
            .sum::<usize>(),
        9_600 + 400 * 17
    );
    let mut g = c.benchmark_group("parse/text_10k_series");
    g.bench_function(BenchmarkId::new("nanometrics", 10_000), |b| {
        b.iter(|| black_box(parse::text(black_box(&body)).unwrap().len()))
    });
    g.bench_function(BenchmarkId::new("prometheus_parse", 10_000), |b| {
        b.iter(|| {
            let lines = black_box(&body).lines().map(|l| Ok(l.to_string()));
            black_box(
                prometheus_parse::Scrape::parse(lines)
                    .unwrap()
                    .samples
                    .len(),
            )
        })
    });
    g.bench_function(BenchmarkId::new("floor", 10_000), |b| {
        b.iter(|| black_box(floor(black_box(&body))))
    });
    g.finish();
}

fn om(c: &mut Criterion) {
    let r = body();
    let body = openmetrics::encode_to_string(&r.snapshot());
    let mut g = c.benchmark_group("parse/openmetrics_10k_series");
    g.bench_function(BenchmarkId::new("nanometrics", 10_000), |b| {
        b.iter(|| black_box(parse::openmetrics(black_box(&body)).unwrap().len()))
    });
    g.bench_function(BenchmarkId::new("floor", 10_000), |b| {
        b.iter(|| black_box(floor(black_box(&body))))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = text, om
}
criterion_main!(benches);
