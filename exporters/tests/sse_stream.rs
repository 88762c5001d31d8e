//! `/metrics/stream` over real sockets, read by Python clients in
//! subprocesses (standard library only; the package's `stream.py`): frames
//! arrive in order, `Last-Event-ID` resumes without a gap, a client that
//! stops reading is dropped with a final event and counted, the stream cap
//! answers 503 and bad parameters 400.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nanometrics::realtime::Ticker;
use nanometrics::{Buckets, Registry};
use nanometrics_exporters::http::{MetricsServer, MetricsServerBuilder};

fn client(port: u16, args: &[&str]) -> Child {
    Command::new(common::python())
        .arg(common::repo().join("exporters/tests/sse_client.py"))
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn json_lines(child: Child) -> Vec<serde_like::Json> {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "client failed: {:?}", out.status);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(serde_like::parse)
        .collect()
}

/// Just enough JSON for the clients' lines: the numbers and (unescaped)
/// strings of the keys a test asks for.
mod serde_like {
    #[derive(Debug)]
    pub struct Json(pub String);

    pub fn parse(line: &str) -> Json {
        Json(line.to_string())
    }

    impl Json {
        /// The raw text after `"key": ` up to the next `,` or `}`.
        pub fn get(&self, key: &str) -> String {
            let pat = format!("\"{key}\": ");
            let i = self
                .0
                .find(&pat)
                .unwrap_or_else(|| panic!("{key} in {}", self.0))
                + pat.len();
            let rest = &self.0[i..];
            match rest.strip_prefix('"') {
                Some(s) => s[..s.find('"').unwrap()].to_string(),
                None => rest[..rest.find([',', '}']).unwrap()].to_string(),
            }
        }
    }
}

/// One request's status and body (newlines as spaces).
fn status(port: u16, query: &str) -> (String, String) {
    let out = client(port, &["status", query]).wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let (code, body) = text
        .trim_end()
        .split_once(' ')
        .unwrap_or((text.trim_end(), ""));
    (code.to_string(), body.to_string())
}

fn server(
    r: &Registry,
    t: &Ticker,
    tweak: impl FnOnce(MetricsServerBuilder) -> MetricsServerBuilder,
) -> MetricsServer {
    tweak(
        MetricsServer::builder()
            .bind("127.0.0.1:0")
            .registry(r.clone())
            .ticker(t.clone()),
    )
    .start()
    .unwrap()
}

#[test]
fn frames_arrive_in_order_with_window_stats() {
    let r = Registry::new();
    let h = r
        .histogram_family("ttft_seconds", "TTFT.", &["model"], Buckets::default())
        .unwrap();
    let t = Ticker::new(Duration::from_millis(50));
    let s = server(&r, &t, |b| b);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (h2, stop2) = (h.clone(), stop.clone());
    let writer = std::thread::spawn(move || {
        let llama = h2.with_labels(&["llama"]).unwrap();
        while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
            llama.observe(0.25);
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let lines = json_lines(client(
        s.local_addr().port(),
        &["frames", "5", "ttft_seconds{model=\"llama\"}"],
    ));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();
    assert_eq!(lines.len(), 5);
    let seqs: Vec<u64> = lines
        .iter()
        .map(|l| l.get("seq").parse().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    for l in &lines {
        assert_eq!(l.get("family"), "ttft_seconds");
        assert_eq!(l.get("type"), "histogram");
        assert!(l.0.contains(r#""labels": {"model": "llama"}"#), "{}", l.0);
        assert!(l.0.contains(r#""quantiles": {"0.5": "#), "{}", l.0);
    }
    // Once the writer has run a while, a frame's window has observations.
    assert!(
        lines.iter().any(|l| l.0.contains(r#""max": 0.25"#)),
        "{lines:?}"
    );
    s.shutdown();
    t.stop();
}

#[test]
fn last_event_id_resumes_without_a_gap() {
    let r = Registry::new();
    r.counter("jobs_total", "Jobs.").unwrap().inc();
    let t = Ticker::new(Duration::from_millis(20));
    let s = server(&r, &t, |b| b);
    let lines = json_lines(client(
        s.local_addr().port(),
        &["resume", "3", "0.3", "jobs_total"],
    ));
    let seqs: Vec<u64> = lines[..6]
        .iter()
        .map(|l| l.get("seq").parse().unwrap())
        .collect();
    // The second part starts right after the first, although ~15 frames
    // were made while the client was away: the server's ring replayed them.
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    s.shutdown();
    t.stop();
}

#[test]
fn a_client_that_stops_reading_is_dropped_and_counted() {
    let r = Registry::new();
    // Wide frames (400 series), so the sockets' buffers fill quickly.
    let f = r
        .gauge_family("queue_depth", "Queued.", &["worker"])
        .unwrap();
    for w in 0..400 {
        f.with_labels(&[format!("worker-with-a-long-name-{w:04}")])
            .unwrap()
            .set(w as f64);
    }
    let t = Ticker::new(Duration::from_millis(5));
    let s = server(&r, &t, |b| b.stream_queue(4));
    let mut slow = client(s.local_addr().port(), &["slow", "queue_depth"]);
    let mut out = BufReader::new(slow.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "connected");
    let dropped = r.counter(
        "nanometrics_stream_dropped_clients_total",
        "Stream clients disconnected because they fell behind.",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while dropped.as_ref().map_or(0, |c| c.get()) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        dropped.unwrap().get(),
        1,
        "the stalled client was dropped once"
    );
    // Another client is served meanwhile.
    let lines = json_lines(client(
        s.local_addr().port(),
        &["frames", "2", "queue_depth"],
    ));
    assert_eq!(lines.len(), 2);
    // Now the slow client reads: what was queued, the final event, the end.
    slow.stdin.take().unwrap().write_all(b"go\n").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert!(slow.wait().unwrap().success());
    let got = serde_like::parse(line.trim());
    assert!(got.get("bytes").parse::<u64>().unwrap() > 0);
    assert_eq!(got.get("dropped_event"), "true", "{line}");
    s.shutdown();
    t.stop();
}

#[test]
fn the_stream_cap_answers_503_and_bad_parameters_400() {
    let r = Registry::new();
    r.gauge("g", "G.").unwrap();
    let t = Ticker::new(Duration::from_millis(20));
    let s = server(&r, &t, |b| b.max_streams(2));
    let port = s.local_addr().port();
    let mut hold = client(port, &["hold", "2", "g"]);
    let mut out = BufReader::new(hold.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "open");
    let (code, body) = status(port, "family=g");
    assert_eq!(code, "503");
    assert!(body.contains("too many streams"), "{body}");
    drop(hold.stdin.take());
    assert!(hold.wait().unwrap().success());
    for (query, why) in [
        ("every=1s", "family parameter is required"),
        ("family=g&every=soon", "not a duration"),
        ("family=g&window=0s", "not a duration"),
        ("family=g&quantiles=1.5", "[0, 1]"),
        ("family=g%7Bx%3D1%7D", "double-quoted"),
        ("family=g&colour=red", "unknown parameter"),
        ("family=g&window=2h", "at most"),
    ] {
        let (code, body) = status(port, query);
        assert_eq!(code, "400", "{query}: {body}");
        assert!(body.contains(why), "{query}: {body}");
    }
    // With the holders gone, a stream opens again.
    let lines = json_lines(client(port, &["frames", "1", "g"]));
    assert_eq!(lines.len(), 1);
    s.shutdown();
    t.stop();
}

#[test]
fn shutdown_ends_open_streams() {
    let r = Registry::new();
    r.gauge("g", "G.").unwrap();
    let t = Ticker::new(Duration::from_millis(20));
    let s = server(&r, &t, |b| b);
    let mut hold = client(s.local_addr().port(), &["hold", "1", "g"]);
    let mut out = BufReader::new(hold.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "open");
    let started = Instant::now();
    s.shutdown();
    // Well inside the 5 s grace that in-flight requests get: the streams
    // ended at once instead of holding the shutdown up.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    drop(hold.stdin.take());
    assert!(hold.wait().unwrap().success());
    t.stop();
}
