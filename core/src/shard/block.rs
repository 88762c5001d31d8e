//! [`ThreadBlock`]: one thread's slots, a fixed table of lazily allocated
//! [`Chunk`]s. Its owning thread writes it; readers reach it, under the
//! state lock, while it is linked in `State::threads`.

use super::slots::{chunk_index, Chunk, MAX_CHUNKS};
use crate::sync::{AtomicPtr, Ordering};

/// One thread's slots: a fixed table of lazily allocated chunks.
pub(crate) struct ThreadBlock {
    chunks: [AtomicPtr<Chunk>; MAX_CHUNKS as usize],
}

impl ThreadBlock {
    /// A block with every chunk pointer null. With std the table is
    /// allocated zeroed (`calloc`): when the allocator hands out fresh
    /// memory, the pages of it that no chunk pointer lands on do not
    /// become resident (a thread whose chunks are among the first 512
    /// commits one 4 KiB page of it); memory it reuses, it clears.
    #[cfg(not(nanometrics_loom))]
    pub(super) fn new_boxed() -> Box<ThreadBlock> {
        let layout = std::alloc::Layout::new::<ThreadBlock>();
        // SAFETY: `layout` has a non-zero size.
        let p = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<ThreadBlock>();
        if p.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        // SAFETY: allocated with `ThreadBlock`'s layout, as `Box` does; a
        // `ThreadBlock` is an array of `AtomicPtr`, for which all zero bits
        // is a valid value (null).
        unsafe { Box::from_raw(p) }
    }

    #[cfg(nanometrics_loom)]
    pub(super) fn new_boxed() -> Box<ThreadBlock> {
        Box::new(ThreadBlock {
            chunks: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
        })
    }

    /// The owning thread's pointer to chunk `i`: null if never touched (the
    /// writer fast path: one relaxed load, no allocation).
    #[inline(always)]
    pub(super) fn own_chunk_ptr(&self, i: u32) -> *const Chunk {
        // Relaxed: only the owning thread (us) ever stores this pointer.
        self.chunks[chunk_index(i)].load(Ordering::Relaxed)
    }

    /// The owning thread's view of chunk `i`, allocating it on first touch.
    ///
    /// # Safety
    ///
    /// Only the thread that owns this block may call it: the chunk table
    /// has one writer, and the chunk must not be freed while the returned
    /// borrow lives (only the owner's exit frees it).
    #[inline(always)]
    pub(super) unsafe fn own_chunk(&self, i: u32) -> &Chunk {
        let p = self.own_chunk_ptr(i);
        if p.is_null() {
            return self.alloc_chunk(i);
        }
        // SAFETY: `p` came from `Box::into_raw` in `alloc_chunk` and is
        // freed only in `ThreadBlock::drop`, which runs after the owning
        // thread's block owner is gone; the caller is that thread, and
        // `&self` keeps the block alive.
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
    pub(super) fn reader_chunk(&self, i: u32) -> Option<&Chunk> {
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

/// A linked block, as the state keeps it.
pub(super) struct BlockPtr(pub(super) *const ThreadBlock);
// SAFETY: a `ThreadBlock` is made of atomics; the pointer is dereferenced by
// other threads only under the state lock, while the block is linked.
unsafe impl Send for BlockPtr {}
