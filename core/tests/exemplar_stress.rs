//! Exemplars on real threads: writers on many threads race readers, every
//! exemplar read is whole (its labels match its value and its bucket), and
//! records neither leak nor grow in number with the exemplars recorded
//! (`diagnostics::exemplar_records`, a process-wide count: the tests of
//! this file run one at a time).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use nanometrics::diagnostics::{exemplar_records, release_parked_handles};
use nanometrics::{Buckets, Exemplar, Registry, Value};

/// Held by each test: the record count is process-wide.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Eight writers record exemplars whose labels name their value into every
/// bucket of a histogram and into a counter while a reader snapshots.
#[test]
fn exemplars_stay_whole_under_contention_and_records_stay_bounded() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    const THREADS: usize = 8;
    const ROUNDS: usize = 20_000;
    let before = exemplar_records();
    // Everything on a thread of its own, which exits before the last
    // count: the thread that declares a metric keeps its handle in a
    // lookup cache until it exits.
    let peak = std::thread::spawn(move || {
        let r = Registry::new();
        let bounds = vec![1.0, 2.0, 3.0, 4.0];
        let h = r
            .histogram("h", "h", Buckets::explicit(bounds.clone()))
            .unwrap();
        let c = r.counter("c_total", "c").unwrap();
        let values = [0.5, 1.5, 2.5, 3.5, 9.0];
        let exemplars: Arc<Vec<Vec<Exemplar>>> = Arc::new(
            (0..THREADS)
                .map(|t| {
                    values
                        .iter()
                        .map(|v| {
                            Exemplar::new([("thread", t.to_string()), ("value", v.to_string())])
                                .unwrap()
                        })
                        .collect()
                })
                .collect(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (h, c, ex) = (h.clone(), c.clone(), exemplars.clone());
                std::thread::spawn(move || {
                    for i in 0..ROUNDS {
                        let k = (i + t) % values.len();
                        h.observe_with_exemplar(values[k], &ex[t][k]);
                        c.inc_by_with_exemplar(1, &ex[t][k]);
                    }
                })
            })
            .collect();
        let reader = {
            let (r, stop) = (r.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut reads = 0;
                while !stop.load(Ordering::Relaxed) || reads < 100 {
                    for f in r.snapshot().families {
                        let s = &f.series[0];
                        for (i, e) in s.exemplars.iter().enumerate() {
                            let Some(e) = e else { continue };
                            let labels: Vec<_> = e.exemplar.labels().collect();
                            let thread: usize = labels[0].1.parse().unwrap();
                            let named: f64 = labels[1].1.parse().unwrap();
                            assert!(thread < THREADS, "{labels:?}");
                            match &s.value {
                                Value::Histogram(_) => {
                                    assert_eq!(named, e.value, "torn: {labels:?} with {}", e.value);
                                    assert_eq!(
                                        i,
                                        bounds.partition_point(|b| *b < e.value),
                                        "wrong bucket"
                                    );
                                }
                                _ => assert_eq!(e.value, 1.0),
                            }
                        }
                    }
                    reads += 1;
                }
                reads
            })
        };
        for w in writers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() >= 100);
        // 320,000 exemplars later: at most a record per slot (6) and a
        // spare per series (2); the writers' spares went with them.
        let peak = exemplar_records();
        assert_eq!(c.get(), (THREADS * ROUNDS) as u64);
        drop((h, c, r));
        release_parked_handles();
        peak
    })
    .join()
    .unwrap();
    assert!(
        peak <= before + 8,
        "{peak} records for 8 slots and spares (before: {before})"
    );
    assert_eq!(exemplar_records(), before, "records leaked");
}

/// A series that goes frees the records in its slots.
#[test]
fn a_series_that_goes_frees_its_records() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let before = exemplar_records();
    std::thread::spawn(move || {
        let r = Registry::new();
        let h = r.histogram("h", "h", Buckets::default()).unwrap();
        let f = r.counter_family("c_total", "c", &["k"]).unwrap();
        let e = Exemplar::new([("trace_id", "abc")]).unwrap();
        h.observe_with_exemplar(0.3, &e);
        f.with_labels(&["a"]).unwrap().inc_by_with_exemplar(1, &e);
        assert!(exemplar_records() >= before + 2);
        assert!(f.remove(&["a"]));
    })
    .join()
    .unwrap();
    release_parked_handles();
    assert_eq!(exemplar_records(), before);
}
