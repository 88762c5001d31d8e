//! [`Layout`]: the mapping from an observed value to a histogram's
//! counters, and from counters back to classic buckets and quantiles.
//! Pure arithmetic on `f64` bits: no atomics, no storage (the shards'
//! staging protocol, `shard::staging`, holds the counters).
//!
//! A positive finite value maps to a cell of a log-linear grid (its binary
//! exponent and top `SUB_BITS` mantissa bits); a cell that holds classic
//! bucket bounds has one more counter per bound ("above" counters), so
//! readers can split each cell at its bounds into *pieces*, each inside one
//! classic bucket. The user-facing description is on `Histogram`.

use crate::error::Error;

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

/// A piece of a cell (the cell split at its bounds): its value range and
/// classic bucket, for readers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Piece {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) classic: u32,
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
/// Counter indices below are relative to the start of a shard's counters.
///
/// Counters: one *cell counter* per cell (every value in
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
    /// The key (exponent and top mantissa bits) of cell 0: one under
    /// `lo`'s, so that `below` maps to cell 0.
    key0: u64,
    /// `ncells + 2` cells: below the grid, the grid, above the grid.
    cells: Box<[Cell]>,
    /// Each cell's `split`, apart: the one field the writer reads for
    /// every value (an 8-byte stride indexes it in one addressing mode).
    splits: Box<[f64]>,
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
        Ok(Layout {
            bounds: b.into_boxed_slice(),
            lo,
            hi,
            below: f64::from_bits(lo.to_bits() - 1),
            key0: lo_key - 1,
            splits: cells.iter().map(|c| c.split).collect(),
            cells: cells.into_boxed_slice(),
            pieces: pieces.into_boxed_slice(),
        })
    }

    /// Counters one shard of a series needs: one per piece (a cell with
    /// `k` bounds has `k + 1` pieces and `1 + k` counters).
    pub(crate) fn data_slots(&self) -> u32 {
        self.pieces.len() as u32
    }

    /// The pieces in value order.
    pub(crate) fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// Where quantiles are precise: the grid's `[lo, hi)`.
    pub(crate) fn grid_range(&self) -> (f64, f64) {
        (self.lo, self.hi)
    }

    /// Finite upper bounds.
    pub(crate) fn finite_bounds(&self) -> &[f64] {
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
        ((c.to_bits() >> KEY_SHIFT) - self.key0) as usize
    }

    /// Calls `inc(slot)` (relative to the header) for every counter `v`
    /// (not NaN) adds one to: its cell counter, then, if `v` passes bounds
    /// inside its cell, their above counters.
    ///
    /// The cell counter comes first and its slot needs no load: a store
    /// whose address waits on a table load holds back the next
    /// observation's loads (the CPU cannot tell they do not alias);
    /// `docs/perf-log.md` has the measurement.
    #[inline(always)]
    pub(crate) fn for_each_slot(&self, v: f64, mut inc: impl FnMut(usize)) {
        let g = self.cell_of(v);
        inc(g);
        if v > self.splits[g] {
            let cell = &self.cells[g];
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

    /// Storage counters (after the header) → piece counts, in piece order.
    pub(crate) fn piece_counts(&self, storage: &[u64]) -> Vec<u64> {
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
pub(crate) fn ord(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 0 {
        b | (1 << 63)
    } else {
        !b
    }
}

pub(crate) fn unord(o: u64) -> f64 {
    if o >> 63 == 1 {
        f64::from_bits(o & !(1 << 63))
    } else {
        f64::from_bits(!o)
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
}
