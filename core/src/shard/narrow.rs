//! A thread's *narrow* counters of a histogram series: one byte per
//! counter of the series' layout (`staging.rs` says how they carry), in an
//! allocation of their own whose address the shard's header keeps in one
//! word (`staging::NARROW`), 0 until the shard's first fold.
//!
//! The owning thread allocates them on that fold (so a thread that records
//! fewer values than a stage holds allocates none) and publishes the
//! address with a `Release` store; they are freed under the state lock: at
//! the thread's exit, after `State::fold_exited` folded the shard, or when
//! the series is released (no handle left, so no writer). The address is
//! kept as an integer (`as` casts: the exposed-provenance round trip) in
//! an ordinary slot of the chunk.

use crate::sync::{AtomicU64, AtomicU8, Ordering};

/// The narrow counters whose address `word` holds, allocating `counters`
/// of them if it holds none. Only the shard's writer calls it: the thread
/// owning the chunk, or a holder of the state lock for the retired chunk.
#[inline(always)]
pub(super) fn own(word: &AtomicU64, counters: usize) -> &[AtomicU8] {
    // Relaxed: only the calling thread stores this word while it can write.
    let addr = word.load(Ordering::Relaxed);
    if addr == 0 {
        return alloc(word, counters);
    }
    // SAFETY: a non-zero word holds the address of `counters` live bytes
    // made by `alloc` for this series; they are freed only by `free`, under
    // the state lock, once this thread has exited or no handle (so no
    // caller of this function) is left.
    unsafe { repr::slice(addr as usize, counters) }
}

/// The narrow counters `word` holds, if any, for any thread. Callers hold
/// the state lock, under which they are freed.
pub(super) fn of(word: &AtomicU64, counters: usize) -> Option<&[AtomicU8]> {
    // Acquire: pairs with the Release store in `alloc`.
    let addr = word.load(Ordering::Acquire);
    // SAFETY: a non-zero address is `counters` live bytes (`alloc`), freed
    // only under the state lock, which the caller holds.
    (addr != 0).then(|| unsafe { repr::slice(addr as usize, counters) })
}

#[cold]
#[inline(never)]
fn alloc(word: &AtomicU64, counters: usize) -> &[AtomicU8] {
    let addr = repr::alloc(counters);
    // Release: pairs with the Acquire load in `of`, so a reader that sees
    // the address sees the zeroed bytes.
    word.store(addr as u64, Ordering::Release);
    // SAFETY: just allocated, `counters` bytes; freed only by `free`.
    unsafe { repr::slice(addr, counters) }
}

/// Frees the narrow counters `word` holds, if any, and empties the word.
/// Callers hold the state lock, and no thread can write them any more (the
/// shard's thread has exited, or the series has no handle left).
pub(super) fn free(word: &AtomicU64, counters: usize) {
    let addr = word.swap(0, Ordering::Relaxed);
    if addr != 0 {
        // SAFETY: the word held the only address of `counters` bytes from
        // `repr::alloc`, and nothing can use them any more (the caller's
        // contract).
        unsafe { repr::free(addr as usize, counters) };
    }
}

/// With std: a plain byte allocation (zeroed bytes are valid `AtomicU8`s).
#[cfg(not(nanometrics_loom))]
mod repr {
    use std::alloc::{alloc_zeroed, dealloc, handle_alloc_error, Layout};

    use crate::sync::AtomicU8;

    fn layout(counters: usize) -> Layout {
        Layout::array::<AtomicU8>(counters.max(1)).expect("a shard's size fits in isize")
    }

    pub(super) fn alloc(counters: usize) -> usize {
        let l = layout(counters);
        // SAFETY: `l` has a non-zero size.
        let p = unsafe { alloc_zeroed(l) };
        if p.is_null() {
            handle_alloc_error(l);
        }
        p as usize
    }

    /// # Safety
    /// `addr` is a live allocation of `counters` bytes from `alloc`,
    /// alive for `'a`.
    #[inline(always)]
    pub(super) unsafe fn slice<'a>(addr: usize, counters: usize) -> &'a [AtomicU8] {
        // SAFETY: the caller's contract; the bytes were zeroed at
        // allocation and are only ever accessed as `AtomicU8`.
        unsafe { std::slice::from_raw_parts(addr as *const AtomicU8, counters) }
    }

    /// # Safety
    /// `addr` came from `alloc(counters)` and nothing uses it any more.
    pub(super) unsafe fn free(addr: usize, counters: usize) {
        // SAFETY: the caller's contract; the same layout as allocated.
        unsafe { dealloc(addr as *mut u8, layout(counters)) }
    }
}

/// Under loom, whose atomics are not plain memory: a boxed slice, boxed.
#[cfg(nanometrics_loom)]
mod repr {
    use crate::sync::AtomicU8;

    pub(super) fn alloc(counters: usize) -> usize {
        let bytes: Box<[AtomicU8]> = (0..counters).map(|_| AtomicU8::new(0)).collect();
        Box::into_raw(Box::new(bytes)) as usize
    }

    /// # Safety
    /// `addr` is a live allocation from `alloc`, alive for `'a`.
    pub(super) unsafe fn slice<'a>(addr: usize, _counters: usize) -> &'a [AtomicU8] {
        // SAFETY: the caller's contract.
        unsafe { &*(addr as *const Box<[AtomicU8]>) }
    }

    /// # Safety
    /// `addr` came from `alloc` and nothing uses it any more.
    pub(super) unsafe fn free(addr: usize, _counters: usize) {
        // SAFETY: the caller's contract.
        drop(unsafe { Box::from_raw(addr as *mut Box<[AtomicU8]>) });
    }
}
