//! The `metrics` facade into a nanometrics registry: macros with labels,
//! descriptions, absolute counters, gauges, histogram buckets per name,
//! escaped names, refused keys, threads; and the exposition of what it
//! recorded passes the conformance checker.
#![cfg(feature = "bridge-metrics")]

mod common;

use nanometrics::{Buckets, Registry};
use nanometrics_exporters::bridge::metrics::NanometricsRecorder;
use nanometrics_exporters::prometheus;

#[test]
fn the_facade_lands_in_the_registry() {
    let r = Registry::new();
    let rec = NanometricsRecorder::builder(r.clone())
        .buckets_for("latency_seconds", Buckets::explicit(vec![0.1, 1.0]))
        .build();
    metrics::with_local_recorder(&rec, || {
        metrics::describe_counter!("requests_total", "Requests served.");
        metrics::describe_histogram!("latency_seconds", metrics::Unit::Seconds, "Latency.");
        for code in ["200", "200", "500"] {
            metrics::counter!("requests_total", "code" => code, "route" => "/v1").increment(1);
        }
        let abs = metrics::counter!("synced_total");
        abs.absolute(10);
        abs.absolute(7); // below: nothing
        abs.increment(1);
        let g = metrics::gauge!("queue.depth", "pool" => "a");
        g.set(5.0);
        g.increment(2.0);
        g.decrement(1.0);
        for v in [0.05, 0.5, 5.0] {
            metrics::histogram!("latency_seconds").record(v);
        }
        // The same name with other label names: refused, records nothing.
        metrics::counter!("requests_total", "other" => "x").increment(100);
    });
    let snap = r.snapshot();
    let req = snap.family("requests_total").unwrap();
    assert_eq!(req.help, "Requests served.");
    let by_code = |c: &str| {
        req.series
            .iter()
            .find(|s| s.labels.get("code") == Some(c))
            .and_then(|s| s.value.as_counter())
    };
    assert_eq!((by_code("200"), by_code("500")), (Some(2), Some(1)));
    assert_eq!(req.series[0].labels.get("route"), Some("/v1"));
    assert_eq!(
        snap.family("synced_total").unwrap().series[0]
            .value
            .as_counter(),
        Some(11)
    );
    let g = snap.family("queue_depth").expect("escaped name");
    assert_eq!(g.series[0].value.as_gauge(), Some(6.0));
    let h = snap.family("latency_seconds").unwrap();
    assert_eq!(h.unit.as_deref(), Some("seconds"));
    let hs = h.series[0].value.as_histogram().unwrap();
    assert_eq!(hs.buckets, [(0.1, 1), (1.0, 2), (f64::INFINITY, 3)]);
    assert_eq!(rec.rejected(), 1);
    // Everything it recorded is valid exposition (an undescribed metric has
    // an empty HELP, which promtool's lint notes).
    common::check_exposition_with(
        "--text",
        prometheus::encode_to_string(&snap).as_bytes(),
        "bridge_metrics",
        true,
    );
}

#[test]
fn handles_from_many_threads_add_up() {
    let r = Registry::new();
    let rec = NanometricsRecorder::new(r.clone());
    std::thread::scope(|s| {
        for t in 0..4 {
            let rec = &rec;
            s.spawn(move || {
                metrics::with_local_recorder(rec, || {
                    for i in 0..10_000 {
                        let q = if i % 2 == 0 { "even" } else { "odd" };
                        metrics::counter!("ops_total", "parity" => q, "thread" => "all")
                            .increment(1);
                    }
                    let _ = t;
                })
            });
        }
    });
    let snap = r.snapshot();
    let f = snap.family("ops_total").unwrap();
    let total: u64 = f.series.iter().filter_map(|s| s.value.as_counter()).sum();
    assert_eq!(total, 40_000);
    assert_eq!(f.series.len(), 2);
}
