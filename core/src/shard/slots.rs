//! The slot space: the process-wide index space every sharded series takes
//! a range of, the [`Chunk`]s that hold one thread's slots, and the
//! single-writer updates a slot takes.

use std::sync::Arc as StdArc;

use super::totals::HistTotals;
use crate::sync::{AtomicU64, Ordering};

#[cfg(not(nanometrics_loom))]
const CHUNK_SHIFT: u32 = 9;
#[cfg(nanometrics_loom)]
const CHUNK_SHIFT: u32 = 4;
/// Slots per chunk (512 = 4 KiB, one page, with std; 16 under loom).
pub(crate) const CHUNK_SLOTS: u32 = 1 << CHUNK_SHIFT;
pub(super) const CHUNK_MASK: u32 = CHUNK_SLOTS - 1;
#[cfg(not(nanometrics_loom))]
pub(super) const MAX_CHUNKS: u32 = 2048;
#[cfg(nanometrics_loom)]
pub(super) const MAX_CHUNKS: u32 = 4;
/// Total slot capacity of the process with std: 1 Mi slots (a counter
/// takes one, a histogram or summary series 23: 22 to a chunk).
pub(super) const MAX_SLOTS: u32 = CHUNK_SLOTS * MAX_CHUNKS;

/// A block of slots. Only its owning thread writes it (or, for the retired
/// chunks, whoever holds the state lock).
pub(crate) struct Chunk {
    pub(crate) slots: [AtomicU64; CHUNK_SLOTS as usize],
}

impl Chunk {
    pub(super) fn new_boxed() -> Box<Chunk> {
        Box::new(Chunk {
            slots: std::array::from_fn(|_| AtomicU64::new(0)),
        })
    }
}

/// Where a series' range starts: chunk index and offset in the chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlotRef {
    pub(crate) chunk: u32,
    pub(crate) off: u32,
}

impl SlotRef {
    pub(super) fn from_index(i: u32) -> SlotRef {
        SlotRef {
            chunk: i >> CHUNK_SHIFT,
            off: i & CHUNK_MASK,
        }
    }

    pub(super) fn index(self) -> u32 {
        (self.chunk << CHUNK_SHIFT) | self.off
    }

    /// The slot's index as an identity: unique among live series, since a
    /// range is reused only after its last handle is gone.
    pub(crate) fn id(self) -> usize {
        self.index() as usize
    }
}

/// How a range is folded when its thread exits.
#[derive(Clone, Debug)]
pub(crate) enum RangeKind {
    /// One wrapping `u64` sum (counter, up-down counter as two's complement).
    Sum,
    /// Float counter: one `f64` sum stored as bits.
    SumF64,
    /// Histogram: the range is a shard's header (`staging::HEADER` slots,
    /// whose `NARROW` slot holds the address of its counter bytes); exit
    /// folds it into these totals.
    Hist(StdArc<HistTotals>),
}

/// Index into a chunk table; the mask lets the compiler drop the bounds check
/// (a `SlotRef` never exceeds it: allocation stays below `MAX_SLOTS`).
#[inline(always)]
pub(super) fn chunk_index(i: u32) -> usize {
    (i & (MAX_CHUNKS - 1)) as usize
}

/// Index into a chunk's slots, likewise without a bounds check.
#[inline(always)]
pub(crate) fn slot_index(off: usize) -> usize {
    off & CHUNK_MASK as usize
}

/// Adds `n` to a slot that only the calling thread writes (or that the
/// state lock guards): a relaxed load and a relaxed store, no locked RMW.
#[inline(always)]
pub(crate) fn add_u64(s: &AtomicU64, n: u64) {
    s.store(s.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// `add_u64` for a slot holding `f64` bits; same single-writer rule.
#[inline(always)]
pub(crate) fn add_f64(s: &AtomicU64, v: f64) {
    let cur = f64::from_bits(s.load(Ordering::Relaxed));
    s.store((cur + v).to_bits(), Ordering::Relaxed);
}
