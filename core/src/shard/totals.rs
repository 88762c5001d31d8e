//! [`HistTotals`]: the part of a histogram series that its threads share.
//!
//! A thread's shard of a series (`staging.rs`) counts in one byte per
//! counter. The increment that would take a byte to `CARRY` *carries*
//! instead: the byte goes back to 0 and `CARRY` is added to the series'
//! *wide* counter here (a relaxed `fetch_add`, once per `CARRY` records into
//! one counter by one thread). The wide counters are allocated in pages of
//! `PAGE`, each on the first carry into it, so a series that few records
//! reach costs no wide memory at all. That allocation happens inside the
//! carrying thread's seqlock (the carry does), so a reader of that shard
//! spins for as long as one small `malloc` takes, at most once per page
//! of a series' lifetime.
//!
//! The retired part (sum, min, max and the count of what was added to the
//! wide counters) holds what exited threads folded in; it is written and
//! read under the state lock only.

use std::ptr;
use std::sync::Arc as StdArc;

use crate::bucket_layout::Layout;
use crate::sync::{AtomicPtr, AtomicU64, Ordering};

/// Wide counters per page.
#[cfg(not(nanometrics_loom))]
const PAGE: usize = 16;
#[cfg(nanometrics_loom)]
const PAGE: usize = 2;

struct Page([AtomicU64; PAGE]);

/// A histogram series' shared totals (crate-internal).
pub(crate) struct HistTotals {
    /// The series' bucket layout: how many counters, how values bin.
    pub(crate) layout: StdArc<Layout>,
    /// Wide counters, `PAGE` to a page; null until the first carry into it.
    pages: Box<[AtomicPtr<Page>]>,
    /// Retired `f64` sum (bits), `ord`-encoded min (inverted) and max, and
    /// the wrapping total of what lock holders added to the wide counters:
    /// written and read under the state lock only (Relaxed).
    retired: [AtomicU64; 4],
}

const R_SUM: usize = 0;
const R_MIN: usize = 1;
const R_MAX: usize = 2;
const R_ADDED: usize = 3;

/// What exited threads left: sum, min and max (encoded as in a shard's
/// header) and the total their folds and carries added to the wide counters.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Retired {
    pub(crate) sum: f64,
    pub(crate) min_enc: u64,
    pub(crate) max_enc: u64,
    pub(crate) added: u64,
}

impl HistTotals {
    pub(crate) fn new(layout: StdArc<Layout>) -> HistTotals {
        let pages = (layout.data_slots() as usize).div_ceil(PAGE);
        HistTotals {
            layout,
            pages: (0..pages)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
            retired: std::array::from_fn(|i| {
                AtomicU64::new(if i == R_SUM { 0.0f64.to_bits() } else { 0 })
            }),
        }
    }

    /// Adds `n` to wide counter `k`: a thread's carry (inside its seqlock)
    /// or an exiting thread's fold (under the state lock). Relaxed: readers
    /// see a carry through the carrying thread's seqlock, which the
    /// addition is sequenced before, and an exit through the state lock.
    pub(crate) fn add(&self, k: usize, n: u64) {
        let Some(page) = self.pages.get(k / PAGE) else {
            return; // not reached: `k` is a counter of this layout
        };
        self.page(page).0[k % PAGE].fetch_add(n, Ordering::Relaxed);
    }

    fn page<'a>(&'a self, slot: &'a AtomicPtr<Page>) -> &'a Page {
        // Acquire: pairs with the Release of the exchange below, so the
        // page's zeroed counters are visible with its pointer.
        let p = slot.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: non-null pointers come from `Box::into_raw` below and
            // are freed only by `drop`, which `&self` rules out.
            return unsafe { &*p };
        }
        self.new_page(slot)
    }

    #[cold]
    #[inline(never)]
    fn new_page<'a>(&'a self, slot: &'a AtomicPtr<Page>) -> &'a Page {
        let new = Box::into_raw(Box::new(Page(std::array::from_fn(|_| AtomicU64::new(0)))));
        // Release on success: pairs with the Acquire load in `page` (and in
        // `read_into`). Acquire on failure: the winner's page is initialised.
        match slot.compare_exchange(ptr::null_mut(), new, Ordering::Release, Ordering::Acquire) {
            // SAFETY: just published; freed only by `drop`.
            Ok(_) => unsafe { &*new },
            Err(theirs) => {
                // SAFETY: `new` was never published; we own it.
                drop(unsafe { Box::from_raw(new) });
                // SAFETY: as in `page`.
                unsafe { &*theirs }
            }
        }
    }

    /// Adds every wide counter to `counts` (one per counter of the layout)
    /// and returns their wrapping total.
    pub(crate) fn read_into(&self, counts: &mut [u64]) -> u64 {
        let mut total = 0u64;
        for (slot, out) in self.pages.iter().zip(counts.chunks_mut(PAGE)) {
            // Acquire: as in `page`.
            let p = slot.load(Ordering::Acquire);
            if p.is_null() {
                continue;
            }
            // SAFETY: as in `page`.
            let page = unsafe { &*p };
            for (c, o) in page.0.iter().zip(out) {
                let v = c.load(Ordering::Relaxed);
                *o = o.wrapping_add(v);
                total = total.wrapping_add(v);
            }
        }
        total
    }

    /// What exited threads left. Callers hold the state lock.
    pub(crate) fn retired(&self) -> Retired {
        let r = |i: usize| self.retired[i].load(Ordering::Relaxed);
        Retired {
            sum: f64::from_bits(r(R_SUM)),
            min_enc: r(R_MIN),
            max_enc: r(R_MAX),
            added: r(R_ADDED),
        }
    }

    /// Merges an exited shard's sum, min and max, and `added` (what its
    /// fold and its carries put into the wide counters), into the retired
    /// part. Callers hold the state lock.
    pub(crate) fn retire(&self, r: Retired) {
        let cur = self.retired();
        let set = |i: usize, v: u64| self.retired[i].store(v, Ordering::Relaxed);
        set(R_SUM, (cur.sum + r.sum).to_bits());
        set(R_MIN, cur.min_enc.max(r.min_enc));
        set(R_MAX, cur.max_enc.max(r.max_enc));
        set(R_ADDED, cur.added.wrapping_add(r.added));
    }

    /// Bytes of wide counters allocated.
    #[cfg(all(test, not(nanometrics_loom)))]
    pub(crate) fn wide_bytes(&self) -> usize {
        let pages = self
            .pages
            .iter()
            .filter(|p| !p.load(Ordering::Relaxed).is_null())
            .count();
        pages * std::mem::size_of::<Page>()
    }
}

impl Drop for HistTotals {
    fn drop(&mut self) {
        for slot in self.pages.iter() {
            let p = slot.load(Ordering::Relaxed);
            if !p.is_null() {
                // SAFETY: from `Box::into_raw` in `new_page`; `&mut self`
                // means no other reference to the page exists.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}

impl std::fmt::Debug for HistTotals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistTotals")
            .field("counters", &self.layout.data_slots())
            .finish()
    }
}
