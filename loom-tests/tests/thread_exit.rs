//! Thread-exit folding: while threads exit (their TLS destructor folds their
//! block into the retired totals), a reader counts every increment exactly
//! once: never backwards, never double.
#![cfg(nanometrics_loom)]

use loom::thread;
use nanometrics::Registry;
use nanometrics_loom_tests::run_model;

#[test]
fn exit_folds_exactly_once() {
    run_model("exit_folds_exactly_once", || {
        let r = Registry::new();
        let c = r.counter("c_total", "c").unwrap();
        let (c1, c2) = (c.clone(), c.clone());
        let t1 = thread::spawn(move || c1.inc_by(1));
        let t2 = thread::spawn(move || c2.inc_by(10));
        let a = c.get();
        let b = c.get();
        assert!(a <= b, "went backwards: {a} -> {b}");
        assert!([0, 1, 10, 11].contains(&b), "double or torn count {b}");
        t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(c.get(), 11);
    });
}

/// A histogram observation still staged when its thread exits is folded
/// into the retired totals exactly once.
#[test]
fn exit_folds_staged_histogram_observations_once() {
    run_model("exit_folds_staged_histogram_observations_once", || {
        let r = Registry::new();
        let h = r
            .histogram("h", "h", nanometrics::Buckets::explicit(vec![1.0]))
            .unwrap();
        let w = h.clone();
        let t = thread::spawn(move || w.record(2.0));
        let a = h.snapshot();
        let b = h.snapshot();
        assert!(a.count <= b.count, "went backwards");
        assert!(b.count <= 1, "counted twice: {b:?}");
        assert_eq!(b.sum, 2.0 * b.count as f64);
        t.join().unwrap();
        let s = h.snapshot();
        assert_eq!((s.count, s.sum, s.buckets[0].1), (1, 2.0, 0));
    });
}

/// A thread whose shard has carried into the wide counters exits: its
/// fold moves the narrow counts and its carried total to the retired part
/// in one critical section, so a reader counts each value once.
#[test]
fn exit_folds_carried_histogram_observations_once() {
    run_model("exit_folds_carried_histogram_observations_once", || {
        let r = Registry::new();
        let h = r
            .histogram("h", "h", nanometrics::Buckets::explicit(vec![1.0]))
            .unwrap();
        let w = h.clone();
        // The third record folds the first two (one carry) and stages itself.
        let t = thread::spawn(move || (0..3).for_each(|_| w.record(0.5)));
        let a = h.snapshot();
        let b = h.snapshot();
        assert!(a.count <= b.count, "went backwards");
        assert!(b.count <= 3, "counted twice: {b:?}");
        assert_eq!(b.sum, 0.5 * b.count as f64, "{b:?}");
        t.join().unwrap();
        let s = h.snapshot();
        assert_eq!((s.count, s.sum, s.buckets[0].1), (3, 1.5, 3));
    });
}
