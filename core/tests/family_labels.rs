//! Families: lookup by values, removal, re-creation, sub-registry views.

use nanometrics::{Registry, Value};

#[test]
fn values_not_hashes_identify_series() {
    let r = Registry::new();
    let f = r.counter_family("t_total", "h", &["a", "b"]).unwrap();
    f.with_labels(&["ab", "c"]).unwrap().inc();
    f.with_labels(&["a", "bc"]).unwrap().inc_by(2);
    f.with_labels(&["", "abc"]).unwrap().inc_by(3);
    f.with_labels(&[String::from("abc"), String::new()])
        .unwrap()
        .inc_by(4);
    assert_eq!(f.len(), 4);
    assert_eq!(f.with_labels(&["ab", "c"]).unwrap().get(), 1);
    assert_eq!(f.with_labels(&["a", "bc"]).unwrap().get(), 2);
    assert_eq!(f.with_labels(&["", "abc"]).unwrap().get(), 3);
    assert_eq!(f.with_labels(&["abc", ""]).unwrap().get(), 4);
}

#[test]
fn removed_series_restart_at_zero_and_stale_handles_do_not_leak_into_them() {
    let r = Registry::new();
    let f = r.counter_family("t_total", "h", &["k"]).unwrap();
    let old = f.with_labels(&["x"]).unwrap();
    old.inc_by(10);
    assert!(f.remove(&["x"]));
    let new = f.with_labels(&["x"]).unwrap();
    assert_eq!(new.get(), 0);
    old.inc_by(5); // stale handle: keeps working, not exported
    assert_eq!(new.get(), 0);
    assert_eq!(old.get(), 15);
    let snap = r.snapshot();
    assert_eq!(snap.families[0].series.len(), 1);
    assert_eq!(snap.families[0].series[0].value, Value::Counter(0));
}

#[test]
fn released_slots_are_reused_zeroed() {
    let r = Registry::new();
    let f = r.counter_family("reuse_total", "h", &["k"]).unwrap();
    // Dirty slots from several threads, drop every handle, re-create: zero.
    for round in 0..20 {
        let hs: Vec<_> = (0..3)
            .map(|t| {
                let c = f.with_labels(&[format!("{t}")]).unwrap();
                std::thread::spawn(move || c.inc_by(100))
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
        for t in 0..3 {
            let c = f.with_labels(&[format!("{t}")]).unwrap();
            c.inc_by(round);
            assert_eq!(c.get(), 100 + round);
        }
        f.clear();
        for t in 0..3 {
            assert_eq!(
                f.with_labels(&[format!("{t}")]).unwrap().get(),
                0,
                "round {round}"
            );
        }
        f.clear();
    }
}

#[test]
fn histogram_and_gauge_families() {
    let r = Registry::new();
    let h = r
        .histogram_family(
            "lat_seconds",
            "h",
            &["route"],
            nanometrics::Buckets::default(),
        )
        .unwrap();
    h.with_labels(&["/a"]).unwrap().record(0.1);
    h.with_labels(&["/b"]).unwrap().record(0.2);
    h.with_labels(&["/b"]).unwrap().record(0.3);
    let g = r.gauge_family("temp", "h", &["gpu"]).unwrap();
    g.with_labels(&["0"]).unwrap().set(f64::NAN);
    let u = r.up_down_counter_family("q", "h", &["name"]).unwrap();
    u.with_labels(&["x"]).unwrap().add(-5);
    let snap = r.snapshot();
    let lat = snap.family("lat_seconds").unwrap();
    assert_eq!(lat.series.len(), 2);
    assert_eq!(lat.series[0].labels.get("route"), Some("/a"));
    match &lat.series[1].value {
        Value::Histogram(s) => assert_eq!(s.count, 2),
        v => panic!("{v:?}"),
    }
    match snap.family("temp").unwrap().series[0].value {
        Value::Gauge(v) => assert!(v.is_nan()),
        ref v => panic!("{v:?}"),
    }
    assert_eq!(
        snap.family("q").unwrap().series[0].value,
        Value::UpDownCounter(-5)
    );
}

#[test]
fn sub_registries_are_visible_from_every_ancestor_only() {
    let root = Registry::new();
    let ns = root
        .sub_registry("dynamo", &[("dynamo_namespace", "prod")])
        .unwrap();
    let a = ns.sub_registry("", &[("dynamo_component", "a")]).unwrap();
    let b = ns.sub_registry("", &[("dynamo_component", "b")]).unwrap();
    a.counter("requests_total", "Requests.").unwrap().inc();
    b.counter("requests_total", "Requests.").unwrap().inc_by(2);
    root.gauge("up", "Up.").unwrap().set(1.0);

    let snap = root.snapshot();
    assert_eq!(snap.families.len(), 2);
    let req = snap.family("dynamo_requests_total").unwrap();
    assert_eq!(req.series.len(), 2, "both components in one family");
    let labels: Vec<Vec<(&str, &str)>> = req
        .series
        .iter()
        .map(|s| s.labels.iter().collect())
        .collect();
    assert_eq!(
        labels[0],
        [("dynamo_namespace", "prod"), ("dynamo_component", "a")]
    );
    assert_eq!(
        labels[1],
        [("dynamo_namespace", "prod"), ("dynamo_component", "b")]
    );

    assert_eq!(ns.snapshot().families.len(), 1);
    let only_a = a.snapshot();
    assert_eq!(only_a.families.len(), 1);
    assert_eq!(only_a.families[0].series.len(), 1);
    assert_eq!(only_a.families[0].series[0].value, Value::Counter(1));
    // Same component registering again gets the same counter back.
    a.counter("requests_total", "Requests.").unwrap().inc();
    assert_eq!(a.snapshot().families[0].series[0].value, Value::Counter(2));
}

#[test]
fn removal_keeps_every_other_series_reachable_and_in_order() {
    let r = Registry::new();
    let f = r.counter_family("t_total", "h", &["k"]).unwrap();
    for (i, k) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        f.with_labels(&[*k]).unwrap().inc_by(i as u64 + 1);
    }
    assert!(f.remove(&["b"]));
    assert!(f.remove(&["e"])); // the last one: nothing moves
    assert_eq!(f.len(), 3);
    for (k, v) in [("a", 1), ("c", 3), ("d", 4)] {
        assert_eq!(f.get(&[k]).unwrap().get(), v, "{k}");
    }
    assert!(f.get(&["b"]).is_none() && f.get(&["e"]).is_none());
    let snap = r.snapshot();
    let order: Vec<&str> = snap.families[0]
        .series
        .iter()
        .map(|s| s.labels.get("k").unwrap())
        .collect();
    assert_eq!(
        order,
        ["a", "d", "c"],
        "creation order, the newest moved into the gap"
    );
}

mod cache_model {
    use std::collections::HashMap;

    use nanometrics::Registry;
    use proptest::prelude::*;

    /// Values that a cache comparing too little would confuse: equal first,
    /// middle and last bytes at different lengths (`"a"`, `"aaa"`), 16 and
    /// 17 bytes (the longest value compared as words, and the shortest
    /// compared as a string), 16-byte values equal in their first 8, and long values that differ only inside.
    const POOL: [&str; 11] = [
        "",
        "a",
        "aa",
        "aaa",
        "aba",
        "0123456789abcdef",
        "0123456789abcdeX",
        "0123456789abcdeff",
        "llama-3.1-8b-instruct",
        "llama-3.2-8b-instruct",
        "output",
    ];

    proptest! {
        /// `with_labels` on one thread, with its cache, against a map: for
        /// every label count (1 to 4 take the compile-time-sized path, 5 and
        /// 6 the general one), each label set has its own series, and a
        /// removed one restarts at zero.
        #[test]
        fn with_labels_agrees_with_a_map(
            n in 1usize..=6,
            ops in proptest::collection::vec(
                (proptest::collection::vec(0..POOL.len(), 6), 1u64..100, any::<bool>()),
                1..200,
            ),
        ) {
            let r = Registry::new();
            let names: Vec<String> = (0..n).map(|i| format!("l{i}")).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let f = r.counter_family("model_total", "h", &names).unwrap();
            let mut model: HashMap<Vec<&str>, u64> = HashMap::new();
            for (picks, k, remove) in ops {
                let values: Vec<&str> = picks[..n].iter().map(|&i| POOL[i]).collect();
                if remove {
                    prop_assert_eq!(f.remove(&values), model.remove(&values).is_some());
                    continue;
                }
                let c = f.with_labels(&values).unwrap();
                c.inc_by(k);
                let want = model.entry(values.clone()).or_default();
                *want += k;
                prop_assert_eq!(c.get(), *want, "values {:?}", values);
                // A second lookup, now a cache hit, finds the same series.
                prop_assert_eq!(f.with_labels(&values).unwrap().get(), *want);
            }
            prop_assert_eq!(f.len(), model.len());
        }
    }
}
