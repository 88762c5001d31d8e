//! The `tracing` layer: span durations land in the right buckets with the
//! allowed fields as labels (given at creation or recorded later), only
//! selected spans are timed, a re-entered span counts once from its first
//! enter, events are counted by level, and the cardinality cap holds.
#![cfg(feature = "tracing")]

use std::time::Duration;

use nanometrics::{Buckets, Registry, OVERFLOW_LABEL_VALUE};
use nanometrics_exporters::bridge::tracing::MetricsLayer;
use tracing_subscriber::layer::SubscriberExt;

fn with_layer(layer: MetricsLayer, f: impl FnOnce()) {
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
}

#[test]
fn span_durations_land_in_their_buckets_with_their_fields() {
    let r = Registry::new();
    let layer = MetricsLayer::builder(r.clone())
        .spans(["prefill", "decode"])
        .fields(["model", "batch"])
        .buckets(Buckets::explicit(vec![0.05, 0.2, 1.0]))
        .build()
        .unwrap();
    with_layer(layer, || {
        {
            let s = tracing::info_span!("prefill", model = "llama", batch = 4);
            let _e = s.enter();
            std::thread::sleep(Duration::from_millis(5));
        }
        {
            // A field recorded after creation.
            let s = tracing::info_span!("decode", model = "llama", batch = tracing::field::Empty);
            s.record("batch", 8);
            // Entered twice: one duration, from the first enter to close.
            s.in_scope(|| std::thread::sleep(Duration::from_millis(150)));
            std::thread::sleep(Duration::from_millis(100));
            s.in_scope(|| {});
        }
        // Not selected: not timed.
        let other = tracing::info_span!("tokenize", model = "llama");
        other.in_scope(|| std::thread::sleep(Duration::from_millis(1)));
    });
    let snap = r.snapshot();
    let f = snap.family("span_duration_seconds").unwrap();
    assert_eq!(f.unit.as_deref(), Some("seconds"));
    let series = |span: &str| {
        f.series
            .iter()
            .find(|s| s.labels.get("span") == Some(span))
            .map(|s| {
                (
                    s.labels
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>(),
                    s.value.as_histogram().unwrap().clone(),
                )
            })
    };
    let (labels, prefill) = series("prefill").unwrap();
    assert_eq!(labels, ["span=prefill", "model=llama", "batch=4"]);
    assert_eq!(prefill.count, 1);
    assert_eq!(prefill.buckets[0], (0.05, 1), "5 ms: under 50 ms");
    assert!(prefill.sum >= 0.005);
    let (labels, decode) = series("decode").unwrap();
    assert_eq!(labels, ["span=decode", "model=llama", "batch=8"]);
    assert_eq!(decode.count, 1, "one close, one observation");
    assert!(decode.sum >= 0.25, "from the first enter: {}", decode.sum);
    assert_eq!(decode.buckets[1], (0.2, 0), "250 ms: over 200 ms");
    assert_eq!(decode.buckets[2], (1.0, 1));
    assert!(series("tokenize").is_none());
}

#[test]
fn events_are_counted_by_level() {
    for (level, want) in [
        (None, [0, 0, 1, 2, 1]),
        (Some(tracing::Level::TRACE), [1, 1, 1, 2, 1]),
        (Some(tracing::Level::WARN), [0, 0, 0, 2, 1]),
    ] {
        let r = Registry::new();
        let mut b = MetricsLayer::builder(r.clone());
        if let Some(l) = level {
            b = b.event_level(l);
        }
        with_layer(b.build().unwrap(), || {
            tracing::error!("e");
            tracing::warn!("w1");
            tracing::warn!("w2");
            tracing::info!(code = 3, "i");
            tracing::debug!("d");
            tracing::trace!("t");
        });
        let snap = r.snapshot();
        let f = snap.family("tracing_events_total").unwrap();
        let count = |level: &str| {
            f.series
                .iter()
                .find(|s| s.labels.get("level") == Some(level))
                .and_then(|s| s.value.as_counter())
                .unwrap()
        };
        assert_eq!(
            ["trace", "debug", "info", "warn", "error"].map(count),
            want,
            "{level:?}"
        );
    }
    // Without events: no family.
    let r = Registry::new();
    let layer = MetricsLayer::builder(r.clone())
        .no_events()
        .build()
        .unwrap();
    with_layer(layer, || tracing::warn!("w"));
    assert!(r.snapshot().family("tracing_events_total").is_none());
}

#[test]
fn the_cardinality_cap_holds_and_bad_configuration_is_an_error() {
    let r = Registry::new();
    let layer = MetricsLayer::builder(r.clone())
        .fields(["user"])
        .cardinality_limit(3)
        .build()
        .unwrap();
    with_layer(layer, || {
        for i in 0..10 {
            tracing::info_span!("req", user = i).in_scope(|| {});
        }
    });
    let snap = r.snapshot();
    let f = snap.family("span_duration_seconds").unwrap();
    assert_eq!(f.series.len(), 4, "3 series and the overflow one");
    let total: u64 = f
        .series
        .iter()
        .map(|s| s.value.as_histogram().unwrap().count)
        .sum();
    assert_eq!(total, 10, "nothing lost");
    assert!(f
        .series
        .iter()
        .any(|s| s.labels.get("user") == Some(OVERFLOW_LABEL_VALUE)));

    for fields in [vec!["span"], vec!["a", "a"], vec!["bad label"]] {
        assert!(
            MetricsLayer::builder(Registry::new())
                .fields(fields.clone())
                .build()
                .is_err(),
            "{fields:?}"
        );
    }
}

#[test]
fn two_layers_time_one_span_each_with_its_fields() {
    let (a, b) = (Registry::new(), Registry::new());
    let la = MetricsLayer::builder(a.clone())
        .fields(["model"])
        .build()
        .unwrap();
    let lb = MetricsLayer::builder(b.clone())
        .fields(["route"])
        .no_events()
        .build()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(la).with(lb);
    tracing::subscriber::with_default(subscriber, || {
        let s = tracing::info_span!("req", model = "llama", route = tracing::field::Empty);
        s.record("route", "/v1");
        s.in_scope(|| {});
    });
    let label = |r: &Registry, k: &str| {
        let snap = r.snapshot();
        let s = &snap.family("span_duration_seconds").unwrap().series[0];
        assert_eq!(s.value.as_histogram().unwrap().count, 1);
        s.labels.get(k).map(str::to_string)
    };
    assert_eq!(label(&a, "model").as_deref(), Some("llama"));
    assert_eq!(label(&b, "route").as_deref(), Some("/v1"));
}
