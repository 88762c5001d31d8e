//! What a window returns: [`WindowStats`] for histograms and summaries,
//! [`CounterWindow`] for counters, [`GaugeWindow`] for gauges. Each says
//! the interval it actually covers (`span`): a series tracked for less
//! time than the window asked, or a window shorter than a tick, covers
//! what the ticker's ring holds.

use std::time::Duration;

use crate::histogram_snapshot::HistogramSnapshot;

/// Composite statistics of the observations a histogram (or summary)
/// received over a recent window: [`Histogram::window`](crate::Histogram::window).
///
/// `count`, `sum`, `mean`, `rate_per_sec` and the bucket counts behind
/// [`quantile`](Self::quantile) are exact differences of cumulative reads.
/// `min` and `max` are bounds: the exact value when the window holds the
/// series' lifetime minimum (maximum), otherwise the lower (upper) edge of
/// the bucket piece that holds it, clamped by the lifetime min (max): never
/// above the true minimum (below the true maximum), and at most one piece
/// (1/16 of an octave inside the grid) away from it.
///
/// ```
/// use std::time::Duration;
/// use nanometrics::{realtime::Ticker, Buckets, Registry};
/// let h = Registry::new().histogram("ttft_seconds", "TTFT.", Buckets::default())?;
/// let ticker = Ticker::manual(Duration::from_secs(1));
/// ticker.window(&h, Duration::from_secs(10)); // starts tracking
/// h.observe(0.2);
/// h.observe(0.4);
/// ticker.advance(1);
/// let w = ticker.window(&h, Duration::from_secs(10));
/// assert_eq!((w.count, w.sum, w.max), (2, 0.6000000000000001, 0.4));
/// assert_eq!(w.span, Duration::from_secs(1));
/// assert_eq!(w.rate_per_sec, 2.0);
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct WindowStats {
    /// Observations in the window.
    pub count: u64,
    /// `count / span` (NaN when the span is zero).
    pub rate_per_sec: f64,
    /// Sum of the observations in the window.
    pub sum: f64,
    /// `sum / count` (NaN when empty).
    pub mean: f64,
    /// A lower bound of the smallest observation (see above; NaN when empty).
    pub min: f64,
    /// An upper bound of the largest observation (see above; NaN when empty).
    pub max: f64,
    /// The interval the statistics cover.
    pub span: Duration,
    pub(crate) snapshot: HistogramSnapshot,
}

impl WindowStats {
    pub(crate) fn new(snapshot: HistogramSnapshot, span: Duration) -> WindowStats {
        WindowStats {
            count: snapshot.count,
            rate_per_sec: per_sec(snapshot.count as f64, span),
            sum: snapshot.sum,
            mean: snapshot.mean(),
            min: snapshot.min,
            max: snapshot.max,
            span,
            snapshot,
        }
    }

    /// Estimated `q`-quantile of the window's observations: the same
    /// estimate and error bound as [`HistogramSnapshot::quantile`], clamped
    /// to the window's `min` and `max`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// let t = nanometrics::realtime::Ticker::manual(Duration::from_secs(1));
    /// for i in 1..=100 { h.observe(i as f64); } // before the window
    /// t.window(&h, Duration::from_secs(5));
    /// for i in 1..=100 { h.observe(i as f64 / 1000.0); }
    /// t.advance(1);
    /// let p50 = t.window(&h, Duration::from_secs(5)).quantile(0.5);
    /// assert!((p50 - 0.05).abs() / 0.05 < 0.05);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn quantile(&self, q: f64) -> f64 {
        self.snapshot.quantile(q)
    }

    /// The window's observations as a histogram: cumulative buckets, count,
    /// sum, and the min and max bounds above.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::explicit(vec![1.0]))?;
    /// let t = nanometrics::realtime::Ticker::manual(Duration::from_secs(1));
    /// t.window(&h, Duration::from_secs(5));
    /// h.observe(0.5);
    /// h.observe(2.0);
    /// assert_eq!(t.window(&h, Duration::from_secs(5)).histogram().buckets, [(1.0, 1), (f64::INFINITY, 2)]);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn histogram(&self) -> &HistogramSnapshot {
        &self.snapshot
    }
}

/// How much a counter (or up-down counter) moved over a recent window:
/// [`Counter::window`](crate::Counter::window). A reset inside the window
/// (a float counter's `reset`, a series removed and re-created) counts as
/// Prometheus's `increase()` counts it: from zero, never a negative delta.
///
/// ```
/// use std::time::Duration;
/// # let c = nanometrics::Registry::new().counter("x_total", "x")?;
/// let t = nanometrics::realtime::Ticker::manual(Duration::from_millis(100));
/// c.inc_by(100);
/// t.window(&c, Duration::from_secs(1));
/// c.inc_by(5);
/// t.advance(5);
/// let w = t.window(&c, Duration::from_secs(1));
/// assert_eq!((w.delta, w.value, w.span), (5.0, 105.0, Duration::from_millis(500)));
/// assert!((w.rate_per_sec - 10.0).abs() < 1e-9);
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CounterWindow {
    /// The increase over the window (an up-down counter's may be negative).
    pub delta: f64,
    /// `delta / span` (NaN when the span is zero).
    pub rate_per_sec: f64,
    /// The current value.
    pub value: f64,
    /// The interval the delta covers.
    pub span: Duration,
}

/// A gauge sampled at every tick of a recent window, and its value now:
/// [`Gauge::window`](crate::Gauge::window). The statistics are over the
/// samples (the ticks inside the window and the current value), not
/// time-weighted; NaN samples are left out.
///
/// ```
/// use std::time::Duration;
/// # let g = nanometrics::Registry::new().gauge("x", "x")?;
/// let t = nanometrics::realtime::Ticker::manual(Duration::from_secs(1));
/// g.set(4.0);
/// t.window(&g, Duration::from_secs(10));
/// g.set(1.0);
/// t.advance(1);
/// g.set(7.0);
/// let w = t.window(&g, Duration::from_secs(10));
/// assert_eq!((w.min, w.max, w.mean, w.last, w.samples), (1.0, 7.0, 4.0, 7.0, 3));
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GaugeWindow {
    /// The current value.
    pub last: f64,
    /// Smallest sample (NaN when none).
    pub min: f64,
    /// Largest sample (NaN when none).
    pub max: f64,
    /// Mean of the samples (NaN when none).
    pub mean: f64,
    /// Samples in the window, the current value included.
    pub samples: usize,
    /// From the oldest sample to now.
    pub span: Duration,
}

/// `x` per second of `span`; NaN for a zero span.
pub(crate) fn per_sec(x: f64, span: Duration) -> f64 {
    if span.is_zero() {
        f64::NAN
    } else {
        x / span.as_secs_f64()
    }
}
