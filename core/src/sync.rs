//! The one place that switches between `std` and `loom`.
//!
//! Everything in `core/` that more than one thread touches goes through these
//! re-exports, so the loom models in `loom-tests/` (built with
//! `RUSTFLAGS="--cfg nanometrics_loom"`) explore the same code that ships.

#[cfg(not(nanometrics_loom))]
pub(crate) use std::sync::atomic::{fence, AtomicPtr, AtomicU64, AtomicU8, Ordering};
#[cfg(not(nanometrics_loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};

#[cfg(nanometrics_loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicPtr, AtomicU64, AtomicU8, Ordering};
#[cfg(nanometrics_loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};

#[cfg(nanometrics_loom)]
pub(crate) use loom::cell::UnsafeCell;

/// `std::cell::UnsafeCell` with loom's access API (`with`, `with_mut`), so
/// that loom checks that every access to data handed between threads
/// through an atomic pointer is ordered after the write it reads.
#[cfg(not(nanometrics_loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(nanometrics_loom))]
impl<T> UnsafeCell<T> {
    pub(crate) fn new(v: T) -> UnsafeCell<T> {
        UnsafeCell(std::cell::UnsafeCell::new(v))
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Locks `m`, ignoring poisoning: every critical section in this crate leaves
/// its data consistent at every await-free step, and a panic elsewhere must
/// not turn every later scrape into a panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Spin hint used by seqlock readers while a writer is mid-update.
#[inline]
pub(crate) fn spin() {
    #[cfg(nanometrics_loom)]
    loom::thread::yield_now();
    #[cfg(not(nanometrics_loom))]
    std::hint::spin_loop();
}

/// [`lock`] for the `std` mutexes of the registry and families, which stay
/// `std` under loom (the models exercise the shard protocol, not them).
pub(crate) fn lock_std<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}
