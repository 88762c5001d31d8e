//! The NATS sink against a real `nats-server` (Debian's package; ci/setup.sh
//! installs it) on a free loopback port: frames arrive in order, a server
//! restart drops (and counts) the frames made while it is down, the sink
//! reconnects on its own, the receiver sees the gap in `seq`, and the
//! ticker never misses a beat.
#![cfg(feature = "nats")]

mod common;

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nanometrics::realtime::Ticker;
use nanometrics::Registry;
use nanometrics_exporters::nats::NatsSink;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `nats-server` on `port` and waits until it accepts connections.
fn nats_server(port: u16) -> Server {
    let child = Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server not found: run ci/setup.sh (apt-get install nats-server)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nats-server did not start on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Server(child)
}

/// The `seq` of a frame's JSON.
fn seq(payload: &[u8]) -> u64 {
    let s = std::str::from_utf8(payload).unwrap();
    let rest = s.strip_prefix("{\"seq\":").expect(s);
    rest[..rest.find(',').unwrap()].parse().unwrap()
}

#[test]
fn frames_survive_a_server_restart_with_a_counted_gap() {
    let port = common::free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let mut server = Some(nats_server(port));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sub_client = rt
        .block_on(
            async_nats::ConnectOptions::new()
                .max_reconnects(None)
                .reconnect_delay_callback(|_| Duration::from_millis(50))
                .connect(url.as_str()),
        )
        .unwrap();
    let mut sub = rt.block_on(sub_client.subscribe("metrics.test")).unwrap();
    rt.block_on(sub_client.flush()).unwrap();
    let next = |sub: &mut async_nats::Subscriber| {
        let m = rt
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(20), futures_next(sub)).await
            })
            .expect("a frame within 20 s")
            .expect("the subscription is open");
        seq(&m.payload)
    };

    let r = Registry::new();
    r.gauge("queue_depth", "Queued.").unwrap().set(3.0);
    let t = Ticker::new(Duration::from_millis(20));
    let sink = NatsSink::connect(&url, "metrics.test").unwrap();
    let stats = sink.stats();
    let watch = r
        .watch("queue_depth")
        .unwrap()
        .ticker(&t)
        .sink(sink)
        .unwrap();

    let first: Vec<u64> = (0..5).map(|_| next(&mut sub)).collect();
    assert!(first.windows(2).all(|w| w[1] == w[0] + 1), "{first:?}");
    // Whatever else arrives before the outage.
    let mut last_before = *first.last().unwrap();

    // The server goes away for a while: frames are dropped and counted,
    // the ticker keeps ticking.
    let ticks = t.stats().ticks;
    drop(server.take());
    // Frames already sent before the server went: drain them.
    loop {
        let got = rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(200), futures_next(&mut sub)).await
        });
        match got {
            Ok(Some(m)) => last_before = last_before.max(seq(&m.payload)),
            _ => break,
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while (stats.get().1 < 5 || t.stats().ticks < ticks + 10) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(stats.get().1 >= 5, "dropped while down: {:?}", stats.get());
    assert!(t.stats().ticks >= ticks + 10);

    // Back on the same port: the sink reconnects, the receiver sees a gap.
    let _server = nats_server(port);
    let last_before = *first.last().unwrap();
    let mut after = next(&mut sub);
    // Frames received before the restart may still be in the subscriber's
    // buffer: skip to the first one after the gap.
    while after <= last_before + 1 {
        after = next(&mut sub);
    }
    let dropped = stats.get().1;
    assert!(
        after > last_before + 1,
        "a gap in seq: {last_before} then {after}"
    );
    let again: Vec<u64> = (0..3).map(|_| next(&mut sub)).collect();
    assert!(
        again[0] > after && again.windows(2).all(|w| w[1] == w[0] + 1),
        "{again:?}"
    );
    assert!(watch.stats().errors >= dropped);
    t.stop();
}

#[test]
fn connect_works_from_async_code_and_rejects_bad_subjects() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let port = common::free_port(); // nothing listens: the client keeps trying in the background
    let sink = rt
        .block_on(async { NatsSink::connect(&format!("nats://127.0.0.1:{port}"), "a.b") })
        .unwrap();
    assert!(!sink.is_connected());
    for bad in ["", "a b", "a.*", "a.>"] {
        let e = NatsSink::connect(&format!("nats://127.0.0.1:{port}"), bad).unwrap_err();
        assert!(e.to_string().contains("subject"), "{bad}: {e}");
    }
}

/// The next message of a subscription.
async fn futures_next(sub: &mut async_nats::Subscriber) -> Option<async_nats::Message> {
    futures_util::StreamExt::next(sub).await
}
