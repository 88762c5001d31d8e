//! Exemplars: the latest per counter series and per histogram bucket, in
//! snapshots and visits; validation. (`exemplar_stress.rs`: many threads.)

use std::time::SystemTime;

use nanometrics::{Buckets, Error, Exemplar, Registry, Value, EXEMPLAR_MAX_CHARS};

#[test]
fn the_latest_exemplar_per_bucket_is_in_the_snapshot() {
    let r = Registry::new();
    let h = r
        .histogram_family(
            "lat_seconds",
            "Latency.",
            &["model"],
            Buckets::explicit(vec![0.1, 1.0]),
        )
        .unwrap()
        .with_labels(&["m"])
        .unwrap();
    let before = SystemTime::now();
    h.observe(0.05); // no exemplar: the bucket has none
    h.observe_with_exemplar(0.5, &Exemplar::new([("trace_id", "a")]).unwrap());
    h.observe_with_exemplar(0.7, &Exemplar::new([("trace_id", "b")]).unwrap());
    h.observe_with_exemplar(f64::INFINITY, &Exemplar::new([("trace_id", "c")]).unwrap());
    h.observe_with_exemplar(f64::NAN, &Exemplar::new([("trace_id", "d")]).unwrap());
    let after = SystemTime::now();
    let snap = r.snapshot();
    let s = &snap.families[0].series[0];
    let Value::Histogram(v) = &s.value else {
        panic!()
    };
    assert_eq!(v.count, 4, "NaN records nothing");
    assert_eq!(s.exemplars.len(), v.buckets.len());
    assert!(s.exemplars[0].is_none());
    let b = s.exemplars[1].as_ref().unwrap();
    assert_eq!(
        (b.value, b.exemplar.labels().next()),
        (0.7, Some(("trace_id", "b")))
    );
    assert!(before <= b.timestamp && b.timestamp <= after);
    assert_eq!(
        s.exemplars[2].as_ref().map(|e| e.value),
        Some(f64::INFINITY)
    );
    // Reading does not consume: a second read sees the same.
    assert_eq!(r.snapshot().families[0].series[0].exemplars, s.exemplars);
    assert_eq!(h.exemplars(), s.exemplars);
}

#[test]
fn bounds_are_inclusive_as_le_is() {
    let r = Registry::new();
    let h = r
        .histogram("h", "h", Buckets::explicit(vec![1.0, 2.0]))
        .unwrap();
    let e = Exemplar::new([("k", "v")]).unwrap();
    h.observe_with_exemplar(1.0, &e);
    h.observe_with_exemplar(-5.0, &e);
    h.observe_with_exemplar(2.0000001, &e);
    let ex = h.exemplars();
    assert_eq!(ex[0].as_ref().map(|e| e.value), Some(-5.0));
    assert!(
        ex[1].is_none(),
        "1.0 belongs to le=1.0, then -5.0 replaced it"
    );
    assert_eq!(ex[2].as_ref().map(|e| e.value), Some(2.0000001));
}

#[test]
fn counters_keep_the_latest_and_the_value_of_its_increment() {
    let r = Registry::new();
    let c = r.counter_family("req_total", "R.", &["code"]).unwrap();
    let ok = c.with_labels(&["200"]).unwrap();
    ok.inc_by_with_exemplar(3, &Exemplar::for_trace([1; 16], [2; 8]));
    ok.inc_by_with_exemplar(4, &Exemplar::for_trace([3; 16], [4; 8]));
    ok.inc();
    c.with_labels(&["500"]).unwrap().inc();
    let snap = r.snapshot();
    let series = &snap.families[0].series;
    let with: Vec<_> = series.iter().map(|s| s.exemplars.len()).collect();
    assert_eq!(with, [1, 0]);
    let e = series[0].exemplars[0].as_ref().unwrap();
    assert_eq!(e.value, 4.0);
    assert_eq!(e.exemplar.trace_id(), Some([3; 16]));
    assert_eq!(e.exemplar.span_id(), Some([4; 8]));
    assert_eq!(series[0].value, Value::Counter(8));

    let f = r.float_counter("cpu_seconds_total", "C.").unwrap();
    f.inc_by_with_exemplar(0.25, &Exemplar::new([("span_id", "x")]).unwrap());
    f.inc_by_with_exemplar(f64::NAN, &Exemplar::new([("span_id", "y")]).unwrap());
    assert_eq!(f.exemplar().map(|e| e.value), Some(0.25));
    assert_eq!(f.get(), 0.25);
}

#[test]
fn gauges_and_summaries_have_none() {
    let r = Registry::new();
    r.gauge("g", "g").unwrap().set(1.0);
    r.summary("s", "s").unwrap().observe(1.0);
    assert!(r
        .snapshot()
        .families
        .iter()
        .all(|f| f.series[0].exemplars.is_empty()));
}

#[test]
fn invalid_exemplars_are_errors_naming_the_rule() {
    let err = |r: Result<Exemplar, Error>| match r {
        Err(Error::InvalidExemplar(m)) => m,
        other => panic!("expected InvalidExemplar, got {other:?}"),
    };
    let limit = "x".repeat(EXEMPLAR_MAX_CHARS - 2);
    assert!(
        Exemplar::new([("id", limit.as_str())]).is_ok(),
        "exactly 128 is fine"
    );
    let over = "é".repeat(EXEMPLAR_MAX_CHARS - 1); // counted in characters, not bytes
    let m = err(Exemplar::new([("id", over.as_str())]));
    assert!(
        m.contains("129 UTF-8 characters, exceeding the limit of 128"),
        "{m}"
    );
    assert!(Exemplar::new([("id", "é".repeat(EXEMPLAR_MAX_CHARS - 2))]).is_ok());
    assert!(err(Exemplar::new([("0id", "1")])).contains("[a-zA-Z_][a-zA-Z0-9_]*"));
    assert!(err(Exemplar::new([("a-b", "1")])).starts_with("Invalid label metric name: a-b"));
    assert!(
        err(Exemplar::new([("__name__", "1")])).starts_with("Reserved label metric name: __name__")
    );
    assert!(err(Exemplar::new([("id", "a\rb")])).contains("carriage return"));
    assert!(err(Exemplar::new([("id", "1"), ("id", "2")])).contains("twice"));
    // `le` and `quantile` are fine in an exemplar: it is not a series.
    assert!(Exemplar::new([("le", "1"), ("quantile", "2")]).is_ok());
    let e = Exemplar::new(Vec::<(&str, &str)>::new()).unwrap();
    assert_eq!(e.labels().len(), 0);
    assert_eq!((e.trace_id(), e.span_id()), (None, None));
    // Trace ids: 32 and 16 hex digits, either case; anything else is a label only.
    let t = Exemplar::new([
        ("trace_id", "4BF92F3577B34DA6A3CE929D0E0E4736"),
        ("span_id", "00f067aa0ba902b"),
    ])
    .unwrap();
    assert_eq!(t.trace_id().map(|t| t[15]), Some(0x36));
    assert_eq!(t.span_id(), None, "15 digits");
    // All zeros is W3C's invalid id: a label, not an id.
    let z = Exemplar::new([("trace_id", "0".repeat(32)), ("span_id", "0".repeat(16))]).unwrap();
    assert_eq!((z.trace_id(), z.span_id()), (None, None));
}
