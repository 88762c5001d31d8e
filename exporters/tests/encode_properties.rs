//! Property tests over arbitrary names, label names and values, HELP texts
//! and floats: declaring never panics (bad input is an `Error`), the
//! encoders never panic, every output passes the conformance checker's
//! strict parsers, and everything round-trips bit-exactly through
//! prometheus_client's parsers.

mod common;

use common::*;
use nanometrics::{Buckets, Registry};
use nanometrics_exporters::{openmetrics, prometheus};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Kind {
    Counter(u64),
    Gauge(f64),
    UpDown(i64),
    Histogram(Vec<f64>),
    FloatCounter(Vec<f64>),
    Summary(Vec<f64>),
    Info,
    StateSet(bool),
}

#[derive(Debug, Clone)]
struct Spec {
    name: String,
    help: String,
    labels: Vec<String>,
    series: Vec<(Vec<String>, Kind)>,
}

fn metric_name() -> impl Strategy<Value = String> {
    // Mostly valid names (so that something gets exported), sometimes not.
    prop_oneof![
        8 => "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}",
        1 => ".{0,6}",
    ]
}

fn label_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
        1 => prop_oneof![Just("le".to_string()), Just("__x".to_string()), ".{0,4}".prop_map(|s| s)],
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => proptest::num::f64::ANY,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        2 => -1e3f64..1e3,
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        metric_name(),
        any::<String>(),
        proptest::collection::vec(label_name(), 0..3),
        0u8..8,
    )
        .prop_flat_map(|(name, help, labels, kind)| {
            let n = labels.len();
            let value = match kind {
                0 => any::<u64>().prop_map(Kind::Counter).boxed(),
                1 => float().prop_map(Kind::Gauge).boxed(),
                2 => any::<i64>().prop_map(Kind::UpDown).boxed(),
                3 => proptest::collection::vec(float(), 0..8)
                    .prop_map(Kind::Histogram)
                    .boxed(),
                4 => proptest::collection::vec(float(), 0..4)
                    .prop_map(Kind::FloatCounter)
                    .boxed(),
                5 => proptest::collection::vec(float(), 0..8)
                    .prop_map(Kind::Summary)
                    .boxed(),
                6 => Just(Kind::Info).boxed(),
                _ => any::<bool>().prop_map(Kind::StateSet).boxed(),
            };
            let series = proptest::collection::vec(
                (proptest::collection::vec(any::<String>(), n..=n), value),
                0..4,
            );
            series.prop_map(move |series| Spec {
                name: name.clone(),
                help: help.clone(),
                labels: labels.clone(),
                series,
            })
        })
}

/// Declares every spec; errors are fine (and expected for bad input), panics
/// are not.
fn build(specs: &[Spec]) -> Registry {
    let r = Registry::new();
    for s in specs {
        let labels: Vec<&str> = s.labels.iter().map(String::as_str).collect();
        for (values, kind) in &s.series {
            match kind {
                Kind::Counter(v) => {
                    if let Ok(f) = r.counter_family(&s.name, &s.help, &labels) {
                        if let Ok(c) = f.with_labels(values) {
                            c.inc_by(*v)
                        }
                    }
                }
                Kind::Gauge(v) => {
                    if let Ok(f) = r.gauge_family(&s.name, &s.help, &labels) {
                        if let Ok(g) = f.with_labels(values) {
                            g.set(*v)
                        }
                    }
                }
                Kind::UpDown(v) => {
                    if let Ok(f) = r.up_down_counter_family(&s.name, &s.help, &labels) {
                        if let Ok(u) = f.with_labels(values) {
                            u.add(*v)
                        }
                    }
                }
                Kind::FloatCounter(incs) => {
                    if let Ok(f) = r.float_counter_family(&s.name, &s.help, &labels) {
                        if let Ok(c) = f.with_labels(values) {
                            // Negative, NaN and infinite increments are dropped.
                            incs.iter().for_each(|v| c.inc_by(*v));
                        }
                    }
                }
                Kind::Summary(obs) => {
                    if let Ok(f) = r.summary_family(&s.name, &s.help, &labels) {
                        if let Ok(h) = f.with_labels(values) {
                            obs.iter().for_each(|o| h.observe(*o));
                        }
                    }
                }
                Kind::Info => {
                    let name = format!("{}_info", s.name);
                    if let Ok(f) = r.metric(&name, &s.help).info_family(&labels) {
                        if let Ok(g) = f.with_labels(values) {
                            g.set(1.0)
                        }
                    }
                }
                Kind::StateSet(on) => {
                    // The state label is named like the family (when it can be).
                    let mut ls = labels.clone();
                    ls.push(&s.name);
                    let mut vs = values.clone();
                    vs.push("state".to_string());
                    if let Ok(f) = r.metric(&s.name, &s.help).state_set_family(&ls) {
                        if let Ok(g) = f.with_labels(&vs) {
                            g.set(if *on { 1.0 } else { 0.0 })
                        }
                    }
                }
                Kind::Histogram(obs) => {
                    let b = Buckets::explicit(vec![-1.0, 0.0, 0.5, 1.0, 1e6]);
                    if let Ok(f) = r.histogram_family(&s.name, &s.help, &labels, b) {
                        if let Ok(h) = f.with_labels(values) {
                            obs.iter().for_each(|o| h.record(*o));
                        }
                    }
                }
            }
        }
    }
    r
}

proptest! {
    // Each case runs the Python checkers; a few dozen cover the space well
    // (the failing inputs, if any, are kept in proptest-regressions/).
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn arbitrary_registries_encode_to_valid_round_tripping_text(specs in proptest::collection::vec(spec(), 1..6)) {
        let registry = build(&specs);
        let snap = registry.snapshot();
        let om = openmetrics::encode_to_string(&snap);
        let text = prometheus::encode_to_string(&snap);
        prop_assert!(om.ends_with("# EOF\n") && !om.contains('\r'));
        prop_assert!(!text.contains('\r'));
        // The copy-free path writes the same bytes.
        let (mut a, mut b) = (Vec::new(), Vec::new());
        openmetrics::encode_registry(&registry, &mut a);
        prometheus::encode_registry(&registry, &mut b);
        prop_assert_eq!(String::from_utf8(a).unwrap(), om.clone());
        prop_assert_eq!(String::from_utf8(b).unwrap(), text.clone());
        // Again, now from the series' cached label text.
        let (mut a, mut b) = (Vec::new(), Vec::new());
        prometheus::encode_registry(&registry, &mut b);
        openmetrics::encode_registry(&registry, &mut a);
        prop_assert_eq!(String::from_utf8(a).unwrap(), om.clone());
        prop_assert_eq!(String::from_utf8(b).unwrap(), text.clone());
        check_exposition("--openmetrics", om.as_bytes(), "prop");
        // promtool's lint (e.g. `:` in names, missing HELP) is a note here;
        // parse errors still fail.
        check_exposition_with("--text", text.as_bytes(), "prop", true);
        prop_assert_eq!(parsed_samples("--openmetrics", om.as_bytes(), "prop"), expected_samples(&snap, true));
        prop_assert_eq!(parsed_samples("--text", text.as_bytes(), "prop"), expected_samples(&snap, false));
    }
}
