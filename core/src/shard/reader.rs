//! [`Reader`]: a consistent read view of every shard. It holds the state
//! lock, so no thread exits (folds its block) and no range is released while
//! it lives; writers are never blocked by it.

use std::cell::Cell;

use super::slots::SlotRef;
use super::staging::{self, HistRaw};
use super::state::{state, State};
use super::totals::HistTotals;
use crate::sync::{lock, MutexGuard, Ordering};

/// A consistent read view (crate-internal; unnameable outside).
pub struct Reader {
    st: MutexGuard<'static, State>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("threads", &self.st.threads.len())
            .finish()
    }
}

#[cfg(not(nanometrics_loom))]
std::thread_local! {
    /// Whether this thread holds a `Reader` (the state lock).
    static READING: Cell<bool> = const { Cell::new(false) };
}

#[cfg(nanometrics_loom)]
loom::thread_local! {
    static READING: Cell<bool> = Cell::new(false);
}

/// Takes the state lock for a read.
pub(crate) fn reader() -> Reader {
    let st = lock(state());
    let _ = READING.try_with(|r| r.set(true));
    Reader { st }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let _ = READING.try_with(|r| r.set(false));
    }
}

/// Whether this thread holds the state lock through a `Reader`: a handle
/// dropped then (in a `Registry::visit` callback) must not evict another
/// series' parked references, whose release could take the lock again.
pub(super) fn reading() -> bool {
    READING.try_with(Cell::get).unwrap_or(false)
}

impl Reader {
    /// Wrapping sum of slot `at` over every thread plus the retired total.
    pub(crate) fn sum(&self, at: SlotRef) -> u64 {
        let off = at.off as usize;
        let mut total = self
            .st
            .retired(at.chunk)
            .map_or(0, |c| c.slots[off].load(Ordering::Relaxed));
        for b in self.st.blocks() {
            if let Some(c) = b.reader_chunk(at.chunk) {
                total = total.wrapping_add(c.slots[off].load(Ordering::Relaxed));
            }
        }
        total
    }

    /// Sum of the `f64` slot `at` over every thread plus the retired total.
    pub(crate) fn sum_f64(&self, at: SlotRef) -> f64 {
        let off = at.off as usize;
        let mut total = self.st.retired(at.chunk).map_or(0.0, |c| {
            f64::from_bits(c.slots[off].load(Ordering::Relaxed))
        });
        for b in self.st.blocks() {
            if let Some(c) = b.reader_chunk(at.chunk) {
                total += f64::from_bits(c.slots[off].load(Ordering::Relaxed));
            }
        }
        total
    }

    /// Reads a histogram series from every shard (`staging::read_series`).
    pub(crate) fn hist(&self, at: SlotRef, totals: &HistTotals) -> HistRaw {
        let off = at.off as usize;
        staging::read_series(totals, || {
            self.st
                .retired(at.chunk)
                .into_iter()
                .chain(self.st.blocks().filter_map(|b| b.reader_chunk(at.chunk)))
                .filter_map(move |c| staging::Shard::of(c, off, totals))
        })
    }
}
