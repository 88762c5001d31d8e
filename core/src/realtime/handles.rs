//! `window` on each metric handle: the shared [`ticker()`]'s
//! [`Ticker::window`] for that series.

use std::time::Duration;

use crate::counter::{Counter, FloatCounter, UpDownCounter};
use crate::gauge::Gauge;
use crate::histogram::Histogram;
use crate::summary::Summary;

use super::ticker::ticker;
use super::window::{CounterWindow, GaugeWindow, WindowStats};

impl Histogram {
    /// Statistics of the observations of the last `window`, from the
    /// shared [`ticker()`]'s reads (a tick per second unless set
    /// otherwise): the first call starts tracking the series (and sees an
    /// empty window); later calls cover up to `window`, as
    /// [`WindowStats::span`] says. Recording is not affected.
    ///
    /// A windowed histogram costs the ticker one cumulative read (8 bytes
    /// per bucket piece plus 16 per classic bucket: 272 × 8 + 15 × 16 =
    /// 2,416 bytes for `Buckets::default()`) and, per tick kept (the longest
    /// window asked, plus a tick), 48 bytes and 16 more per piece that
    /// received observations in that tick. A windowed counter or gauge
    /// costs 16 bytes per tick kept.
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// let w = h.window(std::time::Duration::from_secs(10));
    /// assert_eq!(w.count, 0);
    /// h.observe(0.5);
    /// assert_eq!(h.window(std::time::Duration::from_secs(10)).count, 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn window(&self, window: Duration) -> WindowStats {
        ticker().window(self, window)
    }
}

impl Summary {
    /// Statistics of the last `window`; see [`Histogram::window`].
    pub fn window(&self, window: Duration) -> WindowStats {
        ticker().window(self, window)
    }
}

impl Counter {
    /// The increase over the last `window`, from the shared [`ticker()`]'s
    /// reads; see [`Histogram::window`] and [`CounterWindow`].
    ///
    /// ```
    /// # let c = nanometrics::Registry::new().counter("x_total", "x")?;
    /// c.window(std::time::Duration::from_secs(10));
    /// c.inc_by(3);
    /// assert_eq!(c.window(std::time::Duration::from_secs(10)).delta, 3.0);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn window(&self, window: Duration) -> CounterWindow {
        ticker().window(self, window)
    }
}

impl FloatCounter {
    /// The increase over the last `window`; see [`Counter::window`].
    pub fn window(&self, window: Duration) -> CounterWindow {
        ticker().window(self, window)
    }
}

impl UpDownCounter {
    /// The change over the last `window` (may be negative); see
    /// [`Counter::window`].
    pub fn window(&self, window: Duration) -> CounterWindow {
        ticker().window(self, window)
    }
}

impl Gauge {
    /// The gauge's samples over the last `window` (one per tick of the
    /// shared [`ticker()`]) and its value now; see [`GaugeWindow`].
    ///
    /// ```
    /// # let g = nanometrics::Registry::new().gauge("x", "x")?;
    /// g.set(2.0);
    /// assert_eq!(g.window(std::time::Duration::from_secs(10)).last, 2.0);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn window(&self, window: Duration) -> GaugeWindow {
        ticker().window(self, window)
    }
}
