//! `#[derive(Metrics)]`: every field type, nested groups, prefixes, name
//! overrides, units, buckets, constant labels, info and state sets, and
//! registering twice; what the registry refuses comes back as an error.
#![cfg(feature = "derive")]

use nanometrics::{
    Buckets, Counter, Error, Family, FloatCounter, Gauge, Histogram, MetricKind, Metrics, Registry,
    Summary, UpDownCounter,
};

#[derive(Metrics)]
#[metrics(prefix = "engine", const_labels = [("engine", "e0")])]
struct Engine {
    /// Requests finished.
    #[metric(labels = ["model", "status"])]
    requests_total: Family<Counter>,
    /// CPU time.
    #[metric(unit = "seconds")]
    cpu_seconds_total: FloatCounter,
    /// Requests in flight.
    inflight: UpDownCounter,
    /// Free KV blocks,
    /// by pool.
    #[metric(labels = ["pool"])]
    free_blocks: Family<Gauge>,
    /// Time to first token.
    #[metric(unit = "seconds", buckets = exponential(0.001, 2.0, 4))]
    ttft_seconds: Histogram,
    /// Tokens per request.
    #[metric(labels = ["model"], buckets = linear(1.0, 1.0, 3), cardinality_limit = 2)]
    tokens: Family<Histogram>,
    /// Payload sizes.
    payload_bytes: Summary,
    /// Sizes by route.
    #[metric(labels = ["route"])]
    route_bytes: Family<Summary>,
    /// Queue wait.
    #[metric(name = "queue_wait_seconds", buckets = Buckets::explicit(vec![0.5, 1.0]))]
    wait: Histogram,
    /// Build information.
    #[metric(info, labels = ["version"])]
    build_info: Family<Gauge>,
    /// Scheduler state (its state label, named like it, is added).
    #[metric(state_set)]
    scheduler_state: Family<Gauge>,
    /// Jobs by queue.
    #[metric(labels = ["queue"], const_labels = [("tier", "gold")])]
    jobs_total: Family<UpDownCounter>,
    /// A nested group (no doc comment needed: it is not a metric).
    kv: Kv,
    floats: Floats,
}

#[derive(Metrics)]
#[metrics(prefix = "kv")]
struct Kv {
    /// KV blocks in use.
    used_blocks: Gauge,
    /// Evictions.
    evictions_total: Counter,
}

#[derive(Metrics)]
struct Floats {
    /// Spend.
    #[metric(labels = ["team"])]
    spend_total: Family<FloatCounter>,
}

#[test]
fn every_field_type_is_declared_with_its_options() {
    let r = Registry::new();
    let m = Engine::register(&r).unwrap();
    m.requests_total
        .with_labels(&["llama", "ok"])
        .unwrap()
        .inc();
    m.cpu_seconds_total.inc_by(0.5);
    m.inflight.add(2);
    m.free_blocks.with_labels(&["a"]).unwrap().set(3.0);
    m.ttft_seconds.observe(0.003);
    m.tokens.with_labels(&["llama"]).unwrap().observe(2.0);
    m.payload_bytes.observe(10.0);
    m.route_bytes.with_labels(&["/x"]).unwrap().observe(1.0);
    m.wait.observe(0.7);
    m.build_info.with_labels(&["1.2"]).unwrap().set(1.0);
    m.scheduler_state
        .with_labels(&["running"])
        .unwrap()
        .set(1.0);
    m.jobs_total.with_labels(&["fast"]).unwrap().add(-1);
    m.kv.used_blocks.set(5.0);
    m.kv.evictions_total.inc();
    m.floats
        .spend_total
        .with_labels(&["infra"])
        .unwrap()
        .inc_by(1.5);

    let snap = r.snapshot();
    let fam = |name: &str| {
        snap.family(name).unwrap_or_else(|| {
            panic!(
                "{name} in {:?}",
                snap.families.iter().map(|f| &f.name).collect::<Vec<_>>()
            )
        })
    };
    let req = fam("engine_requests_total");
    assert_eq!(req.kind, MetricKind::Counter);
    assert_eq!(req.help, "Requests finished.");
    assert_eq!(
        req.series[0].labels.iter().collect::<Vec<_>>(),
        [("engine", "e0"), ("model", "llama"), ("status", "ok")]
    );
    assert_eq!(
        fam("engine_cpu_seconds_total").unit.as_deref(),
        Some("seconds")
    );
    assert_eq!(fam("engine_inflight").kind, MetricKind::UpDownCounter);
    assert_eq!(fam("engine_free_blocks").help, "Free KV blocks, by pool.");
    let ttft = fam("engine_ttft_seconds");
    let h = ttft.series[0].value.as_histogram().unwrap();
    let bounds: Vec<f64> = h.buckets.iter().map(|b| b.0).collect();
    assert_eq!(bounds, [0.001, 0.002, 0.004, 0.008, f64::INFINITY]);
    let tokens = fam("engine_tokens");
    let h = tokens.series[0].value.as_histogram().unwrap();
    assert_eq!(h.buckets.len(), 4);
    // cardinality_limit = 2: past "llama" and "a", label sets go to the
    // overflow series.
    for model in ["a", "b", "c"] {
        m.tokens.with_labels(&[model]).unwrap().observe(1.0);
    }
    let after = r.snapshot();
    let models: Vec<&str> = after
        .family("engine_tokens")
        .unwrap()
        .series
        .iter()
        .map(|s| s.labels.get("model").unwrap())
        .collect();
    assert_eq!(models, ["llama", "a", nanometrics::OVERFLOW_LABEL_VALUE]);
    assert_eq!(fam("engine_payload_bytes").kind, MetricKind::Summary);
    assert_eq!(fam("engine_route_bytes").kind, MetricKind::Summary);
    let wait = fam("engine_queue_wait_seconds");
    assert_eq!(
        wait.series[0].value.as_histogram().unwrap().buckets.len(),
        3
    );
    assert_eq!(fam("engine_build_info").kind, MetricKind::Info);
    assert_eq!(fam("engine_scheduler_state").kind, MetricKind::StateSet);
    let jobs = fam("engine_jobs_total");
    assert_eq!(jobs.kind, MetricKind::UpDownCounter);
    assert_eq!(jobs.series[0].labels.get("tier"), Some("gold"));
    let kv = fam("engine_kv_used_blocks");
    assert_eq!(
        kv.series[0].labels.get("engine"),
        Some("e0"),
        "the parent's labels apply"
    );
    assert_eq!(
        fam("engine_kv_evictions_total").series[0]
            .value
            .as_counter(),
        Some(1)
    );
    assert_eq!(
        fam("engine_spend_total").series[0].value.as_f64(),
        Some(1.5)
    );
}

#[test]
fn registering_twice_returns_the_same_series() {
    let r = Registry::new();
    let a = Engine::register(&r).unwrap();
    let b = Engine::register(&r).unwrap();
    a.kv.evictions_total.inc();
    b.kv.evictions_total.inc();
    assert_eq!(a.kv.evictions_total.get(), 2);
    b.requests_total.with_labels(&["m", "ok"]).unwrap().inc();
    assert_eq!(a.requests_total.with_labels(&["m", "ok"]).unwrap().get(), 1);
    let families = r.snapshot().families.len();
    Engine::register(&r).unwrap();
    assert_eq!(r.snapshot().families.len(), families);
}

#[test]
fn register_with_adds_a_prefix_and_labels_and_the_rules_still_apply() {
    let r = Registry::new();
    let m = Kv::register_with(&r, "worker", &[("worker", "w1")]).unwrap();
    m.used_blocks.set(1.0);
    let snap = r.snapshot();
    assert_eq!(snap.families[0].name, "worker_kv_used_blocks");
    assert_eq!(snap.families[0].series[0].labels.get("worker"), Some("w1"));

    // A metric of the same name declared otherwise: a conflict, as a
    // hand-written declaration would get.
    let r = Registry::new();
    r.counter("kv_used_blocks", "Another.").unwrap();
    assert!(matches!(Kv::register(&r), Err(Error::Conflict(_))));

    // A unit the name does not end with: refused when registering.
    #[derive(Metrics)]
    #[allow(dead_code)]
    struct BadUnit {
        /// Latency.
        #[metric(unit = "seconds")]
        latency_ms: Histogram,
    }
    assert!(matches!(
        BadUnit::register(&Registry::new()),
        Err(Error::InvalidName(_))
    ));
    // Bad buckets: refused when registering, not a panic.
    #[derive(Metrics)]
    #[allow(dead_code)]
    struct BadBuckets {
        /// Latency.
        #[metric(buckets = exponential(0.0, 2.0, 4))]
        latency: Histogram,
    }
    assert!(matches!(
        BadBuckets::register(&Registry::new()),
        Err(Error::InvalidBuckets(_))
    ));
    // A constant label that collides with the group's: both named.
    let r = Registry::new();
    let err = Engine::register_with(&r, "", &[("engine", "x")])
        .err()
        .unwrap();
    assert!(matches!(err, Error::LabelCollision(_)), "{err}");
}

/// A hand-written impl: the trait is not only for the derive.
struct Manual {
    up: Gauge,
}

impl Metrics for Manual {
    fn register(r: &Registry) -> Result<Self, Error> {
        Ok(Manual {
            up: r.gauge("up", "Up.")?,
        })
    }
}

#[derive(Metrics)]
struct WithManual {
    manual: Manual,
}

#[test]
fn a_hand_written_group_nests_too() {
    let r = Registry::new();
    let m = WithManual::register(&r).unwrap();
    m.manual.up.set(1.0);
    assert_eq!(r.snapshot().families[0].name, "up");
}

// A struct made by a macro (its field types reach the derive as
// `macro_rules!` fragments), a computed doc comment, a raw identifier, a
// `static registry` in scope: all as written by hand.
#[allow(non_upper_case_globals, dead_code)]
static registry: u8 = 0;

macro_rules! group {
    ($name:ident, $t:ty, $doc:expr) => {
        #[derive(Metrics)]
        struct $name {
            #[doc = $doc]
            r#type: $t,
            /// Modes.
            #[metric(state_set, labels = ["engine"])]
            mode: Family<Gauge>,
        }
    };
}

group!(Made, Counter, concat!("Made by ", "a macro."));

#[test]
fn macro_fragments_computed_docs_raw_names_and_state_sets_anywhere() {
    for r in [
        Registry::new(),
        Registry::new().sub_registry("deep", &[]).unwrap(),
        Registry::new().namespace("prod").unwrap(),
    ] {
        let m = Made::register(&r).unwrap();
        m.r#type.inc();
        m.mode.with_labels(&["e0", "on"]).unwrap().set(1.0);
        let snap = r.snapshot();
        let t = snap
            .families
            .iter()
            .find(|f| f.name.ends_with("type"))
            .unwrap();
        assert_eq!(t.help, "Made by a macro.");
        let mode = snap
            .families
            .iter()
            .find(|f| f.name.ends_with("mode"))
            .unwrap();
        assert_eq!(mode.kind, MetricKind::StateSet);
        let state_label = mode.name.replace(':', "_");
        assert_eq!(
            mode.series[0].labels.get(&state_label),
            Some("on"),
            "{}",
            mode.name
        );
    }
}
