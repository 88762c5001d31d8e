//! The demo, run as a reader would (`cargo run --example inference_loop`):
//! its planner-like watch trips (the SLO is set below any TTFT), its
//! `/metrics/stream` answers with frames while it runs, and its final
//! consistency check passes.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn the_demo_streams_frames_and_its_planner_trips() {
    let mut child = common::cargo_example("inference_loop")
        .args([
            "--workers",
            "2",
            "--seconds",
            "4",
            "--port",
            "0",
            "--ttft-slo",
            "0.000001",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cargo runs");
    // stderr names the stream's curl command; take its host and path.
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let target = loop {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "the demo printed no stream URL"
        );
        if let Some(rest) = line
            .trim()
            .strip_prefix("live frames of a watch: curl -N '")
        {
            break rest.trim_end_matches('\'').to_string();
        }
    };
    let (host, path) = target.split_once('/').unwrap();
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET /{path} HTTP/1.1\r\nHost: demo\r\n\r\n").unwrap();
    let mut stream = BufReader::new(s);
    let mut events = 0;
    let mut text = String::new();
    while events < 2 {
        text.clear();
        assert!(
            stream.read_line(&mut text).unwrap() > 0,
            "the stream ended early"
        );
        if text.starts_with("data: {\"seq\":") {
            assert!(
                text.contains("\"family\":\"dynamo_component_time_to_first_token_seconds\""),
                "{text}"
            );
            events += 1;
        }
    }
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "the demo failed:\n{out}");
    assert!(
        out.contains("planner (watch: TTFT p90 over 10 s vs a 0 ms SLO): 1 trip(s)"),
        "{out}"
    );
    assert!(
        out.contains("above the 0 ms SLO: would add a worker"),
        "{out}"
    );
    assert!(out.contains("consistency check: OK"), "{out}");
}
