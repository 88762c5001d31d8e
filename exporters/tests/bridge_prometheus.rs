//! The `prometheus` crate both ways: a nanometrics registry inside a
//! `prometheus::Registry` (its `TextEncoder` output parses to exactly our
//! values and passes the conformance checker), and a `prometheus::Registry`
//! gathered into a nanometrics one (our expositions parse to exactly its
//! values); a name on both sides is an error, never a duplicate family.
#![cfg(feature = "bridge-prometheus")]

mod common;

use common::{check_exposition, check_exposition_flags, expected_samples, parsed_samples};
use nanometrics::{Buckets, MetricKind, Registry};
use nanometrics_exporters::bridge::prometheus::{GatheredRegistry, NanometricsCollector};
use nanometrics_exporters::{openmetrics, prometheus as text};
use prometheus::core::{Collector, Desc};
use prometheus::{Encoder, TextEncoder};

fn prometheus_text(r: &prometheus::Registry) -> Vec<u8> {
    let mut out = Vec::new();
    TextEncoder::new().encode(&r.gather(), &mut out).unwrap();
    out
}

/// `parsed_samples` lines with each `le` label's value (hex of its text)
/// replaced by the bits of the number it reads as: `1` and `1.0` are one
/// bound.
fn with_numeric_le(lines: Vec<String>) -> Vec<String> {
    let unhex = |h: &str| {
        let bytes: Vec<u8> = (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect();
        String::from_utf8(bytes).unwrap()
    };
    let mut out: Vec<String> = lines
        .into_iter()
        .map(|line| {
            let mut fields: Vec<String> = line.split('\t').map(str::to_string).collect();
            if let Some(labels) = fields.get_mut(1) {
                *labels = labels
                    .split(',')
                    .map(|kv| match kv.strip_prefix("le=") {
                        Some(h) => {
                            let text = unhex(h);
                            let v: f64 = if text == "+Inf" {
                                f64::INFINITY
                            } else {
                                text.parse().unwrap()
                            };
                            format!("le={:016x}", v.to_bits())
                        }
                        None => kv.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(",");
            }
            fields.join("\t")
        })
        .collect();
    out.sort();
    out
}

/// A nanometrics registry with every kind, labels, constant labels and a
/// histogram whose buckets are not the default.
fn ours() -> Registry {
    let r = Registry::new();
    let req = r
        .counter_family("requests_total", "Requests \"served\".", &["code", "path"])
        .unwrap();
    req.with_labels(&["200", "/v1/chat"]).unwrap().inc_by(41);
    req.with_labels(&["500", "a\\b\nc"]).unwrap().inc();
    r.metric("cpu_seconds_total", "CPU.")
        .unit("seconds")
        .build::<nanometrics::FloatCounter>()
        .unwrap()
        .inc_by(1.25);
    r.gauge("temperature", "Temp.").unwrap().set(-3.5);
    r.up_down_counter("inflight", "In flight.").unwrap().add(-2);
    let h = r
        .histogram(
            "ttft_seconds",
            "TTFT.",
            Buckets::explicit(vec![0.005, 0.01, 0.1, 1.0]),
        )
        .unwrap();
    for v in [0.001, 0.007, 0.05, 0.05, 3.0] {
        h.observe(v);
    }
    let s = r.summary("payload_bytes", "Payload.").unwrap();
    s.observe(10.0);
    s.observe(20.0);
    let zone = r.sub_registry("pool", &[("zone", "eu")]).unwrap();
    zone.gauge("free_blocks", "Free.").unwrap().set(7.0);
    r.metric("build_info", "Build.")
        .info_family(&["version"])
        .unwrap()
        .with_labels(&["1.2.3"])
        .unwrap()
        .set(1.0);
    r
}

#[test]
fn our_registry_in_theirs_reads_exactly_our_values() {
    let r = ours();
    let host = prometheus::Registry::new();
    let legacy = prometheus::IntGauge::new("legacy_queue", "Legacy queue.").unwrap();
    legacy.set(9);
    host.register(Box::new(legacy)).unwrap();
    host.register(Box::new(NanometricsCollector::new(r.clone()).unwrap()))
        .unwrap();
    let body = prometheus_text(&host);
    // `prometheus` writes the bound 1.0 as `le="1"`: every check passes
    // but that one, which is a note (and nothing else is).
    let report = check_exposition_flags("--text", &body, "ours-in-theirs", &["--le-as-note"]);
    let notes: Vec<&str> = report.lines().filter(|l| l.starts_with("note:")).collect();
    assert!(
        notes.iter().all(|n| n.contains("le='1' is not canonical")),
        "{report}"
    );

    let mut expected = with_numeric_le(expected_samples(&r.snapshot(), false));
    expected.extend(parsed_samples(
        "--text",
        b"# TYPE legacy_queue gauge\nlegacy_queue 9\n",
        "legacy",
    ));
    expected.sort();
    assert_eq!(
        with_numeric_le(parsed_samples("--text", &body, "ours-in-theirs")),
        expected
    );
    let s = String::from_utf8(body).unwrap();
    // Exact bounds, cumulative counts, one +Inf.
    for line in [
        "ttft_seconds_bucket{le=\"0.005\"} 1\n",
        "ttft_seconds_bucket{le=\"0.01\"} 2\n",
        "ttft_seconds_bucket{le=\"0.1\"} 4\n",
        "ttft_seconds_bucket{le=\"1\"} 4\n",
        "ttft_seconds_bucket{le=\"+Inf\"} 5\n",
        "ttft_seconds_count 5\n",
        "# TYPE requests_total counter\n",
        "pool_free_blocks{zone=\"eu\"} 7\n",
    ] {
        assert!(s.contains(line), "{line:?} not in:\n{s}");
    }
    assert_eq!(s.matches("le=\"+Inf\"").count(), 1, "{s}");
}

#[test]
fn a_name_on_both_sides_is_refused_at_registration() {
    let r = Registry::new();
    r.gauge("queue_depth", "Queued.").unwrap().set(1.0);
    // Their family of the name, with a constant label and another HELP.
    let host = prometheus::Registry::new();
    host.register(Box::new(
        prometheus::Gauge::with_opts(
            prometheus::Opts::new("queue_depth", "Another help.").const_label("zone", "a"),
        )
        .unwrap(),
    ))
    .unwrap();
    let err = host
        .register(Box::new(NanometricsCollector::new(r.clone()).unwrap()))
        .unwrap_err();
    assert!(err.to_string().contains("queue_depth"), "{err}");
    assert!(
        err.to_string()
            .contains("different label names or a different help"),
        "{err}"
    );
    // The same description exactly: the same series twice, refused too.
    let host = prometheus::Registry::new();
    host.register(Box::new(
        prometheus::Gauge::new("queue_depth", "Queued.").unwrap(),
    ))
    .unwrap();
    assert!(matches!(
        host.register(Box::new(NanometricsCollector::new(r).unwrap())),
        Err(prometheus::Error::AlreadyReg)
    ));
}

#[test]
fn the_collector_describes_each_registration() {
    let r = ours();
    let c = NanometricsCollector::new(r).unwrap();
    let descs: Vec<(&str, &[String])> = c
        .desc()
        .into_iter()
        .map(|d: &Desc| (d.fq_name.as_str(), d.variable_labels.as_slice()))
        .collect();
    assert!(descs.contains(&(
        "requests_total",
        &["code".to_string(), "path".to_string()][..]
    )));
    assert!(descs.contains(&("pool_free_blocks", &[][..])));
    assert_eq!(descs.len(), 8, "{descs:?}");
}

/// A `prometheus::Registry` as a runtime that already uses the crate has
/// one: a counter vector, a gauge, a histogram vector with its own
/// buckets, a summary from a custom collector, constant labels.
fn theirs() -> prometheus::Registry {
    let reg = prometheus::Registry::new_custom(
        None,
        Some([("instance".to_string(), "a".to_string())].into()),
    )
    .unwrap();
    let req = prometheus::IntCounterVec::new(
        prometheus::Opts::new("legacy_requests_total", "Requests."),
        &["code"],
    )
    .unwrap();
    req.with_label_values(&["200"]).inc_by(12);
    req.with_label_values(&["404"]).inc();
    reg.register(Box::new(req)).unwrap();
    let g = prometheus::Gauge::new("legacy_temperature", "Temp \\ \"C\".").unwrap();
    g.set(21.5);
    reg.register(Box::new(g)).unwrap();
    let h = prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new("legacy_latency_seconds", "Latency.")
            .buckets(vec![0.01, 0.1, 1.0, 10.0]),
        &["route"],
    )
    .unwrap();
    for v in [0.005, 0.05, 0.5, 0.5, 50.0] {
        h.with_label_values(&["/x"]).observe(v);
    }
    reg.register(Box::new(h)).unwrap();
    reg.register(Box::new(SummaryCollector::new())).unwrap();
    reg
}

/// `prometheus` has no summary type of its own: a custom collector's.
struct SummaryCollector(Desc);

impl SummaryCollector {
    fn new() -> SummaryCollector {
        SummaryCollector(
            Desc::new(
                "legacy_rpc_seconds".into(),
                "RPC.".into(),
                vec![],
                Default::default(),
            )
            .unwrap(),
        )
    }
}

impl Collector for SummaryCollector {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.0]
    }
    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        let mut s = prometheus::proto::Summary::default();
        s.set_sample_count(4);
        s.set_sample_sum(2.5);
        let mut m = prometheus::proto::Metric::default();
        m.set_summary(s);
        let mut mf = prometheus::proto::MetricFamily::default();
        mf.set_name("legacy_rpc_seconds".into());
        mf.set_help("RPC.".into());
        mf.set_field_type(prometheus::proto::MetricType::SUMMARY);
        mf.set_metric(vec![m]);
        vec![mf]
    }
}

#[test]
fn their_registry_in_ours_reads_exactly_their_values() {
    let r = Registry::new();
    r.counter("tokens_total", "Tokens.").unwrap().inc_by(5);
    let source = theirs();
    let bridge = GatheredRegistry::attach(&r, source.clone()).unwrap();
    let body = text::encode_to_string(&r.snapshot()).into_bytes();
    check_exposition("--text", &body, "theirs-in-ours");
    let om = openmetrics::encode_to_string(&r.snapshot()).into_bytes();
    check_exposition("--openmetrics", &om, "theirs-in-ours");

    // Every sample of theirs, and ours, exactly.
    let mut expected = with_numeric_le(parsed_samples(
        "--text",
        &prometheus_text(&source),
        "theirs",
    ));
    expected.extend(parsed_samples(
        "--text",
        b"# TYPE tokens_total counter\ntokens_total 5\n",
        "tokens",
    ));
    expected.sort();
    assert_eq!(
        with_numeric_le(parsed_samples("--text", &body, "theirs-in-ours")),
        expected
    );
    assert_eq!(bridge.rejected(), 0, "{:?}", bridge.last_error());

    let snap = r.snapshot();
    let lat = snap.family("legacy_latency_seconds").unwrap();
    assert_eq!(lat.kind, MetricKind::Histogram);
    let h = lat.series[0].value.as_histogram().unwrap();
    assert_eq!(
        h.buckets,
        [(0.01, 1), (0.1, 2), (1.0, 4), (10.0, 4), (f64::INFINITY, 5)]
    );
    assert_eq!(
        lat.series[0].labels.iter().collect::<Vec<_>>(),
        [("route", "/x"), ("instance", "a")]
    );
    let rpc = snap.family("legacy_rpc_seconds").unwrap();
    assert_eq!(rpc.kind, MetricKind::Summary);
    assert_eq!(rpc.series[0].value.as_distribution().unwrap().count, 4);
}

#[test]
fn gathered_values_follow_their_registry_and_keep_start_times() {
    let r = Registry::new();
    let source = prometheus::Registry::new();
    let c = prometheus::IntCounter::new("jobs_total", "Jobs.").unwrap();
    source.register(Box::new(c.clone())).unwrap();
    let _bridge = GatheredRegistry::attach(&r, source.clone()).unwrap();
    c.inc_by(2);
    let first = r.snapshot();
    let s1 = &first.family("jobs_total").unwrap().series[0];
    assert_eq!(s1.value.as_f64(), Some(2.0));
    std::thread::sleep(std::time::Duration::from_millis(5));
    c.inc();
    let second = r.snapshot();
    let s2 = &second.family("jobs_total").unwrap().series[0];
    assert_eq!(s2.value.as_f64(), Some(3.0));
    assert_eq!(s1.created, s2.created, "one series, one start time");
    // Their collector unregistered: its family has no series left.
    source.unregister(Box::new(c)).unwrap();
    assert!(r.snapshot().family("jobs_total").unwrap().series.is_empty());
}

#[test]
fn a_name_on_both_sides_is_an_error_not_a_duplicate() {
    let r = Registry::new();
    r.counter("legacy_requests_total", "Ours.").unwrap().inc();
    let err = GatheredRegistry::attach(&r, theirs()).unwrap_err();
    assert!(err.to_string().contains("legacy_requests_total"), "{err}");

    // A colliding family that appears later is left out and counted.
    let r = Registry::new();
    let source = prometheus::Registry::new();
    let bridge = GatheredRegistry::attach(&r, source.clone()).unwrap();
    r.gauge("late_depth", "Ours.").unwrap().set(1.0);
    let g = prometheus::Gauge::new("late_depth", "Theirs.").unwrap();
    g.set(2.0);
    source.register(Box::new(g)).unwrap();
    let body = text::encode_to_string(&r.snapshot());
    assert_eq!(body.matches("# TYPE late_depth").count(), 1, "{body}");
    assert!(body.contains("late_depth 1.0\n"), "{body}");
    assert!(bridge.rejected() >= 1);
    assert!(bridge.last_error().unwrap().contains("late_depth"));
    check_exposition("--text", body.as_bytes(), "late");
}

#[test]
fn both_ways_at_once_is_refused_and_never_duplicates() {
    // A registry that already holds a collector of ours: refused, and
    // nothing of the bridge stays in ours.
    let ours = Registry::new();
    ours.gauge("ours", "Ours.").unwrap().set(1.0);
    let theirs = prometheus::Registry::new();
    let t = prometheus::Gauge::new("theirs", "Theirs.").unwrap();
    t.set(2.0);
    theirs.register(Box::new(t.clone())).unwrap();
    theirs
        .register(Box::new(NanometricsCollector::new(ours.clone()).unwrap()))
        .unwrap();
    let err = GatheredRegistry::attach(&ours, theirs.clone()).unwrap_err();
    assert!(err.to_string().contains("NanometricsCollector"), "{err}");
    assert!(ours.snapshot().family("theirs").is_none());

    // The collector registered after the bridge: gathering stops, the
    // gathered families empty, and their exposition holds each series once,
    // live.
    let ours = Registry::new();
    ours.gauge("ours", "Ours.").unwrap().set(1.0);
    let theirs = prometheus::Registry::new();
    theirs.register(Box::new(t.clone())).unwrap();
    // Made before the bridge, it describes only "ours" (made after, it
    // would describe the gathered "theirs" too, and `register` would
    // refuse it as a name on both sides).
    let collector = NanometricsCollector::new(ours.clone()).unwrap();
    let bridge = GatheredRegistry::attach(&ours, theirs.clone()).unwrap();
    assert!(text::encode_to_string(&ours.snapshot()).contains("theirs 2.0\n"));
    theirs.register(Box::new(collector)).unwrap();
    for v in [3.0, 4.0] {
        t.set(v);
        let out = String::from_utf8(prometheus_text(&theirs)).unwrap();
        assert_eq!(out.matches("\ntheirs ").count(), 1, "{out}");
        assert!(out.contains(&format!("\ntheirs {v}\n")), "{out}");
        assert_eq!(out.matches("\nours ").count(), 1, "{out}");
    }
    let s = text::encode_to_string(&ours.snapshot());
    assert!(!s.contains("\ntheirs "), "gathered families emptied: {s}");
    assert!(bridge.rejected() >= 1);
    assert!(bridge
        .last_error()
        .unwrap()
        .contains("NanometricsCollector"));
}

#[test]
fn attach_fails_only_on_a_refused_name_and_leaves_nothing_behind() {
    let ours = Registry::new();
    ours.counter("b_total", "Ours.").unwrap();
    let theirs = prometheus::Registry::new();
    for name in ["a_total", "b_total"] {
        theirs
            .register(Box::new(
                prometheus::IntCounter::new(name, "Theirs.").unwrap(),
            ))
            .unwrap();
    }
    assert!(GatheredRegistry::attach(&ours, theirs).is_err());
    let names: Vec<String> = ours
        .snapshot()
        .families
        .iter()
        .map(|f| f.name.clone())
        .collect();
    assert_eq!(names, ["b_total"], "a_total was declared, then taken back");

    // A series whose labels differ from its family's first: counted, not
    // an error.
    let theirs = prometheus::Registry::new();
    theirs.register(Box::new(OddLabels::new())).unwrap();
    let ours = Registry::new();
    let bridge = GatheredRegistry::attach(&ours, theirs).unwrap();
    assert_eq!(bridge.rejected(), 1, "{:?}", bridge.last_error());
    assert_eq!(ours.snapshot().family("odd").unwrap().series.len(), 1);
}

/// A custom collector whose family's two series have other label names.
struct OddLabels(Desc);

impl OddLabels {
    fn new() -> OddLabels {
        OddLabels(Desc::new("odd".into(), "Odd.".into(), vec![], Default::default()).unwrap())
    }
}

impl Collector for OddLabels {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.0]
    }
    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        let metric = |k: &str| {
            let mut l = prometheus::proto::LabelPair::default();
            l.set_name(k.into());
            l.set_value("v".into());
            let mut g = prometheus::proto::Gauge::default();
            g.set_value(1.0);
            let mut m = prometheus::proto::Metric::default();
            m.set_label(vec![l]);
            m.set_gauge(g);
            m
        };
        let mut mf = prometheus::proto::MetricFamily::default();
        mf.set_name("odd".into());
        mf.set_help("Odd.".into());
        mf.set_field_type(prometheus::proto::MetricType::GAUGE);
        mf.set_metric(vec![metric("a"), metric("b")]);
        vec![mf]
    }
}
