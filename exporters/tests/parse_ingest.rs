//! An engine's exposition, parsed and ingested into our registry with the
//! engine's constant label, is served on our `/metrics` (both formats pass
//! the conformance checker) with every value it had; a later scrape of
//! the engine replaces the values, a family gone is emptied, a refused one
//! is reported and the others kept.

mod common;

use common::*;
use nanometrics::{Buckets, Registry};
use nanometrics_exporters::parse::{self, Ingested};
use nanometrics_exporters::{openmetrics, prometheus};

const ENGINE: &str = "\
# TYPE vllm:num_requests_running gauge
# HELP vllm:num_requests_running Requests running.
vllm:num_requests_running{model_name=\"llama\"} 3
# TYPE vllm:prompt_tokens counter
# HELP vllm:prompt_tokens Prompt tokens.
vllm:prompt_tokens_total{model_name=\"llama\"} 1027
vllm:prompt_tokens_created{model_name=\"llama\"} 1.7e9
# TYPE vllm:e2e_request_latency_seconds histogram
# UNIT vllm:e2e_request_latency_seconds seconds
# HELP vllm:e2e_request_latency_seconds Latency.
vllm:e2e_request_latency_seconds_bucket{model_name=\"llama\",le=\"0.1\"} 2
vllm:e2e_request_latency_seconds_bucket{model_name=\"llama\",le=\"1.0\"} 5
vllm:e2e_request_latency_seconds_bucket{model_name=\"llama\",le=\"+Inf\"} 6
vllm:e2e_request_latency_seconds_count{model_name=\"llama\"} 6
vllm:e2e_request_latency_seconds_sum{model_name=\"llama\"} 4.5
# TYPE rpc_seconds summary
# HELP rpc_seconds RPCs.
rpc_seconds{quantile=\"0.5\"} 0.1
rpc_seconds_count 10
rpc_seconds_sum 2.0
# TYPE build info
# HELP build Build.
build_info{version=\"0.6.1\"} 1
# TYPE queue gaugehistogram
queue_bucket{le=\"+Inf\"} 1
queue_gcount 1
queue_gsum 1
# EOF
";

#[test]
fn an_engine_exposition_is_served_with_its_label() {
    let r = Registry::new();
    r.histogram("own_seconds", "Ours.", Buckets::default())
        .unwrap()
        .observe(0.2);
    let engine = r.sub_registry("", &[("engine", "vllm-0")]).unwrap();
    let mut ingested = Ingested::new(&engine);
    ingested.set(&parse::openmetrics(ENGINE).unwrap());
    assert_eq!(ingested.skipped().len(), 1, "{:?}", ingested.skipped());
    assert_eq!(ingested.skipped()[0].0, "queue");

    let om = openmetrics::encode_to_string(&r.snapshot());
    check_exposition("--openmetrics", om.as_bytes(), "ingest");
    let text = prometheus::encode_to_string(&r.snapshot());
    let report = check_exposition_with("--text", text.as_bytes(), "ingest", true);
    assert!(
        report
            .lines()
            .all(|l| l.is_empty() || l.contains("all checks passed") || l.contains("':'")),
        "{report}"
    );
    for want in [
        "vllm:num_requests_running{engine=\"vllm-0\",model_name=\"llama\"} 3.0\n",
        "vllm:prompt_tokens_total{engine=\"vllm-0\",model_name=\"llama\"} 1027.0\n",
        "vllm:e2e_request_latency_seconds_bucket{engine=\"vllm-0\",model_name=\"llama\",le=\"1.0\"} 5\n",
        "vllm:e2e_request_latency_seconds_sum{engine=\"vllm-0\",model_name=\"llama\"} 4.5\n",
        "rpc_seconds_count{engine=\"vllm-0\"} 10\n",
        "build_info{engine=\"vllm-0\",version=\"0.6.1\"} 1.0\n",
        "own_seconds_count 1\n",
    ] {
        assert!(om.contains(want), "missing {want:?} in\n{om}");
    }

    // The next scrape: new values, a family gone.
    let later = ENGINE
        .replace("model_name=\"llama\"} 3", "model_name=\"llama\"} 4")
        .replace(
            "# TYPE build info\n# HELP build Build.\nbuild_info{version=\"0.6.1\"} 1\n",
            "",
        );
    ingested.set(&parse::openmetrics(&later).unwrap());
    let om = openmetrics::encode_to_string(&r.snapshot());
    assert!(om.contains("vllm:num_requests_running{engine=\"vllm-0\",model_name=\"llama\"} 4.0\n"));
    assert!(!om.contains("build_info{"), "{om}");
}

#[test]
fn a_family_the_registry_refuses_is_skipped_with_the_reason() {
    let r = Registry::new();
    r.counter("up", "Ours, a counter.").unwrap();
    let i = parse::ingest(&r, &parse::text("up 1\nother 2\n").unwrap());
    assert_eq!(i.skipped().len(), 1);
    assert_eq!(i.skipped()[0].0, "up");
    assert!(
        i.skipped()[0].1.contains("conflicting"),
        "{:?}",
        i.skipped()
    );
    assert!(prometheus::encode_to_string(&r.snapshot()).contains("other 2.0\n"));
}

/// What a scrape may hold: the same name as several untyped families,
/// a series at several timestamps, buckets out of order (text), a label
/// set that grows between scrapes, `le` on a gauge.
#[test]
fn every_series_of_a_scrape_is_kept_once_with_its_latest_value() {
    let r = Registry::new();
    let mut i = Ingested::new(&r);
    let mut both = parse::text("up{job=\"a\"} 1\nup{job=\"b\"} 0\n").unwrap();
    both.extend(parse::openmetrics("# TYPE g gauge\ng 1 1\ng 2 2\n# EOF\n").unwrap());
    i.set(&both);
    let text = prometheus::encode_to_string(&r.snapshot());
    assert!(
        text.contains("up{job=\"a\"} 1.0\n") && text.contains("up{job=\"b\"} 0.0\n"),
        "{text}"
    );
    assert!(text.contains("g 2.0\n"), "{text}");

    let r = Registry::new();
    let mut i = Ingested::new(&r);
    let body =
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_bucket{le=\"1\"} 1\nh_count 3\nh_sum 2\n";
    i.set(&parse::text(body).unwrap());
    assert!(i.skipped().is_empty(), "{:?}", i.skipped());
    let text = prometheus::encode_to_string(&r.snapshot());
    assert!(
        text.contains("h_bucket{le=\"1.0\"} 1\nh_bucket{le=\"+Inf\"} 3\n"),
        "{text}"
    );

    // A label added by the source: declared again, served with it.
    let r = Registry::new();
    let mut i = Ingested::new(&r);
    i.set(&parse::text("x{a=\"1\"} 1\n").unwrap());
    i.set(&parse::text("x{a=\"1\",b=\"2\"} 2\n").unwrap());
    assert!(i.skipped().is_empty(), "{:?}", i.skipped());
    let text = prometheus::encode_to_string(&r.snapshot());
    assert!(text.contains("x{a=\"1\",b=\"2\"} 2.0\n"), "{text}");
    assert_eq!(text.matches("# TYPE x gauge").count(), 1, "{text}");

    // `le` is a histogram's: on a gauge the registry refuses it, saying so.
    let r = Registry::new();
    let i = parse::ingest(&r, &parse::text("odd{le=\"1\"} 1\n").unwrap());
    assert!(i.skipped()[0].1.contains("\"le\""), "{:?}", i.skipped());
}

/// prometheus_client's text output (and ours with `_created`) holds a
/// `<name>_created` gauge family per counter: ingested with the counter,
/// not refused beside it.
#[test]
fn created_gauge_families_go_with_their_counters() {
    let src = Registry::new();
    src.counter("jobs_total", "Jobs.").unwrap().inc();
    let with = nanometrics_exporters::EncodeOptions::default().created(true);
    let body = prometheus::encode_to_string_with(&src.snapshot(), with);
    assert!(body.contains("jobs_created"), "{body}");
    let r = Registry::new();
    let i = parse::ingest(&r, &parse::text(&body).unwrap());
    assert!(i.skipped().is_empty(), "{:?}", i.skipped());
    let text = prometheus::encode_to_string(&r.snapshot());
    assert!(
        text.contains("jobs_total 1.0\n") && !text.contains("jobs_created"),
        "{text}"
    );
}

/// What `_created` a registry writes: none for a collected family (its
/// source's creation time is not known here).
#[test]
fn collected_families_write_no_created() {
    let r = Registry::new();
    r.counter("own_total", "Own.").unwrap().inc();
    parse::ingest(
        &r,
        &parse::text("# TYPE theirs_total counter\ntheirs_total 2\n").unwrap(),
    );
    let with = nanometrics_exporters::EncodeOptions::default().created(true);
    for body in [
        prometheus::encode_to_string_with(&r.snapshot(), with),
        openmetrics::encode_to_string_with(&r.snapshot(), with),
    ] {
        assert!(body.contains("own_created"), "{body}");
        assert!(!body.contains("theirs_created"), "{body}");
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    openmetrics::encode_with(&r.snapshot(), &mut a, with);
    openmetrics::encode_registry_with(&r, &mut b, with);
    assert_eq!(a, b);
}
