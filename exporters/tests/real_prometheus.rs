//! A real Prometheus server (Debian's `prometheus`, installed by
//! `ci/setup.sh`) scrapes our `/metrics` every second; the test queries its
//! HTTP API and checks that the target is up and that a counter, a labeled
//! series and a `histogram_quantile(...)` come back with the values we
//! recorded. Temporary config and data directory, ephemeral ports; the
//! server is stopped (killed) when the test ends, also on failure.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nanometrics::{Buckets, Registry};
use nanometrics_exporters::http::MetricsServer;

/// Kills and reaps the Prometheus process on drop.
struct Prometheus {
    child: Child,
    dir: PathBuf,
    addr: SocketAddr,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Prometheus {
    /// The server's last log lines, newest first, for a failure message.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        format!(
            "prometheus log (last lines, newest first):\n{}",
            tail.join("\n")
        )
    }
}

fn start_prometheus(target: SocketAddr) -> Prometheus {
    let bin = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("prometheus not installed: run ci/setup.sh (apt-get install prometheus)");
    // One directory per server: the tests in this file run in parallel in
    // one process, and each removes its directory when it ends.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "nanometrics-prom-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n  - job_name: nanometrics\n    static_configs:\n      - targets: ['{target}']\n"
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", common::free_port())
        .parse()
        .unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new(bin)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        // Exemplars scraped from OpenMetrics are stored and queryable.
        .arg("--enable-feature=exemplar-storage")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    Prometheus { child, dir, addr }
}

/// GET `path` from Prometheus' HTTP API; the body, or None on any error.
fn api_get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

fn encode_query(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The single value of an instant query, once it has exactly one result.
fn query_one(addr: SocketAddr, q: &str) -> Option<f64> {
    let body = api_get(addr, &format!("/api/v1/query?query={}", encode_query(q)))?;
    if !body.contains("\"status\":\"success\"") || body.matches("\"value\":[").count() != 1 {
        return None;
    }
    // ..."value":[1732490000.123,"42"]...
    let v = body.split("\"value\":[").nth(1)?;
    let v = v.split(",\"").nth(1)?.split('"').next()?;
    v.parse().ok()
}

/// Polls `q` until it returns `want` (within 1e-9), or fails after 30 s.
fn wait_for(p: &Prometheus, q: &str, want: f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    while Instant::now() < deadline {
        last = query_one(p.addr, q);
        if last.is_some_and(|v| (v - want).abs() <= 1e-9 * want.abs().max(1.0)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!(
        "query {q:?}: wanted {want}, last answer {last:?}\n{}",
        p.log_tail()
    );
}

/// The `(trace_id, span_id)` label pairs of the exemplars Prometheus
/// stored for `q` over the last ten minutes.
fn query_exemplars(addr: SocketAddr, q: &str) -> Vec<(String, String)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let path = format!(
        "/api/v1/query_exemplars?query={}&start={}&end={}",
        encode_query(q),
        now - 600,
        now + 60
    );
    let Some(body) = api_get(addr, &path) else {
        return Vec::new();
    };
    // ..."labels":{"span_id":"…","trace_id":"…"},"value":"0.01",...
    let field = |labels: &str, k: &str| {
        labels
            .split(&format!("\"{k}\":\""))
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map(str::to_string)
    };
    body.split("\"labels\":{")
        .skip(1)
        .filter_map(|rest| {
            let labels = rest.split('}').next()?;
            Some((field(labels, "trace_id")?, field(labels, "span_id")?))
        })
        .collect()
}

#[test]
fn prometheus_scrapes_and_queries_what_we_serve() {
    let r = Registry::new();
    let engine = r
        .sub_registry("dynamo_component", &[("dynamo_namespace", "demo")])
        .unwrap();
    engine
        .counter("requests_total", "Requests.")
        .unwrap()
        .inc_by(42);
    let tokens = engine
        .counter_family("tokens_total", "Tokens.", &["model", "kind"])
        .unwrap();
    tokens.with_labels(&["llama", "output"]).unwrap().inc_by(7);
    tokens
        .with_labels(&["llama", "prompt"])
        .unwrap()
        .inc_by(100);
    let ttft = engine
        .histogram("time_to_first_token_seconds", "TTFT.", Buckets::default())
        .unwrap();
    for _ in 0..100 {
        ttft.record(0.3); // all in (0.25, 0.5]: the median interpolates to 0.375
    }
    let server = MetricsServer::builder()
        .bind("127.0.0.1:0")
        .registry(r.clone())
        .start()
        .unwrap();
    let prom = start_prometheus(server.local_addr());

    wait_for(&prom, "up{job=\"nanometrics\"}", 1.0);
    wait_for(
        &prom,
        "dynamo_component_requests_total{dynamo_namespace=\"demo\"}",
        42.0,
    );
    wait_for(
        &prom,
        "dynamo_component_tokens_total{model=\"llama\",kind=\"output\"}",
        7.0,
    );
    wait_for(
        &prom,
        "histogram_quantile(0.5, dynamo_component_time_to_first_token_seconds_bucket)",
        0.375,
    );
    wait_for(
        &prom,
        "dynamo_component_time_to_first_token_seconds_count",
        100.0,
    );
    // Prometheus negotiated OpenMetrics (it asks for it first); a value
    // changed after the first scrapes shows up too.
    engine
        .counter("requests_total", "Requests.")
        .unwrap()
        .inc_by(8);
    wait_for(&prom, "dynamo_component_requests_total", 50.0);
    drop(prom);
    server.shutdown();
}

/// Polls `q` until `ok(value)` holds, or fails after 30 s; returns the value.
fn wait_until(p: &Prometheus, q: &str, what: &str, ok: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    while Instant::now() < deadline {
        last = query_one(p.addr, q);
        if let Some(v) = last.filter(|v| ok(*v)) {
            return v;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!(
        "query {q:?}: wanted {what}, last answer {last:?}\n{}",
        p.log_tail()
    );
}

/// Kills and reaps the demo on drop.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prometheus_scrapes_the_demo() {
    // The README's main command, on a free port (a debug build: the test
    // profile's; the workload is the same).
    let port = common::free_port();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let demo = Demo(
        Command::new(cargo)
            .args([
                "run",
                "--quiet",
                "--example",
                "inference_loop",
                "-p",
                "nanometrics",
                "--",
            ])
            .args([
                "--workers",
                "2",
                "--seconds",
                "60",
                "--port",
                &port.to_string(),
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the demo"),
    );
    let target: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // Wait (building it may take a while) until the demo serves.
    let deadline = Instant::now() + Duration::from_secs(300);
    while TcpStream::connect(target).is_err() {
        assert!(
            Instant::now() < deadline,
            "the demo never served on {target}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let prom = start_prometheus(target);
    wait_for(&prom, "up{job=\"nanometrics\"}", 1.0);
    wait_for(&prom, "demo_workers", 2.0);
    let ns = "dynamo_namespace=\"demo\"";
    wait_until(
        &prom,
        &format!("sum(dynamo_component_requests_total{{{ns},status=\"ok\"}})"),
        "some finished requests",
        |v| v > 0.0,
    );
    wait_until(
        &prom,
        &format!("sum(dynamo_component_tokens_total{{{ns},kind=\"output\"}})"),
        "some output tokens",
        |v| v > 0.0,
    );
    // The demo's TTFT buckets run from 0.5 ms to 16 s.
    wait_until(
        &prom,
        &format!(
            "histogram_quantile(0.5, dynamo_component_time_to_first_token_seconds_bucket{{{ns}}})"
        ),
        "a median TTFT within the buckets",
        |v| (0.0..=16.384).contains(&v) && v > 0.0,
    );
    // Counters move between scrapes while the demo runs.
    let first = wait_until(
        &prom,
        "sum(dynamo_component_tokens_total)",
        "a token total",
        |v| v > 0.0,
    );
    wait_until(
        &prom,
        "sum(dynamo_component_tokens_total)",
        "a later, larger token total",
        |v| v > first,
    );
    // Exemplars: Prometheus (with exemplar-storage) keeps the trace ids
    // the demo recorded with its TTFTs, durations and request counts. The
    // demo's trace ids say whose they are: worker + 1, then request number
    // n, with span id n + 1 (see `trace_of` in the demo's engine.rs).
    for q in [
        format!("dynamo_component_time_to_first_token_seconds_bucket{{{ns}}}"),
        format!("dynamo_component_request_duration_seconds_bucket{{{ns}}}"),
        format!("dynamo_component_requests_total{{{ns}}}"),
    ] {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut got = Vec::new();
        while got.is_empty() && Instant::now() < deadline {
            got = query_exemplars(prom.addr, &q);
            std::thread::sleep(Duration::from_millis(250));
        }
        assert!(!got.is_empty(), "no exemplars for {q}\n{}", prom.log_tail());
        for (trace, span) in &got {
            let worker = u64::from_str_radix(&trace[..16], 16).unwrap();
            let n = u64::from_str_radix(&trace[16..], 16).unwrap();
            assert!((1..=2).contains(&worker), "trace {trace}: no such worker");
            assert_eq!(
                span,
                &format!("{:016x}", n + 1),
                "trace {trace}: span {span}"
            );
        }
    }
    drop(prom);
    drop(demo);
}
