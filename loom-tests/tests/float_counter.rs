//! Float counters: each thread adds to its own `f64` slot and folds it into
//! the retired `f64` total at exit; a reader sees every increment exactly
//! once, in the `f64` domain (a `u64` fold of `f64` bits would be garbage).
#![cfg(nanometrics_loom)]

use loom::thread;
use nanometrics::Registry;
use nanometrics_loom_tests::run_model;

#[test]
fn float_increments_fold_exactly_once() {
    run_model("float_increments_fold_exactly_once", || {
        let r = Registry::new();
        let c = r.float_counter("c_total", "c").unwrap();
        let (c1, c2) = (c.clone(), c.clone());
        let t1 = thread::spawn(move || {
            c1.inc_by(0.5);
            c1.inc_by(0.25);
        });
        let t2 = thread::spawn(move || c2.inc_by(2.0));
        let a = c.get();
        let b = c.get();
        assert!(a <= b, "went backwards: {a} -> {b}");
        assert!(
            [0.0, 0.5, 0.75, 2.0, 2.5, 2.75].contains(&b),
            "double or torn total {b}"
        );
        t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(c.get(), 2.75);
    });
}

/// Two resets racing on one series restart it at zero once: the second
/// sees the first's subtraction and subtracts nothing, so the counter
/// counts from zero afterwards (it would read 0 after the next increment
/// if both subtracted the old total).
#[test]
fn concurrent_resets_restart_at_zero_once() {
    run_model("concurrent_resets_restart_at_zero_once", || {
        let r = Registry::new();
        let c = r.float_counter("c_total", "c").unwrap();
        // Writes only on spawned threads (see `run_model`).
        let c0 = c.clone();
        thread::spawn(move || c0.inc_by(2.0)).join().unwrap();
        let (c1, c2) = (c.clone(), c.clone());
        let t1 = thread::spawn(move || c1.reset());
        let t2 = thread::spawn(move || c2.reset());
        t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(c.get(), 0.0);
        let c3 = c.clone();
        thread::spawn(move || c3.inc()).join().unwrap();
        assert_eq!(c.get(), 1.0);
    });
}
