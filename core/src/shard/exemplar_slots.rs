//! [`ExemplarSlots`]: the latest exemplar of each of a series' buckets (one
//! slot for a counter), written by any thread without waiting, read by
//! readers.
//!
//! # Protocol
//!
//! A slot is an `AtomicPtr` to a boxed record (exemplar, value, time) that
//! the slot *owns*; whoever swaps a pointer out of it owns that record.
//!
//! - **Writers** (any thread) box the new record and `swap` it in: one
//!   atomic exchange, no loop, no lock. The record swapped out (an older
//!   one) is theirs: it becomes the thread's spare box (its labels
//!   released), reused by its next exemplar, so a thread allocates only for
//!   its first exemplar (and the series' table of slots on the first
//!   exemplar into the series).
//! - **Readers** take the record out (`swap` with null), copy it (one
//!   reference count of the exemplar's labels), and put it back with a
//!   `compare_exchange` from null. If a writer stored a newer record
//!   meanwhile, the put-back fails and the reader frees the old one: the
//!   slot keeps the newest. A reader that finds null reports no exemplar
//!   for that bucket, so two readers at once may each miss one; readers
//!   run under the state lock, which serialises them.
//!
//! No record is ever reachable from two owners, so no record is freed
//! while another thread reads it. Modelled in
//! `loom-tests/tests/exemplar_slots.rs`.

use std::ptr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::exemplar::{Exemplar, ExemplarSnapshot};
use crate::sync::{AtomicPtr, Ordering, UnsafeCell};

/// One recorded exemplar, in a cell that loom watches: its accesses are
/// ordered only by the slot protocol.
type Record = UnsafeCell<Fields>;

struct Fields {
    /// `None` only in a thread's spare box (which keeps no labels alive).
    exemplar: Option<Exemplar>,
    value: f64,
    /// Nanoseconds since the Unix epoch.
    at: u64,
}

struct Table {
    slots: Box<[AtomicPtr<Record>]>,
}

/// A series' exemplar slots, allocated on the first exemplar recorded into
/// it (8 bytes per series until then).
pub(crate) struct ExemplarSlots {
    table: AtomicPtr<Table>,
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
        let Some(slot) = self.table(n).slots.get(i) else {
            return;
        };
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let record = spare::filled(Fields {
            exemplar: Some(exemplar.clone()),
            value,
            at,
        });
        // AcqRel. Release: the record's fields are written before a reader
        // or a later writer takes it out of the slot (their Acquire swap).
        // Acquire: the record swapped out was written, or put back, by
        // another thread (its Release swap or put-back), and it is ours to
        // reuse from here on.
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
            }));
            // AcqRel on success publishes the new table (Release); Acquire
            // on failure pairs with the winner's Release, as above.
            t = match self.table.compare_exchange(
                ptr::null_mut(),
                new,
                Ordering::AcqRel,
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
            // us (module docs): no other thread can reach it, and the
            // Acquire made its writer's fields visible.
            let copy = unsafe { &*p }.with(|f| {
                // SAFETY: as above; nothing writes the fields while we own
                // the record.
                let f = unsafe { &*f };
                f.exemplar.clone().map(|exemplar| ExemplarSnapshot {
                    exemplar,
                    value: f.value,
                    timestamp: UNIX_EPOCH + Duration::from_nanos(f.at),
                })
            });
            // Release: the reads above happen before the writer that takes
            // the record next reuses it (its Acquire swap). Relaxed on
            // failure: nothing is read then.
            if slot
                .compare_exchange(ptr::null_mut(), p, Ordering::Release, Ordering::Relaxed)
                .is_err()
            {
                // A writer stored a newer record; ours is stale.
                // SAFETY: still ours (the put-back did not happen).
                drop(unsafe { Box::from_raw(p) });
            }
            copy
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
        for slot in table.slots.iter() {
            let p = slot.load(Ordering::Relaxed);
            if !p.is_null() {
                // SAFETY: as above.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}

/// Each thread keeps the last record it swapped out, and fills it for its
/// next exemplar instead of allocating. Not under loom, whose models check
/// the slots, not the allocator.
mod spare {
    use super::{Fields, Record};

    #[cfg(not(nanometrics_loom))]
    std::thread_local! {
        static SPARE: std::cell::Cell<Option<Box<Record>>> = const { std::cell::Cell::new(None) };
    }

    /// `fields` in a boxed record: the thread's spare if it has one.
    pub(super) fn filled(fields: Fields) -> Box<Record> {
        #[cfg(not(nanometrics_loom))]
        if let Ok(Some(b)) = SPARE.try_with(std::cell::Cell::take) {
            // SAFETY: the spare is this thread's alone: it was swapped out
            // of a slot (Acquire, so every earlier access to it happened
            // before) and is not in any slot.
            b.with_mut(|f| unsafe { *f = fields }); // drops the old exemplar's reference
            return b;
        }
        Box::new(Record::new(fields))
    }

    /// Keeps `b`, emptied of its exemplar, as the thread's spare (freeing
    /// it at thread exit, or now when thread-locals are gone).
    pub(super) fn keep(b: Box<Record>) {
        #[cfg(not(nanometrics_loom))]
        {
            // SAFETY: `b` came out of a slot by an Acquire swap: this thread
            // owns it and every earlier access to it happened before.
            b.with_mut(|f| unsafe { (*f).exemplar = None });
            let _ = SPARE.try_with(|s| s.set(Some(b)));
        }
        #[cfg(nanometrics_loom)]
        drop(b);
    }
}
