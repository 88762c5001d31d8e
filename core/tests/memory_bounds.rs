//! What a recording thread allocates: a histogram shard for each series it
//! records into, not one for every series of the family (issue 11). Bytes
//! are counted by a global allocator that attributes each allocation to
//! the thread that makes it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::thread;

use nanometrics::{Buckets, Registry};

struct Counting;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to `System`, only counting the sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + layout.size()));
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + layout.size()));
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes a new thread allocates while it records 100 values into each of
/// the first `k` series (`handles`), then 100 more into the same ones.
fn allocated_by_recording(handles: &[nanometrics::Histogram], k: usize) -> (usize, usize) {
    let handles = handles[..k].to_vec();
    thread::spawn(move || {
        let before = ALLOCATED.with(Cell::get);
        let pass = || {
            for h in &handles {
                (0..100).for_each(|i| h.observe(i as f64 * 0.01));
            }
        };
        pass();
        let first = ALLOCATED.with(Cell::get) - before;
        pass();
        let again = ALLOCATED.with(Cell::get) - before - first;
        (first, again)
    })
    .join()
    .unwrap()
}

#[test]
fn a_thread_allocates_for_the_series_it_records_into_only() {
    let r = Registry::new();
    let f = r
        .histogram_family("lat_seconds", "x", &["id"], Buckets::default())
        .unwrap();
    let handles: Vec<_> = (0..2_000)
        .map(|i| f.with_labels(&[&i.to_string()]).unwrap())
        .collect();
    // The thread's fixed cost: its table of chunks (16 KiB), its first
    // 4 KiB chunk (which holds the headers of 22 histogram series, or 512
    // counters) and thread-local bookkeeping.
    let (one, again) = allocated_by_recording(&handles, 1);
    assert_eq!(again, 0, "a record after the first allocated");
    assert!(one < 21 * 1024 + 512, "one series: {one} bytes");
    // Each further series: its narrow counters (272 bytes for the default
    // buckets), and a 4 KiB chunk per 22 series' headers.
    let (ten, _) = allocated_by_recording(&handles, 10);
    let further = ten - one;
    assert!(
        (9 * 272 - 64..=9 * 272 + 4096).contains(&further),
        "{further} bytes for 9 further series"
    );
    // Every series: 2,000 narrow arrays and the chunks of 2,000 headers,
    // not 2,000 copies of a grid of 8-byte counters (4.4 MB).
    let (all, _) = allocated_by_recording(&handles, 2_000);
    let chunks = 2_000usize.div_ceil(22) + 1;
    assert!(
        all <= one + 2_000 * 272 + chunks * 4096,
        "2,000 series: {all} bytes"
    );
}
