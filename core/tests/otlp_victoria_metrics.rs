//! The demo exports OTLP to a real receiver: VictoriaMetrics (Debian
//! trixie's package, fetched by ci/victoria-metrics.sh, which ci/setup.sh
//! runs) on a free loopback port. Run as a reader would, with
//! `OTEL_METRICS_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=…`, the demo's
//! final export carries its final totals: the receiver's query API returns
//! the demo's own request count, its worker gauge and its histogram count.

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A GET on the receiver; the body.
fn get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    std::io::Write::write_all(
        &mut s,
        format!("GET {path} HTTP/1.1\r\nHost: vm\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// The value of an instant query's single result (`"value":[t,"v"]`).
fn query(port: u16, promql: &str) -> Option<f64> {
    let q: String = promql
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let body = get(port, &format!("/api/v1/query?query={q}"));
    let i = body.find("\"value\":[")?;
    let rest = &body[i..];
    let v = rest.split('"').nth(3)?;
    v.parse().ok()
}

#[test]
fn the_demo_exports_its_final_totals_to_victoria_metrics() {
    let out = Command::new(repo().join("ci/victoria-metrics.sh"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ci/victoria-metrics.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bin = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = std::env::temp_dir().join(format!("nanometrics-vm-{}", std::process::id()));
    let _vm = Killed(
        Command::new(&bin)
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg(format!("-storageDataPath={}", data.display()))
            .arg("-retentionPeriod=1d")
            // Queries see samples at once (by default the last 30 s are
            // left out), and nothing is cached between polls.
            .arg("-search.latencyOffset=0s")
            .arg("-search.disableCache")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() || get(port, "/health").trim() != "OK" {
        assert!(Instant::now() < deadline, "victoria-metrics did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let demo = common::cargo_example("inference_loop")
        .args(["--workers", "2", "--seconds", "3", "--port", "0"])
        .env("OTEL_METRICS_EXPORTER", "otlp")
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{port}/opentelemetry"),
        )
        .env("OTEL_METRIC_EXPORT_INTERVAL", "1000")
        .env("OTEL_SERVICE_NAME", "inference-demo")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&demo.stdout);
    assert!(
        demo.status.success(),
        "the demo failed: {}\n{stdout}",
        String::from_utf8_lossy(&demo.stderr)
    );
    // "workers made N requests (…)": the demo's own count.
    let made: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("workers made "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.replace(',', "").parse().ok())
        .expect("the demo's request count");

    get(port, "/internal/force_flush");
    let deadline = Instant::now() + Duration::from_secs(30);
    let requests = loop {
        let v = query(port, "sum(last_over_time(dynamo_component_requests[5m]))");
        if v == Some(made) || Instant::now() > deadline {
            break v;
        }
        std::thread::sleep(Duration::from_millis(200));
        get(port, "/internal/force_flush");
    };
    assert_eq!(
        requests,
        Some(made),
        "requests in the receiver vs the demo's count"
    );
    assert_eq!(query(port, "last_over_time(demo_workers[5m])"), Some(2.0));
    assert_eq!(
        query(
            port,
            "sum(last_over_time(dynamo_component_request_duration_seconds_count[5m]))"
        ),
        Some(made)
    );
    // Resource attributes become labels (VictoriaMetrics keeps the dots).
    let series = get(port, "/api/v1/series?match%5B%5D=demo_workers");
    assert!(
        series.contains(r#""service.name":"inference-demo""#),
        "{series}"
    );
    let _ = std::fs::remove_dir_all(&data);
}
