//! [`HistogramSnapshot`] and [`Stats`]: a consistent read of one
//! histogram — classic cumulative buckets, count, sum, min, max — and
//! quantiles estimated from its layout's pieces.

use std::fmt;
use std::sync::Arc as StdArc;

use crate::bucket_layout::Layout;
use crate::shard::staging::HistRaw;

/// A consistent read of a histogram.
#[derive(Clone)]
///
/// ```
/// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::explicit(vec![1.0, 2.0]))?;
/// h.observe(1.5);
/// let s = h.snapshot();
/// assert_eq!((s.count, s.sum, s.min, s.max), (1, 1.5, 1.5, 1.5));
/// assert_eq!(s.buckets, vec![(1.0, 0), (2.0, 1), (f64::INFINITY, 1)]);
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub struct HistogramSnapshot {
    /// Number of observations.
    pub count: u64,
    /// Sum of observations. While none is negative it never reads lower than
    /// an earlier snapshot of the series did (a thread's exit reorders the
    /// `f64` additions, which can lose an ulp; Prometheus would read the
    /// drop in `_sum` as a reset).
    pub sum: f64,
    /// Smallest observation (NaN when `count == 0`).
    pub min: f64,
    /// Largest observation (NaN when `count == 0`).
    pub max: f64,
    /// Cumulative `(upper bound, count)`; the last bound is `f64::INFINITY`
    /// and its count equals `count`.
    pub buckets: Vec<(f64, u64)>,
    layout: StdArc<Layout>,
    pieces: Vec<u64>,
}

impl fmt::Debug for HistogramSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HistogramSnapshot")
            .field("count", &self.count)
            .field("sum", &self.sum)
            .field("min", &self.min)
            .field("max", &self.max)
            .field("buckets", &self.buckets)
            .finish()
    }
}

impl PartialEq for HistogramSnapshot {
    fn eq(&self, o: &Self) -> bool {
        self.count == o.count
            && self.sum.to_bits() == o.sum.to_bits()
            && self.buckets == o.buckets
            && self.pieces == o.pieces
    }
}

impl HistogramSnapshot {
    pub(crate) fn from_raw(layout: &StdArc<Layout>, raw: HistRaw) -> HistogramSnapshot {
        let pieces = layout.piece_counts(&raw.counts);
        let (min, max) = (raw.min().unwrap_or(f64::NAN), raw.max().unwrap_or(f64::NAN));
        HistogramSnapshot::from_pieces(layout, pieces, raw.sum, min, max)
    }

    /// A snapshot of the observations counted by `pieces` (one count per
    /// piece of `layout`), whose sum, min and max are given; an empty one
    /// reports sum 0 and NaN min and max whatever they are.
    pub(crate) fn from_pieces(
        layout: &StdArc<Layout>,
        pieces: Vec<u64>,
        sum: f64,
        min: f64,
        max: f64,
    ) -> HistogramSnapshot {
        let bounds = layout.finite_bounds();
        let mut classic = vec![0u64; bounds.len() + 1];
        for (p, c) in layout.pieces().iter().zip(&pieces) {
            classic[p.classic as usize] = classic[p.classic as usize].wrapping_add(*c);
        }
        let mut cum = 0u64;
        let buckets: Vec<(f64, u64)> = bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(classic)
            .map(|(b, c)| {
                cum = cum.wrapping_add(c);
                (b, cum)
            })
            .collect();
        let (sum, min, max) = if cum == 0 {
            (0.0, f64::NAN, f64::NAN)
        } else {
            (sum, min, max)
        };
        HistogramSnapshot {
            count: cum,
            sum,
            min,
            max,
            buckets,
            layout: layout.clone(),
            pieces,
        }
    }

    /// A snapshot of observations known only by their classic buckets
    /// (`per_bucket[i]` in the `i`-th bucket of `layout`, `+Inf` last) and
    /// their sum: each finite bucket's count goes to its last piece (the
    /// one that ends at its bound), the `+Inf` bucket's to its first (the
    /// one that starts at the last bound), and min and max are unknown
    /// (NaN).
    pub(crate) fn from_classic(
        layout: &StdArc<Layout>,
        per_bucket: &[u64],
        sum: f64,
    ) -> HistogramSnapshot {
        let finite = layout.finite_bounds().len();
        let mut pieces = vec![0u64; layout.pieces().len()];
        let mut chosen = vec![None::<usize>; finite + 1];
        for (i, p) in layout.pieces().iter().enumerate() {
            let c = p.classic as usize;
            if c < finite || chosen[c].is_none() {
                chosen[c] = Some(i);
            }
        }
        for (c, piece) in chosen.into_iter().enumerate() {
            if let Some(i) = piece {
                pieces[i] = per_bucket.get(c).copied().unwrap_or(0);
            }
        }
        HistogramSnapshot::from_pieces(layout, pieces, sum, f64::NAN, f64::NAN)
    }

    /// An empty snapshot of `layout`.
    pub(crate) fn empty(layout: &StdArc<Layout>) -> HistogramSnapshot {
        let n = layout.pieces().len();
        HistogramSnapshot::from_pieces(layout, vec![0; n], 0.0, f64::NAN, f64::NAN)
    }

    /// Counts per piece of the layout, in value order.
    pub(crate) fn pieces(&self) -> &[u64] {
        &self.pieces
    }

    /// The layout the pieces belong to.
    pub(crate) fn layout(&self) -> &StdArc<Layout> {
        &self.layout
    }

    /// Estimated `q`-quantile (nearest rank), `q` in `[0, 1]`; NaN when empty
    /// or `q` is out of range. Within 3.2 % relative error for values inside
    /// the grid (see [`Histogram`](crate::Histogram), "How it works").
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// h.observe(0.1); h.observe(0.2); h.observe(0.3);
    /// let s = h.snapshot();
    /// assert_eq!(s.quantile(0.0), 0.1);
    /// assert_eq!(s.quantile(1.0), 0.3);
    /// assert!((s.quantile(0.5) - 0.2).abs() < 0.2 * 0.05);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return f64::NAN;
        }
        if q == 0.0 {
            return self.min;
        }
        if q == 1.0 {
            return self.max;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut cum = 0u64;
        for (p, c) in self.layout.pieces().iter().zip(&self.pieces) {
            cum += c;
            if cum >= rank {
                // The piece's range, narrowed to what was observed: exact at
                // q = 1 and for the edge regions, whose pieces are unbounded.
                let (lo, hi) = (p.lo.max(self.min), p.hi.min(self.max));
                let est = if lo <= hi { lo + (hi - lo) / 2.0 } else { hi };
                // A collected histogram knows no extremes (NaN): the
                // piece's finite end when the other is unbounded.
                if self.min.is_nan() || self.max.is_nan() {
                    return match (p.lo.is_finite(), p.hi.is_finite()) {
                        (true, true) => est,
                        (false, true) => p.hi,
                        (true, false) => p.lo,
                        (false, false) => f64::NAN,
                    };
                }
                return est.clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// `sum / count`, NaN when empty.
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// h.observe(1.0); h.observe(2.0);
    /// assert_eq!(h.snapshot().mean(), 1.5);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn mean(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.sum / self.count as f64
        }
    }

    /// Composite statistics over this snapshot.
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// h.observe(0.5);
    /// let st = h.snapshot().stats();
    /// assert_eq!((st.count, st.mean), (1, 0.5));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn stats(self) -> Stats {
        Stats {
            count: self.count,
            sum: self.sum,
            min: self.min,
            max: self.max,
            mean: self.mean(),
            snapshot: self,
        }
    }

    /// The grid range `[lo, hi)` inside which quantiles carry the 3.2 % bound.
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// let (lo, hi) = h.snapshot().precise_range();
    /// assert!(lo <= 0.005 / 2.0 && hi > 10.0 * 2.0);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn precise_range(&self) -> (f64, f64) {
        self.layout.grid_range()
    }
}

/// Composite statistics of a histogram: count, sum, min, max, mean and
/// quantiles on demand.
///
/// ```
/// use nanometrics::{Buckets, Registry};
/// let h = Registry::new().histogram("ttft_seconds", "TTFT.", Buckets::exponential(0.001, 2.0, 16))?;
/// for ms in [10.0, 20.0, 30.0, 40.0] { h.observe(ms / 1000.0); }
/// let st = h.stats();
/// assert_eq!((st.count, st.min, st.max), (4, 0.01, 0.04));
/// assert!((st.mean - 0.025).abs() < 1e-12);
/// assert!((st.quantile(0.99) - 0.04).abs() <= 0.04 * 0.05);
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Stats {
    /// Number of observations.
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
    /// Smallest observation (NaN when empty).
    pub min: f64,
    /// Largest observation (NaN when empty).
    pub max: f64,
    /// `sum / count` (NaN when empty).
    pub mean: f64,
    snapshot: HistogramSnapshot,
}

impl Stats {
    /// Estimated `q`-quantile; see [`HistogramSnapshot::quantile`].
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// for i in 1..=1000 { h.observe(i as f64 / 1000.0); }
    /// let p99 = h.stats().quantile(0.99);
    /// assert!((p99 - 0.99).abs() / 0.99 < 0.05);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn quantile(&self, q: f64) -> f64 {
        self.snapshot.quantile(q)
    }
}
