//! What a user coming from `prometheus`, `prometheus-client` or `metrics`
//! reaches for: gauge inc/dec, one histogram verb, a float counter with no
//! `Result` on its hot path, labels by name, counted cardinality overflow,
//! and `Debug` that takes no lock.

use std::sync::mpsc;
use std::time::Duration;

use nanometrics::{Buckets, Error, Registry, Value, OVERFLOW_COUNTER_NAME};

#[test]
fn gauge_inc_and_dec_move_by_one() {
    let r = Registry::new();
    let g = r.gauge("inflight", "In flight.").unwrap();
    g.set(10.0);
    g.inc();
    g.inc();
    g.dec();
    assert_eq!(g.get(), 11.0);
}

#[test]
fn observe_is_the_verb_of_histograms_summaries_and_timers() {
    let r = Registry::new();
    let h = r.histogram("h_seconds", "h", Buckets::default()).unwrap();
    let s = r.summary("s_seconds", "s").unwrap();
    h.observe(0.25);
    h.observe_duration(Duration::from_millis(500));
    h.record(1.0); // the `metrics` crate's name, an alias
    h.start_timer().observe_duration();
    s.observe(0.25);
    s.observe_duration(Duration::from_millis(500));
    let (hs, ss) = (h.snapshot(), s.snapshot());
    assert_eq!(hs.count, 4);
    assert!(hs.sum >= 1.75);
    assert_eq!((ss.count, ss.sum), (2, 0.75));
}

#[test]
fn float_counter_inc_by_drops_and_counts_what_it_cannot_export() {
    let r = Registry::new();
    let c = r.float_counter("cpu_seconds_total", "CPU.").unwrap();
    let before = nanometrics::diagnostics::rejected_increments();
    c.inc_by(0.5);
    for bad in [-1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        c.inc_by(bad);
    }
    assert_eq!(c.get(), 0.5, "nothing invalid reached the total");
    assert!(nanometrics::diagnostics::rejected_increments() >= before + 4);
    assert!(matches!(c.try_inc_by(-1.0), Err(Error::InvalidValue(_))));
    assert_eq!(c.get(), 0.5);
}

#[test]
fn labels_by_name_find_the_same_series_in_any_order() {
    let r = Registry::new();
    let f = r
        .counter_family("tokens_total", "Tokens.", &["model", "kind"])
        .unwrap();
    f.with(&[("model", "llama"), ("kind", "output")])
        .unwrap()
        .inc();
    f.with(&[("kind", "output"), ("model", "llama")])
        .unwrap()
        .inc_by(2);
    assert_eq!(f.with_labels(&["llama", "output"]).unwrap().get(), 3);
    assert_eq!(f.len(), 1, "one series, whatever the order");
    for bad in [
        &[("model", "llama")][..],                            // kind missing
        &[("model", "llama"), ("knd", "output")][..],         // unknown name
        &[("model", "llama"), ("model", "x")][..],            // given twice
        &[("model", "a"), ("kind", "b"), ("extra", "c")][..], // one too many
    ] {
        let e = f.with(bad).unwrap_err();
        assert!(matches!(e, Error::LabelMismatch(_)), "{bad:?}: {e:?}");
    }
    assert_eq!(f.len(), 1, "errors create nothing");
}

#[test]
fn overflowed_label_sets_are_counted_and_exposed() {
    let r = Registry::new();
    let component = r.sub_registry("engine", &[("zone", "a")]).unwrap();
    let f = component
        .metric("requests_total", "Requests.")
        .cardinality_limit(2)
        .family::<nanometrics::Counter>(&["user"])
        .unwrap();
    for u in ["a", "b", "c", "d", "c"] {
        f.with_labels(&[u]).unwrap().inc();
    }
    // Three lookups past the limit (c, d, c), all in the overflow series.
    let snap = r.snapshot();
    let over = snap
        .family(OVERFLOW_COUNTER_NAME)
        .expect("the overflow counter is in the root registry");
    assert_eq!(over.series.len(), 1);
    assert_eq!(
        over.series[0].labels.get("family"),
        Some("engine_requests_total")
    );
    assert_eq!(over.series[0].value, Value::Counter(3));
    let requests = snap.family("engine_requests_total").unwrap();
    let overflow_total: u64 = requests
        .series
        .iter()
        .filter(|s| s.labels.get("user") == Some(nanometrics::OVERFLOW_LABEL_VALUE))
        .map(|s| s.value.as_counter().unwrap())
        .sum();
    assert_eq!(overflow_total, 3, "the totals are conserved");
    // Repeated lookups of one overflowed label set hit the thread's cache
    // and still count, each one.
    for _ in 0..100 {
        f.with_labels(&["zzz"]).unwrap().inc();
    }
    let again = r.snapshot();
    let over = again.family(OVERFLOW_COUNTER_NAME).unwrap();
    assert_eq!(over.series[0].value, Value::Counter(103));
    // A family under its limit never creates the counter.
    let quiet = Registry::new();
    quiet
        .counter_family("x_total", "x", &["k"])
        .unwrap()
        .with_labels(&["v"])
        .unwrap()
        .inc();
    assert!(quiet.snapshot().family(OVERFLOW_COUNTER_NAME).is_none());
}

/// `{:?}` of every handle inside a visit callback, where the shard and
/// family locks are held: it must not take them again.
#[test]
fn debug_of_a_handle_takes_no_lock() {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = Registry::new();
        let c = r.counter("c_total", "c").unwrap();
        let u = r.up_down_counter("u", "u").unwrap();
        let fc = r.float_counter("f_total", "f").unwrap();
        let g = r.gauge("g", "g").unwrap();
        let h = r.histogram("h", "h", Buckets::default()).unwrap();
        let s = r.summary("s", "s").unwrap();
        let fam = r.counter_family("fam_total", "f", &["k"]).unwrap();
        fam.with_labels(&["v"]).unwrap().inc();
        let mut out = String::new();
        r.visit(|_| {
            out = format!("{c:?} {u:?} {fc:?} {g:?} {h:?} {s:?} {fam:?}");
        });
        tx.send(out).unwrap();
    });
    let out = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("Debug inside a visit callback deadlocked");
    assert!(
        out.contains("Counter") && out.contains("Histogram") && out.contains("Family"),
        "{out}"
    );
}

#[test]
fn only_histograms_take_buckets() {
    let r = Registry::new();
    let e = r
        .metric("x_total", "x")
        .buckets(Buckets::default())
        .build::<nanometrics::Counter>()
        .unwrap_err();
    assert!(matches!(e, Error::InvalidBuckets(_)), "{e:?}");
    assert!(
        e.to_string().contains("x_total (counter) takes no buckets"),
        "{e}"
    );
    let e = r
        .metric("build_info", "b")
        .buckets(Buckets::default())
        .info_family(&["v"])
        .unwrap_err();
    assert!(
        e.to_string().contains("build_info (info) takes no buckets"),
        "{e}"
    );
    assert!(r.snapshot().families.is_empty(), "nothing was declared");
    let h = r
        .metric("h_seconds", "h")
        .buckets(Buckets::explicit(vec![0.5, 1.0]))
        .build::<nanometrics::Histogram>()
        .unwrap();
    h.observe(0.7);
    assert_eq!(
        h.snapshot().buckets,
        [(0.5, 0), (1.0, 1), (f64::INFINITY, 1)]
    );
}
