//! Invariant 2: every histogram snapshot is consistent; bucket boundaries
//! are exact; quantiles are within the documented error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use nanometrics::{Buckets, HistogramSnapshot, Registry, Value};

fn check_consistent(s: &HistogramSnapshot) {
    let last = *s.buckets.last().unwrap();
    assert_eq!(last.0, f64::INFINITY);
    assert_eq!(last.1, s.count, "+Inf bucket != count");
    for w in s.buckets.windows(2) {
        assert!(w[0].1 <= w[1].1, "buckets not cumulative: {:?}", s.buckets);
    }
}

/// Invariants 1 and 2 under load: eight writers (a counter byte of each
/// thread's shard carries into the shared wide counter every 256 records
/// into it), short-lived threads exiting, and a reader: every snapshot is
/// consistent, and the last one counts every record exactly once.
#[test]
fn snapshots_are_consistent_while_threads_record_and_exit() {
    let r = Registry::new();
    let h = r.histogram("lat_seconds", "x", Buckets::default()).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    // Writers record only 0.5 and 2.0, so a consistent snapshot has
    // sum == 0.5 * n_small + 2.0 * n_big, exactly (small integers in f64).
    let writers: Vec<_> = (0..8)
        .map(|t| {
            let (h, done) = (h.clone(), done.clone());
            thread::spawn(move || {
                let (mut n, mut helped) = (0u64, 0u64);
                while !done.load(Ordering::Relaxed) {
                    // Short-lived helper threads exercise exit folding too.
                    if n % 10_000 == 0 {
                        let h2 = h.clone();
                        thread::spawn(move || (0..300).for_each(|_| h2.record(0.5)))
                            .join()
                            .unwrap();
                        helped += 300;
                    }
                    h.record(if (n + t) % 3 == 0 { 2.0 } else { 0.5 });
                    n += 1;
                }
                n + helped
            })
        })
        .collect();
    let mut last_count = 0;
    for _ in 0..2_000 {
        let s = h.snapshot();
        check_consistent(&s);
        let le_1 = s.buckets.iter().find(|b| b.0 == 1.0).unwrap().1;
        let n_big = s.count - le_1;
        assert_eq!(
            s.sum,
            0.5 * le_1 as f64 + 2.0 * n_big as f64,
            "sum from another set of observations"
        );
        if s.count > 0 {
            assert_eq!(s.min, if le_1 > 0 { 0.5 } else { 2.0 });
            assert_eq!(s.max, if n_big > 0 { 2.0 } else { 0.5 });
        }
        assert!(s.count >= last_count, "count went backwards");
        last_count = s.count;
        let snap = r.snapshot();
        let Value::Histogram(s2) = &snap.families[0].series[0].value else {
            panic!()
        };
        check_consistent(s2);
    }
    done.store(true, Ordering::Relaxed);
    let recorded: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    let s = h.snapshot();
    check_consistent(&s);
    assert_eq!(s.count, recorded, "records lost or counted twice");
    assert!(recorded > 8 * 256, "too few records to carry: {recorded}");
}

#[test]
fn le_boundaries_are_exact() {
    let bounds = vec![-1.0, 0.0, 0.001, 0.0011, 0.1, 0.3, 1.0, 1.03, 7.0, 1e6];
    let r = Registry::new();
    let h = r
        .histogram("exact", "x", Buckets::explicit(bounds.clone()))
        .unwrap();
    let mut values = vec![
        f64::NEG_INFINITY,
        -2.0,
        -0.0,
        1e-300,
        f64::INFINITY,
        f64::MAX,
    ];
    for b in &bounds {
        values.push(*b);
        values.push(b.next_up());
        values.push(b.next_down());
    }
    for v in &values {
        h.record(*v);
    }
    let s = h.snapshot();
    for (bound, got) in &s.buckets {
        let want = values.iter().filter(|v| **v <= *bound).count() as u64;
        assert_eq!(*got, want, "le={bound}");
    }
    assert_eq!(s.min, f64::NEG_INFINITY);
    assert_eq!(s.max, f64::INFINITY);
}

#[test]
fn nan_observations_are_ignored() {
    let h = Registry::new()
        .histogram("nan", "x", Buckets::default())
        .unwrap();
    h.record(f64::NAN);
    h.record(1.0);
    let s = h.snapshot();
    assert_eq!((s.count, s.sum), (1, 1.0));
    let empty = Registry::new()
        .histogram("e", "x", Buckets::default())
        .unwrap()
        .snapshot();
    assert_eq!((empty.count, empty.sum), (0, 0.0));
    assert!(empty.min.is_nan() && empty.quantile(0.5).is_nan());
}

/// Deterministic xorshift so failures reproduce.
fn rng(seed: &mut u64) -> f64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    (*seed >> 11) as f64 / (1u64 << 53) as f64
}

#[test]
fn quantiles_are_within_five_percent() {
    for (buckets, scale) in [
        (Buckets::default(), 0.05),
        (Buckets::exponential(0.001, 2.0, 16), 0.01),
        (Buckets::linear(1.0, 1.0, 20), 5.0),
    ] {
        let h = Registry::new().histogram("q", "x", buckets).unwrap();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut vals: Vec<f64> = (0..50_000)
            .map(|_| {
                // Log-normal-ish: exp of a sum of uniforms.
                let z = (0..4).map(|_| rng(&mut seed)).sum::<f64>() - 2.0;
                scale * (1.5 * z).exp()
            })
            .collect();
        vals.iter().for_each(|v| h.record(*v));
        vals.sort_by(f64::total_cmp);
        let st = h.stats();
        let (lo, hi) = h.snapshot().precise_range();
        for q in [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0] {
            let exact = vals[((q * vals.len() as f64).ceil() as usize).clamp(1, vals.len()) - 1];
            if exact < lo || exact >= hi {
                continue;
            }
            let est = st.quantile(q);
            let err = (est - exact).abs() / exact;
            assert!(
                err <= 0.05,
                "q={q}: estimate {est}, exact {exact}, error {err}"
            );
        }
        assert_eq!(st.quantile(0.0), vals[0]);
        assert_eq!(st.quantile(1.0), *vals.last().unwrap());
        assert!((st.mean - vals.iter().sum::<f64>() / vals.len() as f64).abs() < 1e-9 * st.mean);
    }
}

#[test]
fn timer_records_elapsed_seconds() {
    let h = Registry::new()
        .histogram("t", "x", Buckets::default())
        .unwrap();
    {
        let _t = h.start_timer();
        thread::sleep(std::time::Duration::from_millis(20));
    }
    h.start_timer().stop_and_discard();
    let s = h.snapshot();
    assert_eq!(s.count, 1);
    assert!(s.sum >= 0.02 && s.sum < 5.0, "sum {}", s.sum);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Classic bucket counts equal a naive `v <= bound` count for arbitrary
    /// bounds and values, and the snapshot is consistent.
    #[test]
    fn buckets_match_naive_counting(
        mut bounds in proptest::collection::vec(-1e4f64..1e4, 0..30),
        values in proptest::collection::vec(proptest::num::f64::ANY, 0..200),
    ) {
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let r = Registry::new();
        let h = r.histogram("p", "x", Buckets::explicit(bounds)).unwrap();
        values.iter().for_each(|v| h.record(*v));
        let s = h.snapshot();
        check_consistent(&s);
        let kept: Vec<f64> = values.into_iter().filter(|v| !v.is_nan()).collect();
        proptest::prop_assert_eq!(s.count, kept.len() as u64);
        for (bound, got) in &s.buckets {
            let want = kept.iter().filter(|v| **v <= *bound).count() as u64;
            proptest::prop_assert_eq!(*got, want, "le={}", bound);
        }
        if !kept.is_empty() {
            let min = kept.iter().copied().fold(f64::INFINITY, f64::min);
            let max = kept.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            proptest::prop_assert_eq!((s.min, s.max), (min, max));
        }
    }
}

// A thread's observations are staged (16 per series) and folded into its
// counters when the stage fills. The tests below take every path a staged
// observation can take: read while staged, folded, folded at thread exit,
// recorded after the thread's storage is gone, dropped with its series.

/// Snapshot after every record: each observation counts at once, whether it
/// is still staged or already folded, with exact sum, min, max and buckets.
#[test]
fn every_observation_counts_at_once_staged_or_folded() {
    let r = Registry::new();
    let h = r
        .histogram("staged", "x", Buckets::explicit(vec![10.0, 20.0]))
        .unwrap();
    for i in 1..=50u64 {
        // 1, 2, ..., 50 in a scrambled order (7 is coprime to 50).
        h.record(((i * 7) % 50 + 1) as f64);
        let s = h.snapshot();
        check_consistent(&s);
        let seen: Vec<f64> = (1..=i).map(|j| ((j * 7) % 50 + 1) as f64).collect();
        assert_eq!(s.count, i);
        assert_eq!(s.sum, seen.iter().sum::<f64>(), "after {i} records");
        assert_eq!(s.min, seen.iter().copied().fold(f64::INFINITY, f64::min));
        assert_eq!(s.max, seen.iter().copied().fold(0.0, f64::max));
        let le = |b: f64| seen.iter().filter(|v| **v <= b).count() as u64;
        assert_eq!(
            s.buckets,
            vec![(10.0, le(10.0)), (20.0, le(20.0)), (f64::INFINITY, i)]
        );
    }
}

/// Threads that exit with observations staged (fewer than a stage, a stage
/// exactly, folded plus staged) lose none of them.
#[test]
fn observations_staged_by_exiting_threads_are_kept() {
    let r = Registry::new();
    let h = r
        .histogram("exit_staged", "x", Buckets::explicit(vec![1.0]))
        .unwrap();
    let mut want = 0u64;
    for n in [1u64, 5, 15, 16, 17, 33, 40] {
        let h2 = h.clone();
        thread::spawn(move || (0..n).for_each(|k| h2.record(if k % 2 == 0 { 0.5 } else { 2.0 })))
            .join()
            .unwrap();
        want += n;
        let s = h.snapshot();
        check_consistent(&s);
        assert_eq!(s.count, want, "after a thread that recorded {n}");
        let le_1 = s.buckets[0].1;
        assert_eq!(s.sum, 0.5 * le_1 as f64 + 2.0 * (want - le_1) as f64);
    }
    assert_eq!((h.snapshot().min, h.snapshot().max), (0.5, 2.0));
}

struct RecordOnDrop(nanometrics::Histogram);

impl Drop for RecordOnDrop {
    fn drop(&mut self) {
        // More than a stage: the late path stages and folds too.
        (0..20).for_each(|_| self.0.record(0.25));
    }
}

thread_local! {
    static LATE_RECORD: std::cell::RefCell<Option<RecordOnDrop>> =
        const { std::cell::RefCell::new(None) };
}

/// Records made from another thread-local's destructor, before or after the
/// thread's shard storage is gone, all count.
#[test]
fn observations_from_thread_local_destructors_are_kept() {
    let r = Registry::new();
    let h = r.histogram("late", "x", Buckets::default()).unwrap();
    for i in 0..20 {
        let h2 = h.clone();
        thread::spawn(move || {
            // As in counter_invariants: registering `LATE_RECORD` before or
            // after the shard's TLS value picks the late or the normal path.
            if i % 2 == 0 {
                LATE_RECORD.with(|l| *l.borrow_mut() = Some(RecordOnDrop(h2.clone())));
                h2.record(0.25);
            } else {
                h2.record(0.25);
                LATE_RECORD.with(|l| *l.borrow_mut() = Some(RecordOnDrop(h2.clone())));
            }
        })
        .join()
        .unwrap();
    }
    let s = h.snapshot();
    check_consistent(&s);
    assert_eq!(s.count, 20 * 21);
    assert_eq!(s.sum, 0.25 * (20 * 21) as f64);
}

/// A removed series' staged observations do not leak into the series that
/// later reuses its storage.
#[test]
fn a_recreated_series_starts_empty_even_with_observations_staged() {
    let r = Registry::new();
    let f = r
        .histogram_family("per_model", "x", &["model"], Buckets::default())
        .unwrap();
    let h = f.with_labels(&["a"]).unwrap();
    (0..21).for_each(|_| h.record(3.0)); // one fold, 5 staged
    assert_eq!(h.snapshot().count, 21);
    drop(h);
    assert!(f.remove(&["a"]));
    let h = f.with_labels(&["a"]).unwrap();
    let s = h.snapshot();
    assert_eq!((s.count, s.sum), (0, 0.0));
    h.record(1.0);
    let s = h.snapshot();
    assert_eq!((s.count, s.sum, s.min, s.max), (1, 1.0, 1.0, 1.0));
}

/// Min and max order -0.0 below +0.0, whatever the order of recording and
/// whether the zeros are staged together or folded apart.
#[test]
fn signed_zeros_keep_their_order_in_min_and_max() {
    let r = Registry::new();
    for (i, (first, second)) in [(0.0, -0.0), (-0.0, 0.0)].into_iter().enumerate() {
        for gap in [0, 20] {
            let h = r
                .histogram(&format!("zeros_{i}_{gap}"), "x", Buckets::default())
                .unwrap();
            h.record(first);
            (0..gap).for_each(|_| h.record(first)); // a fold between the zeros
            h.record(second);
            let s = h.snapshot();
            assert!(s.min == 0.0 && s.min.is_sign_negative(), "min {:?}", s.min);
            assert!(s.max == 0.0 && s.max.is_sign_positive(), "max {:?}", s.max);
        }
    }
}

/// `_sum` of non-negative observations never goes down between two reads,
/// also when a thread's exit changes the order of the `f64` additions: with
/// 0.217 in the retired total, 0.423 on thread A and 0.03 on thread B (A's
/// shard first), a read sums (0.217 + 0.423) + 0.03 = 0.67; after B exits,
/// (0.217 + 0.03) + 0.423 = 0.6699999999999999. Prometheus would read that
/// drop as a counter reset.
#[test]
fn sum_of_non_negative_observations_never_goes_down_across_exits() {
    use std::sync::mpsc::channel;
    let (c, a, b) = (0.217, 0.423, 0.03);
    assert!(
        (c + b) + a < (c + a) + b,
        "the values no longer show the effect"
    );
    let r = Registry::new();
    let h = r.histogram("reordered", "x", Buckets::default()).unwrap();
    let h2 = h.clone();
    thread::spawn(move || h2.record(c)).join().unwrap();
    // A thread that records `v`, says so, and exits when told to.
    let start = |v: f64| {
        let (h, (ready_tx, ready), (stop, stop_rx)) = (h.clone(), channel(), channel::<()>());
        let t = thread::spawn(move || {
            h.record(v);
            ready_tx.send(()).unwrap();
            let _ = stop_rx.recv();
        });
        ready.recv().unwrap();
        (t, stop)
    };
    let (ta, stop_a) = start(a); // A's shard is linked before B's
    let (tb, stop_b) = start(b);
    let before = h.snapshot().sum;
    assert_eq!(before, (c + a) + b);
    drop(stop_b);
    tb.join().unwrap();
    let after = h.snapshot();
    assert_eq!(after.count, 3);
    assert!(
        after.sum >= before,
        "sum went down: {before:?} -> {:?}",
        after.sum
    );
    drop(stop_a);
    ta.join().unwrap();
    assert!(h.snapshot().sum >= before);
    // The mark hides nothing: a sum lost at an exit would show here (0.64 +
    // 1.0 instead of about 1.67).
    h.record(1.0);
    let s = h.snapshot();
    assert_eq!(s.count, 4);
    assert!((s.sum - (c + a + b + 1.0)).abs() < 1e-12, "sum {:?}", s.sum);
}

/// With a negative observation `_sum` is not a counter: it goes down when
/// the observations say so, and is reported as it is.
#[test]
fn sum_with_negative_observations_is_reported_as_is() {
    let r = Registry::new();
    let h = r.histogram("signed", "x", Buckets::default()).unwrap();
    h.record(5.0);
    assert_eq!(h.snapshot().sum, 5.0);
    h.record(-2.0);
    assert_eq!(h.snapshot().sum, 3.0);
}

/// Reads finish and are exact while writers carry as fast as they can:
/// two threads record one value (each thread's byte for its counter
/// carries every 256 records) with no pause, and a reader takes at least
/// 500 snapshots; each must count every value once (sum == 0.5 × count).
#[test]
fn reads_finish_while_writers_carry_into_one_counter() {
    let r = Registry::new();
    let h = r
        .histogram("hot_seconds", "x", Buckets::explicit(vec![1.0]))
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (h, done) = (h.clone(), done.clone());
            thread::spawn(move || {
                let mut n = 0u64;
                while !done.load(Ordering::Relaxed) {
                    h.record(0.5);
                    n += 1;
                }
                n
            })
        })
        .collect();
    // At least 500 reads, and on until the writers have carried many times.
    let (mut last, mut reads) = (0, 0);
    while reads < 500 || last < 100 * 256 {
        let s = h.snapshot();
        check_consistent(&s);
        assert_eq!(s.sum, 0.5 * s.count as f64, "{s:?}");
        assert_eq!(s.buckets[0].1, s.count);
        assert!(s.count >= last);
        last = s.count;
        reads += 1;
    }
    done.store(true, Ordering::Relaxed);
    let n: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(h.snapshot().count, n);
}
