//! Histograms: O(1) bucket index on a log-linear grid, exact Prometheus
//! bucket boundaries, per-thread staged shards folded under a seqlock,
//! quantiles on demand.
//! The design (grid, exact bounds, quantile error, memory) is documented
//! on [`Histogram`], where users can read it.

use std::fmt;
use std::sync::Arc as StdArc;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::shard::{
    self, Chunk, HistRaw, Lease, LeaseRef, RangeKind, SlotRef, HIST_HEADER, HIST_LEN, HIST_MAX,
    HIST_MIN, HIST_SEQ, HIST_STAGE, HIST_STAGED, HIST_SUM,
};
use crate::sync::{AtomicU64, Ordering};

#[cfg(not(nanometrics_loom))]
const SUB_BITS: u32 = 4;
#[cfg(nanometrics_loom)]
const SUB_BITS: u32 = 0;
const KEY_SHIFT: u32 = 52 - SUB_BITS;
/// Octaves of grid below the smallest positive bound's octave (quantile
/// precision for values under the first bucket).
const GRID_OCTAVES_BELOW: i32 = 3;
/// Positive bucket bounds must lie in `[2^-1000, 2^1000]` (about 1e-301 to
/// 1e301), so that the grid around them is made of normal, finite numbers.
const MIN_POSITIVE_BOUND: f64 = 9.332636185032189e-302; // 2^-1000
const MAX_BOUND: f64 = 1.0715086071862673e301; // 2^1000

// === impl Buckets ===

/// Upper bounds of a histogram's classic (Prometheus `le`) buckets.
///
/// The `+Inf` bucket is implicit. Constructors never fail; invalid input
/// (NaN, unsorted, non-positive factors) is reported as
/// [`Error::InvalidBuckets`] when the histogram is registered.
///
/// ```
/// use nanometrics::Buckets;
/// assert_eq!(Buckets::exponential(0.001, 2.0, 3).bounds(), Some(&[0.001, 0.002, 0.004][..]));
/// assert_eq!(Buckets::linear(1.0, 1.0, 3).bounds(), Some(&[1.0, 2.0, 3.0][..]));
/// assert_eq!(Buckets::default().bounds().unwrap().len(), 14);
/// assert!(Buckets::explicit(vec![2.0, 1.0]).bounds().is_none()); // unsorted
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Buckets {
    bounds: Result<Vec<f64>, String>,
}

impl Default for Buckets {
    /// Prometheus's default buckets: `.005, .01, .025, .05, .075, .1, .25, .5,
    /// .75, 1, 2.5, 5, 7.5, 10`.
    fn default() -> Self {
        Buckets::explicit(vec![
            0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
        ])
    }
}

impl Buckets {
    /// Explicit upper bounds: finite, strictly increasing. A trailing `+Inf`
    /// is accepted and dropped (it is always implied).
    ///
    /// ```
    /// use nanometrics::Buckets;
    /// assert_eq!(Buckets::explicit(vec![0.1, 1.0, f64::INFINITY]).bounds(), Some(&[0.1, 1.0][..]));
    /// assert!(Buckets::explicit(vec![1.0, f64::NAN]).bounds().is_none());
    /// ```
    pub fn explicit(mut bounds: Vec<f64>) -> Buckets {
        if bounds.last() == Some(&f64::INFINITY) {
            bounds.pop();
        }
        let check = || {
            if let Some(b) = bounds.iter().find(|b| !b.is_finite()) {
                return Err(format!("bound {b} is not finite"));
            }
            if let Some(w) = bounds.windows(2).find(|w| w[0] >= w[1]) {
                return Err(format!(
                    "bounds must be strictly increasing, but {} is followed by {}",
                    w[0], w[1]
                ));
            }
            Ok(())
        };
        Buckets {
            bounds: check().map(|()| bounds),
        }
    }

    /// `count` bounds `start, start*factor, start*factor², …` (Prometheus
    /// `ExponentialBuckets`). Needs `start > 0`, `factor > 1`, `count >= 1`.
    ///
    /// ```
    /// let b = nanometrics::Buckets::exponential(1.0, 10.0, 3);
    /// assert_eq!(b.bounds(), Some(&[1.0, 10.0, 100.0][..]));
    /// ```
    pub fn exponential(start: f64, factor: f64, count: usize) -> Buckets {
        if !(start > 0.0 && start.is_finite() && factor > 1.0 && factor.is_finite() && count >= 1) {
            return Buckets::invalid(format!(
                "exponential buckets need start > 0, factor > 1 and count >= 1 (got start={start}, factor={factor}, count={count})"
            ));
        }
        let mut v = Vec::with_capacity(count);
        let mut b = start;
        for _ in 0..count {
            v.push(b);
            b *= factor;
        }
        Buckets::explicit(v)
    }

    /// `count` bounds `start, start+width, …` (Prometheus `LinearBuckets`).
    /// Needs `width > 0`, `count >= 1`.
    ///
    /// ```
    /// let b = nanometrics::Buckets::linear(0.0, 0.5, 3);
    /// assert_eq!(b.bounds(), Some(&[0.0, 0.5, 1.0][..]));
    /// ```
    pub fn linear(start: f64, width: f64, count: usize) -> Buckets {
        if !(start.is_finite() && width > 0.0 && width.is_finite() && count >= 1) {
            return Buckets::invalid(format!(
                "linear buckets need a finite start, width > 0 and count >= 1 (got start={start}, width={width}, count={count})"
            ));
        }
        Buckets::explicit((0..count).map(|i| start + width * i as f64).collect())
    }

    /// `count` log-spaced bounds from `min` to `max` inclusive. Needs
    /// `0 < min < max` and `count >= 2`.
    ///
    /// ```
    /// let b = nanometrics::Buckets::log(0.001, 10.0, 5);
    /// let v = b.bounds().unwrap();
    /// assert_eq!((v.len(), v[0], v[4]), (5, 0.001, 10.0));
    /// assert!((v[2] - 0.1).abs() < 1e-12);
    /// ```
    pub fn log(min: f64, max: f64, count: usize) -> Buckets {
        if !(min > 0.0 && max > min && max.is_finite() && count >= 2) {
            return Buckets::invalid(format!(
                "log buckets need 0 < min < max and count >= 2 (got min={min}, max={max}, count={count})"
            ));
        }
        let factor = (max / min).powf(1.0 / (count - 1) as f64);
        let mut v: Vec<f64> = (0..count).map(|i| min * factor.powi(i as i32)).collect();
        v[count - 1] = max;
        Buckets::explicit(v)
    }

    fn invalid(msg: String) -> Buckets {
        Buckets { bounds: Err(msg) }
    }

    /// The finite upper bounds, or `None` if the input was invalid.
    ///
    /// ```
    /// assert_eq!(nanometrics::Buckets::linear(1.0, 1.0, 2).bounds(), Some(&[1.0, 2.0][..]));
    /// assert_eq!(nanometrics::Buckets::linear(1.0, -1.0, 2).bounds(), None);
    /// ```
    pub fn bounds(&self) -> Option<&[f64]> {
        self.bounds.as_deref().ok()
    }

    pub(crate) fn validated(&self) -> Result<&[f64], Error> {
        self.bounds
            .as_deref()
            .map_err(|e| Error::InvalidBuckets(e.clone()))
    }
}

// === impl Layout ===

/// A piece of a cell (the cell split at its bounds): its value range and
/// classic bucket, for readers.
#[derive(Clone, Copy, Debug)]
struct Piece {
    lo: f64,
    hi: f64,
    classic: u32,
}

/// One grid cell's bounds, for the writer's second, rarer increment.
#[derive(Clone, Copy, Debug)]
struct Cell {
    /// The first bound inside this cell (`bounds[c0]`), or one at or above
    /// the cell's end (`+Inf` at the last): `v > split` is the one
    /// comparison that decides whether a value passes a bound of its cell.
    split: f64,
    /// First classic bucket a value in this cell can belong to.
    c0: u32,
    /// Storage slot (relative to the header) of this cell's first "above"
    /// counter; the cell's `k` bounds have `k` of them, in bound order.
    above: u32,
    /// More than one bound inside the cell (bounds closer than 1/16 octave,
    /// or several bounds below the grid): the writer's cold path walks them.
    multi: bool,
}

/// The precomputed mapping value → storage slots for one bucket
/// configuration (crate-internal; unnameable outside).
///
/// Storage (after the header): one *cell counter* per cell (every value in
/// the cell), then, for every cell that holds `k ≥ 1` bucket bounds, `k`
/// *above counters* (values in the cell greater than its 1st, 2nd, …
/// bound). The cell counter's slot is a function of the value's bits alone,
/// so the writer's main store has its address before any table load; only a
/// value past a bound in its cell pays a second, table-addressed increment.
/// Readers turn the counters back into *pieces* (a cell split at its
/// bounds), each inside exactly one classic bucket.
#[derive(Debug)]
pub struct Layout {
    /// Finite bounds followed by a `+Inf` sentinel.
    bounds: Box<[f64]>,
    lo: f64,
    hi: f64,
    /// The largest `f64` below `lo`.
    below: f64,
    lo_key: u64,
    /// `ncells + 2` cells: below the grid, the grid, above the grid.
    cells: Box<[Cell]>,
    /// Pieces in value order (below region, grid, above region): cell `g`
    /// owns `k + 1` consecutive pieces.
    pieces: Box<[Piece]>,
}

impl Layout {
    pub(crate) fn new(bounds: &[f64]) -> Result<Layout, Error> {
        let n = bounds.len();
        let mut b: Vec<f64> = bounds.to_vec();
        b.push(f64::INFINITY);
        let pos: Vec<f64> = bounds.iter().copied().filter(|x| *x > 0.0).collect();
        // Keep the grid's edges normal, finite powers of two.
        if let Some(b) = pos
            .iter()
            .find(|b| !(MIN_POSITIVE_BOUND..=MAX_BOUND).contains(*b))
        {
            return Err(Error::InvalidBuckets(format!(
                "positive bound {b:e} is outside [{MIN_POSITIVE_BOUND:e}, {MAX_BOUND:e}]"
            )));
        }
        let (lo, hi) = match (pos.first(), pos.last()) {
            (Some(min), Some(max)) => (
                pow2(min.log2().floor() as i32 - GRID_OCTAVES_BELOW),
                pow2(max.log2().floor() as i32 + 2),
            ),
            _ => (1.0, 2.0),
        };
        let lo_key = lo.to_bits() >> KEY_SHIFT;
        let ncells = ((hi.to_bits() >> KEY_SHIFT) - lo_key) as usize;
        // Every cell as (lower end, first bucket, first bucket at or past
        // its upper end): bounds `c0..c1` lie inside it. Below the grid,
        // then the grid, then above it (no bound there: all are below `hi`).
        let mut spans = Vec::with_capacity(ncells + 2);
        spans.push((f64::NEG_INFINITY, 0, b.partition_point(|x| *x < lo)));
        for g in 0..ncells {
            let clo = f64::from_bits((lo_key + g as u64) << KEY_SHIFT);
            let chi = f64::from_bits((lo_key + g as u64 + 1) << KEY_SHIFT);
            spans.push((
                clo,
                b.partition_point(|x| *x < clo),
                b.partition_point(|x| *x < chi),
            ));
        }
        spans.push((hi, n, n));
        let ncells = spans.len();
        let mut cells = Vec::with_capacity(ncells);
        let mut pieces = Vec::new();
        let mut above = ncells;
        for (g, &(clo, c0, c1)) in spans.iter().enumerate() {
            let chi = spans.get(g + 1).map_or(f64::INFINITY, |s| s.0);
            cells.push(Cell {
                split: b[c0],
                c0: c0 as u32,
                above: above as u32,
                multi: c1 > c0 + 1,
            });
            above += c1 - c0;
            for ci in c0..=c1 {
                pieces.push(Piece {
                    lo: if ci == c0 { clo } else { b[ci - 1] },
                    hi: b[ci].min(chi),
                    classic: ci as u32,
                });
            }
        }
        debug_assert_eq!(pieces.len(), above);
        let slots = HIST_HEADER as usize + above;
        if slots > shard::CHUNK_SLOTS as usize {
            return Err(Error::InvalidBuckets(format!(
                "bounds span too wide a range or too many buckets: {slots} slots needed, at most {} supported",
                shard::CHUNK_SLOTS
            )));
        }
        Ok(Layout {
            bounds: b.into_boxed_slice(),
            lo,
            hi,
            below: f64::from_bits(lo.to_bits() - 1),
            lo_key,
            cells: cells.into_boxed_slice(),
            pieces: pieces.into_boxed_slice(),
        })
    }

    /// Slots one shard of a series needs (header included).
    pub(crate) fn slots(&self) -> u32 {
        // A cell with `k` bounds has `k + 1` pieces and `1 + k` counters, so
        // the data slots are as many as the pieces.
        HIST_HEADER + self.pieces.len() as u32
    }

    /// Finite upper bounds.
    fn finite_bounds(&self) -> &[f64] {
        &self.bounds[..self.bounds.len() - 1]
    }

    /// The cell `v` (not NaN) falls in: `v` clamped into `[below, hi]` with
    /// `maxsd`/`minsd` (negative values, -0.0 and anything under the grid
    /// become `below`, whose key is one under `lo`'s: cell 0; anything at or
    /// over `hi` becomes `hi`: the last cell), then its key. No jump: an
    /// integer clamp would be a select that the compiler may turn into one,
    /// and a latency stream crosses the grid's lower edge at random.
    #[inline(always)]
    fn cell_of(&self, v: f64) -> usize {
        // The compare-and-pick forms lower to plain `maxsd`/`minsd` (`v` is
        // not NaN, so `f64::max`'s NaN handling would be dead weight).
        let c = if v > self.below { v } else { self.below };
        let c = if c < self.hi { c } else { self.hi };
        ((c.to_bits() >> KEY_SHIFT) - (self.lo_key - 1)) as usize
    }

    /// Calls `inc(slot)` (relative to the header) for every counter `v`
    /// (not NaN) adds one to: its cell counter, then, if `v` passes bounds
    /// inside its cell, their above counters.
    ///
    /// The cell counter comes first and its slot needs no load: a store
    /// whose address waits on a table load holds back the next
    /// observation's loads (the CPU cannot tell they do not alias), which
    /// cost 1.5–2 ns per record with the previous one-slot-per-piece table.
    #[inline(always)]
    fn for_each_slot(&self, v: f64, mut inc: impl FnMut(usize)) {
        let g = self.cell_of(v);
        inc(g);
        let cell = &self.cells[g];
        if v > cell.split {
            inc(cell.above as usize);
            if cell.multi {
                self.more_bounds(v, cell, inc);
            }
        }
    }

    /// The cold rest of `for_each_slot` for a cell with several bounds.
    #[cold]
    #[inline(never)]
    fn more_bounds(&self, v: f64, cell: &Cell, mut inc: impl FnMut(usize)) {
        let mut i = 1;
        while v > self.bounds[cell.c0 as usize + i] {
            // The sentinel `+Inf` ends the walk; so does the cell's end,
            // since the next bound is at or above it.
            inc(cell.above as usize + i);
            i += 1;
        }
    }

    /// Folds a shard's staged observations into its counters, sum, min and
    /// max, and empties the stage: the writer's `fold` (on its live slots,
    /// under the seqlock) and readers (on their copy) share it.
    pub(crate) fn settle(&self, r: &mut (impl Slots + ?Sized)) {
        debug_assert_eq!(r.len(), self.slots() as usize, "a whole range");
        let n = (r.get(HIST_LEN) as usize).min(HIST_STAGED);
        if n == 0 {
            return;
        }
        let mut sum = f64::from_bits(r.get(HIST_SUM));
        // Min and max of the staged values as `f64` (plain `minsd`/`maxsd`;
        // no NaN is ever staged), merged with the folded ones at the end.
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for i in 0..n {
            let v = f64::from_bits(r.get(HIST_STAGE + i));
            self.for_each_slot(
                v,
                #[inline(always)]
                |k| {
                    let k = HIST_HEADER as usize + k;
                    r.set(k, r.get(k).wrapping_add(1));
                },
            );
            // In staging order: the same rounding as adding one at a time.
            sum += v;
            lo = if v < lo { v } else { lo };
            hi = if v > hi { v } else { hi };
        }
        // `<` and `>` do not order -0.0 below +0.0 (`ord` does): when the
        // stage's min or max is a zero, its sign comes from the staged zeros.
        if lo == 0.0 || hi == 0.0 {
            let staged = |z: f64| (0..n).any(|i| r.get(HIST_STAGE + i) == z.to_bits());
            if lo == 0.0 {
                lo = if staged(-0.0) { -0.0 } else { 0.0 };
            }
            if hi == 0.0 {
                hi = if staged(0.0) { 0.0 } else { -0.0 };
            }
        }
        r.set(HIST_SUM, sum.to_bits());
        r.set(HIST_MIN, r.get(HIST_MIN).max(!ord(lo)));
        r.set(HIST_MAX, r.get(HIST_MAX).max(ord(hi)));
        r.set(HIST_LEN, 0);
    }

    /// Storage counters (after the header) → piece counts, in piece order.
    fn piece_counts(&self, storage: &[u64]) -> Vec<u64> {
        let mut out = Vec::with_capacity(self.pieces.len());
        for (g, cell) in self.cells.iter().enumerate() {
            let k = self
                .cells
                .get(g + 1)
                .map_or(self.pieces.len() as u32, |c| c.above)
                - cell.above;
            let aboves = &storage[cell.above as usize..(cell.above + k) as usize];
            // Counters of one cell from one consistent read satisfy
            // cell ≥ above_0 ≥ above_1 ≥ …; wrapping keeps a wrapped total exact.
            let mut prev = storage[g];
            for a in aboves {
                out.push(prev.wrapping_sub(*a));
                prev = *a;
            }
            out.push(prev);
        }
        out
    }
}

fn pow2(e: i32) -> f64 {
    2f64.powi(e)
}

/// Order-preserving map of non-NaN `f64` to `u64`; never 0 for a non-NaN.
#[inline(always)]
fn ord(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 0 {
        b | (1 << 63)
    } else {
        !b
    }
}

fn unord(o: u64) -> f64 {
    if o >> 63 == 1 {
        f64::from_bits(o & !(1 << 63))
    } else {
        f64::from_bits(!o)
    }
}

/// Slot access for [`Layout::settle`]: a shard's live slots (by their only
/// writer) or a reader's plain copy.
pub(crate) trait Slots {
    fn len(&self) -> usize;
    fn get(&self, i: usize) -> u64;
    fn set(&mut self, i: usize, v: u64);
}

impl Slots for [u64] {
    fn len(&self) -> usize {
        <[u64]>::len(self)
    }
    #[inline(always)]
    fn get(&self, i: usize) -> u64 {
        <[u64]>::get(self, i).copied().unwrap_or(0)
    }
    #[inline(always)]
    fn set(&mut self, i: usize, v: u64) {
        if let Some(s) = <[u64]>::get_mut(self, i) {
            *s = v;
        }
    }
}

/// A shard's live slots, written by the owning thread with relaxed stores.
struct Live<'a>(&'a [AtomicU64]);

impl Slots for Live<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    #[inline(always)]
    fn get(&self, i: usize) -> u64 {
        self.0.get(i).map_or(0, |s| s.load(Ordering::Relaxed))
    }
    #[inline(always)]
    fn set(&mut self, i: usize, v: u64) {
        if let Some(s) = self.0.get(i) {
            s.store(v, Ordering::Relaxed);
        }
    }
}

/// One observation (not NaN) into the shard at `off` of chunk `c`: appended
/// to the shard's stage, two stores and no read-modify-write of shared data.
/// The record that finds the stage full (`HIST_STAGED` values) folds it
/// under the seqlock (`fold`).
#[inline(always)]
fn record_into(c: &Chunk, off: usize, layout: &Layout, v: f64) {
    // Only the header on this path: its length is a constant, so the check
    // needs no load of the layout's size.
    let Some(head) = c.slots.get(off..off + HIST_HEADER as usize) else {
        return; // not reached: `Lease::create` placed the range inside the chunk
    };
    let len = &head[HIST_LEN];
    let n = len.load(Ordering::Relaxed) as usize;
    if let Some(s) = head[HIST_STAGE..].get(n) {
        s.store(v.to_bits(), Ordering::Relaxed);
        // Release: pairs with the Acquire load of the staged count in
        // `shard::read_seqlocked`: a reader that counts this value sees it.
        len.store(n as u64 + 1, Ordering::Release);
    } else {
        fold(c, off, layout, v);
    }
}

/// The stage is full: bins it into the counters under the seqlock, then
/// stages `v`.
#[inline(never)]
fn fold(c: &Chunk, off: usize, layout: &Layout, v: f64) {
    let Some(r) = c.slots.get(off..off + layout.slots() as usize) else {
        return; // not reached, as above
    };
    shard::seq_write(&r[HIST_SEQ], || {
        layout.settle(&mut Live(r));
        r[HIST_STAGE].store(v.to_bits(), Ordering::Relaxed);
        r[HIST_LEN].store(1, Ordering::Relaxed);
    })
}

// === impl Histogram ===

/// A distribution of observations: classic cumulative buckets for Prometheus,
/// plus count, sum, min, max and quantiles on demand.
///
/// Recording costs about 5 ns on the calling thread (docs/benchmarks.md): the
/// value is appended to that thread's own stage for the series, and the
/// record that finds 16 values staged bins them into the thread's counters
/// (see "How it works"). NaN observations are ignored (they could not be exported
/// meaningfully).
///
/// ```
/// use nanometrics::{Buckets, Registry};
/// let r = Registry::new();
/// let h = r.histogram("latency_seconds", "Latency.", Buckets::default())?;
/// h.record(0.02);
/// h.record(0.3);
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
/// Per series per thread that records into it: 8 bytes × (21 header slots,
/// plus one per grid cell, plus 2 edge cells, plus one per bound). The
/// header is the sequence, sum, min, max, stage length and 16 staged values.
/// For `Buckets::default()` that is 293 slots = 2,344 bytes; for
/// `Buckets::exponential(0.001, 2.0, 16)`, 359 slots = 2,872 bytes.
#[derive(Clone)]
pub struct Histogram {
    at: SlotRef,
    layout: StdArc<Layout>,
    lease: LeaseRef,
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.snapshot();
        f.debug_struct("Histogram")
            .field("count", &s.count)
            .field("sum", &s.sum)
            .finish()
    }
}

impl Histogram {
    pub(crate) fn create(layout: &StdArc<Layout>) -> Result<Histogram, Error> {
        let (at, lease) = Lease::create(layout.slots(), RangeKind::Hist(layout.clone()))?;
        Ok(Histogram {
            at,
            layout: layout.clone(),
            lease,
        })
    }

    /// Records one observation. NaN is ignored.
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// h.record(0.004);
    /// assert_eq!(h.snapshot().buckets[0], (0.005, 1));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline(always)]
    pub fn record(&self, v: f64) {
        if v.is_nan() {
            return;
        }
        let off = self.at.off as usize;
        let layout = &*self.layout;
        // `move`: the closure holds copies, not references to stack values;
        // `inline(always)`: outlined, it would add a call to every record.
        shard::with_chunk(
            self.at,
            #[inline(always)]
            move |c| {
                record_into(c, off, layout, v);
            },
        )
    }

    /// Records a duration in seconds.
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// h.record_duration(std::time::Duration::from_millis(250));
    /// assert_eq!(h.snapshot().sum, 0.25);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn record_duration(&self, d: Duration) {
        self.record(d.as_secs_f64());
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
    /// h.record(0.5); h.record(2.0);
    /// let s = h.snapshot();
    /// assert_eq!(s.buckets, vec![(1.0, 1), (f64::INFINITY, 2)]);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn snapshot(&self) -> HistogramSnapshot {
        let r = shard::reader();
        self.read(&r)
    }

    pub(crate) fn read(&self, r: &shard::Reader) -> HistogramSnapshot {
        let mut raw = r.hist(self.at, &self.layout);
        // A thread's exit moves its shard's sum into the retired total, which
        // changes the order of the `f64` additions: the same observations can
        // sum to an ulp less than an earlier read reported. While every
        // observation is non-negative (min ≥ 0; `min_enc` is 0 only when
        // empty), `_sum` is a counter to Prometheus, which would read that
        // drop as a reset, so a read never reports less than the last one.
        // With a negative observation the sum may go down and is reported
        // as it is.
        if raw.min_enc != 0 && unord(!raw.min_enc) >= 0.0 {
            raw.sum = self.lease.high_water(r, raw.sum);
        }
        HistogramSnapshot::from_raw(&self.layout, raw)
    }

    /// Composite statistics with quantiles; see [`Stats`].
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// for i in 1..=100 { h.record(i as f64 / 100.0); }
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
        self.hist.record(s);
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
            self.hist.record(self.start.elapsed().as_secs_f64());
        }
    }
}

// === impl HistogramSnapshot ===

/// A consistent read of a histogram.
#[derive(Clone)]
///
/// ```
/// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::explicit(vec![1.0, 2.0]))?;
/// h.record(1.5);
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
    fn from_raw(layout: &StdArc<Layout>, raw: HistRaw) -> HistogramSnapshot {
        let bounds = layout.finite_bounds();
        let pieces = layout.piece_counts(&raw.counts);
        let mut classic = vec![0u64; bounds.len() + 1];
        for (p, c) in layout.pieces.iter().zip(&pieces) {
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
        let (min, max) = if cum == 0 {
            (f64::NAN, f64::NAN)
        } else {
            (unord(!raw.min_enc), unord(raw.max_enc))
        };
        HistogramSnapshot {
            count: cum,
            sum: if cum == 0 { 0.0 } else { raw.sum },
            min,
            max,
            buckets,
            layout: layout.clone(),
            pieces,
        }
    }

    /// Estimated `q`-quantile (nearest rank), `q` in `[0, 1]`; NaN when empty
    /// or `q` is out of range. Within 3.2 % relative error for values inside
    /// the grid (see [`Histogram`], "How it works").
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// h.record(0.1); h.record(0.2); h.record(0.3);
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
        for (p, c) in self.layout.pieces.iter().zip(&self.pieces) {
            cum += c;
            if cum >= rank {
                // The piece's range, narrowed to what was observed: exact at
                // q = 1 and for the edge regions, whose pieces are unbounded.
                let (lo, hi) = (p.lo.max(self.min), p.hi.min(self.max));
                let est = if lo <= hi { lo + (hi - lo) / 2.0 } else { hi };
                return est.clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// `sum / count`, NaN when empty.
    ///
    /// ```
    /// # let h = nanometrics::Registry::new().histogram("x", "x", nanometrics::Buckets::default())?;
    /// h.record(1.0); h.record(2.0);
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
    /// h.record(0.5);
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
        (self.layout.lo, self.layout.hi)
    }
}

/// Composite statistics of a histogram: count, sum, min, max, mean and
/// quantiles on demand.
///
/// ```
/// use nanometrics::{Buckets, Registry};
/// let h = Registry::new().histogram("ttft_seconds", "TTFT.", Buckets::exponential(0.001, 2.0, 16))?;
/// for ms in [10.0, 20.0, 30.0, 40.0] { h.record(ms / 1000.0); }
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
    /// for i in 1..=1000 { h.record(i as f64 / 1000.0); }
    /// let p99 = h.stats().quantile(0.99);
    /// assert!((p99 - 0.99).abs() / 0.99 < 0.05);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn quantile(&self, q: f64) -> f64 {
        self.snapshot.quantile(q)
    }
}

#[cfg(all(test, not(nanometrics_loom)))]
mod tests {
    use super::*;

    #[test]
    fn ord_is_monotonic_and_nonzero() {
        let vals = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -0.0,
            0.0,
            1e-300,
            1.0,
            1e300,
            f64::INFINITY,
        ];
        for w in vals.windows(2) {
            assert!(ord(w[0]) <= ord(w[1]), "{} {}", w[0], w[1]);
        }
        for v in vals {
            assert_ne!(ord(v), 0);
            assert_ne!(!ord(v), 0);
            assert_eq!(unord(ord(v)).to_bits(), v.to_bits());
        }
    }

    #[test]
    fn every_piece_belongs_to_the_right_classic_bucket() {
        let bounds = [-1.0, 0.0, 0.001, 0.0011, 0.5, 1.0, 1.03, 7.0, 10.0];
        let l = Layout::new(&bounds).unwrap();
        let mut probes = vec![
            f64::NEG_INFINITY,
            -5.0,
            -1.0,
            -0.5,
            0.0,
            1e-9,
            f64::INFINITY,
            1e9,
        ];
        for b in bounds {
            for d in [-1e-12, 0.0, 1e-12] {
                probes.push(b + d);
            }
            probes.push(f64::from_bits(b.to_bits() + 1));
            probes.push(f64::from_bits(b.to_bits().wrapping_sub(1)));
        }
        for i in 0..10_000 {
            probes.push(i as f64 * 0.0013 - 1.5);
        }
        let mut storage = vec![0u64; l.pieces.len()];
        for v in probes.into_iter().filter(|v| !v.is_nan()) {
            storage.fill(0);
            l.for_each_slot(v, |k| storage[k] += 1);
            let counts = l.piece_counts(&storage);
            assert_eq!(counts.iter().sum::<u64>(), 1, "value {v}: {counts:?}");
            let p = counts.iter().position(|c| *c == 1).unwrap();
            let want = bounds.partition_point(|b| *b < v) as u32;
            assert_eq!(l.pieces[p].classic, want, "value {v}");
            assert!(
                l.pieces[p].lo <= v && v <= l.pieces[p].hi,
                "value {v} outside {:?}",
                l.pieces[p]
            );
        }
    }

    #[test]
    fn default_layout_size_is_documented() {
        assert_eq!(
            Layout::new(Buckets::default().bounds().unwrap())
                .unwrap()
                .slots(),
            293
        );
        assert_eq!(
            Layout::new(Buckets::exponential(0.001, 2.0, 16).bounds().unwrap())
                .unwrap()
                .slots(),
            359
        );
    }
}
