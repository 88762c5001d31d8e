//! Exemplar slots (`shard::exemplar_slots`): writers on any thread swap
//! their record into a slot; a reader takes the record out, copies it and
//! puts it back unless a newer one arrived. Whatever the interleaving, a
//! read sees nothing or one of the exemplars written (never a torn or
//! freed record), the slot ends holding one of them, a read after the
//! writers finish sees the same one twice (the put-back), and every record
//! is freed exactly once (a record holds a loom `Arc` under loom: one never
//! freed is a leak loom reports). Records are loom cells: a refill not
//! ordered after the read of a record that a reader put back (or left as
//! the table's spare) is a race loom reports.
#![cfg(nanometrics_loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use nanometrics::{Buckets, Exemplar, Registry};
use nanometrics_loom_tests::run_model;

fn trace(n: u8) -> Exemplar {
    Exemplar::new([("trace_id", n.to_string())]).unwrap()
}

/// Two writers race a reader on a counter's one slot (so the reader may
/// hold a record while a writer swaps). The writers touch the counter first and the reader
/// waits for that: a
/// thread's first touch registers it under the state lock that readers
/// hold, which would keep it out of the read; after that its writes take
/// no lock, as in a running program.
#[test]
fn counter_exemplar_is_whole_and_latest() {
    run_model("counter_exemplar_is_whole_and_latest", || {
        let r = Registry::new();
        let c = r.counter("c_total", "c").unwrap();
        let (e1, e2) = (trace(1), trace(2));
        let ready = Arc::new(AtomicUsize::new(0));
        let write = |n: u64, e: &Exemplar| {
            let (c, e, ready) = (c.clone(), e.clone(), ready.clone());
            thread::spawn(move || {
                c.inc();
                ready.fetch_add(1, Ordering::Release);
                c.inc_by_with_exemplar(n, &e);
                drop(c);
                nanometrics::diagnostics::release_parked_handles();
            })
        };
        let t1 = write(1, &e1);
        let t2 = write(2, &e2);
        while ready.load(Ordering::Acquire) < 2 {
            thread::yield_now();
        }
        let whole = |got: Option<nanometrics::ExemplarSnapshot>| {
            if let Some(g) = &got {
                let want = if g.value == 1.0 { &e1 } else { &e2 };
                assert!([1.0, 2.0].contains(&g.value), "value {}", g.value);
                assert_eq!(&g.exemplar, want, "labels of another record");
            }
            got
        };
        whole(c.exemplar());
        t1.join().unwrap();
        t2.join().unwrap();
        let a = whole(c.exemplar()).expect("an exemplar after the writes");
        let b = whole(c.exemplar()).expect("put back by the read");
        assert_eq!(a.value, b.value);
        assert_eq!(c.get(), 5);
        drop((c, r, a, b));
        nanometrics::diagnostics::release_parked_handles();
    });
}

/// The first exemplars of a histogram race to allocate its table of slots
/// (one per bucket) while a reader looks: one table wins, the loser's is
/// freed, and both exemplars land in their own buckets.
#[test]
fn first_exemplars_share_one_table() {
    run_model("first_exemplars_share_one_table", || {
        let r = Registry::new();
        let h = r.histogram("h", "h", Buckets::explicit(vec![1.0])).unwrap();
        let (e1, e2) = (trace(1), trace(2));
        let t1 = {
            let (h, e) = (h.clone(), e1.clone());
            thread::spawn(move || {
                h.observe_with_exemplar(0.5, &e);
                drop(h);
                nanometrics::diagnostics::release_parked_handles();
            })
        };
        let t2 = {
            let (h, e) = (h.clone(), e2.clone());
            thread::spawn(move || {
                h.observe_with_exemplar(5.0, &e);
                drop(h);
                nanometrics::diagnostics::release_parked_handles();
            })
        };
        let early = h.exemplars();
        assert!(early.is_empty() || early.len() == 2);
        t1.join().unwrap();
        t2.join().unwrap();
        let ex = h.exemplars();
        assert_eq!(ex.len(), 2);
        assert_eq!(
            ex[0].as_ref().map(|e| (e.value, &e.exemplar)),
            Some((0.5, &e1))
        );
        assert_eq!(
            ex[1].as_ref().map(|e| (e.value, &e.exemplar)),
            Some((5.0, &e2))
        );
        drop((h, r, ex, early));
        nanometrics::diagnostics::release_parked_handles();
    });
}

/// A reader holds the slot's record while a writer stores a newer one: its
/// put-back fails and the record becomes the table's spare, which a later
/// writer (with no spare of its own) takes and refills. The refill must be
/// ordered after the reader's copy.
#[test]
fn a_stale_record_is_refilled_after_its_read() {
    run_model("a_stale_record_is_refilled_after_its_read", || {
        let r = Registry::new();
        let c = r.counter("c_total", "c").unwrap();
        let (e1, e2, e3) = (trace(1), trace(2), trace(3));
        // The first record, before the race.
        {
            let (c, e) = (c.clone(), e1.clone());
            thread::spawn(move || {
                c.inc_by_with_exemplar(1, &e);
                drop(c);
                nanometrics::diagnostics::release_parked_handles();
            })
            .join()
            .unwrap();
        }
        let ready = Arc::new(AtomicUsize::new(0));
        // `yield_first`: the writer lets the others run before it writes
        // (a scheduling point, not a preemption), so a model within two
        // preemptions can run it after the reader left its spare.
        let writer = |e: &Exemplar, yield_first: bool| {
            let (c, e, ready) = (c.clone(), e.clone(), ready.clone());
            thread::spawn(move || {
                c.inc();
                ready.fetch_add(1, Ordering::Release);
                if yield_first {
                    thread::yield_now();
                }
                c.inc_by_with_exemplar(1, &e);
                drop(c);
                nanometrics::diagnostics::release_parked_handles();
            })
        };
        let racing = writer(&e2, false);
        let later = writer(&e3, true);
        while ready.load(Ordering::Acquire) < 2 {
            thread::yield_now();
        }
        let got = c
            .exemplar()
            .expect("the slot held a record before the read");
        assert!([&e1, &e2, &e3].contains(&&got.exemplar));
        racing.join().unwrap();
        later.join().unwrap();
        let last = c.exemplar().expect("a record after the writes");
        assert!(last.exemplar == e2 || last.exemplar == e3);
        drop((c, r, got, last));
        nanometrics::diagnostics::release_parked_handles();
    });
}
