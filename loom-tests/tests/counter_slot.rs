//! Slot write + concurrent read: a reader never sees a counter go backwards,
//! and the total is exact once the writer is joined.
#![cfg(nanometrics_loom)]

use loom::thread;
use nanometrics::Registry;
use nanometrics_loom_tests::run_model;

#[test]
fn counter_write_and_read() {
    run_model("counter_write_and_read", || {
        let r = Registry::new();
        let c = r.counter("c_total", "c").unwrap();
        let w = c.clone();
        let t = thread::spawn(move || {
            w.inc();
            w.inc_by(2);
        });
        let a = c.get();
        let b = c.get();
        assert!(a <= b, "went backwards: {a} -> {b}");
        assert!(b == 0 || b == 1 || b == 3, "torn value {b}");
        t.join().unwrap();
        assert_eq!(c.get(), 3);
    });
}

#[test]
fn up_down_counter_two_writers() {
    run_model("up_down_counter_two_writers", || {
        let r = Registry::new();
        let u = r.up_down_counter("u", "u").unwrap();
        let (u1, u2) = (u.clone(), u.clone());
        let t1 = thread::spawn(move || u1.add(5));
        let t2 = thread::spawn(move || u2.add(-2));
        let v = u.get();
        assert!([0, 5, -2, 3].contains(&v), "impossible value {v}");
        t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(u.get(), 3);
    });
}
