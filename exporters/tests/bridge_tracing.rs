//! The `tracing` layer: span durations land in the right buckets with the
//! allowed fields as labels (given at creation or recorded later), only
//! selected spans are timed, a re-entered span counts once from its first
//! enter, events are counted by level, the cardinality cap holds, and a
//! span's trace (a `traceparent` field, or `tracing-opentelemetry`'s ids)
//! is its bucket's exemplar.
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

/// The exemplars of `name`'s series: `(bucket, trace_id, span_id)`.
fn exemplars(r: &Registry, name: &str) -> Vec<(usize, String, String)> {
    let snap = r.snapshot();
    let Some(f) = snap.family(name) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for s in &f.series {
        for (i, e) in s.exemplars.iter().enumerate() {
            if let Some(e) = e {
                let get = |k: &str| {
                    e.exemplar
                        .labels()
                        .find(|(n, _)| *n == k)
                        .map(|(_, v)| v.to_string())
                        .unwrap_or_default()
                };
                out.push((i, get("trace_id"), get("span_id")));
            }
        }
    }
    out
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[test]
fn a_traceparent_on_the_span_or_an_ancestor_is_the_bucket_exemplar() {
    let r = Registry::new();
    let layer = MetricsLayer::builder(r.clone())
        .spans(["generate"])
        .buckets(Buckets::explicit(vec![0.01, 10.0]))
        .build()
        .unwrap();
    with_layer(layer, || {
        // The request's span (not timed) has the caller's context; the
        // timed span below it takes it.
        let request = tracing::info_span!(
            "request",
            traceparent = format!("00-{TRACE}-00f067aa0ba902b7-01")
        );
        let _r = request.enter();
        let g = tracing::info_span!("generate");
        g.in_scope(|| std::thread::sleep(Duration::from_millis(20)));
    });
    assert_eq!(
        exemplars(&r, "span_duration_seconds"),
        [(1, TRACE.to_string(), "00f067aa0ba902b7".to_string())]
    );
    assert_eq!(
        r.snapshot().family("span_duration_seconds").unwrap().series[0]
            .labels
            .get("span"),
        Some("generate")
    );
}

#[test]
fn a_traceparent_recorded_later_or_quoted_counts_and_a_bad_one_ends_the_search() {
    let r = Registry::new();
    let layer = MetricsLayer::builder(r.clone())
        .spans(["a", "b", "c"])
        .fields(["case"])
        .build()
        .unwrap();
    let tp = |n: u8| format!("00-{TRACE}-00000000000000{n:02x}-01");
    with_layer(layer, || {
        // Recorded after creation.
        let a = tracing::info_span!("a", case = "later", traceparent = tracing::field::Empty);
        a.record("traceparent", tp(1).as_str());
        a.in_scope(|| {});
        drop(a);
        // A `?String` arrives quoted; a later version may add fields.
        let b = tracing::info_span!("b", case = "debug", traceparent = ?tp(2));
        b.in_scope(|| {});
        drop(b);
        let v2 = format!("01-{TRACE}-0000000000000003-01-extra");
        tracing::info_span!("b", case = "version", traceparent = v2.as_str()).in_scope(|| {});
        // A parent with a trace, a child with an unsampled one: the
        // child's ends the search, its grandchild has none.
        let outer = tracing::info_span!("outer", traceparent = tp(4).as_str());
        let _o = outer.enter();
        let inner = tracing::info_span!(
            "inner",
            traceparent = format!("00-{TRACE}-0000000000000005-00").as_str()
        );
        let _i = inner.enter();
        tracing::info_span!("c", case = "stopped").in_scope(|| {});
    });
    let snap = r.snapshot();
    let f = snap.family("span_duration_seconds").unwrap();
    let span_id_of = |case: &str| {
        let s = f
            .series
            .iter()
            .find(|s| s.labels.get("case") == Some(case))
            .unwrap();
        s.exemplars
            .iter()
            .flatten()
            .map(|e| {
                e.exemplar
                    .labels()
                    .find(|(k, _)| *k == "span_id")
                    .unwrap()
                    .1
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(span_id_of("later"), ["0000000000000001"]);
    assert_eq!(span_id_of("debug"), ["0000000000000002"]);
    assert_eq!(span_id_of("version"), ["0000000000000003"]);
    assert_eq!(span_id_of("stopped"), Vec::<String>::new());
}

#[test]
fn malformed_or_unsampled_traceparents_and_no_exemplars_give_none() {
    for tp in [
        format!("00-{TRACE}-00f067aa0ba902b7-00"), // not sampled
        format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)),
        format!("00-{TRACE}-0000000000000000-01"),
        format!("ff-{TRACE}-00f067aa0ba902b7-01"),
        format!("00-{}-00f067aa0ba902b7-01", TRACE.to_uppercase()),
        format!("00-{TRACE}-00f067aa0ba902b7"),
        "garbage".to_string(),
    ] {
        let r = Registry::new();
        let layer = MetricsLayer::builder(r.clone()).build().unwrap();
        with_layer(layer, || {
            tracing::info_span!("s", traceparent = tp.as_str()).in_scope(|| {});
        });
        assert_eq!(exemplars(&r, "span_duration_seconds"), [], "{tp}");
        assert_eq!(
            r.snapshot()
                .family("span_duration_seconds")
                .unwrap()
                .series
                .len(),
            1
        );
    }
    let r = Registry::new();
    let layer = MetricsLayer::builder(r.clone())
        .no_exemplars()
        .build()
        .unwrap();
    with_layer(layer, || {
        let tp = format!("00-{TRACE}-00f067aa0ba902b7-01");
        tracing::info_span!("s", traceparent = tp.as_str()).in_scope(|| {});
    });
    assert_eq!(exemplars(&r, "span_duration_seconds"), []);
}

/// With `tracing-opentelemetry`'s layer in the stack (either side of
/// ours), a timed span's bucket exemplar is the trace and span ids that
/// layer gave it; an unsampled trace gives none.
#[cfg(feature = "tracing-opentelemetry")]
#[test]
fn the_opentelemetry_ids_of_a_timed_span_are_its_exemplar() {
    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for (ours_outside, sampler) in [
        (true, Sampler::AlwaysOn),
        (false, Sampler::AlwaysOn),
        (true, Sampler::AlwaysOff),
    ] {
        let provider = SdkTracerProvider::builder()
            .with_sampler(sampler.clone())
            .build();
        let r = Registry::new();
        let ours = MetricsLayer::builder(r.clone())
            .spans(["generate"])
            .build()
            .unwrap();
        let mut ids = None;
        let run = |ids: &mut Option<(String, String)>| {
            let g = tracing::info_span!("generate");
            g.in_scope(|| std::thread::sleep(Duration::from_millis(2)));
            let cx = g.context();
            let sc = cx.span().span_context().clone();
            *ids = Some((
                hex(&sc.trace_id().to_bytes()),
                hex(&sc.span_id().to_bytes()),
            ));
        };
        if ours_outside {
            let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
            let stack = tracing_subscriber::registry().with(otel).with(ours);
            tracing::subscriber::with_default(stack, || run(&mut ids));
        } else {
            let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
            let stack = tracing_subscriber::registry().with(ours).with(otel);
            tracing::subscriber::with_default(stack, || run(&mut ids));
        }
        let (trace, span) = ids.unwrap();
        // The default subscriber of the thread entering the span may be
        // another: the ids still come from the span's own.
        let got = exemplars(&r, "span_duration_seconds");
        if matches!(sampler, Sampler::AlwaysOn) {
            assert_eq!(got.len(), 1, "{got:?}");
            assert_eq!(
                (&got[0].1, &got[0].2),
                (&trace, &span),
                "ours outside: {ours_outside}"
            );
            assert_ne!(trace, "0".repeat(32));
        } else {
            assert_eq!(got, [], "an unsampled trace");
        }
    }
}

/// A span entered where the thread's default subscriber is another one
/// (a future polled on another thread, a nested `with_default`) still gets
/// its own subscriber's OpenTelemetry ids.
#[cfg(feature = "tracing-opentelemetry")]
#[test]
fn the_ids_come_from_the_span_s_own_subscriber() {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;

    let provider = SdkTracerProvider::builder().build();
    let r = Registry::new();
    let ours = MetricsLayer::builder(r.clone())
        .spans(["generate"])
        .build()
        .unwrap();
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    let own = tracing::Dispatch::new(tracing_subscriber::registry().with(otel).with(ours));
    let span = tracing::dispatcher::with_default(&own, || tracing::info_span!("generate"));
    // Entered under another default: a registry with no OpenTelemetry.
    let other = tracing::Dispatch::new(tracing_subscriber::registry());
    tracing::dispatcher::with_default(&other, || span.in_scope(|| {}));
    drop(span);
    let got = exemplars(&r, "span_duration_seconds");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_ne!(got[0].1, "0".repeat(32));
}
