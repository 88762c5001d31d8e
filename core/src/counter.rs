//! Sharded counters: [`Counter`] (monotonic `u64`) and [`UpDownCounter`]
//! (`i64`, add and subtract).

use std::fmt;

use crate::error::Error;
use crate::exemplar::{Exemplar, ExemplarSnapshot};
use crate::shard::{self, add_u64, slot_index, Lease, LeaseArc, RangeKind, SlotRef};

// === impl Counter ===

/// A monotonic `u64` counter.
///
/// `inc`/`inc_by` are a relaxed load and a relaxed store to a slot only the
/// calling thread writes: no lock, no locked read-modify-write, no
/// allocation. `get` sums every thread's slot. Increments wrap at 2^64.
/// The value is an integer, so a negative or NaN increment cannot be
/// expressed: the type rules it out rather than a runtime check.
///
/// ```
/// use nanometrics::Registry;
/// let r = Registry::new();
/// let c = r.counter("requests_total", "Requests served.")?;
/// c.inc();
/// c.inc_by(5);
/// assert_eq!(c.get(), 6);
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone)]
pub struct Counter {
    at: SlotRef,
    lease: LeaseArc,
}

/// Shows where the series lives, not its value: reading the value takes
/// the shard lock, which a `Registry::visit` callback already holds.
impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Counter").field("slot", &self.at).finish()
    }
}

impl Counter {
    pub(crate) fn create() -> Result<Counter, Error> {
        let (at, lease) = Lease::create(1, RangeKind::Sum)?;
        Ok(Counter { at, lease })
    }

    /// Adds one.
    ///
    /// ```
    /// # let c = nanometrics::Registry::new().counter("x_total", "x")?;
    /// c.inc();
    /// assert_eq!(c.get(), 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds `n`.
    ///
    /// ```
    /// # let c = nanometrics::Registry::new().counter("x_total", "x")?;
    /// c.inc_by(41);
    /// c.inc_by(1);
    /// assert_eq!(c.get(), 42);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn inc_by(&self, n: u64) {
        let off = slot_index(self.at.off as usize);
        shard::with_chunk(self.at, move |c| add_u64(&c.slots[off], n));
    }

    /// Adds `n` and makes `exemplar` (with the value `n` and the time now)
    /// the series' latest exemplar, which OpenMetrics and OTLP export with
    /// it. Wait-free, like [`inc_by`](Self::inc_by); it costs more (a
    /// clock read, a copy of the labels' bytes and an atomic swap; no
    /// allocation once the thread has a spare record: figures in
    /// `docs/benchmarks.md`), so pass one for a sample of increments, e.g.
    /// one per traced request. Increments without one cost what they did.
    ///
    /// ```
    /// use nanometrics::Exemplar;
    /// # let c = nanometrics::Registry::new().counter("x_total", "x")?;
    /// c.inc_by_with_exemplar(2, &Exemplar::new([("trace_id", "abc")])?);
    /// let e = c.exemplar().unwrap();
    /// assert_eq!((c.get(), e.value), (2, 2.0));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn inc_by_with_exemplar(&self, n: u64, exemplar: &Exemplar) {
        self.inc_by(n);
        self.lease.exemplars.record(1, 0, exemplar, n as f64);
    }

    /// The latest exemplar given to
    /// [`inc_by_with_exemplar`](Self::inc_by_with_exemplar), if any.
    ///
    /// ```
    /// # let c = nanometrics::Registry::new().counter("x_total", "x")?;
    /// c.inc();
    /// assert_eq!(c.exemplar(), None);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn exemplar(&self) -> Option<ExemplarSnapshot> {
        let _r = shard::reader();
        read_exemplars(&self.lease).pop().flatten()
    }

    /// Current total over all threads, including exited ones.
    ///
    /// ```
    /// # let c = nanometrics::Registry::new().counter("x_total", "x")?;
    /// let c2 = c.clone();
    /// std::thread::spawn(move || c2.inc_by(3)).join().unwrap();
    /// assert_eq!(c.get(), 3);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn get(&self) -> u64 {
        shard::reader().sum(self.at)
    }

    pub(crate) fn read(&self, r: &shard::Reader) -> u64 {
        r.sum(self.at)
    }

    pub(crate) fn exemplars(&self, _r: &shard::Reader, out: &mut Vec<Option<ExemplarSnapshot>>) {
        self.lease.exemplars.read(out);
    }

    pub(crate) fn series_id(&self) -> usize {
        self.at.id()
    }
}

// === impl UpDownCounter ===

/// A sharded `i64` that goes up and down (in-flight requests, queue depth).
///
/// Cheap like [`Counter`] because it is only ever *added to*; a value that
/// is *set* needs a [`Gauge`](crate::Gauge) instead.
///
/// ```
/// use nanometrics::Registry;
/// let r = Registry::new();
/// let inflight = r.up_down_counter("inflight_requests", "In flight.")?;
/// inflight.inc();
/// inflight.inc();
/// inflight.dec();
/// inflight.add(-3);
/// assert_eq!(inflight.get(), -2);
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone)]
pub struct UpDownCounter {
    at: SlotRef,
    lease: LeaseArc,
}

/// Shows where the series lives, not its value: reading the value takes
/// the shard lock, which a `Registry::visit` callback already holds.
impl fmt::Debug for UpDownCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpDownCounter")
            .field("slot", &self.at)
            .finish()
    }
}

impl UpDownCounter {
    pub(crate) fn create() -> Result<UpDownCounter, Error> {
        let (at, lease) = Lease::create(1, RangeKind::Sum)?;
        Ok(UpDownCounter { at, lease })
    }

    /// Adds one.
    ///
    /// ```
    /// # let g = nanometrics::Registry::new().up_down_counter("x", "x")?;
    /// g.inc();
    /// assert_eq!(g.get(), 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Subtracts one.
    ///
    /// ```
    /// # let g = nanometrics::Registry::new().up_down_counter("x", "x")?;
    /// g.dec();
    /// assert_eq!(g.get(), -1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn dec(&self) {
        self.add(-1);
    }

    /// Adds `n` (which may be negative).
    ///
    /// ```
    /// # let g = nanometrics::Registry::new().up_down_counter("x", "x")?;
    /// g.add(10);
    /// g.add(-4);
    /// assert_eq!(g.get(), 6);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn add(&self, n: i64) {
        let off = slot_index(self.at.off as usize);
        // Two's complement: wrapping u64 addition is i64 addition.
        shard::with_chunk(self.at, move |c| add_u64(&c.slots[off], n as u64));
    }

    /// Current value over all threads.
    ///
    /// ```
    /// # let g = nanometrics::Registry::new().up_down_counter("x", "x")?;
    /// let g2 = g.clone();
    /// std::thread::spawn(move || g2.add(-2)).join().unwrap();
    /// assert_eq!(g.get(), -2);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn get(&self) -> i64 {
        shard::reader().sum(self.at) as i64
    }

    pub(crate) fn read(&self, r: &shard::Reader) -> i64 {
        let _ = &self.lease;
        r.sum(self.at) as i64
    }

    pub(crate) fn series_id(&self) -> usize {
        self.at.id()
    }
}

// === impl FloatCounter ===

/// A monotonic `f64` counter: seconds of CPU, bytes as fractions, anything
/// counted in non-integer steps (and what Python's `prometheus_client`
/// `Counter` is).
///
/// Same hot path as [`Counter`]: `inc_by` is a relaxed load, an `f64` add
/// and a relaxed store to the calling thread's slot. Each thread sums its own
/// increments, and a read adds the per-thread sums, so the total is exact
/// for integer steps up to 2^53 and otherwise rounds like any `f64` sum.
/// Reads never go down (the rounding of that sum depends on which threads
/// are still alive; the highest total reported is kept).
///
/// A negative, NaN or infinite increment cannot be exported as a counter:
/// [`inc_by`](Self::inc_by) drops it (the total is unchanged) and counts it
/// in [`diagnostics::rejected_increments`](crate::diagnostics::rejected_increments),
/// so the hot path has no `Result` to handle;
/// [`try_inc_by`](Self::try_inc_by) returns [`Error::InvalidValue`] instead,
/// for callers that report bad input (the Python binding raises
/// `ValueError`).
///
/// ```
/// use nanometrics::Registry;
/// let r = Registry::new();
/// let cpu = r.float_counter("cpu_seconds_total", "CPU time.")?;
/// cpu.inc_by(0.25);
/// cpu.inc();
/// assert_eq!(cpu.get(), 1.25);
/// cpu.inc_by(-1.0); // dropped and counted
/// assert!(cpu.try_inc_by(f64::NAN).is_err());
/// assert_eq!(cpu.get(), 1.25);
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone)]
pub struct FloatCounter {
    at: SlotRef,
    lease: LeaseArc,
}

/// Shows where the series lives, not its value: reading the value takes
/// the shard lock, which a `Registry::visit` callback already holds.
impl fmt::Debug for FloatCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FloatCounter")
            .field("slot", &self.at)
            .finish()
    }
}

impl FloatCounter {
    pub(crate) fn create() -> Result<FloatCounter, Error> {
        let (at, lease) = Lease::create(1, RangeKind::SumF64)?;
        Ok(FloatCounter { at, lease })
    }

    /// Adds one.
    ///
    /// ```
    /// # let c = nanometrics::Registry::new().float_counter("x_total", "x")?;
    /// c.inc();
    /// assert_eq!(c.get(), 1.0);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn inc(&self) {
        self.add_unchecked(1.0);
    }

    /// Adds `v`. A negative, NaN or infinite `v` is dropped (the total does
    /// not change) and counted in
    /// [`diagnostics::rejected_increments`](crate::diagnostics::rejected_increments).
    ///
    /// ```
    /// # let c = nanometrics::Registry::new().float_counter("x_total", "x")?;
    /// let before = nanometrics::diagnostics::rejected_increments();
    /// c.inc_by(0.5);
    /// c.inc_by(f64::NAN);
    /// c.inc_by(-2.0);
    /// assert_eq!(c.get(), 0.5);
    /// assert!(nanometrics::diagnostics::rejected_increments() >= before + 2);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn inc_by(&self, v: f64) {
        // One comparison rules out negatives, NaN and +Inf (-0.0 passes and
        // adds nothing).
        if (0.0..f64::INFINITY).contains(&v) {
            self.add_unchecked(v);
        } else {
            crate::diagnostics::count_rejected_increment();
        }
    }

    /// Adds `v`, which must be finite and not negative; anything else is
    /// [`Error::InvalidValue`] and changes nothing (nor is it counted).
    ///
    /// ```
    /// # let c = nanometrics::Registry::new().float_counter("x_total", "x")?;
    /// c.try_inc_by(0.5)?;
    /// let e = c.try_inc_by(f64::NAN).unwrap_err();
    /// assert!(e.to_string().contains("non-negative"), "{e}");
    /// assert_eq!(c.get(), 0.5);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn try_inc_by(&self, v: f64) -> Result<(), Error> {
        if !(0.0..f64::INFINITY).contains(&v) {
            return Err(Error::InvalidValue(format!(
                "counters can only be incremented by non-negative finite amounts, got {v}"
            )));
        }
        self.add_unchecked(v);
        Ok(())
    }

    /// [`inc_by`](Self::inc_by) that also makes `exemplar` (with the value
    /// `v` and the time now) the series' latest exemplar, as
    /// [`Counter::inc_by_with_exemplar`] does. A rejected `v` records no
    /// exemplar.
    ///
    /// ```
    /// use nanometrics::Exemplar;
    /// # let c = nanometrics::Registry::new().float_counter("x_total", "x")?;
    /// let e = Exemplar::new([("trace_id", "abc")])?;
    /// c.inc_by_with_exemplar(0.5, &e);
    /// c.inc_by_with_exemplar(-1.0, &e); // rejected: neither counted nor kept
    /// assert_eq!(c.exemplar().map(|e| e.value), Some(0.5));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn inc_by_with_exemplar(&self, v: f64, exemplar: &Exemplar) {
        if (0.0..f64::INFINITY).contains(&v) {
            self.add_unchecked(v);
            self.lease.exemplars.record(1, 0, exemplar, v);
        } else {
            crate::diagnostics::count_rejected_increment();
        }
    }

    /// The latest exemplar given to
    /// [`inc_by_with_exemplar`](Self::inc_by_with_exemplar), if any.
    ///
    /// ```
    /// # let c = nanometrics::Registry::new().float_counter("x_total", "x")?;
    /// assert_eq!(c.exemplar(), None);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn exemplar(&self) -> Option<ExemplarSnapshot> {
        let _r = shard::reader();
        read_exemplars(&self.lease).pop().flatten()
    }

    pub(crate) fn exemplars(&self, _r: &shard::Reader, out: &mut Vec<Option<ExemplarSnapshot>>) {
        self.lease.exemplars.read(out);
    }

    #[inline(always)]
    fn add_unchecked(&self, v: f64) {
        let off = slot_index(self.at.off as usize);
        shard::with_chunk(self.at, move |c| shard::add_f64(&c.slots[off], v));
    }

    /// Restarts the total at zero, as a process restart would: adds minus
    /// the total read through the calling thread's slot. Increments that race
    /// with it are kept (they count after the reset). With other threads'
    /// partial sums in play, the `f64` sum may then hold a residue of a few
    /// ulps of the old total; reads never report less than zero. Resets of
    /// one series from several threads at once restart it once (one at a
    /// time, each subtracting what the previous left).
    ///
    /// ```
    /// # let c = nanometrics::Registry::new().float_counter("x_total", "x")?;
    /// c.inc_by(0.1);
    /// c.inc_by(0.2);
    /// c.reset();
    /// assert_eq!(c.get(), 0.0);
    /// c.inc();
    /// assert_eq!(c.get(), 1.0);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn reset(&self) {
        // One reset at a time: the next one reads the total after this one's
        // subtraction (ordered by the lock) and subtracts only what came after.
        let _one = self.lease.resetting();
        let total = self.get();
        self.add_unchecked(-total);
        self.lease.set_high_water(&shard::reader(), 0.0);
    }

    /// Current total over all threads, including exited ones.
    ///
    /// ```
    /// # let c = nanometrics::Registry::new().float_counter("x_total", "x")?;
    /// let c2 = c.clone();
    /// std::thread::spawn(move || c2.inc_by(2.5)).join().unwrap();
    /// assert_eq!(c.get(), 2.5);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn get(&self) -> f64 {
        self.read(&shard::reader())
    }

    /// The total, never below what an earlier read reported (see
    /// `Lease::high_water`).
    pub(crate) fn read(&self, r: &shard::Reader) -> f64 {
        self.lease.high_water(r, r.sum_f64(self.at))
    }

    pub(crate) fn series_id(&self) -> usize {
        self.at.id()
    }
}

/// The series' exemplar slots, read (the caller holds the state lock).
fn read_exemplars(lease: &LeaseArc) -> Vec<Option<ExemplarSnapshot>> {
    let mut out = Vec::new();
    lease.exemplars.read(&mut out);
    out
}
