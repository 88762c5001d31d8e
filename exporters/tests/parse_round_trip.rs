//! Our parsers read back what our encoders write, bit for bit: every
//! sample of the hostile registry (every type, hostile label values, NaN
//! and infinite values, exemplars) in both formats, the same lines
//! prometheus_client's parsers give (`encode_conformance.rs`); and errors
//! name the line and column at fault.

mod common;

use common::*;
use nanometrics_exporters::parse::{self, ParsedFamily};
use nanometrics_exporters::{openmetrics, prometheus};
use proptest::prelude::*;

/// The lines `parse_exposition.py` prints, from our parser's families.
fn lines(families: &[ParsedFamily]) -> Vec<String> {
    let mut out = Vec::new();
    for f in families {
        for s in &f.samples {
            let mut l = s.labels.clone();
            l.sort();
            let l: Vec<String> = l.iter().map(|(k, v)| format!("{k}={}", hex(v))).collect();
            let mut line = format!("{}\t{}\t{}", s.name, l.join(","), value_bits(s.value));
            if let Some(e) = &s.exemplar {
                let mut el = e.labels.clone();
                el.sort();
                let el: Vec<String> = el.iter().map(|(k, v)| format!("{k}={}", hex(v))).collect();
                let t = e
                    .timestamp
                    .map_or("-".into(), |t| format!("{}.{:09}", t.sec, t.nsec));
                line += &format!("\t{}\t{}\t{t}", el.join(","), value_bits(e.value));
            }
            out.push(line);
        }
    }
    out.sort();
    out
}

#[test]
fn openmetrics_round_trips_through_our_parser() {
    let snap = hostile_registry().snapshot();
    let body = openmetrics::encode_to_string(&snap);
    let parsed = parse::openmetrics(&body).unwrap();
    assert_eq!(lines(&parsed), expected_samples(&snap, true));
    // Types, help and units come back too.
    let h = parsed
        .iter()
        .find(|f| f.name == "request_duration_seconds")
        .unwrap();
    assert_eq!((h.kind.as_str(), h.unit.as_str()), ("histogram", "seconds"));
    assert_eq!(h.help, "Latency; HELP with emoji ⏱.");
    let c = parsed.iter().find(|f| f.name == "requests").unwrap();
    assert_eq!(c.help, "Help with \"quotes\", back\\slash and\nnewline.");
}

#[test]
fn text_round_trips_through_our_parser() {
    let snap = hostile_registry().snapshot();
    let body = prometheus::encode_to_string(&snap);
    let parsed = parse::text(&body).unwrap();
    assert_eq!(lines(&parsed), expected_samples(&snap, false));
}

#[test]
fn errors_name_the_line_and_column() {
    let cases: [(&str, usize, usize, &str); 8] = [
        ("a{b=\"c\" 1\n# EOF\n", 1, 8, "expected ',' or '}'"),
        ("a 1\n\n# EOF\n", 2, 1, "blank line"),
        ("a{0b=\"c\"} 1\n# EOF\n", 1, 3, "label name"),
        ("a{b=\"c\",b=\"d\"} 1\n# EOF\n", 1, 9, "given twice"),
        ("a 1x\n# EOF\n", 1, 3, "is not a number"),
        (
            "# TYPE a counter\na_total -1\n# EOF\n",
            2,
            1,
            "cannot be negative",
        ),
        ("a 1\n# EOF\nb 2\n", 3, 1, "after \"# EOF\""),
        ("é{b=\"c\"} 1\n# EOF\n", 1, 1, "metric name"),
    ];
    for (body, line, column, msg) in cases {
        let e = parse::openmetrics(body).unwrap_err();
        assert_eq!((e.line, e.column), (line, column), "{body:?}: {e}");
        assert!(e.message.contains(msg), "{body:?}: {e}");
    }
    // A histogram's rules are checked when the family ends, and name the
    // sample at fault.
    let e = parse::openmetrics(
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"+Inf\"} 2\n# EOF\n",
    )
    .unwrap_err();
    assert_eq!(e.line, 3, "{e}");
    let e =
        parse::openmetrics("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_count 2\nh_sum 1\n# EOF\n")
            .unwrap_err();
    assert_eq!(e.line, 4, "{e}");
    assert!(e.message.contains("+Inf"), "{e}");
    // The name once; long input cut short in messages.
    let e = parse::openmetrics("a{__name__=\"b\"} 1\n# EOF\n").unwrap_err();
    assert_eq!((e.line, e.column), (1, 3), "{e}");
    let long = "x".repeat(10_000);
    let e = parse::openmetrics(&format!("a {long}\n# EOF\n")).unwrap_err();
    assert!(e.message.len() < 100, "{}", e.message.len());
    let e = parse::text("ok 1\n  bad{x=\"é\" 2\n").unwrap_err();
    assert_eq!((e.line, e.column), (2, 13), "{e}");
    let e = parse::text("# TYPE a summery\n").unwrap_err();
    assert_eq!((e.line, e.column), (1, 10), "{e}");
}

#[test]
fn engine_names_and_text_leniency() {
    // vLLM's names keep their colon; the text format allows blanks,
    // comments, trailing commas and timestamps.
    let body =
        "# HELP vllm:num_requests_running Running.\n# TYPE vllm:num_requests_running gauge\n\
                vllm:num_requests_running{model_name=\"llama\",} 3 1700000000000\n\
                # a comment\n\n  up   1  \n";
    let f = parse::text(body).unwrap();
    assert_eq!(f[0].name, "vllm:num_requests_running");
    assert_eq!(
        f[0].samples[0].labels,
        [("model_name".into(), "llama".into())]
    );
    assert_eq!(f[0].samples[0].timestamp.unwrap().sec, 1_700_000_000);
    assert_eq!(
        (
            f[1].name.as_str(),
            f[1].kind.as_str(),
            f[1].samples[0].value
        ),
        ("up", "unknown", 1.0)
    );
}

proptest! {
    /// Any label value and any float survive an encode and a parse.
    #[test]
    fn any_value_round_trips(value in any::<String>().prop_filter("no CR", |s| !s.contains('\r')), x in any::<f64>()) {
        let r = nanometrics::Registry::new();
        r.gauge_family("g", "G.", &["v"]).unwrap().with_labels(&[value.as_str()]).unwrap().set(x);
        let snap = r.snapshot();
        for (om, body) in [(true, openmetrics::encode_to_string(&snap)), (false, prometheus::encode_to_string(&snap))] {
            let f = if om { parse::openmetrics(&body) } else { parse::text(&body) }.unwrap();
            let s = &f[0].samples[0];
            prop_assert_eq!(s.label("v"), Some(value.as_str()));
            prop_assert_eq!(value_bits(s.value), value_bits(x));
        }
    }

    /// Whatever the bytes, a parse returns (an error or families), never
    /// panics.
    #[test]
    fn any_input_is_a_result(body in "[\\x00-\\x7f\\n\\r é{}\"#=,]{0,300}") {
        let _ = parse::openmetrics(&body);
        let _ = parse::text(&body);
    }
}
