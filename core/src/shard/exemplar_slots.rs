//! [`ExemplarSlots`]: the latest exemplar of each of a series' buckets (one
//! slot for a counter), written by any thread without waiting, read by
//! readers.
//!
//! # Protocol
//!
//! A slot is an `AtomicPtr` to a boxed record (the exemplar's labels as
//! bytes, the value, the time) that the slot *owns*; whoever swaps a
//! pointer out of a slot owns that record.
//!
//! - **Writers** (any thread) fill a record and `swap` it in: one atomic
//!   exchange, no loop, no lock. The record they fill is a spare: the one
//!   their previous swap returned (kept per thread), else the table's
//!   spare (taken with one swap), else a new box. They copy the labels'
//!   bytes into it, which allocates only when the record's buffer is
//!   shorter than they are; and they take no reference to the labels and
//!   drop none, so no recording frees memory either. In a steady state a
//!   thread allocates nothing.
//! - **Readers** take the record out (`swap` with null), copy it, and put
//!   it back with a `compare_exchange` from null. If a writer stored a
//!   newer record meanwhile, the put-back fails and the old record becomes
//!   the table's spare (for a writer whose swap found the slot empty and
//!   so returned no spare); the spare it displaces, if any, is freed. A
//!   reader that finds null reports no exemplar for that bucket, so two
//!   readers at once may each miss one; readers run under the state lock,
//!   which serialises them.
//!
//! No record is ever reachable from two owners, so no record is freed or
//! refilled while another thread reads it. Modelled in
//! `loom-tests/tests/exemplar_slots.rs`.
//!
//! The time is `SystemTime::now()`: a clock read without a system call
//! where the kernel offers one through the vDSO (Linux on common clock
//! sources), a system call elsewhere.

use std::ptr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::exemplar::{Exemplar, ExemplarSnapshot};
use crate::sync::{AtomicPtr, Ordering, UnsafeCell};

/// One recorded exemplar, in a cell that loom watches: its accesses are
/// ordered only by the slot protocol.
type Record = UnsafeCell<Fields>;

struct Fields {
    /// `Exemplar::packed`.
    labels: Vec<u8>,
    value: f64,
    /// Nanoseconds since the Unix epoch.
    at: u64,
    /// Under loom, a record that is never freed is a leaked `Arc`, which
    /// loom reports.
    #[cfg(nanometrics_loom)]
    _leak_check: crate::sync::Arc<()>,
}

/// Records alive in the process (`diagnostics::exemplar_records`).
static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many exemplar records exist (see `diagnostics::exemplar_records`).
pub(crate) fn live_records() -> usize {
    LIVE.load(std::sync::atomic::Ordering::Relaxed)
}

fn new_record() -> Box<Record> {
    // Relaxed: a count for tests, ordered with nothing.
    LIVE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Box::new(Record::new(Fields {
        labels: Vec::new(),
        value: 0.0,
        at: 0,
        #[cfg(nanometrics_loom)]
        _leak_check: crate::sync::Arc::new(()),
    }))
}

impl Drop for Fields {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

// Records move between threads through the slots' pointers, which the
// compiler does not check (`AtomicPtr<T>` is `Sync` for every `T`).
const _: fn() = || {
    fn send<T: Send>() {}
    send::<Fields>();
};

struct Table {
    slots: Box<[AtomicPtr<Record>]>,
    /// A record a reader could not put back (a writer stored a newer one),
    /// for a writer that has no spare.
    spare: AtomicPtr<Record>,
}

/// A series' exemplar slots, allocated on the first exemplar recorded into
/// it (8 bytes per series until then).
pub(crate) struct ExemplarSlots {
    table: AtomicPtr<Table>,
}

/// Frees a record the caller owns.
///
/// # Safety
///
/// `p` is non-null, came from `Box::into_raw`, and no other thread can
/// reach it.
unsafe fn free(p: *mut Record) {
    // SAFETY: as the caller promises.
    drop(unsafe { Box::from_raw(p) });
}

impl ExemplarSlots {
    pub(crate) fn new() -> ExemplarSlots {
        ExemplarSlots {
            table: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Makes `exemplar` (recorded with `value`, now) the latest of slot `i`
    /// of `n` (`n` is the same for every call on a series). Wait-free.
    pub(crate) fn record(&self, n: usize, i: usize, exemplar: &Exemplar, value: f64) {
        let table = self.table(n);
        let Some(slot) = table.slots.get(i) else {
            return;
        };
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let record = spare::take().unwrap_or_else(|| {
            // Acquire: pairs with the reader's Release swap that left the
            // record there, so its accesses happened before ours.
            let p = table.spare.swap(ptr::null_mut(), Ordering::Acquire);
            if p.is_null() {
                new_record()
            } else {
                // SAFETY: the swap moved the table's ownership of the
                // record to us; it came from `Box::into_raw`.
                unsafe { Box::from_raw(p) }
            }
        });
        record.with_mut(|f| {
            // SAFETY: the record is ours alone (a spare or new; see
            // `spare`), and every earlier access to it happened before
            // the Acquire that made it ours.
            let f = unsafe { &mut *f };
            f.labels.clear();
            f.labels.extend_from_slice(exemplar.packed());
            f.value = value;
            f.at = at;
        });
        // AcqRel. Release: the record's fields are written before a reader
        // or a later writer takes it out of the slot (their Acquire swap).
        // Acquire: the record swapped out was written, or put back, by
        // another thread (its Release swap or put-back), and it is ours to
        // refill from here on.
        let old = slot.swap(Box::into_raw(record), Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: every non-null pointer in a slot came from
            // `Box::into_raw` and is owned by the slot; the swap moved that
            // ownership to us, and no other thread can reach it any more.
            spare::keep(unsafe { Box::from_raw(old) });
        }
    }

    /// The table, allocating it (with `n` slots) if no exemplar was ever
    /// recorded into the series.
    fn table(&self, n: usize) -> &Table {
        // Acquire: pairs with the Release of the `compare_exchange` that
        // published the table, so its slots are initialised.
        let mut t = self.table.load(Ordering::Acquire);
        if t.is_null() {
            let new = Box::into_raw(Box::new(Table {
                slots: (0..n).map(|_| AtomicPtr::new(ptr::null_mut())).collect(),
                spare: AtomicPtr::new(ptr::null_mut()),
            }));
            // Release on success publishes the new table; Acquire on
            // failure pairs with the winner's Release, as above.
            t = match self.table.compare_exchange(
                ptr::null_mut(),
                new,
                Ordering::Release,
                Ordering::Acquire,
            ) {
                Ok(_) => new,
                Err(won) => {
                    // SAFETY: `new` came from `Box::into_raw` above and was
                    // never published.
                    drop(unsafe { Box::from_raw(new) });
                    won
                }
            };
        }
        // SAFETY: a published table is freed only by `drop`, which has
        // `&mut self`, so it outlives this `&self` borrow.
        unsafe { &*t }
    }

    /// The latest exemplar of every slot, in slot order; nothing when none
    /// was ever recorded. Callers hold the state lock (see the module docs).
    pub(crate) fn read(&self, out: &mut Vec<Option<ExemplarSnapshot>>) {
        out.clear();
        // Acquire: pairs with the table's publication (see `table`).
        let t = self.table.load(Ordering::Acquire);
        if t.is_null() {
            return;
        }
        // SAFETY: as in `table`.
        let table = unsafe { &*t };
        out.extend(table.slots.iter().map(|slot| {
            // Acquire: pairs with the Release of the writer's swap that
            // stored the record (or of a reader's put-back), so its fields
            // are visible; the record is ours until we put it back.
            let p = slot.swap(ptr::null_mut(), Ordering::Acquire);
            if p.is_null() {
                return None;
            }
            // SAFETY: the swap moved the slot's ownership of the record to
            // us (module docs): no other thread can reach it.
            let copy = unsafe { &*p }.with(|f| {
                // SAFETY: as above; nothing writes the fields while we own
                // the record.
                let f = unsafe { &*f };
                ExemplarSnapshot {
                    exemplar: Exemplar::unpack(&f.labels),
                    value: f.value,
                    timestamp: UNIX_EPOCH + Duration::from_nanos(f.at),
                }
            });
            // Release (both): our reads above happen before the writer that
            // takes the record next refills it (its Acquire swap).
            if slot
                .compare_exchange(ptr::null_mut(), p, Ordering::Release, Ordering::Relaxed)
                .is_err()
            {
                // A writer stored a newer record; ours becomes the table's
                // spare (Acquire: we own, and may free, the one it
                // displaces, put there by another reader's Release).
                let displaced = table.spare.swap(p, Ordering::AcqRel);
                if !displaced.is_null() {
                    // SAFETY: the swap moved its ownership to us.
                    unsafe { free(displaced) };
                }
            }
            Some(copy)
        }));
    }
}

impl Drop for ExemplarSlots {
    fn drop(&mut self) {
        // Relaxed (loom's atomics have no `get_mut`): `&mut self` means the
        // series' last reference is gone, and the `Arc` release that
        // dropped it ordered every writer's swap and reader's put-back
        // before this.
        let t = self.table.load(Ordering::Relaxed);
        if t.is_null() {
            return;
        }
        // SAFETY: no writer or reader is left (above), and the table and
        // every record in it are owned by `self` alone.
        let table = unsafe { Box::from_raw(t) };
        for slot in table.slots.iter().chain([&table.spare]) {
            let p = slot.load(Ordering::Relaxed);
            if !p.is_null() {
                // SAFETY: as above.
                unsafe { free(p) };
            }
        }
    }
}

/// Each thread keeps the last record it swapped out, and refills it for its
/// next exemplar. Under loom a kept record is written once (as a refill
/// would, so the model checks that the thread owns it) and freed: loom's
/// models check the slots, and a thread-local would outlive a model.
mod spare {
    use super::Record;

    #[cfg(not(nanometrics_loom))]
    std::thread_local! {
        static SPARE: std::cell::Cell<Option<Box<Record>>> = const { std::cell::Cell::new(None) };
    }

    /// The thread's spare, if it has one.
    pub(super) fn take() -> Option<Box<Record>> {
        #[cfg(not(nanometrics_loom))]
        return SPARE.try_with(std::cell::Cell::take).ok().flatten();
        #[cfg(nanometrics_loom)]
        None
    }

    /// Keeps `b` as the thread's spare (freed at thread exit, or now when
    /// thread-locals are gone).
    pub(super) fn keep(b: Box<Record>) {
        #[cfg(not(nanometrics_loom))]
        {
            let _ = SPARE.try_with(|s| s.set(Some(b)));
        }
        #[cfg(nanometrics_loom)]
        {
            // SAFETY: `b` came out of a slot by an Acquire swap: this
            // thread owns it and every earlier access happened before.
            b.with_mut(|f| unsafe { (*f).value = 0.0 });
            drop(b);
        }
    }
}
