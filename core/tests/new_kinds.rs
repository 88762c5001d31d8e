//! Float counters, summaries, info and state-set families, unregistering
//! and collect hooks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use nanometrics::{Error, MetricKind, Registry, Value};

#[test]
fn float_counter_is_exact_over_short_lived_threads_and_never_backwards() {
    let r = Registry::new();
    let c = r.float_counter("cpu_seconds_total", "CPU.").unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (c, done) = (c.clone(), done.clone());
        thread::spawn(move || {
            let (mut last, mut reads) = (0.0f64, 0u64);
            while !done.load(Ordering::Acquire) {
                let v = c.get();
                assert!(v >= last, "went backwards: {last} -> {v}");
                last = v;
                reads += 1;
            }
            reads
        })
    };
    // Quarter steps are exact in binary: the total must be exact too.
    let mut expected = 0.0;
    for wave in 0..100u32 {
        let hs: Vec<_> = (0..8u32)
            .map(|i| {
                let c = c.clone();
                let step = ((wave * 8 + i) % 7 + 1) as f64 * 0.25;
                expected += step * 50.0;
                thread::spawn(move || {
                    for _ in 0..50 {
                        c.inc_by(step);
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    }
    done.store(true, Ordering::Release);
    assert!(reader.join().unwrap() > 0);
    assert_eq!(c.get(), expected);
    assert_eq!(
        r.snapshot().families[0].series[0].value,
        Value::FloatCounter(expected)
    );
}

#[test]
fn float_counter_refuses_bad_increments_and_keeps_its_value() {
    let r = Registry::new();
    let c = r.float_counter("x_total", "x").unwrap();
    c.inc_by(1.5);
    let bad = [-1.0, -1e-300, f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    for v in bad {
        let e = c.try_inc_by(v).unwrap_err();
        assert!(matches!(e, Error::InvalidValue(_)), "{v}: {e:?}");
    }
    // The hot-path form drops them and counts each one (other tests may
    // count too: at least ours).
    let before = nanometrics::diagnostics::rejected_increments();
    for v in bad {
        c.inc_by(v);
    }
    assert!(nanometrics::diagnostics::rejected_increments() >= before + bad.len() as u64);
    c.try_inc_by(-0.0).unwrap();
    c.inc_by(-0.0);
    assert_eq!(c.get(), 1.5);
    assert_eq!(r.snapshot().families[0].kind, MetricKind::Counter);
}

#[test]
fn float_counter_family_series_restart_at_zero_after_removal() {
    let r = Registry::new();
    let f = r.float_counter_family("x_total", "x", &["k"]).unwrap();
    f.with_labels(&["a"]).unwrap().inc_by(2.5);
    assert!(f.remove(&["a"]));
    let again = f.with_labels(&["a"]).unwrap();
    assert_eq!(again.get(), 0.0);
}

#[test]
fn summary_counts_sums_and_is_consistent_under_concurrent_records() {
    let r = Registry::new();
    let s = r.summary("size_bytes", "Sizes.").unwrap();
    let hs: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            thread::spawn(move || {
                for i in 0..10_000 {
                    s.observe((t * 10_000 + i) as f64);
                }
            })
        })
        .collect();
    let mut last = 0;
    while hs.iter().any(|h| !h.is_finished()) {
        let snap = s.snapshot();
        assert!(snap.count >= last);
        assert_eq!(snap.buckets.last().unwrap().1, snap.count);
        last = snap.count;
    }
    hs.into_iter().for_each(|h| h.join().unwrap());
    let st = s.stats();
    assert_eq!(st.count, 40_000);
    assert_eq!(st.sum, (0..40_000u64).sum::<u64>() as f64);
    assert_eq!((st.min, st.max), (0.0, 39_999.0));
    for q in [0.5, 0.9, 0.99] {
        let want = q * 40_000.0;
        assert!(
            (st.quantile(q) - want).abs() <= want * 0.05,
            "q{q}: {}",
            st.quantile(q)
        );
    }
    let snap = r.snapshot();
    assert_eq!(snap.families[0].kind, MetricKind::Summary);
    assert_eq!(
        snap.families[0].series[0]
            .value
            .as_distribution()
            .unwrap()
            .count,
        40_000
    );
}

#[test]
fn summary_names_collide_with_their_samples() {
    let r = Registry::new();
    r.summary("req_size", "x").unwrap();
    let e = r.gauge("req_size_count", "x").unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    let e = r.summary("req_size", "other help").unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
}

#[test]
fn info_and_state_set_rules() {
    let r = Registry::new();
    let e = r.metric("build", "b").info_family(&["v"]).unwrap_err();
    assert!(e.to_string().contains("_info"), "{e}");
    let i = r.metric("build_info", "b").info_family(&["v"]).unwrap();
    i.with_labels(&["1"]).unwrap().set(1.0);
    // The OpenMetrics family name of build_info is "build".
    let e = r.gauge("build", "b").unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    // A plain gauge family may not reuse an info registration.
    assert!(r.gauge_family("build_info", "b", &["v"]).is_err());

    let e = r
        .metric("state", "s")
        .state_set_family(&["other"])
        .unwrap_err();
    assert!(e.to_string().contains("\"state\""), "{e}");
    let s = r.metric("state", "s").state_set_family(&["state"]).unwrap();
    s.with_labels(&["on"]).unwrap().set(1.0);
    let snap = r.snapshot();
    let kinds: Vec<_> = snap.families.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [MetricKind::Info, MetricKind::StateSet]);
}

#[test]
fn unregister_removes_only_that_name_and_a_new_declaration_starts_fresh() {
    let r = Registry::new();
    let a = r.counter("a_total", "a").unwrap();
    let b = r.counter("b_total", "b").unwrap();
    a.inc_by(3);
    b.inc_by(4);
    assert!(r.unregister("a_total"));
    let names: Vec<_> = r.snapshot().families.into_iter().map(|f| f.name).collect();
    assert_eq!(names, ["b_total"]);
    // Re-declared with other help: no conflict, a fresh series.
    let a2 = r.counter("a_total", "new help").unwrap();
    assert_eq!(a2.get(), 0);
    a.inc(); // the old handle still works, unexposed
    assert_eq!(a2.get(), 0);
    // A sub-registry unregisters within its prefix.
    let sub = r.sub_registry("svc", &[]).unwrap();
    sub.gauge("up", "up").unwrap();
    assert!(!r.unregister("up"));
    assert!(sub.unregister("up"));
}

#[test]
fn collect_hooks_run_on_every_read_in_order_and_stop_when_dropped() {
    let r = Registry::new();
    let g = r.gauge("g", "g").unwrap();
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (l1, l2) = (log.clone(), log.clone());
    let g1 = g.clone();
    let h1 = r.on_collect(move || {
        l1.lock().unwrap().push(1);
        g1.set(7.0);
    });
    let h2 = r.on_collect(move || l2.lock().unwrap().push(2));
    assert_eq!(r.snapshot().families[0].series[0].value, Value::Gauge(7.0));
    r.visit(|_| {});
    assert_eq!(*log.lock().unwrap(), [1, 2, 1, 2]);
    drop(h1);
    g.set(1.0);
    assert_eq!(r.snapshot().families[0].series[0].value, Value::Gauge(1.0));
    assert_eq!(*log.lock().unwrap(), [1, 2, 1, 2, 2]);
    drop(h2);
    // A hook may declare metrics (it runs before any lock is taken).
    let r2 = r.clone();
    let _h3 = r.on_collect(move || {
        r2.counter("declared_in_hook_total", "x").unwrap().inc();
    });
    let snap = r.snapshot();
    assert_eq!(snap.families.len(), 2);
}

#[test]
fn float_counter_never_goes_down_when_a_thread_exits() {
    // The f64 sum of per-thread slots depends on its order, and an exit
    // moves a thread's share into the retired total: without the
    // high-water mark these increments read 202.47400000000002, then
    // 202.474 once the third thread has exited.
    use std::sync::mpsc;
    let r = Registry::new();
    let c = r.float_counter("x_total", "x").unwrap();
    let mut exits = Vec::new();
    let mut handles = Vec::new();
    for v in [0.874, 49.2, 152.4] {
        let c = c.clone();
        let (ready_tx, ready_rx) = mpsc::channel();
        let (exit_tx, exit_rx) = mpsc::channel::<()>();
        handles.push(thread::spawn(move || {
            c.inc_by(v);
            ready_tx.send(()).unwrap();
            exit_rx.recv().unwrap();
        }));
        ready_rx.recv().unwrap();
        exits.push(exit_tx);
    }
    let mut last = c.get();
    for (tx, h) in exits.into_iter().zip(handles).rev() {
        tx.send(()).unwrap();
        h.join().unwrap();
        let now = c.get();
        assert!(now >= last, "went down: {last} -> {now}");
        last = now;
    }
    assert!((last - 202.474).abs() < 1e-9);
}

/// Threads resetting one series at once restart it at zero once: if two
/// resets both subtracted the same total, the counter would read 0 (clamped)
/// after the next increment instead of 1.
#[test]
fn concurrent_float_counter_resets_restart_at_zero_once() {
    use std::sync::Barrier;
    let r = Registry::new();
    let c = r.float_counter("resets_total", "x").unwrap();
    let start = Arc::new(Barrier::new(2));
    for round in 0..300 {
        c.inc_by(5.0);
        let resets: Vec<_> = (0..2)
            .map(|_| {
                let (c, start) = (c.clone(), start.clone());
                thread::spawn(move || {
                    start.wait();
                    c.reset();
                })
            })
            .collect();
        resets.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(c.get(), 0.0, "round {round}");
        c.inc();
        assert_eq!(c.get(), 1.0, "round {round}: reset twice");
        c.reset();
    }
}

#[test]
fn float_counter_reset_never_reads_negative() {
    use std::sync::mpsc;
    let r = Registry::new();
    let c = r.float_counter("x_total", "x").unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    let (ready_tx, ready_rx) = mpsc::channel();
    let c2 = c.clone();
    let h = thread::spawn(move || {
        c2.inc_by(0.2);
        ready_tx.send(()).unwrap();
        rx.recv().unwrap();
    });
    ready_rx.recv().unwrap();
    c.inc_by(0.1);
    c.reset();
    let v = c.get();
    assert!((0.0..1e-12).contains(&v), "{v}");
    tx.send(()).unwrap();
    h.join().unwrap();
    let v = c.get();
    assert!((0.0..1e-12).contains(&v), "{v}");
    c.inc();
    assert!((c.get() - 1.0).abs() < 1e-12);
}

#[test]
fn a_counter_and_a_float_counter_may_not_share_a_name() {
    let r = Registry::new();
    r.counter("x_total", "x").unwrap();
    let e = r.float_counter("x_total", "x").unwrap_err();
    assert!(matches!(e, Error::Conflict(_)), "{e}");
    assert_eq!(r.snapshot().families[0].series.len(), 1);
}
