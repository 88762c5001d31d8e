//! The runtime's levels (namespace → component → endpoint): a metric
//! registered once at its level is seen, with every level's label, from
//! each level above; collisions and out-of-order levels are errors; the
//! runtime's old "register in every parent" pattern is an error, never a
//! duplicate family or a panic.
#![cfg(feature = "derive")]

use nanometrics::{Counter, Error, Family, Levels, Metrics, Registry};
use nanometrics_exporters::prometheus;

#[derive(Metrics)]
struct Endpoint {
    /// Requests served.
    #[metric(labels = ["status"])]
    requests_total: Family<Counter>,
}

#[test]
fn a_metric_is_seen_from_every_level_above_with_every_label() {
    let root = Registry::new();
    let ns = root.namespace("prod").unwrap();
    let router = ns.component("router").unwrap();
    let generate = router.endpoint("generate").unwrap();
    let health = router.endpoint("health").unwrap();
    let a = Endpoint::register(&generate).unwrap();
    let b = Endpoint::register(&health).unwrap();
    a.requests_total.with_labels(&["ok"]).unwrap().inc_by(3);
    b.requests_total.with_labels(&["ok"]).unwrap().inc();

    for (level, want) in [
        (&root, 2),
        (&ns, 2),
        (&router, 2),
        (&generate, 1),
        (&health, 1),
    ] {
        let snap = level.snapshot();
        assert_eq!(snap.families.len(), 1);
        let f = &snap.families[0];
        assert_eq!(f.name, "dynamo_component_requests_total");
        assert_eq!(f.series.len(), want);
    }
    let snap = root.snapshot();
    let s = &snap.families[0].series[0];
    assert_eq!(
        s.labels.iter().collect::<Vec<_>>(),
        [
            ("dynamo_namespace", "prod"),
            ("dynamo_component", "router"),
            ("dynamo_endpoint", "generate"),
            ("status", "ok")
        ]
    );
    // Asking for a level again gives the same registry.
    let again = root.namespace("prod").unwrap().component("router").unwrap();
    assert_eq!(again.snapshot().families[0].series.len(), 2);
    // One family in the exposition, two series.
    let text = prometheus::encode_to_string(&root.snapshot());
    assert_eq!(
        text.matches("# TYPE dynamo_component_requests_total counter")
            .count(),
        1
    );
    assert_eq!(text.matches("dynamo_component_requests_total{").count(), 2);
}

#[test]
fn collisions_and_levels_out_of_order_are_errors() {
    let root = Registry::new();
    let ep = root
        .namespace("prod")
        .unwrap()
        .component("router")
        .unwrap()
        .endpoint("generate")
        .unwrap();
    // A metric's own label named like a level's.
    let err = ep
        .counter_family("x_total", "X.", &["dynamo_component"])
        .unwrap_err();
    assert!(matches!(err, Error::LabelCollision(_)));
    let msg = err.to_string();
    assert!(
        msg.contains("\"dynamo_component\"") && msg.contains("dynamo_component=\"router\""),
        "{msg}"
    );
    // A constant label named like a level's.
    assert!(matches!(
        ep.sub_registry("", &[("dynamo_endpoint", "x")]),
        Err(Error::LabelCollision(_))
    ));
    // Levels in order only.
    assert!(matches!(
        root.component("router"),
        Err(Error::LabelMismatch(_))
    ));
    assert!(matches!(
        root.endpoint("generate"),
        Err(Error::LabelMismatch(_))
    ));
    assert!(matches!(
        root.namespace("prod").unwrap().endpoint("generate"),
        Err(Error::LabelMismatch(_))
    ));
    assert!(matches!(root.namespace(""), Err(Error::InvalidValue(_))));
}

#[test]
fn registering_in_every_parent_is_an_error_not_a_duplicate() {
    let root = Registry::new();
    let ns = root.namespace("prod").unwrap();
    let comp = ns.component("router").unwrap();
    let ep = comp.endpoint("generate").unwrap();
    let first = ep.counter("requests_total", "Requests.").unwrap();
    // The same declaration at the same level: the same series.
    let again = ep.counter("requests_total", "Requests.").unwrap();
    again.inc();
    assert_eq!(first.get(), 1);
    // The runtime registered each metric in every parent registry too;
    // that pattern is refused (different constant labels for one name)
    // instead of duplicating the family.
    for parent in [&comp, &ns] {
        assert!(matches!(
            parent.counter("requests_total", "Requests."),
            Err(Error::Conflict(_))
        ));
    }
    let text = prometheus::encode_to_string(&root.snapshot());
    assert_eq!(
        text.matches("# TYPE dynamo_component_requests_total")
            .count(),
        1,
        "{text}"
    );
    assert_eq!(
        text.matches("\ndynamo_component_requests_total{").count(),
        1,
        "{text}"
    );
}

#[test]
fn other_label_names_and_prefix() {
    let levels = Levels {
        prefix: String::new(),
        namespace: "ns".into(),
        component: "svc".into(),
        endpoint: "route".into(),
    };
    let root = Registry::new();
    let ep = levels
        .endpoint(
            &levels
                .component(&levels.namespace(&root, "a").unwrap(), "b")
                .unwrap(),
            "c",
        )
        .unwrap();
    Endpoint::register(&ep)
        .unwrap()
        .requests_total
        .with_labels(&["ok"])
        .unwrap()
        .inc();
    let snap = root.snapshot();
    assert_eq!(snap.families[0].name, "requests_total");
    assert_eq!(
        snap.families[0].series[0].labels.iter().collect::<Vec<_>>(),
        [("ns", "a"), ("svc", "b"), ("route", "c"), ("status", "ok")]
    );
    assert_eq!(Levels::default().prefix, "dynamo_component");
}
