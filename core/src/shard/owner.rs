//! The thread-local side of the shards: [`BlockOwner`], which creates this
//! thread's [`ThreadBlock`] on its first update and folds it into the
//! retired totals when the thread exits, and [`with_chunk`], the writer's
//! fast path to its own chunk.

use std::cell::Cell;
use std::ptr;

use super::block::{BlockPtr, ThreadBlock};
use super::slots::{Chunk, SlotRef};
use super::state::state;
use crate::sync::lock;

/// Owns this thread's block; its destructor folds and unlinks it. Touched
/// only when the block is created and when the thread exits.
pub(super) struct BlockOwner {
    block: Cell<*const ThreadBlock>,
    /// Under loom, the thread's parked handle references (see
    /// `lease::parked`): loom drops a thread's thread-locals in no fixed
    /// order, so the slot is released by this destructor instead of one of
    /// its own.
    #[cfg(nanometrics_loom)]
    pub(super) parked: super::lease::parked::Parked,
}

impl BlockOwner {
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
        // `BlockOwner::drop`, which cannot run while `&self` is borrowed.
        unsafe { &*p }
    }
}

impl Drop for BlockOwner {
    fn drop(&mut self) {
        #[cfg(nanometrics_loom)]
        super::lease::parked::close(&self.parked);
        let p = self.block.replace(ptr::null());
        if p.is_null() {
            return;
        }
        // From now on this thread's updates take the slow path, find the
        // owner destroyed, and go to the retired chunks under the lock.
        let _ = FAST.try_with(|f| f.set(ptr::null()));
        lock(state()).fold_exited(p);
        // SAFETY: `p` came from `Box::into_raw` in `block_or_register`;
        // `fold_exited` unlinked it under the lock and `FAST` no longer
        // points to it, so nothing can reach it any more.
        drop(unsafe { Box::from_raw(p as *mut ThreadBlock) });
    }
}

// `FAST` has no destructor, so reading it is a plain thread-local load with
// no "is it initialised / destroyed" state check: the whole writer fast path
// is this load, the chunk pointer load and the slot update.
#[cfg(not(nanometrics_loom))]
std::thread_local! {
    static FAST: Cell<*const ThreadBlock> = const { Cell::new(ptr::null()) };
    pub(super) static OWNER: BlockOwner = const { BlockOwner { block: Cell::new(ptr::null()) } };
}

#[cfg(nanometrics_loom)]
loom::thread_local! {
    static FAST: Cell<*const ThreadBlock> = Cell::new(ptr::null());
    pub(super) static OWNER: BlockOwner = BlockOwner {
        block: Cell::new(ptr::null()),
        parked: super::lease::parked::Parked::new(),
    };
}

/// Runs `f` on the calling thread's chunk `at.chunk` (the writer fast path).
/// After this thread's block owner is destroyed, runs it on the retired
/// chunk under the state lock instead, so late updates are never lost.
#[inline(always)]
pub(crate) fn with_chunk<R>(at: SlotRef, f: impl Fn(&Chunk) -> R) -> R {
    let b = FAST.with(|f| f.get());
    if !b.is_null() {
        // SAFETY: `FAST` is non-null only while the owner holds the block:
        // it is set after `Box::into_raw` and cleared before the block is
        // freed, both on this thread.
        let block = unsafe { &*b };
        let c = block.own_chunk_ptr(at.chunk);
        if !c.is_null() {
            // SAFETY: chunks live as long as their block (see
            // `ThreadBlock::own_chunk`), and only this thread frees it.
            return f(unsafe { &*c });
        }
    }
    // `f` moves into the cold path, so the fast path never spills it.
    with_chunk_slow(at, f)
}

#[cold]
#[inline(never)]
fn with_chunk_slow<R>(at: SlotRef, f: impl Fn(&Chunk) -> R) -> R {
    // SAFETY: `OWNER` is this thread's block owner, so the block is this
    // thread's own, and it is freed only by `OWNER`'s destructor, which cannot
    // run while this borrow lives.
    match OWNER.try_with(|o| f(unsafe { o.block_or_register().own_chunk(at.chunk) })) {
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

/// Number of threads whose blocks are linked (for tests and docs).
pub(crate) fn live_threads() -> usize {
    lock(state()).threads.len()
}
