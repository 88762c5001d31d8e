//! Invariant 5: bad input is a clear error, never a panic, never bad output.

use nanometrics::{Buckets, Error, Registry};

#[test]
fn invalid_metric_names_are_rejected() {
    let r = Registry::new();
    for bad in ["", "0a", "a-b", "a b", "é", "a\n", "a{b}"] {
        let e = r.counter(bad, "h").unwrap_err();
        assert!(matches!(e, Error::InvalidName(_)), "{bad:?}: {e}");
        assert!(e.to_string().contains("[a-zA-Z_:]"), "{e}");
    }
    for good in ["a", "_a", ":a", "vllm:num_requests_running", "a1_b2:c3"] {
        r.gauge(good, "h").unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    assert!(r
        .snapshot()
        .families
        .iter()
        .all(|f| nanometrics::names::is_valid_metric_name(&f.name)));
}

/// A counter named `_total` or an info metric named `_info` has no family
/// name once OpenMetrics drops the suffix (`# TYPE  counter`): an error, as
/// in prometheus_client, and nothing registered.
#[test]
fn names_that_are_only_the_type_suffix_are_rejected() {
    let r = Registry::new();
    let e = r.counter("_total", "h").unwrap_err();
    assert!(matches!(e, Error::InvalidName(_)), "{e}");
    assert!(e.to_string().contains("_total"), "{e}");
    assert!(r.float_counter("_total", "h").is_err());
    assert!(r.counter_family("_total", "h", &["a"]).is_err());
    let e = r.metric("_info", "h").info_family(&[]).unwrap_err();
    assert!(matches!(e, Error::InvalidName(_)), "{e}");
    assert!(r.snapshot().families.is_empty());
    // Anything before the suffix is a name; other kinds keep theirs whole.
    r.counter("a_total", "h").unwrap();
    r.metric("x_info", "h").info_family(&[]).unwrap();
    r.gauge("_total", "h").unwrap();
    let sub = r.sub_registry("p", &[]).unwrap();
    sub.counter("_total", "h").unwrap();
    let names: Vec<String> = r
        .snapshot()
        .families
        .iter()
        .map(|f| f.name.clone())
        .collect();
    assert_eq!(names, ["a_total", "x_info", "_total", "p__total"]);
}

#[test]
fn invalid_and_reserved_label_names_are_rejected() {
    let r = Registry::new();
    for bad in ["le", "quantile", "__x", "__name__", "a:b", "0a", "", "a-b"] {
        let e = r.counter_family("c_total", "h", &[bad]).unwrap_err();
        assert!(matches!(e, Error::InvalidLabelName(_)), "{bad:?}: {e}");
    }
    let e = r.counter_family("c_total", "h", &["a", "a"]).unwrap_err();
    assert!(matches!(e, Error::InvalidLabelName(_)), "{e}");
    assert!(r.sub_registry("x", &[("le", "1")]).is_err());
    assert!(r.sub_registry("0x", &[]).is_err());
    assert!(
        r.snapshot().families.is_empty(),
        "a failed registration left a family behind"
    );
}

#[test]
fn wrong_label_counts_are_errors() {
    let r = Registry::new();
    let f = r.counter_family("c_total", "h", &["a", "b"]).unwrap();
    assert_eq!(
        f.with_labels(&["x"]).unwrap_err(),
        Error::LabelCount {
            expected: 2,
            got: 1
        }
    );
    assert_eq!(
        f.with_labels(&["x", "y", "z"]).unwrap_err(),
        Error::LabelCount {
            expected: 2,
            got: 3
        }
    );
    assert!(f.get(&["x"]).is_none());
    assert!(!f.remove(&["x"]));
    assert!(f.is_empty());
}

#[test]
fn re_registration_returns_the_same_metric_or_conflicts() {
    let r = Registry::new();
    let a = r
        .counter_family("req_total", "Requests.", &["code"])
        .unwrap();
    let b = r
        .counter_family("req_total", "Requests.", &["code"])
        .unwrap();
    a.with_labels(&["200"]).unwrap().inc();
    assert_eq!(b.with_labels(&["200"]).unwrap().get(), 1);
    for e in [
        r.gauge_family("req_total", "Requests.", &["code"])
            .map(|_| ())
            .unwrap_err(),
        r.counter_family("req_total", "Other help.", &["code"])
            .map(|_| ())
            .unwrap_err(),
        r.counter_family("req_total", "Requests.", &["status"])
            .map(|_| ())
            .unwrap_err(),
        r.counter("req_total", "Requests.").map(|_| ()).unwrap_err(),
    ] {
        assert!(matches!(e, Error::Conflict(_)), "{e}");
        assert!(e.to_string().contains("req_total"));
    }
    let h1 = r.histogram("h", "x", Buckets::default()).unwrap();
    assert!(matches!(
        r.histogram("h", "x", Buckets::linear(1.0, 1.0, 3))
            .unwrap_err(),
        Error::Conflict(_)
    ));
    let h2 = r.histogram("h", "x", Buckets::default()).unwrap();
    h1.record(1.0);
    assert_eq!(h2.snapshot().count, 1);
    assert_eq!(r.snapshot().families.len(), 2);
}

#[test]
fn const_label_collisions_are_errors() {
    let r = Registry::new();
    let ns = r.sub_registry("", &[("dynamo_namespace", "prod")]).unwrap();
    let comp = ns
        .sub_registry("dynamo_component", &[("dynamo_component", "router")])
        .unwrap();
    for e in [
        comp.counter_family("x_total", "h", &["dynamo_namespace"])
            .map(|_| ())
            .unwrap_err(),
        comp.counter_family("x_total", "h", &["dynamo_component"])
            .map(|_| ())
            .unwrap_err(),
        comp.sub_registry("e", &[("dynamo_namespace", "dev")])
            .map(|_| ())
            .unwrap_err(),
        comp.metric("y_total", "h")
            .const_label("dynamo_component", "x")
            .build::<nanometrics::Counter>()
            .map(|_| ())
            .unwrap_err(),
    ] {
        assert!(matches!(e, Error::LabelCollision(_)), "{e}");
    }
}

#[test]
fn invalid_buckets_are_errors() {
    let r = Registry::new();
    for b in [
        Buckets::explicit(vec![1.0, f64::NAN]),
        Buckets::explicit(vec![2.0, 1.0]),
        Buckets::explicit(vec![1.0, 1.0]),
        Buckets::explicit(vec![f64::NEG_INFINITY, 1.0]),
        Buckets::exponential(0.0, 2.0, 3),
        Buckets::exponential(1.0, 1.0, 3),
        Buckets::exponential(1.0, 2.0, 0),
        Buckets::linear(0.0, 0.0, 3),
        Buckets::log(1.0, 1.0, 3),
        Buckets::explicit(vec![1e-300, 1e300]),
        Buckets::explicit(vec![1e-310]),
        Buckets::explicit(vec![1e308]),
    ] {
        let e = r.histogram("h", "x", b.clone()).unwrap_err();
        assert!(matches!(e, Error::InvalidBuckets(_)), "{b:?}: {e}");
    }
    // A trailing +Inf is allowed, and so is a histogram with only +Inf.
    let h = r
        .histogram("h1", "x", Buckets::explicit(vec![1.0, f64::INFINITY]))
        .unwrap();
    assert_eq!(h.snapshot().buckets.len(), 2);
    let h = r.histogram("h2", "x", Buckets::explicit(vec![])).unwrap();
    h.record(3.0);
    assert_eq!(h.snapshot().buckets, vec![(f64::INFINITY, 1)]);
}

#[test]
fn units_must_match_the_name() {
    let r = Registry::new();
    assert!(r
        .metric("lat_seconds", "h")
        .unit("seconds")
        .buckets(Buckets::default())
        .build::<nanometrics::Histogram>()
        .is_ok());
    assert!(r
        .metric("bytes_sent_bytes_total", "h")
        .unit("bytes")
        .build::<nanometrics::Counter>()
        .is_ok());
    assert!(r
        .metric("latency", "h")
        .unit("seconds")
        .build::<nanometrics::Gauge>()
        .is_err());
    assert!(r
        .metric("x_seconds", "h")
        .unit("sec onds")
        .build::<nanometrics::Gauge>()
        .is_err());
    let snap = r.snapshot();
    assert_eq!(
        snap.family("lat_seconds").unwrap().unit.as_deref(),
        Some("seconds")
    );
}

#[test]
fn cardinality_limit_sends_excess_to_one_overflow_series() {
    let r = Registry::new();
    let f = r
        .metric("users_total", "h")
        .cardinality_limit(10)
        .family::<nanometrics::Counter>(&["user", "region"])
        .unwrap();
    for i in 0..100 {
        f.with_labels(&[format!("u{i}").as_str(), "eu"])
            .unwrap()
            .inc_by(2);
    }
    assert_eq!(f.len(), 11);
    let snap = r.snapshot();
    let fam = snap.family("users_total").unwrap();
    assert_eq!(fam.series.len(), 11);
    let total: u64 = fam
        .series
        .iter()
        .map(|s| match s.value {
            nanometrics::Value::Counter(v) => v,
            _ => unreachable!(),
        })
        .sum();
    assert_eq!(total, 200, "totals not conserved");
    let ov = f.get(&[nanometrics::OVERFLOW_LABEL_VALUE; 2]).unwrap();
    assert_eq!(ov.get(), 180);
    // Existing series still resolve to themselves.
    assert_eq!(f.with_labels(&["u3", "eu"]).unwrap().get(), 2);
}

#[test]
fn concurrent_registration_yields_one_family() {
    let r = Registry::new();
    let hs: Vec<_> = (0..8)
        .map(|i| {
            let r = r.clone();
            std::thread::spawn(move || {
                for j in 0..50 {
                    let f = r.counter_family("conc_total", "h", &["k"]).unwrap();
                    f.with_labels(&[format!("{}", (i * 50 + j) % 20)])
                        .unwrap()
                        .inc();
                    r.counter(&format!("own_{i}_total"), "h").unwrap().inc();
                }
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    let snap = r.snapshot();
    assert_eq!(snap.families.len(), 9);
    let fam = snap.family("conc_total").unwrap();
    assert_eq!(fam.series.len(), 20);
    let total: u64 = fam
        .series
        .iter()
        .map(|s| {
            if let nanometrics::Value::Counter(v) = s.value {
                v
            } else {
                0
            }
        })
        .sum();
    assert_eq!(total, 400);
}

#[test]
fn exposed_names_may_not_collide() {
    let r = Registry::new();
    r.counter("jobs", "Exposed as jobs_total.").unwrap();
    let e = r.gauge("jobs_total", "h").unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    assert!(e.to_string().contains("collides"), "{e}");
    assert!(matches!(
        r.gauge("jobs", "h").unwrap_err(),
        Error::Conflict(_)
    ));
    r.histogram("lat", "h", Buckets::default()).unwrap();
    for name in ["lat_bucket", "lat_count", "lat_sum"] {
        assert!(
            matches!(r.gauge(name, "h").unwrap_err(), Error::Conflict(_)),
            "{name}"
        );
    }
    assert!(matches!(
        r.counter("lat_count_total", "h").unwrap_err(),
        Error::Conflict(_)
    ));
    // Unrelated names are fine.
    r.gauge("lat_p99", "h").unwrap();
    assert_eq!(r.snapshot().families.len(), 3);
}

#[test]
fn carriage_returns_are_rejected_not_exported() {
    let r = Registry::new();
    assert!(matches!(
        r.counter("a_total", "bad\rhelp").unwrap_err(),
        Error::InvalidValue(_)
    ));
    let f = r.counter_family("b_total", "ok", &["k"]).unwrap();
    let e = f.with_labels(&["x\ry"]).unwrap_err();
    assert!(matches!(e, Error::InvalidValue(_)), "{e}");
    assert!(e.to_string().contains("carriage return"));
    assert!(f.is_empty());
    assert!(r.sub_registry("s", &[("zone", "a\rb")]).is_err());
    f.with_labels(&["fine\nnewline"]).unwrap().inc();
}
