//! Histogram shard consistency: a snapshot taken while another thread
//! records shows count, buckets, sum, min and max of the same observations.
#![cfg(nanometrics_loom)]

use loom::thread;
use nanometrics::{Buckets, Registry};
use nanometrics_loom_tests::run_model;

#[test]
fn snapshot_during_record_is_consistent() {
    run_model("snapshot_during_record_is_consistent", || {
        let r = Registry::new();
        let h = r.histogram("h", "h", Buckets::explicit(vec![1.0])).unwrap();
        let w = h.clone();
        let t = thread::spawn(move || {
            w.record(0.5);
            w.record(3.0);
        });
        let s = h.snapshot();
        assert_eq!(s.buckets.last().unwrap().1, s.count);
        match s.count {
            0 => assert_eq!(s.sum, 0.0),
            1 => {
                assert_eq!(s.buckets[0].1, 1);
                assert_eq!((s.sum, s.min, s.max), (0.5, 0.5, 0.5));
            }
            2 => {
                assert_eq!(s.buckets[0].1, 1);
                assert_eq!((s.sum, s.min, s.max), (3.5, 0.5, 3.0));
            }
            n => panic!("count {n}"),
        }
        t.join().unwrap();
        let s = h.snapshot();
        assert_eq!((s.count, s.sum), (2, 3.5));
    });
}

/// Under loom a shard stages 2 observations, so the third record folds the
/// stage into the counters (under the seqlock) and stages itself, and the
/// fourth stages outside the seqlock into a slot the fold just emptied: a
/// snapshot racing with them must still see a prefix of the observations,
/// whole (never a staged value twice, or one from after the fold beside
/// the stage it replaced).
#[test]
fn snapshot_during_fold_is_consistent() {
    run_model("snapshot_during_fold_is_consistent", || {
        let r = Registry::new();
        let h = r.histogram("h", "h", Buckets::explicit(vec![1.0])).unwrap();
        let w = h.clone();
        let t = thread::spawn(move || {
            w.record(0.5);
            w.record(3.0);
            w.record(0.25);
            w.record(2.0);
        });
        let s = h.snapshot();
        assert_eq!(s.buckets.last().unwrap().1, s.count);
        let want = match s.count {
            0 => (0, 0.0, f64::NAN, f64::NAN),
            1 => (1, 0.5, 0.5, 0.5),
            2 => (1, 3.5, 0.5, 3.0),
            3 => (2, 3.75, 0.25, 3.0),
            4 => (2, 5.75, 0.25, 3.0),
            n => panic!("count {n}"),
        };
        assert_eq!(s.buckets[0].1, want.0, "{s:?}");
        assert_eq!(s.sum, want.1);
        if s.count > 0 {
            assert_eq!((s.min, s.max), (want.2, want.3));
        }
        t.join().unwrap();
        let s = h.snapshot();
        assert_eq!((s.count, s.sum, s.min, s.max), (4, 5.75, 0.25, 3.0));
    });
}
