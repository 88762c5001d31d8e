//! Every byte the encoders emit parses in the strictest parsers we have
//! (`tools/conformance/check_exposition.py`: prometheus_client's
//! OpenMetrics and text parsers, the OpenMetrics 1.0 ABNF, promtool, and its
//! own checks of families, series, histograms and canonical `le`) and
//! round-trips names, label values and values bit-exactly.

mod common;

use common::*;
use nanometrics_exporters::{openmetrics, prometheus};

#[test]
fn openmetrics_passes_the_conformance_checker() {
    let snap = hostile_registry().snapshot();
    let mut body = Vec::new();
    openmetrics::encode(&snap, &mut body);
    check_exposition("--openmetrics", &body, "hostile");
}

#[test]
fn text_passes_the_conformance_checker() {
    let snap = hostile_registry().snapshot();
    let mut body = Vec::new();
    prometheus::encode(&snap, &mut body);
    // promtool's linter flags `:` in metric names (a recording-rule
    // convention); engines name metrics `vllm:*`, so that one finding is a
    // note. Everything else must pass strictly.
    let report = check_exposition_with("--text", &body, "hostile", true);
    let findings: Vec<&str> = report
        .lines()
        .map(|l| l.trim_start_matches("note: promtool lint: "))
        .filter(|l| !l.is_empty() && *l != "all checks passed")
        .collect();
    assert!(
        !findings.is_empty(),
        "promtool should have noted the ':' name: {report}"
    );
    for finding in findings {
        assert!(
            finding.contains("should not contain ':'"),
            "unexpected finding: {finding}"
        );
    }
    let strict = without_colon_names(&snap);
    check_exposition(
        "--text",
        prometheus::encode_to_string(&strict).as_bytes(),
        "strict",
    );
}

#[test]
fn openmetrics_round_trips_bit_exactly() {
    let snap = hostile_registry().snapshot();
    let body = openmetrics::encode_to_string(&snap);
    assert_eq!(
        parsed_samples("--openmetrics", body.as_bytes(), "rt"),
        expected_samples(&snap, true)
    );
}

#[test]
fn text_round_trips_bit_exactly() {
    let snap = hostile_registry().snapshot();
    let body = prometheus::encode_to_string(&snap);
    assert_eq!(
        parsed_samples("--text", body.as_bytes(), "rt"),
        expected_samples(&snap, false)
    );
}

#[test]
fn empty_help_parses_and_is_only_a_lint_note() {
    let r = nanometrics::Registry::new();
    r.gauge("no_help", "").unwrap().set(1.0);
    let snap = r.snapshot();
    check_exposition(
        "--openmetrics",
        openmetrics::encode_to_string(&snap).as_bytes(),
        "nohelp",
    );
    check_exposition_with(
        "--text",
        prometheus::encode_to_string(&snap).as_bytes(),
        "nohelp",
        true,
    );
}

#[test]
fn the_copy_free_path_writes_the_same_bytes() {
    let r = hostile_registry();
    assert_registry_encoders_match(&r.snapshot(), &r);
}

/// `encode_registry` writes exactly what the snapshot encoders write, in
/// both formats.
fn assert_registry_encoders_match(snap: &nanometrics::Snapshot, r: &nanometrics::Registry) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    prometheus::encode(snap, &mut a);
    prometheus::encode_registry(r, &mut b);
    assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
    let (mut a, mut b) = (Vec::new(), Vec::new());
    openmetrics::encode(snap, &mut a);
    openmetrics::encode_registry(r, &mut b);
    assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
}

#[test]
fn later_scrapes_from_the_label_text_cache_write_the_same_bytes() {
    // The first encode_registry renders each series' label text and keeps
    // it; the later ones copy it, alternating formats (the cache is shared
    // by both), and must still match the snapshot encoders byte for byte,
    // also after series are removed, re-created and added.
    let r = hostile_registry();
    let f = r
        .counter_family("churn_total", "Churned series.", &["id"])
        .unwrap();
    for round in 0..4u64 {
        for id in 0..5u64 {
            f.with_labels(&[format!("{}", (id + round) % 7)])
                .unwrap()
                .inc_by(round + 1);
        }
        f.remove(&[format!("{}", round % 7)]);
        let snap = r.snapshot();
        for _ in 0..2 {
            assert_registry_encoders_match(&snap, &r);
        }
    }
}

/// With `_created` samples (prometheus_client's default): both formats
/// pass the checker, read back with the creation times, and the copy-free
/// path writes the snapshot path's bytes.
#[test]
fn created_samples_pass_and_round_trip() {
    use nanometrics_exporters::EncodeOptions;
    let r = hostile_registry();
    let snap = r.snapshot();
    let with = EncodeOptions::default().created(true);
    let om = openmetrics::encode_to_string_with(&snap, with);
    assert!(om.contains("\nrequests_created{"), "{om}");
    check_exposition("--openmetrics", om.as_bytes(), "created");
    assert_eq!(
        parsed_samples("--openmetrics", om.as_bytes(), "created-rt"),
        expected_samples_with(&snap, true, true)
    );
    let text = prometheus::encode_to_string_with(&snap, with);
    assert!(text.contains("# TYPE requests_created gauge\n"), "{text}");
    let strict = without_colon_names(&snap);
    check_exposition(
        "--text",
        prometheus::encode_to_string_with(&strict, with).as_bytes(),
        "created",
    );
    assert_eq!(
        parsed_samples("--text", text.as_bytes(), "created-rt"),
        expected_samples_with(&snap, false, true)
    );
    let (mut a, mut b) = (Vec::new(), Vec::new());
    openmetrics::encode_with(&snap, &mut a, with);
    openmetrics::encode_registry_with(&r, &mut b, with);
    assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
    let (mut a, mut b) = (Vec::new(), Vec::new());
    prometheus::encode_with(&snap, &mut a, with);
    prometheus::encode_registry_with(&r, &mut b, with);
    assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
}
