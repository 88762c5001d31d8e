//! The OTLP exporter against a receiver that decodes every request with the
//! `opentelemetry-proto` Python package (exporters/tests/otlp_receiver.py):
//! every field of the mapping, delta temporality, the retry rules (429 with
//! Retry-After, 503, 400), a partial success, and the environment's errors;
//! with the `otlp-grpc` feature, the same over OTLP/gRPC (`grpcio`).
#![cfg(feature = "otlp")]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

use nanometrics::{Buckets, Registry};
use nanometrics_exporters::otlp::{OtlpConfig, OtlpExporter, Temporality};

struct Receiver {
    child: Child,
    out: BufReader<ChildStdout>,
    port: u16,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    fn start(mode: &str) -> Receiver {
        Receiver::start_with(mode, &[])
    }

    /// The receiver in `mode` with more arguments (`--grpc`).
    fn start_with(mode: &str, args: &[&str]) -> Receiver {
        let mut child = Command::new(common::python())
            .arg(common::repo().join("exporters/tests/otlp_receiver.py"))
            .arg(mode)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let port = line.trim().parse().expect("the receiver prints its port");
        Receiver { child, out, port }
    }

    /// The receiver's verdict on the next request.
    fn verdict(&mut self) -> String {
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        line.trim().to_string()
    }

    fn config(&self) -> OtlpConfig {
        OtlpConfig {
            endpoint: format!("http://127.0.0.1:{}/v1/metrics", self.port),
            headers: vec![("authorization".into(), "Bearer t0k".into())],
            resource: vec![
                ("service.name".into(), "oracle".into()),
                ("team".into(), "infra".into()),
            ],
            // Long: the tests export with export_now and shutdown.
            interval: Duration::from_secs(3600),
            ..OtlpConfig::default()
        }
    }
}

/// The scenario the receiver's "oracle" mode checks field by field.
fn oracle_registry() -> Registry {
    let root = Registry::new();
    let r = root.sub_registry("svc", &[("zone", "a")]).unwrap();
    let req = r
        .counter_family("req_total", "Requests.", &["code"])
        .unwrap();
    req.with_labels(&["200"]).unwrap().inc_by(5);
    req.with_labels(&["500"]).unwrap().inc();
    r.float_counter("cpu_seconds_total", "CPU.")
        .unwrap()
        .inc_by(1.5);
    r.up_down_counter("inflight", "In flight.").unwrap().add(-3);
    r.metric("temp_celsius", "Temperature.")
        .unit("celsius")
        .build::<nanometrics::Gauge>()
        .unwrap()
        .set(21.5);
    let h = r
        .histogram("lat_seconds", "Latency.", Buckets::explicit(vec![0.1, 1.0]))
        .unwrap();
    for v in [0.05, 0.5, 2.0] {
        h.observe(v);
    }
    let neg = r
        .histogram("neg", "Can be negative.", Buckets::explicit(vec![0.0]))
        .unwrap();
    neg.observe(-1.0);
    neg.observe(0.5);
    let s = r.summary("size_bytes", "Sizes.").unwrap();
    s.observe(10.0);
    s.observe(30.0);
    r.metric("build_info", "Build.")
        .info_family(&["version"])
        .unwrap()
        .with_labels(&["1.2"])
        .unwrap()
        .set(1.0);
    r.counter("big_total", "Big.").unwrap().inc_by(u64::MAX - 1);
    root
}

#[test]
fn every_field_of_the_mapping_reaches_the_receiver() {
    let mut rx = Receiver::start("oracle");
    for gzip in [false, true] {
        let config = OtlpConfig {
            gzip,
            ..rx.config()
        };
        let exporter = OtlpExporter::start(oracle_registry(), config).unwrap();
        exporter.export_now().unwrap();
        assert_eq!(rx.verdict(), "ok 200", "gzip {gzip}");
        // The final export at shutdown.
        exporter.shutdown().unwrap();
        assert_eq!(rx.verdict(), "ok 200");
    }
}

#[test]
fn delta_temporality_sends_the_changes() {
    let mut rx = Receiver::start("delta");
    let r = Registry::new();
    let jobs = r.counter("jobs_total", "Jobs.").unwrap();
    let h = r
        .histogram("lat_seconds", "Latency.", Buckets::explicit(vec![1.0]))
        .unwrap();
    jobs.inc_by(10);
    h.observe(0.5);
    r.up_down_counter("depth", "Depth.").unwrap().add(4);
    let config = OtlpConfig {
        temporality: Temporality::Delta,
        ..rx.config()
    };
    let exporter = OtlpExporter::start(r, config).unwrap();
    exporter.export_now().unwrap();
    assert_eq!(rx.verdict(), "ok 200");
    jobs.inc_by(5);
    h.observe(2.0);
    h.observe(3.0);
    exporter.export_now().unwrap();
    assert_eq!(rx.verdict(), "ok 200");
    drop(exporter);
}

#[test]
fn retryable_answers_are_retried_and_others_are_final() {
    // 429 (Retry-After: 1 s), then 503, then 200: one export, three requests.
    let mut rx = Receiver::start("statuses:429,503,200");
    let r = Registry::new();
    r.counter("x_total", "X.").unwrap().inc();
    let exporter = OtlpExporter::start(r.clone(), rx.config()).unwrap();
    exporter.export_now().unwrap();
    assert_eq!(
        [rx.verdict(), rx.verdict(), rx.verdict()],
        ["ok 429", "ok 503", "ok 200"]
    );
    let snap = r.snapshot();
    let value = |name: &str| {
        snap.family(name)
            .map(|f| f.series[0].value.as_f64().unwrap())
    };
    assert_eq!(value("nanometrics_otlp_retries_total"), Some(2.0));
    assert_eq!(value("nanometrics_otlp_exports_total"), Some(1.0));
    drop(exporter);

    // 400: not retried, the export fails and is counted.
    let mut rx = Receiver::start("statuses:400");
    let r = Registry::new();
    r.counter("x_total", "X.").unwrap().inc();
    let exporter = OtlpExporter::start(r.clone(), rx.config()).unwrap();
    let err = exporter.export_now().unwrap_err().to_string();
    assert!(err.contains("400"), "{err}");
    assert_eq!(rx.verdict(), "ok 400");
    assert_eq!(exporter.stats().failures, 1);
    // A receiver that keeps answering 503 fails the export within its timeout.
    drop(exporter);
    let mut rx = Receiver::start("statuses:503");
    let config = OtlpConfig {
        timeout: Duration::from_millis(800),
        ..rx.config()
    };
    let exporter = OtlpExporter::start(r, config).unwrap();
    let err = exporter.export_now().unwrap_err().to_string();
    assert!(err.contains("503"), "{err}");
    assert!(rx.verdict().starts_with("ok 503"));
    drop(exporter);
}

#[test]
fn a_partial_success_is_not_retried() {
    let mut rx = Receiver::start("partial");
    let r = Registry::new();
    r.gauge("g", "G.").unwrap().set(1.0);
    let exporter = OtlpExporter::start(r.clone(), rx.config()).unwrap();
    exporter.export_now().unwrap();
    assert_eq!(rx.verdict(), "ok 200");
    let snap = r.snapshot();
    let retries = snap.family("nanometrics_otlp_retries_total").unwrap();
    assert_eq!(
        retries.series[0].value.as_counter(),
        Some(0),
        "not sent again"
    );
    let rejected = snap
        .family("nanometrics_otlp_rejected_points_total")
        .unwrap();
    assert_eq!(rejected.series[0].value.as_counter(), Some(2), "counted");
    assert_eq!(exporter.stats().exports, 1);
}

#[test]
fn an_unreachable_receiver_fails_the_export_and_is_counted() {
    let r = Registry::new();
    let c = r.counter("x_total", "X.").unwrap();
    let config = OtlpConfig {
        endpoint: format!("http://127.0.0.1:{}/v1/metrics", common::free_port()),
        timeout: Duration::from_millis(500),
        ..OtlpConfig::default()
    };
    let exporter = OtlpExporter::start(r, config).unwrap();
    c.inc();
    assert!(exporter.export_now().is_err());
    assert_eq!(exporter.stats().failures, 1);
}

#[test]
fn bad_settings_are_errors() {
    for endpoint in ["https://x/v1/metrics", "ftp://x", "http:///v1/metrics"] {
        let config = OtlpConfig {
            endpoint: endpoint.into(),
            ..OtlpConfig::default()
        };
        assert!(
            OtlpExporter::start(Registry::new(), config).is_err(),
            "{endpoint}"
        );
    }
    let config = OtlpConfig {
        headers: vec![("bad header".into(), "x".into())],
        ..OtlpConfig::default()
    };
    let err = OtlpExporter::start(Registry::new(), config)
        .unwrap_err()
        .to_string();
    assert!(err.contains("header"), "{err}");
}

/// OTLP/gRPC: the same receiver, over `grpcio`.
#[cfg(feature = "otlp-grpc")]
mod grpc {
    use super::*;
    use nanometrics_exporters::otlp::Protocol;

    fn start(mode: &str) -> Receiver {
        Receiver::start_with(mode, &["--grpc"])
    }

    fn config(rx: &Receiver) -> OtlpConfig {
        OtlpConfig {
            protocol: Protocol::Grpc,
            endpoint: format!("http://127.0.0.1:{}", rx.port),
            ..rx.config()
        }
    }

    #[test]
    fn every_field_of_the_mapping_reaches_the_receiver() {
        let mut rx = start("oracle");
        for gzip in [false, true] {
            let c = OtlpConfig {
                gzip,
                ..config(&rx)
            };
            let exporter = OtlpExporter::start(oracle_registry(), c).unwrap();
            exporter.export_now().unwrap();
            assert_eq!(rx.verdict(), "ok 0", "gzip {gzip}");
            exporter.shutdown().unwrap();
            assert_eq!(rx.verdict(), "ok 0");
        }
    }

    #[test]
    fn delta_temporality_sends_the_changes() {
        let mut rx = start("delta");
        let r = Registry::new();
        let jobs = r.counter("jobs_total", "Jobs.").unwrap();
        let h = r
            .histogram("lat_seconds", "Latency.", Buckets::explicit(vec![1.0]))
            .unwrap();
        jobs.inc_by(10);
        h.observe(0.5);
        r.up_down_counter("depth", "Depth.").unwrap().add(4);
        let c = OtlpConfig {
            temporality: Temporality::Delta,
            ..config(&rx)
        };
        let exporter = OtlpExporter::start(r, c).unwrap();
        exporter.export_now().unwrap();
        assert_eq!(rx.verdict(), "ok 0");
        jobs.inc_by(5);
        h.observe(2.0);
        h.observe(3.0);
        exporter.export_now().unwrap();
        assert_eq!(rx.verdict(), "ok 0");
    }

    #[test]
    fn retryable_codes_are_retried_and_others_are_final() {
        // UNAVAILABLE, ABORTED, then OK: one export, three calls.
        let mut rx = start("statuses:14,10,0");
        let r = Registry::new();
        r.counter("x_total", "X.").unwrap().inc();
        let exporter = OtlpExporter::start(r.clone(), config(&rx)).unwrap();
        exporter.export_now().unwrap();
        assert_eq!(
            [rx.verdict(), rx.verdict(), rx.verdict()],
            ["ok 14", "ok 10", "ok 0"]
        );
        let snap = r.snapshot();
        let retries = snap.family("nanometrics_otlp_retries_total").unwrap();
        assert_eq!(retries.series[0].value.as_counter(), Some(2));
        drop(exporter);

        // INVALID_ARGUMENT and RESOURCE_EXHAUSTED (no RetryInfo read): final.
        for code in [3, 8] {
            let mut rx = start(&format!("statuses:{code}"));
            let exporter = OtlpExporter::start(r.clone(), config(&rx)).unwrap();
            let err = exporter.export_now().unwrap_err().to_string();
            assert!(err.contains("the receiver answered"), "{err}");
            assert_eq!(rx.verdict(), format!("ok {code}"));
            assert_eq!(exporter.stats().failures, 1);
        }
    }

    #[test]
    fn a_partial_success_is_not_retried() {
        let mut rx = start("partial");
        let r = Registry::new();
        r.gauge("g", "G.").unwrap().set(1.0);
        let exporter = OtlpExporter::start(r.clone(), config(&rx)).unwrap();
        exporter.export_now().unwrap();
        assert_eq!(rx.verdict(), "ok 0");
        let snap = r.snapshot();
        let retries = snap.family("nanometrics_otlp_retries_total").unwrap();
        assert_eq!(retries.series[0].value.as_counter(), Some(0));
        let rejected = snap
            .family("nanometrics_otlp_rejected_points_total")
            .unwrap();
        assert_eq!(rejected.series[0].value.as_counter(), Some(2));
    }

    #[test]
    fn an_unreachable_server_fails_the_export_within_its_timeout() {
        let r = Registry::new();
        r.counter("x_total", "X.").unwrap().inc();
        let c = OtlpConfig {
            protocol: Protocol::Grpc,
            endpoint: format!("http://127.0.0.1:{}", common::free_port()),
            timeout: Duration::from_millis(600),
            ..OtlpConfig::default()
        };
        let exporter = OtlpExporter::start(r, c).unwrap();
        let t0 = std::time::Instant::now();
        let err = exporter.export_now().unwrap_err().to_string();
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        assert!(
            err.contains("could not be reached") || err.contains("timeout"),
            "{err}"
        );
        assert_eq!(exporter.stats().failures, 1);
    }

    #[test]
    fn bad_metadata_is_an_error() {
        for (k, v) in [
            ("bad key", "x"),
            ("grpc-timeout", "1S"),
            ("x-ok", "bad\nvalue"),
        ] {
            let c = OtlpConfig {
                protocol: Protocol::Grpc,
                endpoint: "http://127.0.0.1:4317".into(),
                headers: vec![(k.into(), v.into())],
                ..OtlpConfig::default()
            };
            let err = OtlpExporter::start(Registry::new(), c)
                .unwrap_err()
                .to_string();
            assert!(err.contains("header"), "{k}: {err}");
        }
    }
}
