//! The histogram staging protocol: how one thread's shard of a histogram
//! series is laid out, written and read. Writer and reader halves, and every
//! ordering between them, are in this file.
//!
//! # Layout of a shard's range
//!
//! `SEQ` (sequence counter), `SUM` (`f64` sum of the folded observations),
//! `MIN`/`MAX` (`ord`-encoded, of the folded observations), `LEN` (how many
//! observations are *staged*), `STAGED` slots of staged `f64` bits, then the
//! `u64` counters of the series' [`Layout`] (cell and "above" counters,
//! summed over threads like any counter).
//!
//! # Writer (the owning thread only)
//!
//! [`record`] appends a value to the stage: a relaxed store of its bits, then
//! a `Release` store of `LEN`. The record that finds the stage full *folds*
//! it ([`fold_stage`]: bins the staged values into the counters, adds their
//! sum, min and max) between the odd and even stores of `SEQ` ([`seq_write`]),
//! then stages its own value.
//!
//! # Readers (under the state lock)
//!
//! [`read_range`] copies each shard under its seqlock ([`read_seqlocked`]),
//! folds the staged values of its copy itself, and merges the shards, so a
//! value counts from the moment `record` returns. Thread exit folds the
//! exiting shard's copy and adds it to the retired range ([`fold_exited`]);
//! staged values of the retired range itself (records made after a thread's
//! block owner was gone) stay staged until a reader or that range's next
//! fold bins them.

use super::slots::{add_f64, add_u64, max_u64, Chunk, CHUNK_SLOTS};
use crate::bucket_layout::{ord, unord, Layout};
use crate::error::Error;
use crate::sync::{fence, spin, AtomicU64, Ordering};

pub(crate) const SEQ: usize = 0;
pub(crate) const SUM: usize = 1;
pub(crate) const MIN: usize = 2;
pub(crate) const MAX: usize = 3;
pub(crate) const LEN: usize = 4;
pub(crate) const STAGE: usize = 5;
/// Observations a shard stages before it folds them into its counters.
#[cfg(not(nanometrics_loom))]
pub(crate) const STAGED: usize = 16;
#[cfg(nanometrics_loom)]
pub(crate) const STAGED: usize = 2;
/// Slots before the counters.
pub(crate) const HEADER: u32 = (STAGE + STAGED) as u32;

/// Slots one shard of a series with this layout takes (header included).
pub(crate) fn range_len(layout: &Layout) -> u32 {
    HEADER + layout.data_slots()
}

/// `layout`, if one shard of it fits in a chunk (every range must).
pub(crate) fn fits(layout: Layout) -> Result<Layout, Error> {
    let slots = range_len(&layout);
    if slots > CHUNK_SLOTS {
        return Err(Error::InvalidBuckets(format!(
            "bounds span too wide a range or too many buckets: {slots} slots needed, at most {CHUNK_SLOTS} supported"
        )));
    }
    Ok(layout)
}

// === writer ===

/// One observation (not NaN) into the shard at `off` of chunk `c`: appended
/// to the shard's stage, two stores and no read-modify-write of shared data.
/// The record that finds the stage full (`STAGED` values) folds it
/// under the seqlock (`fold`).
#[inline(always)]
pub(crate) fn record(c: &Chunk, off: usize, layout: &Layout, v: f64) {
    // Only the header on this path: its length is a constant, so the check
    // needs no load of the layout's size.
    let Some(head) = c.slots.get(off..off + HEADER as usize) else {
        return; // not reached: `Lease::create` placed the range inside the chunk
    };
    let len = &head[LEN];
    let n = len.load(Ordering::Relaxed) as usize;
    if let Some(s) = head[STAGE..].get(n) {
        s.store(v.to_bits(), Ordering::Relaxed);
        // Release: pairs with the Acquire load of the staged count in
        // `read_seqlocked`: a reader that counts this value sees it.
        len.store(n as u64 + 1, Ordering::Release);
    } else {
        fold(c, off, layout, v);
    }
}

/// The stage is full: bins it into the counters under the seqlock, then
/// stages `v`.
#[inline(never)]
fn fold(c: &Chunk, off: usize, layout: &Layout, v: f64) {
    let Some(r) = c.slots.get(off..off + range_len(layout) as usize) else {
        return; // not reached, as above
    };
    seq_write(&r[SEQ], || {
        fold_stage(layout, &mut Live(r));
        r[STAGE].store(v.to_bits(), Ordering::Relaxed);
        r[LEN].store(1, Ordering::Relaxed);
    })
}

/// Writer half of the seqlock: runs `f` between the odd and even stores of
/// the range's sequence counter `seq`.
#[inline(always)]
pub(crate) fn seq_write(seq: &AtomicU64, f: impl FnOnce()) {
    let s = seq.load(Ordering::Relaxed);
    seq.store(s.wrapping_add(1), Ordering::Relaxed);
    // Release fence: pairs with the reader's Acquire fence in
    // `read_seqlocked`; orders the odd store before the data stores below.
    fence(Ordering::Release);
    f();
    // Release: pairs with the reader's opening Acquire load of the sequence.
    seq.store(s.wrapping_add(2), Ordering::Release);
}

// === readers ===

/// Seqlock read of one shard's histogram range into `out`.
fn read_seqlocked(slots: &[AtomicU64], out: &mut [u64]) {
    loop {
        // Acquire: pairs with the writer's closing Release store of the
        // sequence (`seq_write`), so a stable even value shows that
        // update's data.
        let s1 = slots[SEQ].load(Ordering::Acquire);
        if s1 & 1 == 0 {
            for (i, (o, s)) in out.iter_mut().zip(slots).enumerate().skip(1) {
                // Acquire on the staged count: pairs with the Release store
                // in `record`, so the staged values it counts (loaded after
                // it) are visible.
                *o = s.load(if i == LEN {
                    Ordering::Acquire
                } else {
                    Ordering::Relaxed
                });
            }
            // Acquire fence: pairs with the writer's Release fence after its
            // opening (odd) store; if any load above saw a later update's data,
            // the re-read below sees that update's odd (or a later) sequence.
            fence(Ordering::Acquire);
            if slots[SEQ].load(Ordering::Relaxed) == s1 {
                return;
            }
        }
        spin();
    }
}

/// A merged histogram range, as read from every shard.
#[derive(Debug, Default, Clone)]
pub(crate) struct HistRaw {
    pub(crate) sum: f64,
    min_enc: u64,
    max_enc: u64,
    pub(crate) counts: Vec<u64>,
}

impl HistRaw {
    fn merge_slots(&mut self, s: &[u64]) {
        self.sum += f64::from_bits(s[SUM]);
        self.min_enc = self.min_enc.max(s[MIN]);
        self.max_enc = self.max_enc.max(s[MAX]);
        for (c, v) in self.counts.iter_mut().zip(&s[HEADER as usize..]) {
            *c = c.wrapping_add(*v);
        }
    }

    /// The smallest observation, `None` when nothing was observed.
    pub(crate) fn min(&self) -> Option<f64> {
        (self.min_enc != 0).then(|| unord(!self.min_enc))
    }

    /// The largest observation, `None` when nothing was observed.
    pub(crate) fn max(&self) -> Option<f64> {
        (self.max_enc != 0).then(|| unord(self.max_enc))
    }
}

/// Reads a histogram series: the retired range (written only under the
/// state lock, which the caller holds) and each live shard under its
/// seqlock, each with its staged observations folded, merged.
pub(crate) fn read_range<'a>(
    layout: &Layout,
    retired: Option<&[AtomicU64]>,
    shards: impl Iterator<Item = &'a [AtomicU64]>,
) -> HistRaw {
    let n = range_len(layout) as usize;
    let mut out = HistRaw {
        counts: vec![0; n - HEADER as usize],
        ..HistRaw::default()
    };
    let mut tmp = vec![0u64; n];
    if let Some(r) = retired {
        for (t, s) in tmp.iter_mut().zip(r) {
            *t = s.load(Ordering::Relaxed);
        }
        fold_stage(layout, &mut tmp[..]);
        out.merge_slots(&tmp);
    }
    for shard in shards {
        read_seqlocked(shard, &mut tmp);
        fold_stage(layout, &mut tmp[..]);
        out.merge_slots(&tmp);
    }
    out
}

/// Thread exit: folds the exiting shard `src` (its only writer is the
/// exiting thread, which is here: a plain copy is consistent) and adds it
/// to the retired range `dst`, under the state lock. The retired range's
/// own staged values stay staged; readers fold them.
pub(super) fn fold_exited(
    layout: &Layout,
    src: &[AtomicU64],
    dst: &[AtomicU64],
    copy: &mut Vec<u64>,
) {
    copy.clear();
    copy.extend(src.iter().map(|x| x.load(Ordering::Relaxed)));
    fold_stage(layout, &mut copy[..]);
    let s = &copy;
    add_f64(&dst[SUM], f64::from_bits(s[SUM]));
    for i in [MIN, MAX] {
        max_u64(&dst[i], s[i]);
    }
    for i in HEADER as usize..s.len() {
        add_u64(&dst[i], s[i]);
    }
}

// === the fold, shared by the writer and readers ===

/// Folds a shard's staged observations into its counters, sum, min and
/// max, and empties the stage: the writer (`fold`, on its live slots,
/// under the seqlock), readers (on their consistent copy) and thread exit
/// (on the exiting thread's copy) share it.
pub(crate) fn fold_stage(layout: &Layout, r: &mut (impl Slots + ?Sized)) {
    debug_assert_eq!(r.len(), range_len(layout) as usize, "a whole range");
    let n = (r.get(LEN) as usize).min(STAGED);
    if n == 0 {
        return;
    }
    let mut sum = f64::from_bits(r.get(SUM));
    // Min and max of the staged values as `f64` (plain `minsd`/`maxsd`;
    // no NaN is ever staged), merged with the folded ones at the end.
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for i in 0..n {
        let v = f64::from_bits(r.get(STAGE + i));
        layout.for_each_slot(
            v,
            #[inline(always)]
            |k| {
                let k = HEADER as usize + k;
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
        let staged = |z: f64| (0..n).any(|i| r.get(STAGE + i) == z.to_bits());
        if lo == 0.0 {
            lo = if staged(-0.0) { -0.0 } else { 0.0 };
        }
        if hi == 0.0 {
            hi = if staged(0.0) { 0.0 } else { -0.0 };
        }
    }
    r.set(SUM, sum.to_bits());
    r.set(MIN, r.get(MIN).max(!ord(lo)));
    r.set(MAX, r.get(MAX).max(ord(hi)));
    r.set(LEN, 0);
}

/// Slot access for [`fold_stage`]: a shard's live slots (by their only
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

#[cfg(all(test, not(nanometrics_loom)))]
mod tests {
    use super::*;
    use crate::Buckets;

    #[test]
    fn default_layout_size_is_documented() {
        let len = |b: Buckets| range_len(&Layout::new(b.bounds().unwrap()).unwrap());
        assert_eq!(len(Buckets::default()), 293);
        assert_eq!(len(Buckets::exponential(0.001, 2.0, 16)), 359);
    }
}
