//! Labeled counter increment with the label lookup on every call (the slow
//! path; keeping the handle is the fast one, see `counter.rs`).
//!
//! `labels/lookup_inc_2`: find the series for two label values, then add one.
//! `labels/lookup_inc_2_contended_2t`: the same on two threads at once, one
//! series (what an inference loop that looks up its labels per token does
//! on every worker thread); time per op per thread.
//! Every family first gets 100 other series, so the lookup is not a one-entry
//! table. Label values go through `black_box` so no implementation's hash of
//! constant strings can be folded at compile time. Each crate takes the
//! labels in its own native form: string slices (nanometrics, prometheus), a
//! prebuilt label vector (prometheus-client's `EncodeLabelSet` key), prebuilt
//! `KeyValue` attributes (OpenTelemetry).
//!
//! The `metrics` crate is not measured: label resolution happens in its
//! recorder (metrics-util's registry), which it does not ship itself.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use nanometrics_benches::{bench_contended, bench_uncontended, config, Contended};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};
use prometheus_client::metrics::counter::Counter as PcCounter;
use prometheus_client::metrics::family::Family as PcFamily;

const LABELS: [&str; 2] = ["model", "kind"];
const VALUES: [&str; 2] = ["llama", "output"];
const OTHER_SERIES: usize = 100;

/// The label values of the `i`-th filler series.
fn other(i: usize) -> [String; 2] {
    [format!("model-{i}"), ["input", "output"][i % 2].to_string()]
}

/// The nanometrics family measured: the filler series, then the measured
/// one (created before the timing starts).
fn nanometrics_family() -> (
    nanometrics::Registry,
    nanometrics::Family<nanometrics::Counter>,
) {
    let registry = nanometrics::Registry::new();
    let nm = registry
        .counter_family("tokens_total", "Tokens.", &LABELS)
        .unwrap();
    for i in 0..OTHER_SERIES {
        nm.with_labels(&other(i)).unwrap().inc();
    }
    nm.with_labels(&VALUES).unwrap().inc_by(0);
    (registry, nm)
}

/// The same for prometheus.
fn prometheus_vec() -> prometheus::IntCounterVec {
    let prom =
        prometheus::IntCounterVec::new(prometheus::Opts::new("tokens_total", "Tokens."), &LABELS)
            .unwrap();
    for i in 0..OTHER_SERIES {
        let o = other(i);
        prom.with_label_values(&[&o[0], &o[1]]).inc();
    }
    prom.with_label_values(&VALUES).inc_by(0);
    prom
}

fn lookup_inc_2(c: &mut Criterion) {
    let mut g = c.benchmark_group("labels/lookup_inc_2");

    let (_registry, nm) = nanometrics_family();
    bench_uncontended(&mut g, "nanometrics", nm, |f, _, _| {
        f.with_labels(black_box(&VALUES)).unwrap().inc()
    });

    let prom = prometheus_vec();
    bench_uncontended(&mut g, "prometheus", prom, |f, _, _| {
        f.with_label_values(black_box(&VALUES)).inc()
    });

    let pc = PcFamily::<Vec<(String, String)>, PcCounter>::default();
    let pc_labels = |values: &[&str]| -> Vec<(String, String)> {
        LABELS
            .iter()
            .zip(values)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    for i in 0..OTHER_SERIES {
        let o = other(i);
        pc.get_or_create(&pc_labels(&[&o[0], &o[1]])).inc();
    }
    let key = pc_labels(&VALUES);
    pc.get_or_create(&key).inc_by(0);
    bench_uncontended(&mut g, "prometheus_client", (pc, key), |(f, key), _, _| {
        f.get_or_create(black_box(key)).inc();
    });

    let provider = SdkMeterProvider::builder()
        .with_reader(ManualReader::builder().build())
        .build();
    let otel = provider
        .meter("nanometrics-benches")
        .u64_counter("tokens")
        .build();
    let kv = |values: &[&str]| -> [KeyValue; 2] {
        [
            KeyValue::new(LABELS[0], values[0].to_string()),
            KeyValue::new(LABELS[1], values[1].to_string()),
        ]
    };
    for i in 0..OTHER_SERIES {
        let o = other(i);
        otel.add(1, &kv(&[&o[0], &o[1]]));
    }
    let attrs = kv(&VALUES);
    otel.add(1, &attrs);
    bench_uncontended(
        &mut g,
        "opentelemetry",
        (otel, attrs),
        |(c, attrs), _, _| c.add(1, black_box(attrs)),
    );

    g.finish();
    drop(provider);
}

fn lookup_inc_2_contended_2t(c: &mut Criterion) {
    let mut g = c.benchmark_group("labels/lookup_inc_2_contended_2t");
    let pool = Contended::new(2);

    let (_registry, nm) = nanometrics_family();
    bench_contended(&mut g, &pool, "nanometrics", nm, |f, _, _| {
        f.with_labels(black_box(&VALUES)).unwrap().inc()
    });

    let prom = prometheus_vec();
    bench_contended(&mut g, &pool, "prometheus", prom, |f, _, _| {
        f.with_label_values(black_box(&VALUES)).inc()
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = lookup_inc_2, lookup_inc_2_contended_2t
}
criterion_main!(benches);
