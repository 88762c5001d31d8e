//! [`Histogram`]: a distribution recorded into per-thread staged shards
//! (`shard::staging`), read as a [`HistogramSnapshot`]; and
//! [`HistogramTimer`]. How values map to buckets is `bucket_layout`; the
//! design is documented on [`Histogram`], where users can read it.

use std::fmt;
use std::sync::Arc as StdArc;
use std::time::{Duration, Instant};

use crate::bucket_layout::Layout;
use crate::error::Error;
use crate::exemplar::{Exemplar, ExemplarSnapshot};
use crate::histogram_snapshot::HistogramSnapshot;
use crate::shard::{self, staging, HistTotals, Lease, LeaseArc, RangeKind, SlotRef};
use crate::Stats;

/// A distribution of observations: classic cumulative buckets for Prometheus,
/// plus count, sum, min, max and quantiles on demand.
///
/// Recording costs a few nanoseconds on the calling thread (figures:
/// `docs/benchmarks.md`): the value is appended to that thread's own stage for the series, and the
/// record that finds 16 values staged bins them into the thread's counters
/// (see "How it works"). NaN observations are ignored (they could not be exported
/// meaningfully).
///
/// ```
/// use nanometrics::{Buckets, Registry};
/// let r = Registry::new();
/// let h = r.histogram("latency_seconds", "Latency.", Buckets::default())?;
/// h.observe(0.02);
/// h.observe(0.3);
/// let s = h.snapshot();
/// assert_eq!(s.count, 2);
/// assert_eq!(s.buckets.last(), Some(&(f64::INFINITY, 2)));
/// assert_eq!((s.min, s.max), (0.02, 0.3));
/// # Ok::<(), nanometrics::Error>(())
/// ```
///
/// # How it works
///
/// ## The grid
///
/// A positive finite `f64` `v` maps to the grid cell `(v.to_bits() >> (52 -
/// SUB_BITS)) - lo_key`: its binary exponent plus the top `SUB_BITS` (4)
/// mantissa bits, so every octave `[2^e, 2^(e+1))` splits into 16 cells of
/// equal width. No search: a clamp, one shift and one subtraction. The grid
/// spans from three octaves below the octave of the smallest positive bucket
/// bound to two octaves above the largest. Values above it (and `+Inf`) go
/// to one edge cell, values below it (negative values, zero and `-Inf`
/// included) to the other; bounds below the grid (zero or negative bounds)
/// are bounds of that lower edge cell, handled like any cell's bounds below.
///
/// ## Exact bounds
///
/// A Prometheus bound may fall inside a grid cell. Every cell has a counter
/// of all values in it, and a cell that holds bounds has one more counter
/// per bound: values in the cell above that bound. The cell counter's slot
/// comes from the value's bits alone; one comparison with the cell's first
/// bound decides whether the (rarer) second increment happens, and only a
/// cell holding several bounds (closer than 1/16 of an octave) walks them.
/// Readers split each cell at its bounds into *pieces* — counts are
/// differences of the cell's counters — so every piece belongs to exactly
/// one classic bucket: the `le` semantics (`v <= bound`) are exact.
///
/// ## Staging
///
/// A thread does not bin each observation as it comes: `record` appends the
/// value to the thread's *stage* for the series (16 values) with two
/// stores, the value and then the stage's length (a `Release` store, a
/// plain `mov` on x86). The record that finds
/// the stage full *folds* it: bins the 16 values into the thread's counters
/// and adds their sum, min and max (kept in registers for the 16), under
/// the shard's sequence counter (a seqlock), then starts a new stage. Per
/// value this is cheaper than a seqlocked update per record (the seqlock,
/// sum, min and max are paid once per 16). Readers lose nothing to it: a
/// snapshot bins each shard's staged values itself, from the same
/// consistent read as the counters, so every recorded value counts from
/// the moment `record` returns; when a thread exits, its staged values are
/// binned before its counts move to the retired totals.
///
/// ## Quantiles
///
/// A quantile is the midpoint of the piece holding the wanted rank, clamped to
/// the observed min and max. Inside the grid a piece is at most 1/16 of its
/// octave wide, so the estimate is within **3.2 %** (relative) of the true
/// nearest-rank quantile; tests check 5 %. Outside the grid a piece's open end
/// is narrowed to the observed min or max, so the estimate is coarse there;
/// `quantile(0)` and `quantile(1)` are always the exact min and max.
///
/// ## Memory
///
/// Besides its handle and label values, a series takes:
///
/// - **per thread that records into it**: a 184-byte header in the
///   thread's 4 KiB chunk of slots (sequence, sum, min, max, stage length,
///   carried total, the address of its counters and 16 staged values),
///   and, from the thread's first fold of its stage (its 17th record), one
///   byte per counter (one per grid cell, 2 edge cells and one per bound).
///   For `Buckets::default()` (272 counters) that is 184 + 272 bytes; for
///   `Buckets::exponential(0.001, 2.0, 16)` (338 counters), 184 + 338.
/// - **shared by its threads**: *wide* counters, which a thread's counter
///   byte carries 256 into when it fills; 128 bytes per page of 16
///   counters, each page allocated on the first carry into it. None until
///   some thread has recorded 256 values into one counter; at most 8 bytes
///   per counter (2,176 bytes for `Buckets::default()`), however many
///   threads record.
///
/// A thread that records into k series of a family holds k sets of counter
/// bytes, not one for every series of the family, and at most k chunks
/// (a chunk holds the headers of 22 series). `docs/benchmarks.md` has the measured
/// bytes per series and per thread.
#[derive(Clone)]
pub struct Histogram {
    at: SlotRef,
    totals: StdArc<HistTotals>,
    lease: LeaseArc,
}

/// Shows where the series lives and its bounds, not its values: reading
/// them takes the shard lock, which a `Registry::visit` callback already
/// holds.
impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("slot", &self.at)
            .field("bounds", &self.totals.layout.finite_bounds())
            .finish()
    }
}

impl Histogram {
    pub(crate) fn create(layout: &StdArc<Layout>) -> Result<Histogram, Error> {
        let totals = StdArc::new(HistTotals::new(layout.clone()));
        let (at, lease) = Lease::create(staging::HEADER as u32, RangeKind::Hist(totals.clone()))?;
        Ok(Histogram { at, totals, lease })
    }

    /// Records one observation. NaN is ignored.
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// h.observe(0.004);
    /// assert_eq!(h.snapshot().buckets[0], (0.005, 1));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline(always)]
    pub fn observe(&self, v: f64) {
        if v.is_nan() {
            return;
        }
        let off = self.at.off as usize;
        let totals = &*self.totals;
        // `move`: the closure holds copies, not references to stack values;
        // `inline(always)`: outlined, it would add a call to every record.
        shard::with_chunk(
            self.at,
            #[inline(always)]
            move |c| staging::record(c, off, totals, v),
        )
    }

    /// Records `v` and makes `exemplar` (with the value `v` and the time
    /// now) the latest exemplar of the bucket `v` falls in, which
    /// OpenMetrics and OTLP export with that bucket. Wait-free, like
    /// [`observe`](Self::observe); it costs more (a bucket search, a
    /// clock read, a copy of the labels' bytes and an atomic swap; no
    /// allocation once the thread has a spare record: figures in
    /// `docs/benchmarks.md`), so pass one for a sample of observations,
    /// e.g. one per traced request. Observations without one cost what
    /// they did. NaN records nothing.
    ///
    /// ```
    /// use nanometrics::{Buckets, Exemplar, Registry};
    /// let h = Registry::new().histogram("x", "x", Buckets::explicit(vec![0.1, 1.0]))?;
    /// h.observe_with_exemplar(0.05, &Exemplar::new([("trace_id", "a")])?);
    /// h.observe_with_exemplar(0.07, &Exemplar::new([("trace_id", "b")])?);
    /// h.observe_with_exemplar(5.0, &Exemplar::new([("trace_id", "c")])?);
    /// let ex = h.exemplars();
    /// assert_eq!(ex.len(), 3); // le="0.1", le="1.0", le="+Inf"
    /// assert_eq!(ex[0].as_ref().map(|e| e.value), Some(0.07)); // the latest
    /// assert!(ex[1].is_none());
    /// assert_eq!(ex[2].as_ref().map(|e| e.value), Some(5.0));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn observe_with_exemplar(&self, v: f64, exemplar: &Exemplar) {
        if v.is_nan() {
            return;
        }
        self.observe(v);
        let bounds = self.totals.layout.finite_bounds();
        let bucket = bounds.partition_point(|b| *b < v);
        self.lease
            .exemplars
            .record(bounds.len() + 1, bucket, exemplar, v);
    }

    /// The latest exemplar of each bucket, in the order of
    /// [`HistogramSnapshot::buckets`] (the `+Inf` bucket last); empty when
    /// none was ever recorded.
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// h.observe(1.0);
    /// assert!(h.exemplars().is_empty());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn exemplars(&self) -> Vec<Option<ExemplarSnapshot>> {
        let r = shard::reader();
        let mut out = Vec::new();
        self.read_exemplars(&r, &mut out);
        out
    }

    pub(crate) fn read_exemplars(
        &self,
        _r: &shard::Reader,
        out: &mut Vec<Option<ExemplarSnapshot>>,
    ) {
        self.lease.exemplars.read(out);
    }

    /// [`observe`](Self::observe) under the name the `metrics` crate uses.
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// h.record(0.004);
    /// assert_eq!(h.snapshot().count, 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline(always)]
    pub fn record(&self, v: f64) {
        self.observe(v);
    }

    /// Records a duration in seconds.
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// h.observe_duration(std::time::Duration::from_millis(250));
    /// assert_eq!(h.snapshot().sum, 0.25);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// [`observe_duration`](Self::observe_duration) under the name the
    /// `metrics` crate uses.
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// h.record_duration(std::time::Duration::from_millis(250));
    /// assert_eq!(h.snapshot().sum, 0.25);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn record_duration(&self, d: Duration) {
        self.observe_duration(d);
    }

    /// Starts a timer that records the elapsed seconds when dropped.
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// {
    ///     let _t = h.start_timer();
    /// }
    /// assert_eq!(h.snapshot().count, 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn start_timer(&self) -> HistogramTimer<'_> {
        HistogramTimer {
            hist: self,
            start: Instant::now(),
            armed: true,
        }
    }

    /// A consistent snapshot: `count == Σ buckets == +Inf bucket`, and `sum`,
    /// `min`, `max` cover exactly the same observations.
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::explicit(vec![1.0]))?;
    /// h.observe(0.5); h.observe(2.0);
    /// let s = h.snapshot();
    /// assert_eq!(s.buckets, vec![(1.0, 1), (f64::INFINITY, 2)]);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn snapshot(&self) -> HistogramSnapshot {
        let r = shard::reader();
        self.read(&r)
    }

    pub(crate) fn read(&self, r: &shard::Reader) -> HistogramSnapshot {
        let mut raw = r.hist(self.at, &self.totals);
        // A thread's exit moves its shard's sum into the retired total, which
        // changes the order of the `f64` additions: the same observations can
        // sum to an ulp less than an earlier read reported. While every
        // observation is non-negative (min ≥ 0; `min_enc` is 0 only when
        // empty), `_sum` is a counter to Prometheus, which would read that
        // drop as a reset, so a read never reports less than the last one.
        // With a negative observation the sum may go down and is reported
        // as it is.
        if raw.min().is_some_and(|m| m >= 0.0) {
            raw.sum = self.lease.high_water(r, raw.sum);
        }
        HistogramSnapshot::from_raw(&self.totals.layout, raw)
    }

    pub(crate) fn series_id(&self) -> usize {
        self.at.id()
    }

    /// Composite statistics with quantiles; see [`Stats`].
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// for i in 1..=100 { h.observe(i as f64 / 100.0); }
    /// let st = h.stats();
    /// assert_eq!(st.count, 100);
    /// assert!((st.quantile(0.5) - 0.5).abs() / 0.5 < 0.05);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.snapshot().stats()
    }
}

/// Records the time since [`Histogram::start_timer`] when dropped.
///
/// ```
/// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
/// let t = h.start_timer();
/// let secs = t.observe_duration();
/// assert_eq!(h.snapshot().sum, secs);
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "the timer records when dropped; dropping it at once records ~0"]
pub struct HistogramTimer<'a> {
    hist: &'a Histogram,
    start: Instant,
    armed: bool,
}

impl HistogramTimer<'_> {
    /// Records now and returns the seconds recorded.
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// let secs = h.start_timer().observe_duration();
    /// assert!(secs >= 0.0);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn observe_duration(mut self) -> f64 {
        self.armed = false;
        let s = self.start.elapsed().as_secs_f64();
        self.hist.observe(s);
        s
    }

    /// Drops the timer without recording.
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// h.start_timer().stop_and_discard();
    /// assert_eq!(h.snapshot().count, 0);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn stop_and_discard(mut self) {
        self.armed = false;
    }
}

impl Drop for HistogramTimer<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.hist.observe(self.start.elapsed().as_secs_f64());
        }
    }
}
