//! One component, unchanged, under three backends chosen at start-up:
//! Prometheus pull (`MetricsServer`), OTLP push (to a decoding receiver)
//! and a custom `PushBackend`. Each sees the same values, alone or all at
//! once from one configuration (`Backends`, the environment's variables).
#![cfg(feature = "otlp")]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nanometrics::{Buckets, Registry, Snapshot, Value};
use nanometrics_exporters::backends::Backends;
use nanometrics_exporters::http::MetricsServer;
use nanometrics_exporters::otlp::{OtlpConfig, OtlpExporter};
use nanometrics_exporters::push::{BackendError, PushBackend, PushExporter};

/// The component: it declares on the registry it is handed and records.
/// It names no backend.
mod component {
    use super::*;

    pub fn run(r: &Registry) {
        let requests = r
            .counter_family("requests_total", "Requests.", &["code"])
            .unwrap();
        requests.with_labels(&["200"]).unwrap().inc_by(7);
        requests.with_labels(&["500"]).unwrap().inc_by(2);
        r.gauge("queue_depth", "Queued.").unwrap().set(3.0);
        let lat = r
            .histogram("latency_seconds", "Latency.", Buckets::default())
            .unwrap();
        for v in [0.125, 0.25, 0.5] {
            lat.observe(v);
        }
    }
}

/// What every backend must report: series → value.
fn expected() -> BTreeMap<String, f64> {
    [
        ("requests{code=200}", 7.0),
        ("requests{code=500}", 2.0),
        ("queue_depth{}", 3.0),
        ("latency_seconds:count", 3.0),
        ("latency_seconds:sum", 0.875),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn pull() -> BTreeMap<String, f64> {
    let r = Registry::new();
    component::run(&r);
    let server = MetricsServer::builder()
        .bind("127.0.0.1:0")
        .registry(r)
        .start()
        .unwrap();
    scrape(server.local_addr())
}

/// `/metrics` at `addr`, as series → value.
fn scrape(addr: std::net::SocketAddr) -> BTreeMap<String, f64> {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let value: f64 = match value.parse() {
            Ok(v) => v,
            Err(_) => continue,
        };
        let key = match series {
            "requests_total{code=\"200\"}" => "requests{code=200}",
            "requests_total{code=\"500\"}" => "requests{code=500}",
            "queue_depth" => "queue_depth{}",
            "latency_seconds_count" => "latency_seconds:count",
            "latency_seconds_sum" => "latency_seconds:sum",
            _ => continue,
        };
        out.insert(key.to_string(), value);
    }
    out
}

/// The decoding receiver in its "dump" mode.
struct Dump {
    child: std::process::Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    port: u16,
}

impl Drop for Dump {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dump {
    fn start() -> Dump {
        let mut child = Command::new(common::python())
            .arg(common::repo().join("exporters/tests/otlp_receiver.py"))
            .arg("dump")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port: u16 = lines.next().unwrap().unwrap().parse().unwrap();
        Dump { child, lines, port }
    }

    /// The next request's points, as series → value.
    fn next(&mut self) -> BTreeMap<String, f64> {
        read_dump(self.lines.by_ref().map_while(Result::ok))
    }
}

fn otlp() -> BTreeMap<String, f64> {
    let mut rx = Dump::start();
    let r = Registry::new();
    component::run(&r);
    let config = OtlpConfig {
        endpoint: format!("http://127.0.0.1:{}/v1/metrics", rx.port),
        headers: vec![("authorization".into(), "Bearer t0k".into())],
        interval: Duration::from_secs(3600),
        ..OtlpConfig::default()
    };
    let exporter = OtlpExporter::start(r, config).unwrap();
    exporter.export_now().unwrap();
    let out = rx.next();
    drop(exporter); // its final export, while the receiver is up
    out
}

fn read_dump(out_lines: impl Iterator<Item = String>) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in out_lines {
        if line == "end" {
            break;
        }
        // The receiver's verdict on the request before.
        assert!(!line.starts_with("FAIL"), "{line}");
        if line.starts_with("ok ") {
            continue;
        }
        // "name{labels} value", or "name{labels} count=N sum=S".
        let (series, value) = line.split_once(' ').unwrap();
        if let Some(hist) = value.strip_prefix("count=") {
            let name = series.split('{').next().unwrap();
            let (count, sum) = hist.split_once(" sum=").unwrap();
            out.insert(format!("{name}:count"), count.parse().unwrap());
            out.insert(format!("{name}:sum"), sum.parse().unwrap());
        } else if !series.starts_with("nanometrics_otlp_") {
            out.insert(series.to_string(), value.parse().unwrap());
        }
    }
    out
}

/// A backend that keeps the last snapshot's values.
struct Keep(Arc<Mutex<BTreeMap<String, f64>>>);

impl PushBackend for Keep {
    fn export(&mut self, snap: &Snapshot) -> Result<(), BackendError> {
        let mut out = self.0.lock().unwrap();
        // An OTLP exporter's self-metrics, when one runs beside: not the
        // component's.
        for f in snap
            .families
            .iter()
            .filter(|f| !f.name.starts_with("nanometrics_otlp_"))
        {
            let name = nanometrics::names::family_name(&f.name, f.kind);
            for s in &f.series {
                let labels: Vec<String> =
                    s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                match &s.value {
                    Value::Histogram(h) => {
                        out.insert(format!("{name}:count"), h.count as f64);
                        out.insert(format!("{name}:sum"), h.sum);
                    }
                    v => {
                        out.insert(
                            format!("{name}{{{}}}", labels.join(",")),
                            v.as_f64().unwrap(),
                        );
                    }
                }
            }
        }
        Ok(())
    }
}

fn custom() -> BTreeMap<String, f64> {
    let seen = Arc::new(Mutex::new(BTreeMap::new()));
    let r = Registry::new();
    component::run(&r);
    let exporter = PushExporter::start(r, Duration::from_secs(3600), Keep(seen.clone())).unwrap();
    exporter.shutdown().unwrap(); // its final export
    let out = seen.lock().unwrap().clone();
    out
}

#[test]
fn one_component_three_backends_same_values() {
    let want = expected();
    assert_eq!(pull(), want, "Prometheus pull");
    assert_eq!(otlp(), want, "OTLP push");
    assert_eq!(custom(), want, "custom backend");
}

#[test]
fn one_configuration_starts_pull_and_push_at_once() {
    let mut rx = Dump::start();
    let r = Registry::new();
    component::run(&r);
    let endpoint = format!("http://127.0.0.1:{}/v1/metrics", rx.port);
    let env = move |k: &str| match k {
        "NANOMETRICS_ADDR" => Some("127.0.0.1:0".to_string()),
        "OTEL_METRICS_EXPORTER" => Some("prometheus,otlp".to_string()),
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" => Some(endpoint.clone()),
        "OTEL_EXPORTER_OTLP_HEADERS" => Some("authorization=Bearer%20t0k".to_string()),
        "OTEL_METRIC_EXPORT_INTERVAL" => Some("3600000".to_string()),
        _ => None,
    };
    let seen = Arc::new(Mutex::new(BTreeMap::new()));
    let backends = Backends::builder(r)
        .push(Duration::from_secs(3600), Keep(seen.clone()))
        .from_vars(env)
        .start()
        .unwrap();
    let want = expected();
    assert_eq!(
        scrape(backends.server().unwrap().local_addr()),
        want,
        "pull"
    );
    backends.export_now().unwrap();
    assert_eq!(rx.next(), want, "OTLP");
    assert_eq!(*seen.lock().unwrap(), want, "custom");
    backends.shutdown().unwrap();
    assert_eq!(rx.next(), want, "the final OTLP export");
}

#[test]
fn the_environment_can_turn_every_backend_off_and_bad_values_are_errors() {
    let off = |k: &str| match k {
        "DYN_SYSTEM_PORT" => Some("-1".to_string()),
        "OTEL_METRICS_EXPORTER" => Some("none".to_string()),
        _ => None,
    };
    // OTEL_METRICS_EXPORTER=none turns off an OTLP exporter the builder
    // was given before.
    let b = Backends::builder(Registry::new())
        .otlp(OtlpConfig::default())
        .from_vars(off)
        .start()
        .unwrap();
    assert!(b.server().is_none() && b.otlp().is_none() && b.push().is_empty());
    for (k, v, says) in [
        ("OTEL_METRICS_EXPORTER", "console", "console"),
        ("DYN_SYSTEM_PORT", "http", "DYN_SYSTEM_PORT"),
        (
            "OTEL_EXPORTER_OTLP_TIMEOUT",
            "soon",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ),
    ] {
        let env = move |name: &str| {
            if name == k {
                Some(v.to_string())
            } else if name == "OTEL_METRICS_EXPORTER" {
                Some("otlp".to_string())
            } else if name == "NANOMETRICS_ADDR" && k != "DYN_SYSTEM_PORT" {
                Some("127.0.0.1:0".to_string())
            } else {
                None
            }
        };
        let err = Backends::builder(Registry::new())
            .from_vars(env)
            .start()
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{k}={v}: {err}");
    }
}
