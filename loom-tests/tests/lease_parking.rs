//! Handle references parked on drop (`shard::LeaseArc`): a thread that drops
//! a handle keeps its strong count for its next clone of the same series,
//! and releases it when it parks another series or exits. Whatever the
//! interleaving of clones, drops, evictions and exits on several threads,
//! every count is released exactly once: the series' slots are freed (and
//! zeroed) only after its last handle is gone, and loom reports any leaked
//! or doubly released `Arc`.
#![cfg(nanometrics_loom)]

use loom::thread;
use nanometrics::Registry;
use nanometrics_loom_tests::run_model;

/// Two threads clone and drop handles of one removed series (x), and on one
/// of them a drop of another series' handle (y) evicts x's parked count;
/// the last release frees x's range, and the series created next gets it
/// and starts at zero.
#[test]
fn parked_references_release_once() {
    run_model("parked_references_release_once", || {
        let r = Registry::new();
        let f = r.counter_family("c_total", "c", &["k"]).unwrap();
        let x = f.with_labels(&["x"]).unwrap();
        let y = f.with_labels(&["y"]).unwrap();
        assert!(f.remove(&["x"]));
        let t1 = {
            let x = x.clone();
            thread::spawn(move || {
                x.inc_by(2);
                let again = x.clone(); // takes nothing: x is not parked yet
                drop(x); // parks
                again.inc(); // through the clone
                let third = again.clone(); // takes the parked count
                drop(again);
                drop(third);
                // Released here, not at the thread's exit, which loom runs
                // after `join` returns.
                nanometrics::diagnostics::release_parked_handles();
            })
        };
        let t2 = {
            let (x, y) = (x.clone(), y.clone());
            thread::spawn(move || {
                x.inc_by(5);
                drop(x); // parks x
                y.inc();
                drop(y); // evicts x (releases its count), parks y
            })
        };
        drop(x); // main's count parks on main
        t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(y.get(), 1);
        nanometrics::diagnostics::release_parked_handles();
        // Every reference to x is released now (t1 released its own, t2's
        // was evicted by y, main's just now), so its range is free (and
        // zeroed): the series created now gets it and starts at zero.
        let z = f.with_labels(&["z"]).unwrap();
        assert_eq!(z.get(), 0);
    });
}

/// A handle moved to another thread and dropped there while its origin
/// thread keeps cloning: the counts cross threads only through the `Arc`.
#[test]
fn handles_dropped_on_other_threads() {
    run_model("handles_dropped_on_other_threads", || {
        let r = Registry::new();
        let c = r.counter("c_total", "c").unwrap();
        let c1 = c.clone();
        let t1 = thread::spawn(move || {
            let moved = c1.clone();
            c1.inc();
            drop(c1); // parks on t1
            let t2 = thread::spawn(move || {
                moved.inc();
                // dropped on t2: parks there, released at t2's exit
            });
            t2.join().unwrap();
        });
        t1.join().unwrap();
        assert_eq!(c.get(), 2);
    });
}
