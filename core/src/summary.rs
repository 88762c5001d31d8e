//! [`Summary`]: a count and a sum, with exact min/max and quantiles on demand.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::bucket_layout::Layout;
use crate::error::Error;
use crate::histogram::Histogram;
use crate::histogram_snapshot::{HistogramSnapshot, Stats};

/// The grid a summary records into: bounds at 2^-20 (~1e-6) and 2^20
/// (~1e6), so the log-linear grid spans 2^-23 to 2^22 (45 octaves, 16 cells
/// each) and quantiles of values in that range are within 3.2 %.
const GRID_BOUNDS: [f64; 2] = [1.0 / 1048576.0, 1048576.0];

pub(crate) fn layout() -> Arc<Layout> {
    static LAYOUT: OnceLock<Arc<Layout>> = OnceLock::new();
    LAYOUT
        .get_or_init(|| Arc::new(Layout::new(&GRID_BOUNDS).expect("summary grid bounds are valid")))
        .clone()
}

/// Observations exposed as a count and a sum (`_count`, `_sum`), the
/// Prometheus `summary` type without client-side quantile lines — what
/// Python's `prometheus_client.Summary` exposes.
///
/// It records like a [`Histogram`] (same per-thread staged shard, same
/// cost) into a fixed log-linear grid from 2^-23 to 2^22, so
/// [`stats`](Self::stats) gives exact count, sum, min, max and mean, and
/// quantiles within 3.2 % for values in that range, on demand. One series
/// takes about 900 bytes per thread that records into it (a 184-byte
/// header and one byte for each of some 725 counters), and up to
/// 8 bytes per counter shared by its threads (see `Histogram`'s memory).
///
/// ```
/// use nanometrics::Registry;
/// let r = Registry::new();
/// let s = r.summary("request_size_bytes", "Request sizes.")?;
/// for v in [100.0, 200.0, 300.0, 400.0] { s.observe(v); }
/// let st = s.stats();
/// assert_eq!((st.count, st.sum, st.min, st.max), (4, 1000.0, 100.0, 400.0));
/// assert!((st.quantile(0.5) - 200.0).abs() <= 200.0 * 0.05);
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone)]
pub struct Summary {
    hist: Histogram,
}

/// Like `Histogram`'s, takes no lock.
impl fmt::Debug for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Summary")
            .field("histogram", &self.hist)
            .finish()
    }
}

impl Summary {
    pub(crate) fn create(layout: &Arc<Layout>) -> Result<Summary, Error> {
        Ok(Summary {
            hist: Histogram::create(layout)?,
        })
    }

    /// Records one observation (NaN is ignored, as in [`Histogram::record`]).
    ///
    /// ```
    /// # let s = nanometrics::Registry::new().summary("x", "x")?;
    /// s.observe(2.5);
    /// assert_eq!(s.snapshot().sum, 2.5);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline(always)]
    pub fn observe(&self, v: f64) {
        self.hist.observe(v);
    }

    /// Records a duration in seconds.
    ///
    /// ```
    /// # let s = nanometrics::Registry::new().summary("x_seconds", "x")?;
    /// s.observe_duration(std::time::Duration::from_millis(1500));
    /// assert_eq!(s.snapshot().sum, 1.5);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn observe_duration(&self, d: Duration) {
        self.hist.observe_duration(d);
    }

    /// A consistent read (count, sum, min, max; the grid's buckets are an
    /// implementation detail and not exposed).
    ///
    /// ```
    /// # let s = nanometrics::Registry::new().summary("x", "x")?;
    /// s.observe(1.0);
    /// assert_eq!(s.snapshot().count, 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn snapshot(&self) -> HistogramSnapshot {
        self.hist.snapshot()
    }

    pub(crate) fn read(&self, r: &crate::shard::Reader) -> HistogramSnapshot {
        self.hist.read(r)
    }

    pub(crate) fn series_id(&self) -> usize {
        self.hist.series_id()
    }

    /// Count, sum, min, max, mean and quantiles.
    ///
    /// ```
    /// # let s = nanometrics::Registry::new().summary("x", "x")?;
    /// for i in 1..=100 { s.observe(i as f64); }
    /// let st = s.stats();
    /// assert_eq!(st.mean, 50.5);
    /// assert!((st.quantile(0.9) - 90.0).abs() <= 90.0 * 0.05);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.hist.stats()
    }
}

#[cfg(all(test, not(nanometrics_loom)))]
mod tests {
    #[test]
    fn the_grid_takes_the_slots_the_docs_say() {
        // "about 900 bytes per thread (a 184-byte header and ... some 725
        // counters)"
        let layout = super::layout();
        let n = layout.data_slots();
        assert!((715..=735).contains(&n), "{n} counters");
        let bytes = crate::shard::staging::shard_bytes(n as usize);
        assert!((880..=920).contains(&bytes), "{bytes} bytes");
    }
}
