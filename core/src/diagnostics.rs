//! What the process's shards are doing, for tests, diagnostics and memory
//! control: how many threads hold a block, how many float-counter
//! increments were dropped, and releasing the series references this thread
//! keeps parked, how many exemplar records exist.

use std::sync::atomic::{AtomicU64, Ordering};

static REJECTED_INCREMENTS: AtomicU64 = AtomicU64::new(0);

/// Float-counter increments dropped since the process started because they
/// were negative, NaN or infinite ([`FloatCounter::inc_by`](crate::FloatCounter::inc_by)).
/// Process-wide: a count of bad input to look for, not a metric of any
/// registry.
///
/// ```
/// let c = nanometrics::Registry::new().float_counter("x_total", "x")?;
/// let before = nanometrics::diagnostics::rejected_increments();
/// c.inc_by(-1.0);
/// assert!(nanometrics::diagnostics::rejected_increments() > before);
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn rejected_increments() -> u64 {
    REJECTED_INCREMENTS.load(Ordering::Relaxed)
}

#[cold]
#[inline(never)]
pub(crate) fn count_rejected_increment() {
    // Relaxed: a count, ordered with nothing else.
    REJECTED_INCREMENTS.fetch_add(1, Ordering::Relaxed);
}

/// Number of threads whose shard blocks are currently linked (threads that
/// updated a sharded metric and have not exited). For tests and diagnostics.
///
/// ```
/// let c = nanometrics::Registry::new().counter("x_total", "x")?;
/// c.inc();
/// assert!(nanometrics::diagnostics::live_shard_threads() >= 1);
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn live_shard_threads() -> usize {
    crate::shard::live_threads()
}

/// Releases the series references that handles dropped on this thread left
/// *parked*.
///
/// Dropping a handle (a [`Counter`](crate::Counter), a [`Histogram`](crate::Histogram), ...) does not touch
/// the series' shared reference count when it can avoid it: the thread
/// keeps the reference for the next clone of a handle of the same series,
/// so that `family.with_labels(..)?.inc()` on many threads at once shares no
/// cache line. A thread holds the references of at most one series that
/// way, and releases them when it drops a handle of another series, when
/// it exits, or when it calls this. Only the memory of a series that is
/// already removed (or never registered) waits on it, as it waits on the
/// thread's lookup cache ([`Family::with_labels`](crate::Family::with_labels)); no count is affected.
/// Like dropping a series' last handle, it must not be called from a
/// [`Registry::visit`](crate::Registry::visit) callback.
///
/// ```
/// let r = nanometrics::Registry::new();
/// let f = r.counter_family("x_total", "x", &["k"])?;
/// f.with_labels(&["a"])?.inc();
/// f.remove(&["a"]);
/// nanometrics::diagnostics::release_parked_handles();
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn release_parked_handles() {
    crate::shard::release_parked();
}

/// How many exemplar records the process holds: one per exemplar slot
/// that holds an exemplar, at most one spare per series that has
/// exemplars, and at most one spare per thread that recorded one (freed
/// when the thread exits). Records are refilled, never freed, while their
/// series lives, so the number stays bounded however many exemplars are
/// recorded. For leak tests.
///
/// ```
/// use nanometrics::{diagnostics::exemplar_records, Exemplar, Registry};
/// let c = Registry::new().counter("x_total", "x")?;
/// c.inc_by_with_exemplar(1, &Exemplar::new([("trace_id", "abc")])?);
/// let after_one = exemplar_records();
/// for i in 0..100 {
///     c.inc_by_with_exemplar(1, &Exemplar::new([("trace_id", i.to_string())])?);
/// }
/// // The slot's record and this thread's spare, refilled in turn (other
/// // threads of this process may hold records too).
/// assert!(exemplar_records() <= after_one + 1);
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn exemplar_records() -> usize {
    crate::shard::live_exemplar_records()
}
