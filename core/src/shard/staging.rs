//! The histogram staging protocol: how one thread's shard of a histogram
//! series is laid out, written and read. Writer and reader halves, and every
//! ordering between them, are in this file.
//!
//! # A shard
//!
//! A series' range of the slot space is its header, `HEADER` slots in each
//! thread's chunk: `SEQ` (sequence counter), `SUM` (`f64` sum of the folded
//! observations), `MIN`/`MAX` (`ord`-encoded, of the folded observations),
//! `LEN` (how many observations are *staged*), `CARRIED` (what this shard
//! has carried into the series' wide counters), `NARROW` (the address of
//! its narrow counters, `narrow.rs`; 0 until its first fold), then
//! `STAGED` slots of staged `f64` bits. The *narrow* counters are one byte
//! per counter of the series' [`Layout`]. A narrow counter holds up to
//! `CARRY - 1`; the increment that would make it `CARRY` leaves it at 0 and
//! carries `CARRY` into the series' shared wide counter instead
//! ([`HistTotals`]). A counter's value is the sum over shards of the narrow
//! bytes, plus the wide counter.
//!
//! # Writer (the owning thread only)
//!
//! [`record`] appends a value to the stage: a relaxed store of its bits, then
//! a `Release` store of `LEN`. The record that finds the stage full *folds*
//! it ([`fold_stage`]: bins the staged values into the narrow counters,
//! carrying where one fills, adds their sum, min and max) between the odd
//! and even stores of `SEQ` ([`seq_write`]), then stages its own value.
//!
//! # Readers (under the state lock)
//!
//! [`read_series`] copies each shard under its seqlock, folds the staged
//! values of its copy itself, adds the wide counters, and checks that they
//! hold exactly the carries its copies account for (`CARRIED`, plus what
//! exited threads added): a carry made after a shard was copied shows in
//! the wide counters but not in the copy, and the read starts again. So a
//! value counts from the moment `record` returns, exactly once. Thread exit
//! folds the exiting shard's copy into the wide counters and the retired
//! sum, min and max ([`fold_exited`]); records made after a thread's block
//! owner was gone go, under the state lock, to the series' header in the
//! retired chunk, which readers read like any other shard.

use super::narrow;
use super::slots::{Chunk, CHUNK_SLOTS};
use super::totals::{HistTotals, Retired};
use crate::bucket_layout::{ord, unord, Layout};
use crate::error::Error;
use crate::sync::{fence, spin, AtomicU64, AtomicU8, Ordering};

pub(crate) const SEQ: usize = 0;
pub(crate) const SUM: usize = 1;
pub(crate) const MIN: usize = 2;
pub(crate) const MAX: usize = 3;
pub(crate) const LEN: usize = 4;
pub(crate) const CARRIED: usize = 5;
pub(crate) const NARROW: usize = 6;
pub(crate) const STAGE: usize = 7;
/// Observations a shard stages before it folds them into its counters.
#[cfg(not(nanometrics_loom))]
pub(crate) const STAGED: usize = 16;
#[cfg(nanometrics_loom)]
pub(crate) const STAGED: usize = 2;
/// Slots of a series' range: the header.
pub(crate) const HEADER: usize = STAGE + STAGED;
const _: () = assert!(HEADER <= CHUNK_SLOTS as usize);

/// A narrow counter byte carries when it would reach this.
#[cfg(not(nanometrics_loom))]
const CARRY: u64 = 256;
#[cfg(nanometrics_loom)]
const CARRY: u64 = 2;

/// Counters a series may have: a shard's narrow counters take a byte each
/// per recording thread, and the wide ones up to 8 bytes each.
const MAX_COUNTERS: u32 = 2048;

/// `layout`, if its counters are within `MAX_COUNTERS`.
pub(crate) fn fits(layout: Layout) -> Result<Layout, Error> {
    let n = layout.data_slots();
    if n > MAX_COUNTERS {
        return Err(Error::InvalidBuckets(format!(
            "bounds span too wide a range or too many buckets: {n} counters needed, at most {MAX_COUNTERS} supported"
        )));
    }
    Ok(layout)
}

/// Bytes one recording thread's shard of a series with `counters` counters
/// takes: its header in the chunk and its narrow counters.
#[cfg(all(test, not(nanometrics_loom)))]
pub(crate) fn shard_bytes(counters: usize) -> usize {
    HEADER * 8 + counters
}

fn counters(totals: &HistTotals) -> usize {
    totals.layout.data_slots() as usize
}

/// A shard: its header (a range of a chunk) and its narrow counters.
#[derive(Clone, Copy)]
pub(crate) struct Shard<'a> {
    head: &'a [AtomicU64],
    narrow: Option<&'a [AtomicU8]>,
}

impl<'a> Shard<'a> {
    /// The shard whose header starts at `off` in chunk `c`, for readers
    /// and thread exit (under the state lock).
    pub(super) fn of(c: &'a Chunk, off: usize, totals: &HistTotals) -> Option<Shard<'a>> {
        let head = c.slots.get(off..off + HEADER)?;
        let narrow = narrow::of(&head[NARROW], counters(totals));
        Some(Shard { head, narrow })
    }
}

// === writer ===

/// One observation (not NaN) into the shard whose header starts at `off`
/// in chunk `c`: appended to the shard's stage, two stores and no
/// read-modify-write of shared data. The record that finds the stage full
/// (`STAGED` values) folds it under the seqlock (`fold`).
#[inline(always)]
pub(crate) fn record(c: &Chunk, off: usize, totals: &HistTotals, v: f64) {
    // Only the header on this path: its length is a constant, so the
    // check needs no load of the layout's size.
    let Some(head) = c.slots.get(off..off + HEADER) else {
        return; // not reached: `Lease::create` placed the range inside the chunk
    };
    let len = &head[LEN];
    let n = len.load(Ordering::Relaxed) as usize;
    if let Some(s) = head[STAGE..].get(n) {
        s.store(v.to_bits(), Ordering::Relaxed);
        // Release: pairs with the Acquire load of the staged count in
        // `ShardCopy::read`: a reader that counts this value sees it.
        len.store(n as u64 + 1, Ordering::Release);
    } else {
        fold(head, totals, v);
    }
}

/// The stage is full: bins it into the narrow counters under the seqlock,
/// carrying where one fills, then stages `v`.
#[inline(never)]
fn fold(head: &[AtomicU64], totals: &HistTotals, v: f64) {
    // Allocated on the first fold, before the seqlock opens.
    let narrow = narrow::own(&head[NARROW], counters(totals));
    seq_write(&head[SEQ], || {
        let mut carried = 0u64;
        fold_stage(&totals.layout, &mut Live(head), |k| {
            let Some(c) = narrow.get(k) else {
                return; // not reached: `k` is a counter of the layout
            };
            let b = (u64::from(c.load(Ordering::Relaxed)) + 1) % CARRY;
            c.store(b as u8, Ordering::Relaxed);
            if b == 0 {
                // The byte was full: `CARRY` goes to the wide counter,
                // inside this seqlock (see `read_series`).
                totals.add(k, CARRY);
                carried += CARRY;
            }
        });
        if carried != 0 {
            let c = &head[CARRIED];
            c.store(
                c.load(Ordering::Relaxed).wrapping_add(carried),
                Ordering::Relaxed,
            );
        }
        head[STAGE].store(v.to_bits(), Ordering::Relaxed);
        head[LEN].store(1, Ordering::Relaxed);
    })
}

/// Writer half of the seqlock: runs `f` between the odd and even stores of
/// the shard's sequence counter `seq`.
#[inline(always)]
pub(crate) fn seq_write(seq: &AtomicU64, f: impl FnOnce()) {
    let s = seq.load(Ordering::Relaxed);
    seq.store(s.wrapping_add(1), Ordering::Relaxed);
    // Release fence: pairs with the reader's Acquire fence in
    // `read_seqlocked`; orders the odd store before the data stores below.
    fence(Ordering::Release);
    f();
    // Release: pairs with the reader's opening Acquire load of the sequence;
    // also orders the fold's carries (`HistTotals::add`) before it, so a
    // reader whose copy shows this fold's `CARRIED` sees its carries.
    seq.store(s.wrapping_add(2), Ordering::Release);
}

// === readers ===

/// A reader's plain copy of a shard.
struct ShardCopy {
    head: [u64; HEADER],
    narrow: Vec<u8>,
}

impl ShardCopy {
    fn new(layout: &Layout) -> ShardCopy {
        ShardCopy {
            head: [0; HEADER],
            narrow: vec![0; layout.data_slots() as usize],
        }
    }

    /// A copy of `shard`, consistent when nothing writes it (the exiting
    /// thread's own, the retired chunk's under the state lock) or when
    /// `read_seqlocked` validates it.
    fn read(&mut self, shard: Shard<'_>) {
        for (i, (o, s)) in self.head.iter_mut().zip(shard.head).enumerate().skip(1) {
            // Acquire on the staged count: pairs with the Release store in
            // `record`, so the staged values it counts (loaded after it)
            // are visible.
            *o = s.load(if i == LEN {
                Ordering::Acquire
            } else {
                Ordering::Relaxed
            });
        }
        match shard.narrow {
            Some(n) => {
                for (o, s) in self.narrow.iter_mut().zip(n) {
                    *o = s.load(Ordering::Relaxed);
                }
            }
            None => self.narrow.fill(0),
        }
    }

    /// Seqlock read of `shard` (its writer may be running). A shard whose
    /// narrow counters appear after `Shard::of` looked has folded since:
    /// its sequence moved, and the caller reads it again.
    fn read_seqlocked(&mut self, shard: Shard<'_>) -> bool {
        let seq = &shard.head[SEQ];
        loop {
            // Acquire: pairs with the writer's closing Release store of the
            // sequence (`seq_write`), so a stable even value shows that
            // update's data.
            let s1 = seq.load(Ordering::Acquire);
            if s1 & 1 == 0 {
                self.read(shard);
                // Acquire fence: pairs with the writer's Release fence after
                // its opening (odd) store; if any load above saw a later
                // update's data, the re-read below sees that update's odd
                // (or a later) sequence.
                fence(Ordering::Acquire);
                if seq.load(Ordering::Relaxed) == s1 {
                    // Folded before `Shard::of` saw the narrow counters?
                    return shard.narrow.is_some() || self.head[NARROW] == 0;
                }
            }
            spin();
        }
    }
}

/// A merged histogram series, as read from every shard.
#[derive(Debug, Default, Clone)]
pub(crate) struct HistRaw {
    pub(crate) sum: f64,
    min_enc: u64,
    max_enc: u64,
    pub(crate) counts: Vec<u64>,
}

impl HistRaw {
    /// Adds a shard's copy: its narrow counters, then its staged values
    /// binned, after its folded sum, in staging order.
    fn merge_shard(&mut self, layout: &Layout, s: &mut ShardCopy) {
        for (c, b) in self.counts.iter_mut().zip(&s.narrow) {
            *c = c.wrapping_add(u64::from(*b));
        }
        let counts = &mut self.counts;
        let head = &mut s.head[..];
        fold_stage(layout, head, |k| {
            if let Some(c) = counts.get_mut(k) {
                *c = c.wrapping_add(1);
            }
        });
        self.sum += f64::from_bits(head[SUM]);
        self.min_enc = self.min_enc.max(head[MIN]);
        self.max_enc = self.max_enc.max(head[MAX]);
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

/// Reads a histogram series: what exited threads left, each shard under
/// its seqlock with its staged observations folded, and the wide counters.
/// Callers hold the state lock, under which `shards` finds the series'
/// shards (a thread's first record may add one at any time).
///
/// The wide counters must hold exactly the carries the copies account
/// for: every carry a copy counts (`CARRIED`) was added before that
/// shard's seqlock closed, so the wide counters, read after the copies,
/// hold it; one they hold beyond that was made after its shard was copied
/// (its byte is still in the copy), or by a shard found after `shards`
/// looked. Then the shards whose `CARRIED` moved (and new ones) are copied
/// again and the wide counters re-read, until the totals agree: each try
/// is as long as the copies it has to redo, so a read finishes unless
/// carries land faster than a few shards can be copied.
pub(crate) fn read_series<'a, I>(totals: &HistTotals, shards: impl Fn() -> I) -> HistRaw
where
    I: Iterator<Item = Shard<'a>>,
{
    let layout = &*totals.layout;
    let retired = totals.retired();
    let mut copies: Vec<(*const AtomicU64, ShardCopy)> = Vec::new();
    let mut wide = vec![0u64; layout.data_slots() as usize];
    'read: loop {
        let mut expected = retired.added;
        let mut n = 0;
        for shard in shards() {
            let id = shard.head.as_ptr();
            let stale = match copies.get(n) {
                Some((at, copy)) if *at == id => {
                    // Relaxed: a hint of which copies to redo; the totals
                    // below decide.
                    shard.head[CARRIED].load(Ordering::Relaxed) != copy.head[CARRIED]
                }
                _ => {
                    copies.truncate(n);
                    copies.push((id, ShardCopy::new(layout)));
                    true
                }
            };
            let copy = &mut copies[n].1;
            if stale && !copy.read_seqlocked(shard) {
                // It folded before `Shard::of` saw its narrow counters:
                // drop the copy (its bytes are missing) and look again.
                copies.truncate(n);
                spin();
                continue 'read;
            }
            expected = expected.wrapping_add(copy.head[CARRIED]);
            n += 1;
        }
        copies.truncate(n);
        wide.fill(0);
        if totals.read_into(&mut wide) == expected {
            break;
        }
        spin();
    }
    let mut out = HistRaw {
        sum: retired.sum,
        min_enc: retired.min_enc,
        max_enc: retired.max_enc,
        counts: wide,
    };
    for (_, copy) in &mut copies {
        out.merge_shard(layout, copy);
    }
    out
}

/// Thread exit: folds the exiting shard (its only writer is the exiting
/// thread, which is here: a plain copy is consistent) into the series'
/// wide counters and retired sum, min and max, under the state lock. The
/// caller frees its narrow counters (`free_narrow`).
pub(super) fn fold_exited(totals: &HistTotals, shard: Shard<'_>) {
    if shard.narrow.is_none() && shard.head[LEN].load(Ordering::Relaxed) == 0 {
        return; // never recorded into (a neighbour's chunk range)
    }
    let layout = &*totals.layout;
    let mut copy = ShardCopy::new(layout);
    copy.read(shard);
    let mut raw = HistRaw {
        counts: vec![0; layout.data_slots() as usize],
        ..HistRaw::default()
    };
    raw.merge_shard(layout, &mut copy);
    // Its carries are in the wide counters already; they now count as
    // retired, with the fold's.
    let mut added = copy.head[CARRIED];
    for (k, c) in raw.counts.iter().enumerate() {
        if *c != 0 {
            totals.add(k, *c);
            added = added.wrapping_add(*c);
        }
    }
    totals.retire(Retired {
        sum: raw.sum,
        min_enc: raw.min_enc,
        max_enc: raw.max_enc,
        added,
    });
}

/// Frees the narrow counters of the shard whose header is `head` (a whole
/// range), if it has any. Callers hold the state lock, and nothing writes
/// the shard any more (its thread exited, or the series has no handle).
pub(super) fn free_narrow(head: &[AtomicU64], totals: &HistTotals) {
    if let Some(w) = head.get(NARROW) {
        narrow::free(w, counters(totals));
    }
}

// === the fold, shared by the writer and readers ===

/// Folds the staged observations of a shard's header `h` into its sum, min
/// and max, calls `inc(k)` for every counter `k` each one adds to, and
/// empties the stage: the writer (`fold`, on its live header under the
/// seqlock, `inc` = its narrow counters), readers and thread exit (on a
/// consistent copy, `inc` = their totals) share it.
pub(crate) fn fold_stage(
    layout: &Layout,
    h: &mut (impl Header + ?Sized),
    mut inc: impl FnMut(usize),
) {
    let n = (h.get(LEN) as usize).min(STAGED);
    if n == 0 {
        return;
    }
    let mut sum = f64::from_bits(h.get(SUM));
    // Min and max of the staged values as `f64` (plain `minsd`/`maxsd`;
    // no NaN is ever staged), merged with the folded ones at the end.
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for i in 0..n {
        let v = f64::from_bits(h.get(STAGE + i));
        layout.for_each_slot(v, &mut inc);
        // In staging order: the same rounding as adding one at a time.
        sum += v;
        lo = if v < lo { v } else { lo };
        hi = if v > hi { v } else { hi };
    }
    // `<` and `>` do not order -0.0 below +0.0 (`ord` does): when the
    // stage's min or max is a zero, its sign comes from the staged zeros.
    if lo == 0.0 || hi == 0.0 {
        let staged = |z: f64| (0..n).any(|i| h.get(STAGE + i) == z.to_bits());
        if lo == 0.0 {
            lo = if staged(-0.0) { -0.0 } else { 0.0 };
        }
        if hi == 0.0 {
            hi = if staged(0.0) { 0.0 } else { -0.0 };
        }
    }
    h.set(SUM, sum.to_bits());
    h.set(MIN, h.get(MIN).max(!ord(lo)));
    h.set(MAX, h.get(MAX).max(ord(hi)));
    h.set(LEN, 0);
}

/// Header access for [`fold_stage`]: a shard's live header (by its only
/// writer) or a reader's plain copy.
pub(crate) trait Header {
    fn get(&self, i: usize) -> u64;
    fn set(&mut self, i: usize, v: u64);
}

impl Header for [u64] {
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

/// A shard's live header, written by the owning thread with relaxed stores.
struct Live<'a>(&'a [AtomicU64]);

impl Header for Live<'_> {
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
    fn shard_size_is_documented() {
        let bytes = |b: Buckets| {
            shard_bytes(Layout::new(b.bounds().unwrap()).unwrap().data_slots() as usize)
        };
        // `Histogram`'s docs: a 184-byte header and one byte per counter.
        assert_eq!(bytes(Buckets::default()), 184 + 272);
        assert_eq!(bytes(Buckets::exponential(0.001, 2.0, 16)), 184 + 338);
    }

    #[test]
    fn a_full_narrow_counter_carries_into_the_wide_one() {
        let layout = std::sync::Arc::new(Layout::new(&[1.0]).unwrap());
        let totals = HistTotals::new(layout.clone());
        let chunk = Chunk::new_boxed();
        let n = 1000u64;
        for _ in 0..n {
            record(&chunk, 0, &totals, 0.5);
        }
        let read = || read_series(&totals, || Shard::of(&chunk, 0, &totals).into_iter());
        let raw = read();
        assert_eq!(raw.counts.iter().sum::<u64>(), n);
        assert_eq!(raw.sum, 500.0);
        // 1000 = 3 carries of 256 (wide) + 232 (narrow, staged or folded).
        let mut wide = vec![0; raw.counts.len()];
        assert_eq!(totals.read_into(&mut wide), 3 * CARRY);
        assert_eq!(chunk.slots[CARRIED].load(Ordering::Relaxed), 3 * CARRY);
        assert_eq!(totals.wide_bytes(), 8 * 16);
        // Thread exit: the same totals, all retired.
        fold_exited(&totals, Shard::of(&chunk, 0, &totals).unwrap());
        free_narrow(&chunk.slots[..HEADER], &totals);
        assert_eq!(chunk.slots[NARROW].load(Ordering::Relaxed), 0);
        let raw = read_series(&totals, std::iter::empty);
        assert_eq!((raw.counts.iter().sum::<u64>(), raw.sum), (n, 500.0));
    }
}
