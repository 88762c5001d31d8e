//! Windows against brute force: a manual ticker takes every tick, the test
//! keeps every value it recorded per tick, and each window must equal the
//! same statistics computed over the values of the ticks its span covers.

use std::time::Duration;

use nanometrics::realtime::Ticker;
use nanometrics::{Buckets, Registry};

const TICK: Duration = Duration::from_millis(100);

/// A small deterministic generator (xorshift*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Log-uniform in [1e-4, 20): latencies across the default buckets.
    fn latency(&mut self) -> f64 {
        1e-4 * (2e5f64).powf(self.unit())
    }
}

fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()) + 1e-12
}

#[test]
fn histogram_windows_match_brute_force() {
    let r = Registry::new();
    let h = r.histogram("lat_seconds", "x", Buckets::default()).unwrap();
    let t = Ticker::manual(TICK);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Values before tracking starts belong to no window.
    for _ in 0..50 {
        h.observe(rng.latency() * 3.0);
    }
    assert_eq!(t.window(&h, Duration::from_secs(60)).count, 0);
    let mut per_tick: Vec<Vec<f64>> = Vec::new();
    let mut checked = 0;
    for tick in 0..120 {
        let n = (rng.next() % 40) as usize + if tick % 17 == 0 { 0 } else { 1 };
        let vals: Vec<f64> = (0..n).map(|_| rng.latency()).collect();
        // Two threads record this tick's values.
        let (a, b) = vals.split_at(n / 2);
        std::thread::scope(|s| {
            let h1 = h.clone();
            s.spawn(move || a.iter().for_each(|v| h1.observe(*v)));
            b.iter().for_each(|v| h.observe(*v));
        });
        per_tick.push(vals);
        // Half the time the window is asked before the tick: the values
        // recorded since the last tick count too.
        let before_tick = tick % 2 == 0;
        if !before_tick {
            t.advance(1);
        }
        for w_ticks in [1u32, 3, 10, 25, 60] {
            let w = t.window(&h, TICK * w_ticks);
            // Ticks taken so far; each one sampled one iteration's values.
            let done = if before_tick { tick } else { tick + 1 };
            // The span is whole ticks: what was asked, or what is tracked.
            let covered = (w_ticks as usize).min(done);
            assert_eq!(
                w.span,
                TICK * covered as u32,
                "tick {tick}, window {w_ticks}"
            );
            // The values of the iterations those ticks sampled, and (before
            // this iteration's tick) this iteration's, read since.
            let first = done - covered;
            let mut vals: Vec<f64> = per_tick[first..=tick].iter().flatten().copied().collect();
            vals.sort_by(f64::total_cmp);
            let ctx = format!("tick {tick}, window {w_ticks}, {} values", vals.len());
            assert_eq!(w.count, vals.len() as u64, "{ctx}");
            let sum: f64 = vals.iter().sum();
            assert!(close(w.sum, sum, 1e-9), "{ctx}: sum {} vs {sum}", w.sum);
            if w.span > Duration::ZERO {
                let rate = vals.len() as f64 / w.span.as_secs_f64();
                assert!(close(w.rate_per_sec, rate, 1e-12), "{ctx}");
            }
            if vals.is_empty() {
                assert!(w.min.is_nan() && w.max.is_nan() && w.mean.is_nan(), "{ctx}");
                continue;
            }
            assert!(close(w.mean, sum / vals.len() as f64, 1e-9), "{ctx}");
            let (lo, hi) = (vals[0], vals[vals.len() - 1]);
            // Bounds: never inside the observations, and within one piece
            // (1/16 of an octave) where the grid is.
            let (g_lo, g_hi) = w.histogram().precise_range();
            let inside = |v: f64| v >= g_lo && v < g_hi;
            assert!(w.min <= lo, "{ctx}: min {} vs {lo}", w.min);
            assert!(w.max >= hi, "{ctx}: max {} vs {hi}", w.max);
            if inside(lo) {
                assert!(w.min >= lo * 16.0 / 17.0, "{ctx}: min {} vs {lo}", w.min);
            }
            if inside(hi) {
                assert!(w.max <= hi * 17.0 / 16.0, "{ctx}: max {} vs {hi}", w.max);
            }
            for q in [0.1, 0.5, 0.9, 0.99] {
                let want = nearest_rank(&vals, q);
                let got = w.quantile(q);
                if inside(want) {
                    assert!(close(got, want, 0.05), "{ctx}: q{q} {got} vs {want}");
                }
            }
            checked += 1;
        }
        if before_tick {
            t.advance(1);
        }
    }
    assert!(checked > 500, "{checked} non-empty windows checked");
}

#[test]
fn counter_windows_match_brute_force_and_resets_count_from_zero() {
    let r = Registry::new();
    let c = r.counter("c_total", "x").unwrap();
    let f = r.float_counter("f_total", "x").unwrap();
    let u = r.up_down_counter("u", "x").unwrap();
    let t = Ticker::manual(TICK);
    c.inc_by(1000);
    t.window(&c, Duration::from_secs(10));
    t.window(&f, Duration::from_secs(10));
    t.window(&u, Duration::from_secs(10));
    let mut rng = Rng(7);
    let mut incs = Vec::new();
    let mut fincs = Vec::new();
    let mut moves = Vec::new();
    for tick in 0..80usize {
        let n = rng.next() % 100;
        c.inc_by(n);
        incs.push(n as f64);
        // A float counter reset every 13 ticks: the increase since the
        // reset is what counts, never a drop.
        let x = (rng.next() % 50) as f64 / 4.0;
        if tick % 13 == 5 {
            f.reset();
        }
        f.inc_by(x);
        fincs.push(x);
        let m = (rng.next() % 21) as i64 - 10;
        u.add(m);
        moves.push(m as f64);
        t.advance(1);
        for k in [1usize, 4, 30] {
            let covered = k.min(tick + 1);
            let first = tick + 1 - covered;
            let w = t.window(&c, TICK * k as u32);
            assert_eq!(w.span, TICK * covered as u32);
            assert_eq!(
                w.delta,
                incs[first..].iter().sum::<f64>(),
                "tick {tick} k {k}"
            );
            assert!(close(w.rate_per_sec, w.delta / w.span.as_secs_f64(), 1e-12));
            let wf = t.window(&f, TICK * k as u32);
            assert!(wf.delta >= 0.0);
            let want: f64 = fincs[first..].iter().sum();
            assert!(
                close(wf.delta, want, 1e-9),
                "tick {tick} k {k}: {} vs {want}",
                wf.delta
            );
            let wu = t.window(&u, TICK * k as u32);
            assert_eq!(
                wu.delta,
                moves[first..].iter().sum::<f64>(),
                "tick {tick} k {k}"
            );
        }
    }
}

#[test]
fn gauge_windows_are_over_the_samples() {
    let r = Registry::new();
    let g = r.gauge("g", "x").unwrap();
    let t = Ticker::manual(TICK);
    let mut samples = vec![0.0];
    t.window(&g, Duration::from_secs(1));
    let mut rng = Rng(11);
    for tick in 0..40usize {
        let v = (rng.next() % 1000) as f64 - 500.0;
        g.set(v);
        samples.push(v);
        t.advance(1);
        // Between ticks the gauge moves again: the current value counts.
        let now = v + 0.5;
        g.set(now);
        let w = t.window(&g, TICK * 5);
        // The samples at or after the window's start, then the current value.
        let inside: Vec<f64> = samples[(tick + 1).saturating_sub(5)..]
            .iter()
            .copied()
            .chain([now])
            .collect();
        assert_eq!(w.samples, inside.len(), "tick {tick}");
        assert_eq!(w.last, now);
        assert_eq!(w.min, inside.iter().copied().fold(f64::INFINITY, f64::min));
        assert_eq!(
            w.max,
            inside.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        );
        assert!(close(
            w.mean,
            inside.iter().sum::<f64>() / inside.len() as f64,
            1e-12
        ));
        g.set(v);
    }
}

#[test]
fn a_watched_series_removed_and_recreated_counts_as_a_reset() {
    let r = Registry::new();
    let fam = r.counter_family("jobs_total", "x", &["queue"]).unwrap();
    let t = Ticker::manual(TICK);
    let sub = r
        .watch("jobs_total")
        .unwrap()
        .ticker(&t)
        .window(TICK * 10)
        .subscribe()
        .unwrap();
    fam.with_labels(&["a"]).unwrap().inc_by(50);
    t.advance(1);
    fam.with_labels(&["a"]).unwrap().inc_by(30);
    t.advance(1);
    // Removed and re-created between two ticks: a new series, at 5.
    assert!(fam.remove(&["a"]));
    fam.with_labels(&["a"]).unwrap().inc_by(5);
    t.advance(1);
    // Removed for a tick, then back at 2.
    assert!(fam.remove(&["a"]));
    t.advance(1);
    fam.with_labels(&["a"]).unwrap().inc_by(2);
    t.advance(1);
    let frames: Vec<_> = std::iter::from_fn(|| sub.try_recv()).collect();
    assert_eq!(frames.len(), 5);
    let deltas: Vec<Option<f64>> = frames
        .iter()
        .map(|f| {
            f.series.first().map(|s| match &s.window {
                nanometrics::realtime::WindowValue::Counter(c) => c.delta,
                other => panic!("{other:?}"),
            })
        })
        .collect();
    // Created after the watch started: 50 is new; then +30, +5 (a new
    // series: from zero), absent, +2 (back: from zero).
    assert_eq!(
        deltas,
        [Some(50.0), Some(80.0), Some(85.0), None, Some(87.0)]
    );
    let seqs: Vec<u64> = frames.iter().map(|f| f.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
}

#[test]
fn a_watched_gauge_counts_each_sample_once() {
    let r = Registry::new();
    let g = r.gauge("g", "x").unwrap();
    g.set(1.0);
    let t = Ticker::manual(TICK);
    let sub = r
        .watch("g")
        .unwrap()
        .ticker(&t)
        .window(TICK * 10)
        .subscribe()
        .unwrap();
    for v in [2.0, 3.0] {
        g.set(v);
        t.advance(1);
    }
    let last = std::iter::from_fn(|| sub.try_recv()).last().unwrap();
    match &last.series[0].window {
        nanometrics::realtime::WindowValue::Gauge(w) => {
            // The samples at the watch's start and at the two ticks.
            assert_eq!(
                (w.samples, w.mean, w.min, w.max, w.last),
                (3, 2.0, 1.0, 3.0, 3.0)
            );
            assert_eq!(w.span, TICK * 2);
        }
        other => panic!("{other:?}"),
    }
}
