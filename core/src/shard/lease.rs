//! Leases: a [`Lease`] owns a series' range of the slot space and releases
//! (zeroes and frees) it when the last reference to the series goes; a
//! [`LeaseArc`] is a handle's counted reference to it, whose clone and drop
//! *park* the count in a thread-local slot instead of touching the shared
//! reference count when they can (module `parked`).

use super::exemplar_slots::ExemplarSlots;
use super::reader::Reader;
use super::slots::{RangeKind, SlotRef};
use super::state::state;
use crate::error::Error;
use crate::sync::{lock, Arc, AtomicU64, Mutex, MutexGuard, Ordering};

/// Allocates `len` zeroed slots in one chunk.
fn alloc(len: u32, kind: RangeKind) -> Result<SlotRef, Error> {
    lock(state()).alloc(len, kind)
}

/// Owns a range of the slot space; releases (and zeroes) it when the last
/// reference to its series (a handle, or a parked count: [`LeaseArc`]) goes.
pub(crate) struct Lease {
    at: SlotRef,
    /// The highest `f64` reported through `high_water` since the last
    /// `set_high_water` (bits); touched only under the state lock.
    high: AtomicU64,
    /// Serialises resets of the series (`FloatCounter::reset`).
    resetting: Mutex<()>,
    /// The series' latest exemplars (counters and histograms).
    pub(crate) exemplars: ExemplarSlots,
}

impl Lease {
    /// Allocates `len` slots; the returned `SlotRef` is copied into handles so
    /// the fast path need not follow the `Arc`.
    pub(crate) fn create(len: u32, kind: RangeKind) -> Result<(SlotRef, LeaseArc), Error> {
        let at = alloc(len, kind)?;
        let lease = Arc::new(Lease {
            at,
            high: AtomicU64::new(0.0f64.to_bits()),
            resetting: Mutex::new(()),
            exemplars: ExemplarSlots::new(),
        });
        Ok((at, LeaseArc::new(lease)))
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
/// call, on a cache line that every thread doing the same shares, so the
/// lookup slows with every thread that does it. Instead, a drop
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
pub(crate) struct LeaseArc(std::ptr::NonNull<Lease>);

// `Lease: Send + Sync`, which the impls below rely on.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Lease>();
};

// SAFETY: a `LeaseArc` is an `Arc<Lease>` (one strong count of it), and
// `Lease` is `Send + Sync` (atomics and a mutex; asserted above), which
// makes the `Arc` both.
unsafe impl Send for LeaseArc {}
// SAFETY: as for `Send`.
unsafe impl Sync for LeaseArc {}

impl LeaseArc {
    fn new(lease: Arc<Lease>) -> LeaseArc {
        // SAFETY: `Arc::into_raw` never returns null.
        LeaseArc(unsafe { std::ptr::NonNull::new_unchecked(Arc::into_raw(lease).cast_mut()) })
    }
}

impl std::ops::Deref for LeaseArc {
    type Target = Lease;
    #[inline]
    fn deref(&self) -> &Lease {
        // SAFETY: `self` owns a strong count, so the `Lease` is alive.
        unsafe { self.0.as_ref() }
    }
}

impl Clone for LeaseArc {
    #[inline]
    fn clone(&self) -> LeaseArc {
        if !parked::take(self.0.as_ptr()) {
            // SAFETY: the pointer came from `Arc::into_raw` and `self` keeps
            // its count above zero; the new count belongs to the clone.
            unsafe { Arc::increment_strong_count(self.0.as_ptr()) };
        }
        LeaseArc(self.0)
    }
}

impl Drop for LeaseArc {
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

pub(super) mod parked {
    use std::cell::Cell;

    use super::{Arc, Lease};

    /// Strong counts of one lease that this thread's dropped handles left.
    /// With std it has no destructor, so that its accesses need no state
    /// check: `Guard`'s destructor, registered on the first park, releases
    /// what is parked at thread exit and closes the slot. (Under loom it is
    /// a field of the shard's `BlockOwner`, whose destructor does that.)
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

    /// Under loom the slot lives in the shard's `BlockOwner`, whose destructor
    /// releases it: loom drops a thread's thread-locals in no fixed order,
    /// and a second one with a destructor would make the model's runs
    /// differ.
    #[cfg(nanometrics_loom)]
    fn with_slot<R>(f: impl FnOnce(&Parked) -> R) -> Result<R, loom::thread::AccessError> {
        super::super::owner::OWNER.try_with(|o| f(&o.parked))
    }

    #[cfg(not(nanometrics_loom))]
    fn with_slot<R>(f: impl FnOnce(&Parked) -> R) -> Result<R, std::thread::AccessError> {
        PARKED.try_with(f)
    }

    /// Closes the slot and releases what it held (`BlockOwner::drop`, loom).
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
            if p.n.get() > 0 && super::super::reader::reading() {
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
            // `LeaseArc`, whose pointer came from `Arc::into_raw`), and the
            // slot gave up its ownership of these `n` before this call.
            unsafe { Arc::decrement_strong_count(lease) };
        }
    }
}

/// Releases the series references this thread's dropped handles left
/// parked (see [`LeaseArc`]).
pub(crate) fn release_parked() {
    parked::release_now();
}

#[cfg(all(test, not(nanometrics_loom)))]
mod tests {
    use std::sync::{mpsc, Weak};

    use super::*;

    /// A series' lease, and a way to tell whether it is still alive that,
    /// unlike its slot range, no other test can reuse.
    fn lease() -> (Weak<Lease>, LeaseArc) {
        let at = alloc(1, RangeKind::Sum).unwrap();
        let arc = Arc::new(Lease {
            at,
            high: AtomicU64::new(0),
            resetting: Mutex::new(()),
            exemplars: ExemplarSlots::new(),
        });
        (Arc::downgrade(&arc), LeaseArc::new(arc))
    }

    fn alive(w: &Weak<Lease>) -> bool {
        w.strong_count() > 0
    }

    #[test]
    fn parked_references_are_released_at_thread_exit() {
        let w = std::thread::spawn(|| {
            let (w, lease) = lease();
            let copies: Vec<LeaseArc> = (0..3).map(|_| lease.clone()).collect();
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
            let r = super::super::reader::reader();
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
        let leases: Vec<(Weak<Lease>, LeaseArc)> = (0..4).map(|_| lease()).collect();
        let (tx, rx) = mpsc::channel::<LeaseArc>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let mine: Vec<LeaseArc> = leases.iter().map(|(_, l)| l.clone()).collect();
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
