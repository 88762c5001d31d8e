//! Watches: threshold rules (hysteresis, `for`, coalescing), callbacks that
//! panic or are slow, dropping the guard, async subscribers, and the
//! ticker's thread keeping its cadence.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use nanometrics::realtime::{Overflow, Stat, Threshold, Ticker, Transition, WindowValue};
use nanometrics::{Buckets, Error, Registry};

const TICK: Duration = Duration::from_secs(1);
const WAIT: Duration = Duration::from_secs(10);

fn transitions(sub: &nanometrics::realtime::Subscription) -> Vec<Transition> {
    std::iter::from_fn(|| sub.try_recv())
        .flat_map(|f| f.alerts.iter().map(|a| a.transition).collect::<Vec<_>>())
        .collect()
}

#[test]
fn hysteresis_enters_above_and_leaves_below_the_exit_level() {
    let r = Registry::new();
    let g = r.gauge("kv_usage", "x").unwrap();
    let t = Ticker::manual(TICK);
    let sub = r
        .watch("kv_usage")
        .unwrap()
        .ticker(&t)
        .threshold(Threshold::above(Stat::Last, 0.9).exit(0.7))
        .subscribe()
        .unwrap();
    let mut seen = Vec::new();
    for v in [0.5, 0.95, 0.8, 0.92, 0.75, 0.69, 0.8, 0.91] {
        g.set(v);
        t.advance(1);
        seen.push((v, transitions(&sub)));
    }
    let fired = |v| (v, vec![Transition::Fired]);
    let resolved = |v| (v, vec![Transition::Resolved]);
    let none = |v| (v, vec![]);
    assert_eq!(
        seen,
        [
            none(0.5),
            fired(0.95),
            none(0.8),
            none(0.92),
            none(0.75),
            resolved(0.69),
            none(0.8),
            fired(0.91)
        ]
    );
}

#[test]
fn for_duration_waits_for_the_condition_to_hold() {
    let r = Registry::new();
    let h = r
        .histogram("ttft_seconds", "x", Buckets::default())
        .unwrap();
    let t = Ticker::manual(TICK);
    let sub = r
        .watch("ttft_seconds")
        .unwrap()
        .ticker(&t)
        .window(TICK * 2)
        .threshold(Threshold::above(Stat::Quantile(0.9), 0.5).for_duration(TICK * 3))
        .subscribe()
        .unwrap();
    t.advance(1);
    let mut fired_at = None;
    for tick in 1..=8 {
        for _ in 0..20 {
            h.observe(1.0);
        }
        t.advance(1);
        if !transitions(&sub).is_empty() {
            fired_at.get_or_insert(tick);
        }
    }
    // Above from tick 1 on: pending at 1, held 3 s at tick 4.
    assert_eq!(fired_at, Some(4));
}

#[test]
fn ten_thousand_updates_between_ticks_make_one_call() {
    let r = Registry::new();
    let c = r.counter("req_total", "x").unwrap();
    let t = Ticker::manual(TICK);
    let calls = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel();
    let n = calls.clone();
    let watch = r
        .watch("req_total")
        .unwrap()
        .ticker(&t)
        .threshold(Threshold::above(Stat::Delta, 5000.0))
        .call(move |f| {
            n.fetch_add(1, Ordering::SeqCst);
            tx.send(f.alerts.len()).unwrap();
        })
        .unwrap();
    t.advance(1);
    for _ in 0..10_000 {
        c.inc();
    }
    t.advance(1);
    assert_eq!(rx.recv_timeout(WAIT), Ok(1));
    for _ in 0..10_000 {
        c.inc();
    }
    t.advance(1); // still above: no new call
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(200)),
        Err(mpsc::RecvTimeoutError::Timeout)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(watch.stats().delivered, 1);
}

#[test]
fn every_tick_one_frame_however_many_updates() {
    let r = Registry::new();
    let c = r.counter_family("tok_total", "x", &["m"]).unwrap();
    let t = Ticker::manual(Duration::from_millis(100));
    let sub = r
        .watch(r#"tok_total{m!="b"}"#)
        .unwrap()
        .ticker(&t)
        .every(Duration::from_millis(250)) // rounded up to 3 ticks
        .queue(100, Overflow::DropOldest)
        .subscribe()
        .unwrap();
    let (a, b) = (
        c.with_labels(&["a"]).unwrap(),
        c.with_labels(&["b"]).unwrap(),
    );
    for _ in 0..9 {
        for _ in 0..10_000 {
            a.inc();
            b.inc();
        }
        t.advance(1);
    }
    let frames: Vec<_> = std::iter::from_fn(|| sub.try_recv()).collect();
    assert_eq!(frames.iter().map(|f| f.seq).collect::<Vec<_>>(), [1, 2, 3]);
    for f in &frames {
        assert_eq!(f.series.len(), 1);
        assert_eq!(f.series[0].labels.get("m"), Some("a"));
        match f.series[0].window {
            WindowValue::Counter(w) => assert_eq!(w.span, Duration::from_millis(300)),
            ref other => panic!("{other:?}"),
        }
    }
}

#[test]
fn a_panicking_callback_is_counted_and_the_others_are_served() {
    let r = Registry::new();
    let g = r.gauge("g", "x").unwrap();
    let t = Ticker::manual(TICK);
    let (tx, rx) = mpsc::channel();
    let bad = r
        .watch("g")
        .unwrap()
        .ticker(&t)
        .call(|f| {
            if f.seq % 2 == 1 {
                panic!("a subscriber bug (expected by the test)");
            }
        })
        .unwrap();
    let tx2 = tx.clone();
    let good = r
        .watch("g")
        .unwrap()
        .ticker(&t)
        .call(move |f| tx2.send(f.seq).unwrap())
        .unwrap();
    for i in 0..4 {
        g.set(i as f64);
        t.advance(1);
    }
    let got: Vec<u64> = (0..4).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
    assert_eq!(got, [1, 2, 3, 4]);
    // The bad watch's thread took every frame and survived its panics.
    let deadline = std::time::Instant::now() + WAIT;
    while bad.stats().delivered < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!((bad.stats().delivered, bad.stats().panics), (4, 2));
    drop((good, tx));
}

#[test]
fn a_slow_callback_does_not_slow_the_ticker_or_other_watches() {
    let r = Registry::new();
    let g = r.gauge("g", "x").unwrap();
    g.set(1.0);
    let t = Ticker::new(Duration::from_millis(20));
    let slow = r
        .watch("g")
        .unwrap()
        .ticker(&t)
        .queue(2, Overflow::DropOldest)
        .call(|_| std::thread::sleep(Duration::from_secs(2)))
        .unwrap();
    let fast = r.watch("g").unwrap().ticker(&t).subscribe().unwrap();
    let mut seqs = Vec::new();
    let deadline = std::time::Instant::now() + WAIT;
    while seqs.len() < 20 && std::time::Instant::now() < deadline {
        if let Some(f) = fast.recv_timeout(WAIT) {
            seqs.push(f.seq);
        }
    }
    // Twenty consecutive frames (none skipped) while the slow callback is
    // still in its first call; its frames are dropped past its queue.
    assert_eq!(seqs.len(), 20);
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert!(slow.stats().dropped > 0);
    assert_eq!(slow.stats().delivered, 0);
    t.stop();
}

#[test]
fn dropping_the_guard_unsubscribes() {
    let r = Registry::new();
    let g = r.gauge("g", "x").unwrap();
    let t = Ticker::manual(TICK);
    let (tx, rx) = mpsc::channel();
    let watch = r
        .watch("g")
        .unwrap()
        .ticker(&t)
        .call(move |f| tx.send(f.seq).unwrap())
        .unwrap();
    g.set(1.0);
    t.advance(1);
    assert_eq!(rx.recv_timeout(WAIT), Ok(1));
    assert_eq!(t.stats().watches, 1);
    drop(watch);
    assert_eq!(t.stats().watches, 0);
    t.advance(3);
    // The callback thread ends: the channel's sender is dropped with it.
    assert_eq!(
        rx.recv_timeout(WAIT),
        Err(mpsc::RecvTimeoutError::Disconnected)
    );
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_task_is_woken_by_the_next_frame() {
    let r = Registry::new();
    r.gauge("g", "x").unwrap().set(3.0);
    let t = Ticker::manual(TICK);
    let sub = r.watch("g").unwrap().ticker(&t).subscribe().unwrap();
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(sub.poll_recv(&mut cx).is_pending());
    t.advance(1);
    assert!(flag.0.load(Ordering::SeqCst));
    match sub.poll_recv(&mut cx) {
        Poll::Ready(Some(f)) => assert_eq!(f.series[0].value.as_gauge(), Some(3.0)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_lagging_subscriber_is_closed_under_overflow_close() {
    let r = Registry::new();
    r.gauge("g", "x").unwrap();
    let t = Ticker::manual(TICK);
    let sub = r
        .watch("g")
        .unwrap()
        .ticker(&t)
        .queue(3, Overflow::Close)
        .subscribe()
        .unwrap();
    t.advance(5);
    assert_eq!(std::iter::from_fn(|| sub.try_recv()).count(), 3);
    assert!(sub.lagged());
    assert!(sub.recv().is_none());
    assert_eq!(t.stats().watches, 0, "the ticker forgot it");
}

#[test]
fn bad_watches_are_errors_with_the_rule() {
    let r = Registry::new();
    r.counter("c_total", "x").unwrap();
    let t = Ticker::manual(TICK);
    let err = |b: Result<nanometrics::realtime::Subscription, Error>| b.unwrap_err().to_string();
    assert!(err(r
        .watch("c_total")
        .unwrap()
        .ticker(&t)
        .every(Duration::ZERO)
        .subscribe())
    .contains("longer than zero"));
    assert!(err(r
        .watch("c_total")
        .unwrap()
        .ticker(&t)
        .threshold(Threshold::above(Stat::Quantile(0.9), 1.0))
        .subscribe())
    .contains("no window statistic"));
    assert!(err(r
        .watch("c_total")
        .unwrap()
        .ticker(&t)
        .threshold(Threshold::above(Stat::Rate, 1.0).exit(2.0))
        .subscribe())
    .contains("hysteresis"));
    assert!(err(r
        .watch("c_total")
        .unwrap()
        .ticker(&t)
        .quantiles(&[1.5])
        .subscribe())
    .contains("[0, 1]"));
    assert!(matches!(
        r.watch("c_total{a=b}"),
        Err(Error::InvalidWatch(_))
    ));
}

#[test]
fn the_shared_ticker_serves_handle_windows() {
    let r = Registry::new();
    let c = r.counter("shared_total", "x").unwrap();
    assert_eq!(c.window(Duration::from_secs(5)).delta, 0.0);
    c.inc_by(7);
    let w = c.window(Duration::from_secs(5));
    assert_eq!((w.delta, w.value), (7.0, 7.0));
    assert!(nanometrics::realtime::ticker().stats().windowed_series >= 1);
}

#[test]
fn a_sub_registry_watches_its_own_names() {
    let r = Registry::new();
    let sub = r.sub_registry("engine", &[("ns", "demo")]).unwrap();
    sub.gauge("kv_usage", "x").unwrap().set(0.5);
    let t = Ticker::manual(TICK);
    let from_sub = sub
        .watch("kv_usage")
        .unwrap()
        .ticker(&t)
        .subscribe()
        .unwrap();
    let from_root = r
        .watch("engine_kv_usage")
        .unwrap()
        .ticker(&t)
        .subscribe()
        .unwrap();
    t.advance(1);
    for sub in [&from_sub, &from_root] {
        let f = sub.try_recv().unwrap();
        assert_eq!(&*f.family, "engine_kv_usage");
        assert_eq!(f.series[0].labels.get("ns"), Some("demo"));
    }
}

#[test]
fn dropping_the_guard_drops_the_queued_frames() {
    let r = Registry::new();
    r.gauge("g", "x").unwrap();
    let t = Ticker::manual(TICK);
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let calls = Arc::new(AtomicUsize::new(0));
    let n = calls.clone();
    let watch = r
        .watch("g")
        .unwrap()
        .ticker(&t)
        .call(move |_| {
            n.fetch_add(1, Ordering::SeqCst);
            entered_tx.send(()).unwrap();
            let _ = release_rx.recv_timeout(WAIT);
        })
        .unwrap();
    t.advance(1);
    entered.recv_timeout(WAIT).unwrap(); // the first call is running
    t.advance(4); // four more frames wait in the queue
    drop(watch);
    release.send(()).unwrap();
    // The running call finished; none of the queued ones start.
    assert!(entered.recv_timeout(Duration::from_millis(300)).is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn stop_racing_windows_neither_hangs_nor_runs_two_tickers() {
    let r = Registry::new();
    let c = r.counter("c_total", "x").unwrap();
    let t = Ticker::new(Duration::from_millis(1));
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                t.window(&c, Duration::from_secs(1)); // restarts a stopped ticker
            }
        });
        for _ in 0..50 {
            t.stop(); // returns: the thread it stopped exits
            std::thread::sleep(Duration::from_millis(2));
        }
        done.store(true, Ordering::SeqCst);
    });
    t.window(&c, Duration::from_secs(1));
    // One thread ticks at most once per millisecond (a late one skips
    // ticks, never doubles them); two would tick twice as often.
    let before = t.stats().ticks;
    std::thread::sleep(Duration::from_millis(200));
    let ticks = t.stats().ticks - before;
    assert!(ticks <= 210, "{ticks} ticks in 200 ms at 1 ms");
    t.stop();
}

#[test]
fn a_firing_series_that_leaves_resolves() {
    let r = Registry::new();
    let f = r.gauge_family("depth", "x", &["q"]).unwrap();
    f.with_labels(&["a"]).unwrap().set(10.0);
    let t = Ticker::manual(TICK);
    let sub = r
        .watch("depth")
        .unwrap()
        .ticker(&t)
        .window(TICK * 2)
        .threshold(Threshold::above(Stat::Last, 5.0))
        .subscribe()
        .unwrap();
    t.advance(1);
    assert_eq!(transitions(&sub), [Transition::Fired]);
    assert!(f.remove(&["a"]));
    t.advance(2); // gone, but within the window: still firing
    assert_eq!(transitions(&sub), []);
    t.advance(2);
    let frame = sub.try_recv().expect("a resolution");
    assert_eq!(frame.alerts.len(), 1);
    assert_eq!(frame.alerts[0].transition, Transition::Resolved);
    assert!(frame.alerts[0].value.is_nan());
    assert_eq!(frame.alerts[0].labels.get("q"), Some("a"));
}
