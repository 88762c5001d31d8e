//! [`State`]: everything behind the one state lock — the linked thread
//! blocks, the retired totals, and the allocation of slot ranges (live
//! ranges, free lists). Writers never take this lock; readers, registering
//! and exiting threads, and allocation do.

use std::collections::BTreeMap;
use std::ptr;

use super::block::{BlockPtr, ThreadBlock};
use super::slots::{
    add_f64, add_u64, Chunk, RangeKind, SlotRef, CHUNK_MASK, CHUNK_SLOTS, MAX_SLOTS,
};
use super::staging;
use crate::error::Error;
use crate::sync::{Mutex, Ordering};

/// Everything behind the state lock.
pub(crate) struct State {
    pub(super) threads: Vec<BlockPtr>,
    /// Counter totals folded from exited threads, plus updates (histogram
    /// records included) made after a thread's block owner was destroyed;
    /// an exited histogram shard goes to its series' `HistTotals`. Written
    /// and read only under the lock.
    pub(super) retired: Vec<Option<Box<Chunk>>>,
    /// Live ranges: start index → (length, kind).
    live: BTreeMap<u32, (u32, RangeKind)>,
    /// Released ranges by length, for exact-size reuse.
    free: Vec<(u32, Vec<u32>)>,
    /// Next never-used slot index.
    next: u32,
}

impl State {
    const fn new() -> State {
        State {
            threads: Vec::new(),
            retired: Vec::new(),
            live: BTreeMap::new(),
            free: Vec::new(),
            next: 0,
        }
    }

    /// The linked blocks. Callers hold the lock (`&self` is behind it).
    pub(super) fn blocks(&self) -> impl Iterator<Item = &ThreadBlock> {
        // SAFETY: linked blocks are alive while the lock is held.
        self.threads.iter().map(|b| unsafe { &*b.0 })
    }

    /// The retired chunk `i`, if anything was ever retired into it.
    pub(super) fn retired(&self, i: u32) -> Option<&Chunk> {
        self.retired.get(i as usize)?.as_deref()
    }

    pub(super) fn retired_chunk(&mut self, i: u32) -> &Chunk {
        let i = i as usize;
        if self.retired.len() <= i {
            self.retired.resize_with(i + 1, || None);
        }
        self.retired[i].get_or_insert_with(Chunk::new_boxed)
    }

    fn free_list(&mut self, len: u32) -> &mut Vec<u32> {
        let pos = match self.free.iter().position(|(l, _)| *l == len) {
            Some(p) => p,
            None => {
                self.free.push((len, Vec::new()));
                self.free.len() - 1
            }
        };
        &mut self.free[pos].1
    }

    pub(super) fn alloc(&mut self, len: u32, kind: RangeKind) -> Result<SlotRef, Error> {
        if len == 0 || len > CHUNK_SLOTS {
            return Err(Error::Capacity(format!(
                "a series needs {len} slots; at most {CHUNK_SLOTS} fit in one chunk"
            )));
        }
        let start = match self.free_list(len).pop() {
            Some(s) => s,
            None => {
                let off = self.next & CHUNK_MASK;
                if off + len > CHUNK_SLOTS {
                    // Skip to the next chunk; the tail becomes single slots.
                    let end = (self.next | CHUNK_MASK) + 1;
                    let tail: Vec<u32> = (self.next..end).collect();
                    self.free_list(1).extend(tail.into_iter().rev());
                    self.next = end;
                }
                if self.next.checked_add(len).is_none_or(|e| e > MAX_SLOTS) {
                    return Err(Error::Capacity(format!(
                        "slot space exhausted: {MAX_SLOTS} slots per process"
                    )));
                }
                let s = self.next;
                self.next += len;
                s
            }
        };
        self.live.insert(start, (len, kind));
        Ok(SlotRef::from_index(start))
    }

    pub(super) fn release(&mut self, at: SlotRef) {
        let start = at.index();
        let Some((len, kind)) = self.live.remove(&start) else {
            return;
        };
        let range = at.off as usize..(at.off + len) as usize;
        // Relaxed is enough: no handle to this range exists any more, so no
        // thread writes it; the next owner gets the range through this lock
        // (allocation), which orders these stores before its first update.
        let zero = |c: &Chunk| {
            let r = &c.slots[range.clone()];
            if let RangeKind::Hist(totals) = &kind {
                staging::free_narrow(r, totals);
            }
            r.iter().for_each(|s| s.store(0, Ordering::Relaxed));
        };
        self.blocks()
            .filter_map(|b| b.reader_chunk(at.chunk))
            .for_each(zero);
        if let Some(c) = self.retired(at.chunk) {
            zero(c);
        }
        self.free_list(len).push(start);
    }

    /// Folds an exiting thread's block into the retired totals and unlinks
    /// it, in one critical section: a reader sees each update either in the
    /// block or in the retired totals, never both and never neither.
    pub(super) fn fold_exited(&mut self, block: *const ThreadBlock) {
        // SAFETY: `block` is linked (we hold the lock) and owned by the exiting
        // thread, which calls us from its block owner's destructor.
        let b = unsafe { &*block };
        let live: Vec<(u32, u32, RangeKind)> = self
            .live
            .iter()
            .map(|(s, (l, k))| (*s, *l, k.clone()))
            .collect();
        for (start, len, kind) in live {
            let at = SlotRef::from_index(start);
            let Some(src) = b.reader_chunk(at.chunk) else {
                continue;
            };
            let off = at.off as usize;
            match kind {
                RangeKind::Sum => {
                    let dst = &self.retired_chunk(at.chunk).slots[off];
                    add_u64(dst, src.slots[off].load(Ordering::Relaxed))
                }
                RangeKind::SumF64 => {
                    let dst = &self.retired_chunk(at.chunk).slots[off];
                    add_f64(dst, f64::from_bits(src.slots[off].load(Ordering::Relaxed)))
                }
                RangeKind::Hist(totals) => {
                    if let Some(shard) = staging::Shard::of(src, off, &totals) {
                        staging::fold_exited(&totals, shard);
                    }
                    // The thread is here, exiting: nothing writes its shard.
                    staging::free_narrow(&src.slots[off..off + len as usize], &totals);
                }
            }
        }
        self.threads.retain(|p| !ptr::eq(p.0, block));
    }
}

#[cfg(not(nanometrics_loom))]
pub(super) fn state() -> &'static Mutex<State> {
    static STATE: Mutex<State> = Mutex::new(State::new());
    &STATE
}

#[cfg(nanometrics_loom)]
pub(super) fn state() -> &'static Mutex<State> {
    loom::lazy_static! {
        static ref STATE: Mutex<State> = Mutex::new(State::new());
    }
    &STATE
}
