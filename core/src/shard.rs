//! Per-thread sharded storage: the only module with `unsafe`.
//!
//! # Layout
//!
//! Every sharded series (a counter, an up-down counter, a float counter, a
//! histogram or summary) owns a
//! contiguous range of *slots* in one process-wide slot space. Each thread that
//! updates a series owns a [`ThreadBlock`]: a table of lazily allocated
//! [`Chunk`]s of `CHUNK_SLOTS` `AtomicU64`s, so a counter series costs 8 bytes per
//! live thread that touched its chunk (the Linux per-CPU counter layout), not a
//! 64-byte padded cell per series per thread. A range never straddles a chunk,
//! so an update is: TLS pointer → chunk pointer → slot.
//!
//! # Protocol
//!
//! * **Writers** (the owning thread only) update their own slots with a relaxed
//!   load and a relaxed store: no read-modify-write, no lock, no allocation
//!   (except the thread's first touch of a 16 KiB chunk). Histograms stage
//!   each observation (a store of the value, then a Release store of the
//!   stage's length) and bracket the multi-word fold of a full stage into
//!   their counters with a per-series, per-thread sequence counter (a
//!   seqlock), so a reader never sees a half-made fold; readers bin the
//!   staged values they copied themselves.
//! * **Readers** take the state lock, then sum every live block's slot plus the
//!   *retired* block. Only readers, registering threads, exiting threads and
//!   slot allocation take that lock; writers never do.
//! * **Thread exit** (the TLS destructor) takes the lock, folds the thread's
//!   live ranges into the retired block and unlinks its block, in one critical
//!   section: a reader sees the thread's counts either in its block or in the
//!   retired totals, never both and never neither. An update made after the
//!   TLS value is gone (from another thread-local's destructor) takes the lock
//!   and lands directly in the retired block.
//! * **Slot reuse**: a range is released when the last reference to its series
//!   goes: a handle, or a handle's count parked in a thread's slot (see
//!   [`LeaseRef`]). No handle means no writer can touch it again, so the releaser zeroes
//!   it in every block under the lock before handing it out again: a re-created
//!   series starts at zero.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::ptr;
use std::sync::Arc as StdArc;

use crate::error::Error;
use crate::histogram::Layout;
use crate::sync::{fence, lock, spin, Arc, AtomicPtr, AtomicU64, Mutex, MutexGuard, Ordering};

#[cfg(not(nanometrics_loom))]
const CHUNK_SHIFT: u32 = 11;
#[cfg(nanometrics_loom)]
const CHUNK_SHIFT: u32 = 4;
/// Slots per chunk (2,048 = 16 KiB with std; 16 under loom).
pub(crate) const CHUNK_SLOTS: u32 = 1 << CHUNK_SHIFT;
const CHUNK_MASK: u32 = CHUNK_SLOTS - 1;
#[cfg(not(nanometrics_loom))]
const MAX_CHUNKS: u32 = 1024;
#[cfg(nanometrics_loom)]
const MAX_CHUNKS: u32 = 4;
/// Total slot capacity of the process (2 Mi slots with std).
pub(crate) const MAX_SLOTS: u32 = CHUNK_SLOTS * MAX_CHUNKS;

/// Histogram range header: slot 0 is the sequence counter, 1 the f64 sum,
/// 2 the encoded minimum, 3 the encoded maximum (all three of the folded
/// observations), 4 the number of *staged* observations and from 5 their
/// `f64` bits (see `histogram::record_into`); `u64` counters follow (the
/// histogram's cell and "above" counters, summed like any counter).
pub(crate) const HIST_SEQ: usize = 0;
pub(crate) const HIST_SUM: usize = 1;
pub(crate) const HIST_MIN: usize = 2;
pub(crate) const HIST_MAX: usize = 3;
pub(crate) const HIST_LEN: usize = 4;
pub(crate) const HIST_STAGE: usize = 5;
/// Observations a shard stages before it folds them into its counters.
#[cfg(not(nanometrics_loom))]
pub(crate) const HIST_STAGED: usize = 16;
#[cfg(nanometrics_loom)]
pub(crate) const HIST_STAGED: usize = 2;
pub(crate) const HIST_HEADER: u32 = (HIST_STAGE + HIST_STAGED) as u32;

/// A block of slots. Only its owning thread writes it (or, for the retired
/// block, whoever holds the state lock).
pub(crate) struct Chunk {
    pub(crate) slots: [AtomicU64; CHUNK_SLOTS as usize],
}

impl Chunk {
    fn new_boxed() -> Box<Chunk> {
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
    fn from_index(i: u32) -> SlotRef {
        SlotRef {
            chunk: i >> CHUNK_SHIFT,
            off: i & CHUNK_MASK,
        }
    }
    fn index(self) -> u32 {
        (self.chunk << CHUNK_SHIFT) | self.off
    }
}

/// How a range is folded when its thread exits.
#[derive(Clone, Debug)]
pub(crate) enum RangeKind {
    /// One wrapping `u64` sum (counter, up-down counter as two's complement).
    Sum,
    /// Float counter: one `f64` sum stored as bits.
    SumF64,
    /// Histogram: header (see `HIST_HEADER`) then `u64` counters; the
    /// layout bins the staged observations.
    Hist(StdArc<Layout>),
}

// === impl ThreadBlock ===

/// One thread's slots: a fixed table of lazily allocated chunks.
pub(crate) struct ThreadBlock {
    chunks: [AtomicPtr<Chunk>; MAX_CHUNKS as usize],
}

/// Index into a chunk table; the mask lets the compiler drop the bounds check
/// (a `SlotRef` never exceeds it: `alloc` stays below `MAX_SLOTS`).
#[inline(always)]
fn chunk_index(i: u32) -> usize {
    (i & (MAX_CHUNKS - 1)) as usize
}

/// Index into a chunk's slots, likewise without a bounds check.
#[inline(always)]
pub(crate) fn slot_index(off: usize) -> usize {
    off & CHUNK_MASK as usize
}

impl ThreadBlock {
    fn new_boxed() -> Box<ThreadBlock> {
        Box::new(ThreadBlock {
            chunks: std::array::from_fn(|_| AtomicPtr::new(ptr::null_mut())),
        })
    }

    /// The owning thread's view of chunk `i`, allocating it on first touch.
    #[inline(always)]
    fn own_chunk(&self, i: u32) -> &Chunk {
        // Relaxed: only the owning thread (us) ever stores this pointer.
        let p = self.chunks[chunk_index(i)].load(Ordering::Relaxed);
        if p.is_null() {
            return self.alloc_chunk(i);
        }
        // SAFETY:
        // - `p` came from `Box::into_raw` in `alloc_chunk` and is freed only in
        //   `ThreadBlock::drop`, which runs after the owning thread's TLS value
        //   is gone; we are that thread, inside `OWNER.try_with`.
        unsafe { &*p }
    }

    #[cold]
    #[inline(never)]
    fn alloc_chunk(&self, i: u32) -> &Chunk {
        let p = Box::into_raw(Chunk::new_boxed());
        // Release: pairs with the Acquire load in `reader_chunk`, so a reader
        // that sees the pointer also sees the zero-initialised slots.
        self.chunks[chunk_index(i)].store(p, Ordering::Release);
        // SAFETY: just allocated above; freed only by `ThreadBlock::drop`.
        unsafe { &*p }
    }

    /// Any thread's view of chunk `i` (null if never touched). Callers hold
    /// the state lock, which keeps the block alive.
    fn reader_chunk(&self, i: u32) -> Option<&Chunk> {
        // Acquire: pairs with the Release store in `alloc_chunk`.
        let p = self.chunks[chunk_index(i)].load(Ordering::Acquire);
        // SAFETY:
        // - non-null pointers come from `Box::into_raw` in `alloc_chunk`;
        // - the block is unlinked from `State::threads` and only then dropped,
        //   both under the state lock that our caller holds, so the chunk is
        //   alive for as long as the returned borrow (tied to `&self`).
        (!p.is_null()).then(|| unsafe { &*p })
    }
}

impl Drop for ThreadBlock {
    fn drop(&mut self) {
        for c in self.chunks.iter() {
            let p = c.load(Ordering::Relaxed);
            if !p.is_null() {
                // SAFETY: allocated by `Box::into_raw` in `alloc_chunk`; the
                // block is unlinked, so no other reference exists (`&mut self`).
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}

struct BlockPtr(*const ThreadBlock);
// SAFETY: a `ThreadBlock` is made of atomics; the pointer is dereferenced by
// other threads only under the state lock, while the block is linked.
unsafe impl Send for BlockPtr {}

// === impl State ===

/// Everything behind the state lock.
pub(crate) struct State {
    threads: Vec<BlockPtr>,
    /// Totals folded from exited threads, plus updates made after a thread's
    /// TLS value was destroyed. Written and read only under the lock.
    retired: Vec<Option<Box<Chunk>>>,
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

    fn retired_chunk(&mut self, i: u32) -> &Chunk {
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

    fn alloc(&mut self, len: u32, kind: RangeKind) -> Result<SlotRef, Error> {
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

    fn release(&mut self, at: SlotRef) {
        let start = at.index();
        let Some((len, _)) = self.live.remove(&start) else {
            return;
        };
        let range = at.off as usize..(at.off + len) as usize;
        // Relaxed is enough: no handle to this range exists any more, so no
        // thread writes it; the next owner gets the range through this lock
        // (allocation), which orders these stores before its first update.
        for b in &self.threads {
            // SAFETY: linked blocks are alive while we hold the lock.
            let block = unsafe { &*b.0 };
            if let Some(c) = block.reader_chunk(at.chunk) {
                c.slots[range.clone()]
                    .iter()
                    .for_each(|s| s.store(0, Ordering::Relaxed));
            }
        }
        if let Some(Some(c)) = self.retired.get(at.chunk as usize) {
            c.slots[range]
                .iter()
                .for_each(|s| s.store(0, Ordering::Relaxed));
        }
        self.free_list(len).push(start);
    }

    /// Folds an exiting thread's block into the retired totals and unlinks it.
    fn retire(&mut self, block: *const ThreadBlock) {
        // SAFETY: `block` is linked (we hold the lock) and owned by the exiting
        // thread, which calls us from its TLS destructor.
        let b = unsafe { &*block };
        let live: Vec<(u32, u32, RangeKind)> = self
            .live
            .iter()
            .map(|(s, (l, k))| (*s, *l, k.clone()))
            .collect();
        // One buffer for every histogram range's copy (no allocation per
        // range while the lock is held).
        let mut copy: Vec<u64> = Vec::new();
        for (start, len, kind) in live {
            let at = SlotRef::from_index(start);
            let Some(src) = b.reader_chunk(at.chunk) else {
                continue;
            };
            let off = at.off as usize;
            let dst = self.retired_chunk(at.chunk);
            match kind {
                RangeKind::Sum => add_u64(&dst.slots[off], src.slots[off].load(Ordering::Relaxed)),
                RangeKind::SumF64 => add_f64(
                    &dst.slots[off],
                    f64::from_bits(src.slots[off].load(Ordering::Relaxed)),
                ),
                RangeKind::Hist(layout) => {
                    // The exiting thread is the range's only writer, and it
                    // is here: a plain copy is consistent.
                    copy.clear();
                    copy.extend(
                        src.slots[off..off + len as usize]
                            .iter()
                            .map(|x| x.load(Ordering::Relaxed)),
                    );
                    layout.settle(&mut copy[..]);
                    let s = &copy;
                    // The retired range's own staged values (late updates)
                    // stay staged; readers settle them.
                    let d = &dst.slots[off..off + len as usize];
                    add_f64(&d[HIST_SUM], f64::from_bits(s[HIST_SUM]));
                    for i in [HIST_MIN, HIST_MAX] {
                        max_u64(&d[i], s[i]);
                    }
                    for i in HIST_HEADER as usize..len as usize {
                        add_u64(&d[i], s[i]);
                    }
                }
            }
        }
        self.threads.retain(|p| !ptr::eq(p.0, block));
    }
}

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

#[inline(always)]
pub(crate) fn max_u64(s: &AtomicU64, n: u64) {
    if n > s.load(Ordering::Relaxed) {
        s.store(n, Ordering::Relaxed);
    }
}

#[cfg(not(nanometrics_loom))]
fn state() -> &'static Mutex<State> {
    static STATE: Mutex<State> = Mutex::new(State::new());
    &STATE
}

#[cfg(nanometrics_loom)]
fn state() -> &'static Mutex<State> {
    loom::lazy_static! {
        static ref STATE: Mutex<State> = Mutex::new(State::new());
    }
    &STATE
}

// === the thread-local owner of a ThreadBlock ===

/// Owns this thread's block; its destructor folds and unlinks it. Touched
/// only when the block is created and when the thread exits.
struct Owner {
    block: Cell<*const ThreadBlock>,
    /// Under loom, the thread's parked handle references (see `parked`).
    #[cfg(nanometrics_loom)]
    parked: parked::Parked,
}

impl Owner {
    #[cold]
    #[inline(never)]
    fn block_or_register(&self) -> &ThreadBlock {
        let mut p = self.block.get();
        if p.is_null() {
            p = Box::into_raw(ThreadBlock::new_boxed());
            lock(state()).threads.push(BlockPtr(p));
            self.block.set(p);
            let _ = FAST.try_with(|f| f.set(p));
        }
        // SAFETY: set above from `Box::into_raw`; freed only in
        // `Owner::drop`, which cannot run while `&self` is borrowed.
        unsafe { &*p }
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        #[cfg(nanometrics_loom)]
        parked::close(&self.parked);
        let p = self.block.replace(ptr::null());
        if p.is_null() {
            return;
        }
        // From now on this thread's updates take the slow path, find the
        // owner destroyed, and go to the retired block under the lock.
        let _ = FAST.try_with(|f| f.set(ptr::null()));
        lock(state()).retire(p);
        // SAFETY: `p` came from `Box::into_raw` in `block_or_register`;
        // `retire` unlinked it under the lock and `FAST` no longer points to
        // it, so nothing can reach it any more.
        drop(unsafe { Box::from_raw(p as *mut ThreadBlock) });
    }
}

// `FAST` has no destructor, so reading it is a plain thread-local load with
// no "is it initialised / destroyed" state check: the whole writer fast path
// is this load, the chunk pointer load and the slot update.
#[cfg(not(nanometrics_loom))]
std::thread_local! {
    static FAST: Cell<*const ThreadBlock> = const { Cell::new(ptr::null()) };
    static OWNER: Owner = const { Owner { block: Cell::new(ptr::null()) } };
    /// Whether this thread holds a `Reader` (the state lock).
    static READING: Cell<bool> = const { Cell::new(false) };
}

#[cfg(nanometrics_loom)]
loom::thread_local! {
    static FAST: Cell<*const ThreadBlock> = Cell::new(ptr::null());
    static OWNER: Owner = Owner {
        block: Cell::new(ptr::null()),
        parked: parked::Parked::new(),
    };
    static READING: Cell<bool> = Cell::new(false);
}

// === the API the metric types use ===

/// Runs `f` on the calling thread's chunk `at.chunk` (the writer fast path).
/// After this thread's TLS value is destroyed, runs it on the retired chunk
/// under the state lock instead, so late updates are never lost.
#[inline(always)]
pub(crate) fn with_chunk<R>(at: SlotRef, f: impl Fn(&Chunk) -> R) -> R {
    let b = FAST.with(|f| f.get());
    if !b.is_null() {
        // SAFETY: `FAST` is non-null only while the owner holds the block:
        // it is set after `Box::into_raw` and cleared before the block is
        // freed, both on this thread.
        let block = unsafe { &*b };
        // Relaxed: only this thread stores its chunk pointers.
        let c = block.chunks[chunk_index(at.chunk)].load(Ordering::Relaxed);
        if !c.is_null() {
            // SAFETY: chunks live as long as their block (see `own_chunk`).
            return f(unsafe { &*c });
        }
    }
    // `f` moves into the cold path, so the fast path never spills it.
    with_chunk_slow(at, f)
}

#[cold]
#[inline(never)]
fn with_chunk_slow<R>(at: SlotRef, f: impl Fn(&Chunk) -> R) -> R {
    match OWNER.try_with(|o| f(o.block_or_register().own_chunk(at.chunk))) {
        Ok(r) => r,
        Err(_) => late(at, &f),
    }
}

#[cold]
#[inline(never)]
fn late<R>(at: SlotRef, f: &impl Fn(&Chunk) -> R) -> R {
    let mut st = lock(state());
    f(st.retired_chunk(at.chunk))
}

/// Allocates `len` zeroed slots in one chunk.
pub(crate) fn alloc(len: u32, kind: RangeKind) -> Result<SlotRef, Error> {
    lock(state()).alloc(len, kind)
}

/// Owns a range of the slot space; releases (and zeroes) it when the last
/// reference to its series (a handle, or a parked count: [`LeaseRef`]) goes.
pub(crate) struct Lease {
    at: SlotRef,
    /// The highest `f64` reported through `high_water` since the last
    /// `set_high_water` (bits); touched only under the state lock.
    high: AtomicU64,
    /// Serialises resets of the series (`FloatCounter::reset`).
    resetting: Mutex<()>,
}

impl Lease {
    /// Allocates `len` slots; the returned `SlotRef` is copied into handles so
    /// the fast path need not follow the `Arc`.
    pub(crate) fn create(len: u32, kind: RangeKind) -> Result<(SlotRef, LeaseRef), Error> {
        let at = alloc(len, kind)?;
        let lease = Arc::new(Lease {
            at,
            high: AtomicU64::new(0.0f64.to_bits()),
            resetting: Mutex::new(()),
        });
        Ok((at, LeaseRef::new(lease)))
    }

    /// `v`, or the highest value reported through this call since the last
    /// `set_high_water` if that is larger; remembers the result.
    ///
    /// For an `f64` total that must not go down between reads (a float
    /// counter; a histogram's sum of non-negative observations): the sum of
    /// the per-thread terms depends on their order, and a thread's exit moves
    /// its term into the retired total, so the same increments can sum to an
    /// ulp less after an exit. Prometheus reads any drop as a reset.
    pub(crate) fn high_water(&self, _locked: &Reader, v: f64) -> f64 {
        // Relaxed: callers hold the state lock (the `Reader`), which orders
        // every read of this series after the previous one.
        let high = f64::from_bits(self.high.load(Ordering::Relaxed));
        let out = if v > high { v } else { high };
        self.high.store(out.to_bits(), Ordering::Relaxed);
        out
    }

    /// Lowers the high-water mark to `v` (a float counter's reset).
    pub(crate) fn set_high_water(&self, _locked: &Reader, v: f64) {
        // Relaxed: under the state lock, as above.
        self.high.store(v.to_bits(), Ordering::Relaxed);
    }

    /// Held for the whole of a reset of the series (read the total, subtract
    /// it, lower the mark), so that two resets cannot both subtract the same
    /// total. Not the state lock: the subtraction may need it (a thread's
    /// first update registers its block under it).
    pub(crate) fn resetting(&self) -> MutexGuard<'_, ()> {
        lock(&self.resetting)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // The last reference is gone, handle or parked (the `Arc`'s Release
        // decrement and Acquire fence order every update before this): no
        // writer is left.
        lock(state()).release(self.at);
    }
}

/// A handle's counted reference to its series' [`Lease`]: an `Arc<Lease>`
/// whose clone and drop skip the atomic reference count when they can.
///
/// `family.with_labels(..)?.inc()` clones the handle its thread cached and
/// drops the clone at once: two locked read-modify-writes on the count per
/// call, on a cache line that every thread doing the same shares (with two
/// threads on one series: 43–84 ns per call instead of 12). Instead, a drop
/// *parks* its reference in a one-lease slot of the dropping thread
/// (releasing the references of another lease parked there), and a clone on
/// that thread takes a parked reference back before it touches the count.
/// A parked reference is an ordinary strong count the thread owns: the
/// series and its slots stay alive while it is parked, as they do while a
/// thread's lookup cache holds the handle, and the thread's exit releases
/// it. Moving a count between a handle and the slot is a plain update of
/// thread-local data; the count itself changes only by `Arc`'s own
/// operations, so a lease is freed exactly when the last of its references,
/// handle or parked, is released. Modelled in `loom-tests/tests/lease_parking.rs`.
pub(crate) struct LeaseRef(ptr::NonNull<Lease>);

// `Lease: Send + Sync`, which the impls below rely on.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Lease>();
};

// SAFETY: a `LeaseRef` is an `Arc<Lease>` (one strong count of it), and
// `Lease` is `Send + Sync` (atomics and a mutex; asserted above), which
// makes the `Arc` both.
unsafe impl Send for LeaseRef {}
// SAFETY: as for `Send`.
unsafe impl Sync for LeaseRef {}

impl LeaseRef {
    fn new(lease: Arc<Lease>) -> LeaseRef {
        // SAFETY: `Arc::into_raw` never returns null.
        LeaseRef(unsafe { ptr::NonNull::new_unchecked(Arc::into_raw(lease).cast_mut()) })
    }
}

impl std::ops::Deref for LeaseRef {
    type Target = Lease;
    #[inline]
    fn deref(&self) -> &Lease {
        // SAFETY: `self` owns a strong count, so the `Lease` is alive.
        unsafe { self.0.as_ref() }
    }
}

impl Clone for LeaseRef {
    #[inline]
    fn clone(&self) -> LeaseRef {
        if !parked::take(self.0.as_ptr()) {
            // SAFETY: the pointer came from `Arc::into_raw` and `self` keeps
            // its count above zero; the new count belongs to the clone.
            unsafe { Arc::increment_strong_count(self.0.as_ptr()) };
        }
        LeaseRef(self.0)
    }
}

impl Drop for LeaseRef {
    #[inline]
    fn drop(&mut self) {
        if !parked::park(self.0.as_ptr()) {
            // SAFETY: the pointer came from `Arc::into_raw`, and this
            // releases the count `self` owned (the `Arc`'s Release decrement
            // and Acquire fence order every update before `Lease::drop`).
            unsafe { drop(Arc::from_raw(self.0.as_ptr())) };
        }
    }
}

mod parked {
    use std::cell::Cell;

    use super::{Arc, Lease};

    /// Strong counts of one lease that this thread's dropped handles left.
    /// With std it has no destructor, so that its accesses need no state
    /// check: `Guard`'s destructor, registered on the first park, releases
    /// what is parked at thread exit and closes the slot. (Under loom it is
    /// a field of the shard's `Owner`, whose destructor does that.)
    pub(in crate::shard) struct Parked {
        lease: Cell<*const Lease>,
        /// How many counts are parked; with 0, `lease` is only a hint.
        n: Cell<usize>,
        /// `OPEN` once the counts are sure to be released at thread exit;
        /// `CLOSED` once they have been.
        state: Cell<u8>,
    }

    /// The lease of a closed slot: no `Lease` is at this address.
    const CLOSED_SLOT: *const Lease = std::ptr::NonNull::<Lease>::dangling().as_ptr().cast_const();

    const UNGUARDED: u8 = 0;
    const OPEN: u8 = 1;
    const CLOSED: u8 = 2;

    impl Parked {
        pub(in crate::shard) const fn new() -> Parked {
            Parked {
                lease: Cell::new(std::ptr::null()),
                n: Cell::new(0),
                state: Cell::new(UNGUARDED),
            }
        }

        /// Closes the slot; returns what was parked, to be released.
        fn close(&self) -> (*const Lease, usize) {
            self.state.set(CLOSED);
            (self.lease.replace(CLOSED_SLOT), self.n.replace(0))
        }
    }

    #[cfg(not(nanometrics_loom))]
    struct Guard;

    #[cfg(not(nanometrics_loom))]
    impl Drop for Guard {
        fn drop(&mut self) {
            if let Ok((lease, n)) = PARKED.try_with(Parked::close) {
                release(lease, n);
            }
        }
    }

    #[cfg(not(nanometrics_loom))]
    std::thread_local! {
        static PARKED: Parked = const { Parked::new() };
        static GUARD: Guard = const { Guard };
    }

    /// Under loom the slot lives in the shard's `Owner`, whose destructor
    /// releases it: loom drops a thread's thread-locals in no fixed order,
    /// and a second one with a destructor would make the model's runs
    /// differ.
    #[cfg(nanometrics_loom)]
    fn with_slot<R>(f: impl FnOnce(&Parked) -> R) -> Result<R, loom::thread::AccessError> {
        super::OWNER.try_with(|o| f(&o.parked))
    }

    #[cfg(not(nanometrics_loom))]
    fn with_slot<R>(f: impl FnOnce(&Parked) -> R) -> Result<R, std::thread::AccessError> {
        PARKED.try_with(f)
    }

    /// Closes the slot and releases what it held (`Owner::drop`, loom).
    #[cfg(nanometrics_loom)]
    pub(in crate::shard) fn close(p: &Parked) {
        let (lease, n) = p.close();
        release(lease, n);
    }

    /// Takes a parked count of `lease`, if this thread has one.
    #[inline]
    pub(super) fn take(lease: *const Lease) -> bool {
        with_slot(|p| {
            let n = p.n.get();
            let hit = n > 0 && p.lease.get() == lease;
            if hit {
                p.n.set(n - 1);
                // Under loom, no hint: whether a freed lease's address
                // is reused is up to the allocator, and the branch it
                // decides in `park` would make the model's runs differ.
                #[cfg(nanometrics_loom)]
                if n == 1 {
                    p.lease.set(std::ptr::null());
                }
            }
            hit
        })
        .unwrap_or(false)
    }

    /// Parks a count of `lease`, evicting (releasing) the counts of another
    /// lease parked before: the lease dropped last is the one most likely
    /// cloned next. `false` (the caller releases the count) once the
    /// thread's exit has closed the slot.
    #[inline]
    pub(super) fn park(lease: *const Lease) -> bool {
        let evicted = with_slot(|p| {
            // The slot keeps the last lease it held after a `take` emptied
            // it, so the usual drop, right after a clone that took the
            // count, needs no more than this. (Equal to a freed lease's
            // address, it is `lease`, the live one now there: the count is
            // still `lease`'s.) `lease` is never null or `CLOSED_SLOT`.
            if p.lease.get() == lease {
                p.n.set(p.n.get() + 1);
                return Some((lease, 0));
            }
            if p.state.get() != OPEN && !open(p) {
                return None;
            }
            if p.n.get() > 0 && super::reading() {
                // Evicting could release another series' last reference,
                // and `Lease::drop` takes the state lock this thread holds:
                // the caller releases this one, as it would without parking.
                return None;
            }
            let old = p.lease.replace(lease);
            Some((old, p.n.replace(1)))
        });
        match evicted {
            Ok(Some((_, 0))) => true,
            Ok(Some((old, n))) => {
                release(old, n);
                true
            }
            Ok(None) | Err(_) => false,
        }
    }

    /// Makes sure the counts parked from now on are released at thread
    /// exit (std: registers `Guard`); `false` if the slot is closed, or it
    /// is too late to register.
    #[cold]
    fn open(p: &Parked) -> bool {
        #[cfg(not(nanometrics_loom))]
        let guarded = GUARD.try_with(|_| ()).is_ok();
        #[cfg(nanometrics_loom)]
        let guarded = true;
        if p.state.get() == UNGUARDED && guarded {
            p.state.set(OPEN);
        }
        p.state.get() == OPEN
    }

    /// Releases this thread's parked counts now.
    pub(crate) fn release_now() {
        let parked = with_slot(|p| {
            // Under loom, no hint (see `take`).
            #[cfg(nanometrics_loom)]
            return (p.lease.replace(std::ptr::null()), p.n.replace(0));
            #[cfg(not(nanometrics_loom))]
            (p.lease.get(), p.n.replace(0))
        });
        if let Ok((lease, n)) = parked {
            release(lease, n);
        }
    }

    /// Releases `n` parked counts of `lease`, outside the slot's borrow
    /// (the last one drops the `Lease`).
    #[cold]
    fn release(lease: *const Lease, n: usize) {
        for _ in 0..n {
            // SAFETY: each parked count is a strong count of `lease` (from a
            // `LeaseRef`, whose pointer came from `Arc::into_raw`), and the
            // slot gave up its ownership of these `n` before this call.
            unsafe { Arc::decrement_strong_count(lease) };
        }
    }
}

/// Releases the series references this thread's dropped handles left
/// parked (see [`LeaseRef`]).
pub(crate) fn release_parked() {
    parked::release_now();
}

/// A consistent read view: holds the state lock, so no thread can exit (fold)
/// and no range can be released while it lives.
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

/// A merged histogram range, as read from every shard.
#[derive(Debug, Default, Clone)]
pub(crate) struct HistRaw {
    pub(crate) sum: f64,
    pub(crate) min_enc: u64,
    pub(crate) max_enc: u64,
    pub(crate) counts: Vec<u64>,
}

impl HistRaw {
    fn merge_slots(&mut self, s: &[u64]) {
        self.sum += f64::from_bits(s[HIST_SUM]);
        self.min_enc = self.min_enc.max(s[HIST_MIN]);
        self.max_enc = self.max_enc.max(s[HIST_MAX]);
        for (c, v) in self.counts.iter_mut().zip(&s[HIST_HEADER as usize..]) {
            *c = c.wrapping_add(*v);
        }
    }
}

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
fn reading() -> bool {
    READING.try_with(Cell::get).unwrap_or(false)
}

impl Reader {
    fn blocks(&self) -> impl Iterator<Item = &ThreadBlock> {
        // SAFETY: linked blocks are alive while the lock (held by `self`) is.
        self.st.threads.iter().map(|b| unsafe { &*b.0 })
    }

    /// Wrapping sum of slot `at` over every thread plus the retired total.
    pub(crate) fn sum(&self, at: SlotRef) -> u64 {
        let off = at.off as usize;
        let mut total = match self.st.retired.get(at.chunk as usize) {
            Some(Some(c)) => c.slots[off].load(Ordering::Relaxed),
            _ => 0,
        };
        for b in self.blocks() {
            if let Some(c) = b.reader_chunk(at.chunk) {
                total = total.wrapping_add(c.slots[off].load(Ordering::Relaxed));
            }
        }
        total
    }

    /// Sum of the `f64` slot `at` over every thread plus the retired total.
    pub(crate) fn sum_f64(&self, at: SlotRef) -> f64 {
        let off = at.off as usize;
        let mut total = match self.st.retired.get(at.chunk as usize) {
            Some(Some(c)) => f64::from_bits(c.slots[off].load(Ordering::Relaxed)),
            _ => 0.0,
        };
        for b in self.blocks() {
            if let Some(c) = b.reader_chunk(at.chunk) {
                total += f64::from_bits(c.slots[off].load(Ordering::Relaxed));
            }
        }
        total
    }

    /// Reads a histogram range, each shard under its seqlock, its staged
    /// observations binned by `layout`.
    pub(crate) fn hist(&self, at: SlotRef, layout: &Layout) -> HistRaw {
        let n = layout.slots() as usize;
        let off = at.off as usize;
        let mut out = HistRaw {
            counts: vec![0; n - HIST_HEADER as usize],
            ..HistRaw::default()
        };
        let mut tmp = vec![0u64; n];
        if let Some(Some(c)) = self.st.retired.get(at.chunk as usize) {
            // Retired totals are written only under the lock we hold.
            for (t, s) in tmp.iter_mut().zip(&c.slots[off..off + n]) {
                *t = s.load(Ordering::Relaxed);
            }
            layout.settle(&mut tmp[..]);
            out.merge_slots(&tmp);
        }
        for b in self.blocks() {
            if let Some(c) = b.reader_chunk(at.chunk) {
                read_seqlocked(&c.slots[off..off + n], &mut tmp);
                layout.settle(&mut tmp[..]);
                out.merge_slots(&tmp);
            }
        }
        out
    }
}

/// Seqlock read of one shard's histogram range into `out`.
fn read_seqlocked(slots: &[AtomicU64], out: &mut [u64]) {
    loop {
        // Acquire: pairs with the writer's closing Release store of the
        // sequence, so a stable even value shows that update's data.
        let s1 = slots[HIST_SEQ].load(Ordering::Acquire);
        if s1 & 1 == 0 {
            for (i, (o, s)) in out.iter_mut().zip(slots).enumerate().skip(1) {
                // Acquire on the staged count: pairs with the Release store
                // in `histogram::record_into`, so the staged values it
                // counts (loaded after it) are visible.
                *o = s.load(if i == HIST_LEN {
                    Ordering::Acquire
                } else {
                    Ordering::Relaxed
                });
            }
            // Acquire fence: pairs with the writer's Release fence after its
            // opening (odd) store; if any load above saw a later update's data,
            // the re-read below sees that update's odd (or a later) sequence.
            fence(Ordering::Acquire);
            if slots[HIST_SEQ].load(Ordering::Relaxed) == s1 {
                return;
            }
        }
        spin();
    }
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

/// Number of threads whose blocks are linked (for tests and docs).
pub(crate) fn live_threads() -> usize {
    lock(state()).threads.len()
}

#[cfg(all(test, not(nanometrics_loom)))]
mod tests {
    use std::sync::{mpsc, Weak};

    use super::*;

    /// A series' lease, and a way to tell whether it is still alive that,
    /// unlike its slot range, no other test can reuse.
    fn lease() -> (Weak<Lease>, LeaseRef) {
        let at = alloc(1, RangeKind::Sum).unwrap();
        let arc = Arc::new(Lease {
            at,
            high: AtomicU64::new(0),
            resetting: Mutex::new(()),
        });
        (Arc::downgrade(&arc), LeaseRef::new(arc))
    }

    fn alive(w: &Weak<Lease>) -> bool {
        w.strong_count() > 0
    }

    #[test]
    fn parked_references_are_released_at_thread_exit() {
        let w = std::thread::spawn(|| {
            let (w, lease) = lease();
            let copies: Vec<LeaseRef> = (0..3).map(|_| lease.clone()).collect();
            // Every drop parks: the slot now holds all four counts.
            drop(copies);
            drop(lease);
            assert!(alive(&w), "parked references keep the series");
            w
        })
        .join()
        .unwrap();
        assert!(
            !alive(&w),
            "the thread's exit released its parked references"
        );
    }

    #[test]
    fn parking_another_lease_evicts_and_frees_the_last_one() {
        let (a, lease_a) = lease();
        let (b, lease_b) = lease();
        let a2 = lease_a.clone();
        drop(lease_a);
        drop(a2); // both of a's counts parked
        assert!(alive(&a));
        drop(lease_b); // parks b, evicts a's two counts: a is freed
        assert!(!alive(&a));
        assert!(alive(&b));
        // A clone takes b's parked count back; its drop parks it again.
        let (c, lease_c) = lease();
        let c2 = lease_c.clone();
        drop(c2); // evicts b
        assert!(!alive(&b));
        let c3 = lease_c.clone(); // takes c2's parked count
        drop(lease_c);
        assert!(alive(&c), "c3 holds it");
        drop(c3);
        let (_, other) = lease();
        drop(other); // evicts c
        assert!(!alive(&c));
    }

    /// A handle dropped while the thread holds the state lock (user code in
    /// a `Registry::visit` callback) does not evict another series' parked
    /// references: their release could need that lock.
    #[test]
    fn no_eviction_while_reading() {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let (a, lease_a) = lease();
            drop(lease_a); // a's only reference is now parked
            let (_, lease_b) = lease();
            let b2 = lease_b.clone();
            let r = reader();
            drop(lease_b); // not b's last; must not evict a
            drop(r);
            tx.send(alive(&a)).unwrap();
            drop(b2);
        });
        let a_alive = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("a drop under the state lock deadlocked");
        assert!(a_alive, "a's parked reference stays parked");
    }

    /// The hint an emptied slot keeps may name a lease that was freed since,
    /// and a new lease may be allocated at the same address: parking the new
    /// one is still right (its count is the new lease's own).
    #[test]
    fn a_hint_at_a_reused_address_parks_the_new_lease() {
        let mut reused = 0;
        for _ in 0..50 {
            let (_, a) = lease();
            let a_ptr: *const Lease = &*a;
            let a2 = a.clone();
            drop(a);
            drop(a2); // both counts parked
            release_parked(); // a is freed here; the empty slot's hint is a
            let (b, lease_b) = lease(); // often at a's address
            reused += usize::from(std::ptr::eq(a_ptr, &*lease_b));
            drop(lease_b); // parked, through the hint when the address is a's
            assert!(alive(&b));
            let (_, other) = lease();
            drop(other); // evicts b
            assert!(!alive(&b));
        }
        // The case this test is for happened (the allocator reuses the block).
        assert!(reused > 0, "no address was reused in 50 rounds");
    }

    /// Clones made on one thread and dropped on others (and the reverse),
    /// threads exiting with counts parked: every lease is freed once its
    /// last reference is gone, and not before.
    #[test]
    fn references_moving_between_threads_free_each_lease_once() {
        const THREADS: usize = 8;
        const ROUNDS: usize = 2_000;
        let leases: Vec<(Weak<Lease>, LeaseRef)> = (0..4).map(|_| lease()).collect();
        let (tx, rx) = mpsc::channel::<LeaseRef>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let mine: Vec<LeaseRef> = leases.iter().map(|(_, l)| l.clone()).collect();
                let weak: Vec<Weak<Lease>> = leases.iter().map(|(w, _)| w.clone()).collect();
                let (tx, rx) = (tx.clone(), rx.clone());
                std::thread::spawn(move || {
                    for i in 0..ROUNDS {
                        let c = mine[(i * 7 + t) % mine.len()].clone();
                        if i % 3 == 0 {
                            tx.send(c).unwrap(); // dropped by whoever receives it
                        } else {
                            drop(c);
                        }
                        if let Ok(got) = rx.lock().unwrap().try_recv() {
                            drop(got.clone());
                            drop(got);
                        }
                        assert!(weak.iter().all(alive));
                    }
                })
            })
            .collect();
        drop(tx);
        for w in workers {
            w.join().unwrap();
        }
        drop(rx); // what is left in the channel drops here
        let weak: Vec<Weak<Lease>> = leases.iter().map(|(w, _)| w.clone()).collect();
        assert!(weak.iter().all(alive), "the test thread's handles remain");
        drop(leases);
        // This thread may have parked one lease's counts; parking another
        // lease evicts them.
        let (_, other) = lease();
        drop(other);
        assert!(!weak.iter().any(alive));
    }
}
