//! Histogram shard consistency: a snapshot taken while another thread
//! records shows count, buckets, sum, min and max of the same observations,
//! a prefix of what was recorded, whether the values were still staged or
//! being folded into the counters.
#![cfg(nanometrics_loom)]

use loom::thread;
use nanometrics::{Buckets, HistogramSnapshot, Registry};
use nanometrics_loom_tests::run_model;

/// One thread records `values` into a histogram with a bound at 1.0 while
/// this one takes a snapshot; the snapshot must describe exactly the first
/// `count` values, and one taken after the join all of them.
fn snapshot_while_recording(values: &'static [f64]) {
    let r = Registry::new();
    let h = r.histogram("h", "h", Buckets::explicit(vec![1.0])).unwrap();
    let w = h.clone();
    let t = thread::spawn(move || values.iter().for_each(|v| w.record(*v)));
    check_prefix(&h.snapshot(), values);
    t.join().unwrap();
    let s = h.snapshot();
    assert_eq!(s.count, values.len() as u64);
    check_prefix(&s, values);
}

fn check_prefix(s: &HistogramSnapshot, values: &[f64]) {
    assert!(s.count as usize <= values.len(), "count {}", s.count);
    let seen = &values[..s.count as usize];
    assert_eq!(s.buckets.last().unwrap().1, s.count);
    let le_1 = seen.iter().filter(|v| **v <= 1.0).count() as u64;
    assert_eq!(s.buckets[0].1, le_1, "{s:?}");
    // In recording order: the same rounding as the writer's.
    assert_eq!(s.sum, seen.iter().fold(0.0, |a, v| a + v), "{s:?}");
    if !seen.is_empty() {
        let min = seen.iter().copied().fold(f64::INFINITY, f64::min);
        let max = seen.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!((s.min, s.max), (min, max), "{s:?}");
    }
}

/// Two records fill loom's 2-value stage: the snapshot races the stores of
/// a value and of the stage length.
#[test]
fn snapshot_during_record_is_consistent() {
    run_model("snapshot_during_record_is_consistent", || {
        snapshot_while_recording(&[0.5, 3.0]);
    });
}

/// The third record folds the stage into the counters (under the seqlock)
/// and stages itself, and the fourth stages outside the seqlock into a slot
/// the fold just emptied: the snapshot must never count a staged value twice,
/// or one from after the fold beside the stage it replaced.
#[test]
fn snapshot_during_fold_is_consistent() {
    run_model("snapshot_during_fold_is_consistent", || {
        snapshot_while_recording(&[0.5, 3.0, 0.25, 2.0]);
    });
}

/// Under loom a narrow counter carries at 2: the third record folds two
/// values of one cell, and the second of them carries into the series'
/// wide counter (allocating its page) inside the seqlock. A snapshot that
/// copied the shard before that fold and reads the wide counter after it
/// would count the carried values twice; it must start again instead.
#[test]
fn snapshot_during_carry_is_consistent() {
    run_model("snapshot_during_carry_is_consistent", || {
        snapshot_while_recording(&[0.5, 0.75, 0.625]);
    });
}

/// Two threads carry into the same wide counter, racing to allocate its
/// page (both values are in one loom cell): one page wins, the other is
/// freed, and no carry is lost. (A reader racing a carry is the model
/// above; all three at once is beyond loom's budget here.)
#[test]
fn concurrent_carries_into_one_wide_counter() {
    run_model("concurrent_carries_into_one_wide_counter", || {
        let r = Registry::new();
        let h = r.histogram("h", "h", Buckets::explicit(vec![1.0])).unwrap();
        let spawn = |v: f64| {
            let w = h.clone();
            // Three records: the third folds the first two, which carry.
            thread::spawn(move || (0..3).for_each(|_| w.record(v)))
        };
        let (t1, t2) = (spawn(0.5), spawn(0.875));
        t1.join().unwrap();
        t2.join().unwrap();
        let s = h.snapshot();
        assert_eq!((s.count, s.sum, s.buckets[0].1), (6, 4.125, 6));
    });
}
