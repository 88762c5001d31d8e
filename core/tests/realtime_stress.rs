//! The ticker under real threads: eight writers record while a real ticker
//! (5 ms) reads, two threads ask for windows and a subscriber takes frames.
//! Every window is consistent (no negative delta, histogram count equal to
//! its +Inf bucket, never more than was recorded), frames come in order,
//! and once the writers stop, a window over the whole run holds exactly
//! what they recorded.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nanometrics::realtime::{Ticker, WindowValue};
use nanometrics::{Buckets, Registry};

const WRITERS: u64 = 8;
const PER_WRITER: u64 = 1_000_000;

#[test]
fn windows_and_frames_stay_consistent_while_threads_record() {
    let r = Registry::new();
    let h = r.histogram("lat_seconds", "x", Buckets::default()).unwrap();
    let c = r.counter_family("tok_total", "x", &["w"]).unwrap();
    let t = Ticker::new(Duration::from_millis(5));
    let whole = Duration::from_secs(3600);
    t.window(&h, whole);
    let sub = r
        .watch("tok_total")
        .unwrap()
        .ticker(&t)
        .window(Duration::from_millis(50))
        .subscribe()
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let recorded = Arc::new(AtomicU64::new(0));
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let (h, c, recorded) = (h.clone(), c.clone(), recorded.clone());
            s.spawn(move || {
                let ctr = c.with_labels(&[w.to_string()]).unwrap();
                for i in 0..PER_WRITER {
                    h.observe(((i % 1000) as f64 + 1.0) / 1000.0);
                    ctr.inc();
                    if i % 10_000 == 9_999 {
                        recorded.fetch_add(10_000, Ordering::SeqCst);
                    }
                }
            });
        }
        for _ in 0..2 {
            let (h, t, done, recorded) = (h.clone(), t.clone(), done.clone(), recorded.clone());
            s.spawn(move || {
                let mut windows = 0;
                while !done.load(Ordering::SeqCst) || windows < 10 {
                    let before = recorded.load(Ordering::SeqCst);
                    let w = t.window(&h, Duration::from_millis(20));
                    let all = t.window(&h, whole);
                    let after = recorded.load(Ordering::SeqCst);
                    assert_eq!(w.histogram().buckets.last().unwrap().1, w.count);
                    assert!(w.count <= all.count);
                    assert!(all.count >= before && all.count <= after + WRITERS * 10_000);
                    windows += 1;
                }
            });
        }
        let (sub, done2) = (&sub, done.clone());
        s.spawn(move || {
            let mut last = 0;
            let mut frames = 0;
            while !done2.load(Ordering::SeqCst) || frames < 5 {
                let Some(f) = sub.recv_timeout(Duration::from_secs(10)) else {
                    panic!("no frame for 10 s");
                };
                assert!(f.seq > last, "frames out of order: {} after {last}", f.seq);
                last = f.seq;
                for s in &f.series {
                    match s.window {
                        WindowValue::Counter(w) => {
                            assert!(w.delta >= 0.0 && w.delta <= PER_WRITER as f64)
                        }
                        ref other => panic!("{other:?}"),
                    }
                }
                frames += 1;
            }
        });
        // Writers are the first WRITERS threads; wait for them by count.
        while recorded.load(Ordering::SeqCst) < WRITERS * PER_WRITER {
            std::thread::sleep(Duration::from_millis(5));
        }
        done.store(true, Ordering::SeqCst);
    });
    let all = t.window(&h, whole);
    assert_eq!(all.count, WRITERS * PER_WRITER);
    assert!(t.stats().ticks > 0);
    t.stop();
}
