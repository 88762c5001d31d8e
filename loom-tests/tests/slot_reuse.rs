//! Slot reuse: when the last handle of a series drops (possibly on another
//! thread), its slots are zeroed in every block before they are handed out
//! again, while a neighbouring series in the same chunk keeps counting.
#![cfg(nanometrics_loom)]

use loom::thread;
use nanometrics::Registry;
use nanometrics_loom_tests::run_model;

#[test]
fn recreated_series_starts_at_zero() {
    run_model("recreated_series_starts_at_zero", || {
        let r = Registry::new();
        let f = r.counter_family("c_total", "c", &["k"]).unwrap();
        let x = f.with_labels(&["x"]).unwrap();
        let y = f.with_labels(&["y"]).unwrap();
        let t1 = {
            let x = x.clone();
            thread::spawn(move || {
                x.inc_by(5);
                // The last handle may be dropped here, on this thread.
            })
        };
        let t2 = {
            let y = y.clone();
            thread::spawn(move || y.inc_by(7))
        };
        assert!(f.remove(&["x"]));
        drop(x);
        t1.join().unwrap();
        // x's range is free (and zeroed); the new series may get it.
        let x2 = f.with_labels(&["x"]).unwrap();
        assert_eq!(x2.get(), 0);
        let t3 = {
            let x2 = x2.clone();
            thread::spawn(move || x2.inc())
        };
        t2.join().unwrap();
        t3.join().unwrap();
        assert_eq!(x2.get(), 1);
        assert_eq!(y.get(), 7);
    });
}
