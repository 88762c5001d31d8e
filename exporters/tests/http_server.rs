//! The `/metrics` server over real sockets: negotiation, gzip, HEAD, errors,
//! health, timeouts, limits, shutdown, and the conformance checker on what
//! it serves.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use nanometrics::{Buckets, Registry};
use nanometrics_exporters::http::MetricsServer;

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

/// Sends one request (with `Connection: close`) and reads the whole answer.
fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    parse(&raw)
}

fn parse(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

fn demo_registry() -> Registry {
    let r = Registry::new();
    r.counter("requests_total", "Requests.").unwrap().inc_by(5);
    let h = r
        .histogram_family(
            "latency_seconds",
            "Latency.",
            &["route"],
            Buckets::default(),
        )
        .unwrap();
    h.with_labels(&["/a"]).unwrap().record(0.2);
    r
}

fn server(r: &Registry) -> MetricsServer {
    MetricsServer::builder()
        .bind("127.0.0.1:0")
        .registry(r.clone())
        .start()
        .unwrap()
}

#[test]
fn serves_text_by_default_and_openmetrics_when_asked() {
    let r = demo_registry();
    let s = server(&r);
    let a = request(s.local_addr(), "GET", "/metrics", &[]);
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(a.text().contains("requests_total 5\n"), "{}", a.text());

    let prometheus_accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let a = request(
        s.local_addr(),
        "GET",
        "/metrics",
        &[("Accept", prometheus_accept)],
    );
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(a.text().ends_with("# EOF\n"));

    // Garbage inside a well-formed header value (bytes that may not appear in
    // a header at all are rejected by hyper with 400 before we see them).
    for garbage in [
        ";;;,,q=x, /, text/",
        "application/openmetrics-text;q=nope",
        "application/json",
        "text/plain;q=abc,application/openmetrics-text;q=0",
    ] {
        let a = request(s.local_addr(), "GET", "/metrics", &[("Accept", garbage)]);
        assert_eq!(a.status, 200, "Accept {garbage:?}");
        assert!(a
            .header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
    }
}

#[test]
fn gzip_when_accepted() {
    let r = demo_registry();
    let s = server(&r);
    let plain = request(s.local_addr(), "GET", "/metrics", &[]);
    let a = request(
        s.local_addr(),
        "GET",
        "/metrics",
        &[("Accept-Encoding", "gzip, br")],
    );
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-encoding"), Some("gzip"));
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&a.body[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain.body);
    let a = request(
        s.local_addr(),
        "GET",
        "/metrics",
        &[("Accept-Encoding", "gzip;q=0")],
    );
    assert_eq!(a.header("content-encoding"), None);
}

#[test]
fn head_errors_and_health() {
    let r = demo_registry();
    let s = server(&r);
    let a = request(s.local_addr(), "HEAD", "/metrics", &[]);
    assert_eq!(a.status, 200);
    assert!(a.body.is_empty(), "HEAD must not send a body");
    assert!(a.header("content-type").unwrap().starts_with("text/plain"));

    let a = request(
        s.local_addr(),
        "POST",
        "/metrics",
        &[("Content-Length", "0")],
    );
    assert_eq!(a.status, 405);
    assert_eq!(a.header("allow"), Some("GET, HEAD"));
    assert_eq!(request(s.local_addr(), "GET", "/nope", &[]).status, 404);
    assert_eq!(request(s.local_addr(), "DELETE", "/nope", &[]).status, 404);
    // The stream path: HEAD checks the parameters without opening a stream.
    let a = request(s.local_addr(), "HEAD", "/metrics/stream?family=x", &[]);
    assert_eq!(
        (a.status, a.header("content-type")),
        (200, Some("text/event-stream"))
    );
    for bad in [
        "every=1s",
        "family=x&window=2h",
        "family=x&every=0.0000000001",
    ] {
        let a = request(
            s.local_addr(),
            "HEAD",
            &format!("/metrics/stream?{bad}"),
            &[],
        );
        assert_eq!(a.status, 400, "{bad}");
    }
    assert_eq!(
        request(
            s.local_addr(),
            "POST",
            "/metrics/stream?family=x",
            &[("Content-Length", "0")]
        )
        .status,
        405
    );

    let a = request(s.local_addr(), "GET", "/health", &[]);
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert!(
        a.text()
            .starts_with("{\"status\":\"ready\",\"uptime_seconds\":"),
        "{}",
        a.text()
    );
    s.health().set_ready(false);
    let a = request(s.local_addr(), "GET", "/health", &[]);
    assert_eq!(a.status, 503);
    assert!(a.text().contains("\"notready\""));
    assert_eq!(request(s.local_addr(), "GET", "/live", &[]).status, 200);
    s.health().set_live(false);
    assert_eq!(request(s.local_addr(), "GET", "/live", &[]).status, 503);
}

#[test]
fn custom_paths() {
    let r = demo_registry();
    let s = MetricsServer::builder()
        .bind("127.0.0.1:0")
        .registry(r)
        .metrics_path("/m")
        .health_path("/ready")
        .live_path("/alive")
        .start()
        .unwrap();
    assert_eq!(request(s.local_addr(), "GET", "/m", &[]).status, 200);
    assert_eq!(request(s.local_addr(), "GET", "/metrics", &[]).status, 404);
    assert_eq!(request(s.local_addr(), "GET", "/ready", &[]).status, 200);
    assert_eq!(request(s.local_addr(), "GET", "/alive", &[]).status, 200);
}

#[test]
fn a_client_trickling_its_request_is_cut_off() {
    let r = demo_registry();
    let s = MetricsServer::builder()
        .bind("127.0.0.1:0")
        .registry(r)
        .header_read_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let mut c = TcpStream::connect(s.local_addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let start = Instant::now();
    let request = b"GET /metrics HTTP/1.1\r\nHost: test\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut closed_after = None;
    // One byte every 250 ms: the whole head would take ~20 s.
    'send: for b in request.iter() {
        if c.write_all(&[*b]).is_err() {
            closed_after = Some(start.elapsed());
            break;
        }
        let mut buf = [0u8; 512];
        match c.read(&mut buf) {
            // EOF, or an answer (hyper may send 408 before closing).
            Ok(_) => {
                closed_after = Some(start.elapsed());
                break 'send;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                closed_after = Some(start.elapsed());
                break 'send;
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let after = closed_after.expect("the server never cut the slow client off");
    assert!(
        after < Duration::from_secs(5),
        "cut off only after {after:?}"
    );
}

#[test]
fn oversized_heads_get_431() {
    let r = demo_registry();
    let s = MetricsServer::builder()
        .bind("127.0.0.1:0")
        .registry(r)
        .max_header_bytes(8192)
        .start()
        .unwrap();
    let big = "x".repeat(20_000);
    let a = request(s.local_addr(), "GET", "/metrics", &[("X-Big", &big)]);
    assert_eq!(a.status, 431);
    // The server still works.
    assert_eq!(request(s.local_addr(), "GET", "/metrics", &[]).status, 200);
}

#[test]
fn excess_concurrent_scrapes_get_a_fast_503() {
    // 100k series make one scrape take tens of milliseconds.
    let r = Registry::new();
    let f = r
        .metric("many_total", "Many.")
        .cardinality_limit(300_000)
        .family::<nanometrics::Counter>(&["i"])
        .unwrap();
    for i in 0..100_000 {
        f.with_labels(&[i.to_string()]).unwrap().inc();
    }
    let s = MetricsServer::builder()
        .bind("127.0.0.1:0")
        .registry(r)
        .max_concurrent_scrapes(1)
        .start()
        .unwrap();
    let addr = s.local_addr();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
    let clients: Vec<_> = (0..6)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                request(addr, "GET", "/metrics", &[]).status
            })
        })
        .collect();
    let statuses: Vec<u16> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
}

#[test]
fn served_metrics_pass_the_conformance_checker() {
    // What the checker fetches twice (OpenMetrics, then 0.0.4) from the URL.
    // Names with `:` are only a promtool lint note: encode_conformance.rs
    // covers them; this checks what the server adds (negotiation, headers).
    let strict = Registry::new();
    strict
        .counter("served_total", "Served.")
        .unwrap()
        .inc_by(1 << 60);
    let h = strict
        .histogram_family(
            "served_seconds",
            "Latency with \"quotes\".",
            &["path"],
            Buckets::default(),
        )
        .unwrap();
    h.with_labels(&["a\\b\n\"c\""]).unwrap().record(0.3);
    strict
        .gauge("served_ratio", "Ratio.")
        .unwrap()
        .set(f64::NAN);
    let s = server(&strict);
    let url = format!("http://{}/metrics", s.local_addr());
    let out = std::process::Command::new(common::python())
        .arg(common::checker())
        .arg(&url)
        .output()
        .unwrap();
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && report.contains("all checks passed"),
        "{report}"
    );
}

#[test]
fn shutdown_is_graceful_and_frees_the_port() {
    let r = demo_registry();
    let s = server(&r);
    let addr = s.local_addr();
    assert_eq!(request(addr, "GET", "/metrics", &[]).status, 200);
    s.shutdown();
    assert!(
        TcpStream::connect(addr).is_err(),
        "still accepting after shutdown"
    );
    // The port can be bound again.
    let again = MetricsServer::builder()
        .bind(addr.to_string())
        .registry(r)
        .start()
        .unwrap();
    assert_eq!(
        request(again.local_addr(), "GET", "/metrics", &[]).status,
        200
    );
}

#[test]
fn binding_errors_are_reported() {
    let r = demo_registry();
    let s = server(&r);
    let e = MetricsServer::builder()
        .bind(s.local_addr().to_string())
        .registry(r)
        .start()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
}

#[test]
fn a_panicking_collect_hook_fails_that_scrape_only() {
    let r = demo_registry();
    let g = r.gauge("computed", "Set by a hook.").unwrap();
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let c = calls.clone();
    let _hook = r.on_collect(move || {
        let n = c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if n == 1 {
            panic!("collector failure in scrape {n}");
        }
        g.set(n as f64);
    });
    let s = server(&r);
    let a = request(s.local_addr(), "GET", "/metrics", &[]);
    assert_eq!(a.status, 200);
    assert!(a.text().contains("computed 0.0\n"), "{}", a.text());

    let a = request(s.local_addr(), "GET", "/metrics", &[]);
    assert_eq!(a.status, 500, "{}", a.text());
    assert!(a.text().contains("panicked"), "{}", a.text());

    // The panic poisoned nothing: the next scrape works and sees the update.
    r.counter("requests_total", "Requests.").unwrap().inc();
    let a = request(s.local_addr(), "GET", "/metrics", &[]);
    assert_eq!(a.status, 200);
    assert!(a.text().contains("computed 2.0\n"), "{}", a.text());
    assert!(a.text().contains("requests_total 6\n"), "{}", a.text());
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
}
