//! Invariants 1 and 3 for counters: never backwards, nothing lost at thread
//! exit (also from other thread-locals' destructors), exact final totals.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use nanometrics::{Registry, Value};

#[test]
fn counter_is_exact_after_many_short_lived_threads_and_never_backwards() {
    let r = Registry::new();
    let c = r
        .counter("churn_total", "Increments from short-lived threads.")
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (c, done, r) = (c.clone(), done.clone(), r.clone());
        thread::spawn(move || {
            let (mut last, mut last_snap, mut reads) = (0u64, 0u64, 0u64);
            while !done.load(Ordering::Acquire) {
                let v = c.get();
                assert!(v >= last, "counter went backwards: {last} -> {v}");
                last = v;
                let Value::Counter(s) = r.snapshot().families[0].series[0].value else {
                    panic!()
                };
                assert!(
                    s >= last_snap,
                    "snapshot went backwards: {last_snap} -> {s}"
                );
                last_snap = s;
                reads += 1;
            }
            reads
        })
    };
    // 2,000 threads, at most 8 alive at a time, each adding 1..=100.
    let mut expected = 0u64;
    for wave in 0..250u64 {
        let hs: Vec<_> = (0..8u64)
            .map(|i| {
                let c = c.clone();
                let n = (wave * 8 + i) % 100 + 1;
                expected += n * 10;
                thread::spawn(move || {
                    for _ in 0..10 {
                        c.inc_by(n);
                    }
                })
            })
            .collect();
        hs.into_iter().for_each(|h| h.join().unwrap());
    }
    done.store(true, Ordering::Release);
    let reads = reader.join().unwrap();
    assert!(reads > 0);
    assert_eq!(c.get(), expected);
}

#[test]
fn concurrent_increments_are_exact_with_a_concurrent_reader() {
    let r = Registry::new();
    let c = r.counter("hot_total", "Hot counter.").unwrap();
    let u = r.up_down_counter("level", "Up and down.").unwrap();
    let threads = 4;
    let per = 200_000u64;
    let start = Arc::new(Barrier::new(threads + 1));
    let hs: Vec<_> = (0..threads)
        .map(|t| {
            let (c, u, start) = (c.clone(), u.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                for i in 0..per {
                    c.inc();
                    if (i + t as u64) % 2 == 0 {
                        u.inc()
                    } else {
                        u.dec()
                    }
                }
            })
        })
        .collect();
    start.wait();
    let mut last = 0;
    while hs.iter().any(|h| !h.is_finished()) {
        let v = c.get();
        assert!(v >= last);
        last = v;
    }
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(c.get(), threads as u64 * per);
    assert_eq!(u.get(), 0);
}

struct IncOnDrop(nanometrics::Counter);

impl Drop for IncOnDrop {
    fn drop(&mut self) {
        self.0.inc_by(7);
    }
}

thread_local! {
    static LATE: std::cell::RefCell<Option<IncOnDrop>> = const { std::cell::RefCell::new(None) };
}

#[test]
fn increments_from_thread_local_destructors_are_not_lost() {
    let r = Registry::new();
    let c = r
        .counter("late_total", "Incremented during TLS teardown.")
        .unwrap();
    for i in 0..50 {
        let c2 = c.clone();
        thread::spawn(move || {
            // TLS destructors run in reverse order of registration. Half the
            // threads register `LATE` before our shard's TLS value (so it is
            // destroyed *after* the shard block is folded: the late path),
            // half after (the normal path). Either way the increment lands.
            if i % 2 == 0 {
                LATE.with(|l| *l.borrow_mut() = Some(IncOnDrop(c2.clone())));
                c2.inc();
            } else {
                c2.inc();
                LATE.with(|l| *l.borrow_mut() = Some(IncOnDrop(c2.clone())));
            }
        })
        .join()
        .unwrap();
    }
    assert_eq!(c.get(), 50 * 8);
}

#[test]
fn handles_are_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<nanometrics::Counter>();
    assert_send_sync::<nanometrics::Gauge>();
    assert_send_sync::<nanometrics::UpDownCounter>();
    assert_send_sync::<nanometrics::Histogram>();
    assert_send_sync::<nanometrics::Family<nanometrics::Counter>>();
    assert_send_sync::<Registry>();
    assert!(std::mem::size_of::<nanometrics::Counter>() <= 16);
}

#[test]
fn exited_threads_are_unlinked() {
    let r = Registry::new();
    let c = r.counter("unlink_total", "x").unwrap();
    let before = nanometrics::diagnostics::live_shard_threads();
    let hs: Vec<_> = (0..16)
        .map(|_| {
            let c = c.clone();
            thread::spawn(move || c.inc())
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    // Other tests run threads concurrently; ours must all be gone.
    assert!(
        nanometrics::diagnostics::live_shard_threads() <= before + 8,
        "thread blocks leaked"
    );
    assert_eq!(c.get(), 16);
}
