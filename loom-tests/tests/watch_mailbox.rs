//! The mailbox between a ticker and a subscriber: a frame pushed by a tick
//! wakes a subscriber blocked in `recv` and a task parked in `poll_recv`
//! (no lost wake-up), and a subscriber that falls behind under
//! `Overflow::Close` gets what was queued, then the end. The ticker is a
//! manual one, ticking on the model's main thread; the metric is a gauge,
//! which the models never update from a spawned thread.
#![cfg(nanometrics_loom)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use loom::thread;
use nanometrics::realtime::{Overflow, Ticker};
use nanometrics::Registry;
use nanometrics_loom_tests::run_model;

#[test]
fn a_blocked_subscriber_gets_the_frame() {
    run_model("a_blocked_subscriber_gets_the_frame", || {
        let r = Registry::new();
        r.gauge("g", "g").unwrap().set(2.0);
        let t = Ticker::manual(Duration::from_secs(1));
        let sub = r.watch("g").unwrap().ticker(&t).subscribe().unwrap();
        let reader = thread::spawn(move || {
            let f = sub.recv().expect("a frame, not the end");
            (f.seq, f.series[0].value.as_gauge())
        });
        t.advance(1);
        assert_eq!(reader.join().unwrap(), (1, Some(2.0)));
    });
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_parked_task_is_woken() {
    run_model("a_parked_task_is_woken", || {
        let r = Registry::new();
        r.gauge("g", "g").unwrap();
        let t = Ticker::manual(Duration::from_secs(1));
        let sub = r.watch("g").unwrap().ticker(&t).subscribe().unwrap();
        let task = thread::spawn(move || {
            let flag = Arc::new(Flag(AtomicBool::new(false)));
            let waker = Waker::from(flag.clone());
            let mut cx = Context::from_waker(&waker);
            // Poll, and again only once woken, as an executor would.
            loop {
                if let Poll::Ready(f) = sub.poll_recv(&mut cx) {
                    return f.map(|f| f.seq);
                }
                while !flag.0.swap(false, Ordering::SeqCst) {
                    thread::yield_now();
                }
            }
        });
        t.advance(1);
        assert_eq!(task.join().unwrap(), Some(1));
    });
}

#[test]
fn a_lagging_subscriber_gets_the_queue_then_the_end() {
    run_model("a_lagging_subscriber_gets_the_queue_then_the_end", || {
        let r = Registry::new();
        r.gauge("g", "g").unwrap();
        let t = Ticker::manual(Duration::from_secs(1));
        let sub = r
            .watch("g")
            .unwrap()
            .ticker(&t)
            .queue(1, Overflow::Close)
            .subscribe()
            .unwrap();
        let sub = Arc::new(sub);
        let s2 = sub.clone();
        let reader = thread::spawn(move || s2.recv().map(|f| f.seq));
        t.advance(2);
        let first = reader.join().unwrap();
        assert_eq!(first, Some(1), "frame 1 is always delivered");
        // Frame 2 either waited in the queue (the reader took frame 1
        // first) or overflowed it, which closed the subscription.
        match sub.try_recv() {
            Some(f) => assert!(f.seq == 2 && !sub.lagged()),
            None => assert!(sub.lagged() && sub.recv().is_none()),
        }
    });
}
