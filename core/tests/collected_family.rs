//! Collected families: values another library keeps, set whole. Every bad
//! series is refused with a clear error while the rest are set; a series
//! keeps its start time across sets; declarations follow the native rules;
//! a reader never sees half of a set.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nanometrics::{Buckets, CollectedValue as V, Error, MetricKind as K, Registry};

fn l(v: &str) -> Vec<String> {
    vec![v.to_string()]
}

/// A family's kind and label names, a bad value, and what its error is.
type Case = (K, &'static [&'static str], V, fn(&Error) -> bool);

#[test]
fn each_bad_series_is_refused_and_the_rest_are_set() {
    let r = Registry::new();
    let cases: Vec<Case> = vec![
        (K::Counter, &["a"], V::Gauge(1.0), |e| {
            matches!(e, Error::InvalidValue(_))
        }),
        (K::Counter, &["a"], V::FloatCounter(-1.0), |e| {
            matches!(e, Error::InvalidValue(_))
        }),
        (K::Counter, &["a"], V::FloatCounter(f64::NAN), |e| {
            matches!(e, Error::InvalidValue(_))
        }),
        (K::Gauge, &["a"], V::Counter(1), |e| {
            matches!(e, Error::InvalidValue(_))
        }),
        (K::Info, &["a"], V::Gauge(2.0), |e| {
            matches!(e, Error::InvalidValue(_))
        }),
        (K::UpDownCounter, &["a"], V::Gauge(2.0), |e| {
            matches!(e, Error::InvalidValue(_))
        }),
        (
            K::Histogram,
            &["a"],
            V::Histogram {
                buckets: vec![(1.0, 1)],
                sum: 1.0,
            },
            |e| matches!(e, Error::InvalidValue(m) if m.contains("+Inf")),
        ),
        (
            K::Histogram,
            &["a"],
            V::Histogram {
                buckets: vec![(2.0, 1), (1.0, 1), (f64::INFINITY, 1)],
                sum: 1.0,
            },
            |e| matches!(e, Error::InvalidValue(m) if m.contains("increase")),
        ),
        (
            K::Histogram,
            &["a"],
            V::Histogram {
                buckets: vec![(1.0, 2), (f64::INFINITY, 1)],
                sum: 1.0,
            },
            |e| matches!(e, Error::InvalidValue(m) if m.contains("fall")),
        ),
        (
            K::Histogram,
            &["a"],
            V::Histogram {
                buckets: vec![(f64::NAN, 0), (f64::INFINITY, 1)],
                sum: 1.0,
            },
            |e| matches!(e, Error::InvalidValue(_)),
        ),
        (K::Summary, &["a"], V::Gauge(0.0), |e| {
            matches!(e, Error::InvalidValue(_))
        }),
    ];
    let good = |k: K| match k {
        K::Counter => V::Counter(1),
        K::Histogram => V::Histogram {
            buckets: vec![(f64::INFINITY, 2)],
            sum: 3.0,
        },
        K::Summary => V::Summary { count: 1, sum: 1.0 },
        K::UpDownCounter => V::UpDownCounter(-1),
        _ => V::Gauge(1.0),
    };
    for (i, (kind, labels, bad, is_expected)) in cases.into_iter().enumerate() {
        let name = if kind == K::Info {
            format!("c{i}_info")
        } else {
            format!("c{i}")
        };
        let f = r.metric(&name, "x").collected(kind, labels).unwrap();
        let err = f
            .set([
                (l("before"), good(kind)),
                (l("bad"), bad.clone()),
                (l("after"), good(kind)),
            ])
            .unwrap_err();
        assert!(is_expected(&err), "{kind:?} {bad:?}: {err}");
        let snap = r.snapshot();
        let values: Vec<_> = snap
            .family(&name)
            .unwrap()
            .series
            .iter()
            .map(|s| s.labels.get("a").unwrap().to_string())
            .collect();
        assert_eq!(values, ["before", "after"], "{kind:?}");
    }
}

#[test]
fn label_counts_and_repeats_are_refused() {
    let r = Registry::new();
    let f = r
        .metric("jobs_total", "Jobs.")
        .collected(K::Counter, &["queue"])
        .unwrap();
    let err = f
        .set([(vec![], V::Counter(1)), (l("a"), V::Counter(2))])
        .unwrap_err();
    assert!(matches!(err, Error::LabelMismatch(_)), "{err}");
    let err = f.set([(l("a\rb"), V::Counter(1))]).unwrap_err();
    assert!(
        matches!(err, Error::InvalidValue(_)),
        "a carriage return: {err}"
    );
    let err = f
        .set([(l("a"), V::Counter(1)), (l("a"), V::Counter(2))])
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidValue(m) if m.contains("twice")),
        "{err}"
    );
    let snap = r.snapshot();
    let series = &snap.family("jobs_total").unwrap().series;
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].value.as_counter(), Some(1), "the first one stays");
    assert_eq!(f.len(), 1);
}

#[test]
fn a_series_keeps_its_start_time_and_a_missing_one_is_gone() {
    let r = Registry::new();
    let f = r
        .metric("temp", "T.")
        .collected(K::Gauge, &["room"])
        .unwrap();
    f.set([(l("a"), V::Gauge(1.0))]).unwrap();
    let first = r.snapshot().families[0].series[0].created;
    std::thread::sleep(std::time::Duration::from_millis(3));
    f.set([(l("b"), V::Gauge(5.0)), (l("a"), V::Gauge(2.0))])
        .unwrap();
    let snap = r.snapshot();
    let series = &snap.families[0].series;
    assert_eq!(series[1].labels.get("room"), Some("a"));
    assert_eq!(series[1].created, first);
    let id_before = {
        let f = r.snapshot();
        f.families[0].series[1].labels.series_id()
    };
    f.set([(l("b"), V::Gauge(5.0)), (l("a"), V::Gauge(2.5))])
        .unwrap();
    assert_eq!(
        r.snapshot().families[0].series[1].labels.series_id(),
        id_before,
        "a continuing series keeps its identity"
    );
    assert!(
        series[0].created > first,
        "a new series starts when it appears"
    );
    f.set([(l("b"), V::Gauge(6.0))]).unwrap();
    assert_eq!(r.snapshot().families[0].series.len(), 1);
    f.set([(l("a"), V::Gauge(3.0))]).unwrap();
    assert!(
        r.snapshot().families[0].series[0].created > first,
        "gone and back: a new start time"
    );
}

#[test]
fn declarations_follow_the_native_rules() {
    let r = Registry::new();
    let a = r.metric("up", "Up.").collected(K::Gauge, &["job"]).unwrap();
    let b = r.metric("up", "Up.").collected(K::Gauge, &["job"]).unwrap();
    b.set([(l("x"), V::Gauge(1.0))]).unwrap();
    assert_eq!(a.len(), 1, "declared again: the same family");
    assert!(matches!(r.gauge("up", "Up."), Err(Error::Conflict(_))));
    assert!(matches!(
        r.metric("up", "Up.").collected(K::Counter, &["job"]),
        Err(Error::Conflict(_))
    ));
    r.gauge("native", "N.").unwrap();
    assert!(matches!(
        r.metric("native", "N.").collected(K::Gauge, &[]),
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        r.metric("h", "H.")
            .buckets(Buckets::default())
            .collected(K::Histogram, &[]),
        Err(Error::InvalidBuckets(_))
    ));
    assert!(matches!(
        r.metric("build", "B.").collected(K::Info, &[]),
        Err(Error::InvalidName(_))
    ));
    assert!(matches!(
        r.metric("mode", "M.").collected(K::StateSet, &["x"]),
        Err(Error::InvalidLabelName(_))
    ));
    assert!(matches!(
        r.metric("bad name", "x").collected(K::Gauge, &[]),
        Err(Error::InvalidName(_))
    ));
    // A sub-registry's prefix and constant labels apply.
    let sub = r.sub_registry("pool", &[("zone", "a")]).unwrap();
    sub.metric("free", "F.")
        .collected(K::Gauge, &[])
        .unwrap()
        .set([(vec![], V::Gauge(2.0))])
        .unwrap();
    let snap = r.snapshot();
    let free = snap.family("pool_free").unwrap();
    assert_eq!(free.series[0].labels.get("zone"), Some("a"));
    assert!(r.unregister("up"));
    assert!(r.snapshot().family("up").is_none());
}

#[test]
fn a_collected_histogram_keeps_its_buckets_and_estimates_within_them() {
    let r = Registry::new();
    let f = r
        .metric("lat_seconds", "L.")
        .collected(K::Histogram, &[])
        .unwrap();
    let buckets = vec![(0.1, 10), (0.2, 30), (1.0, 40), (f64::INFINITY, 40)];
    f.set([(
        vec![],
        V::Histogram {
            buckets: buckets.clone(),
            sum: 9.0,
        },
    )])
    .unwrap();
    let snap = r.snapshot();
    let h = snap.families[0].series[0]
        .value
        .as_histogram()
        .unwrap()
        .clone();
    assert_eq!((h.count, h.sum, h.buckets.clone()), (40, 9.0, buckets));
    assert!(h.min.is_nan() && h.max.is_nan(), "extremes are unknown");
    let median = h.quantile(0.5);
    assert!((0.1..=0.2).contains(&median), "{median}");
    assert!(h.quantile(0.99) <= 1.0);
    assert_eq!(h.stats().count, 40);
}

#[test]
fn a_reader_never_sees_half_of_a_set() {
    let r = Registry::new();
    let f = r.metric("gen", "G.").collected(K::Gauge, &["i"]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (f, stop) = (f.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut g = 0u32;
            while !stop.load(Ordering::Relaxed) {
                g += 1;
                let n = 1 + (g % 50) as usize;
                f.set((0..n).map(|i| (l(&i.to_string()), V::Gauge(f64::from(g)))))
                    .unwrap();
            }
            g
        })
    };
    let mut reads = 0;
    while reads < 2_000 {
        let snap = r.snapshot();
        let series = &snap.families[0].series;
        if let Some(first) = series.first() {
            let g = first.value.as_gauge().unwrap();
            assert!(series.iter().all(|s| s.value.as_gauge() == Some(g)));
            assert_eq!(series.len(), 1 + (g as usize % 50));
            reads += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    assert!(writer.join().unwrap() > 0);
}
