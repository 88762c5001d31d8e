//! The one mutex helper of this crate.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, ignoring poisoning: every critical section here leaves its
/// data consistent, and a panic elsewhere must not stop exports or streams.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
