//! Slot reuse: when the last handle of a series drops (possibly on another
//! thread), its slots are zeroed in every block before they are handed out
//! again, while a neighbouring series in the same chunk keeps counting.
#![cfg(nanometrics_loom)]

use loom::thread;
use nanometrics::Registry;
use nanometrics_loom_tests::run_model;

#[test]
fn recreated_series_starts_at_zero() {
    run_model("recreated_series_starts_at_zero", || {
        let r = Registry::new();
        let f = r.counter_family("c_total", "c", &["k"]).unwrap();
        let x = f.with_labels(&["x"]).unwrap();
        let y = f.with_labels(&["y"]).unwrap();
        let t1 = {
            let x = x.clone();
            thread::spawn(move || {
                x.inc_by(5);
                // The last handle may be dropped here, on this thread: its
                // count parks here, and is released now rather than at the
                // thread's exit (which loom runs after `join` returns).
                drop(x);
                nanometrics::diagnostics::release_parked_handles();
            })
        };
        let t2 = {
            let y = y.clone();
            thread::spawn(move || y.inc_by(7))
        };
        assert!(f.remove(&["x"]));
        drop(x);
        nanometrics::diagnostics::release_parked_handles();
        t1.join().unwrap();
        // x's range is free (and zeroed); the new series gets it.
        let x2 = f.with_labels(&["x"]).unwrap();
        assert_eq!(x2.get(), 0);
        let t3 = {
            let x2 = x2.clone();
            thread::spawn(move || x2.inc())
        };
        t2.join().unwrap();
        t3.join().unwrap();
        assert_eq!(x2.get(), 1);
        assert_eq!(y.get(), 7);
    });
}

/// The same for a histogram whose removed series still has observations
/// staged (and, under loom's 2-value stage, one fold behind it): the
/// re-created series starts empty.
#[test]
fn recreated_histogram_starts_empty() {
    run_model("recreated_histogram_starts_empty", || {
        let r = Registry::new();
        let f = r
            .histogram_family("h", "h", &["k"], nanometrics::Buckets::explicit(vec![1.0]))
            .unwrap();
        let x = f.with_labels(&["x"]).unwrap();
        let t1 = {
            let x = x.clone();
            thread::spawn(move || {
                x.record(0.5);
                x.record(2.0);
                x.record(0.25);
                drop(x);
                nanometrics::diagnostics::release_parked_handles();
            })
        };
        assert!(f.remove(&["x"]));
        drop(x);
        nanometrics::diagnostics::release_parked_handles();
        t1.join().unwrap();
        let x2 = f.with_labels(&["x"]).unwrap();
        let s = x2.snapshot();
        assert_eq!((s.count, s.sum), (0, 0.0));
        let t2 = {
            let x2 = x2.clone();
            thread::spawn(move || x2.record(3.0))
        };
        t2.join().unwrap();
        let s = x2.snapshot();
        assert_eq!((s.count, s.sum, s.buckets[0].1), (1, 3.0, 0));
    });
}
