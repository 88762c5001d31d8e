//! [`Mailbox`]: the bounded queue between the ticker (one producer) and one
//! subscriber (a callback's thread, an iterator, an async task). The ticker
//! never waits on it: a full mailbox either drops its oldest frame (and
//! counts it) or, for a consumer that must see every frame (a stream
//! client), closes as *lagged*.
//!
//! One mutex holds the queue, its state and the async consumer's waker; a
//! condition variable wakes a blocked consumer. Every push and every close
//! wakes both kinds of consumer, so none sleeps past a frame or the end.

use std::collections::VecDeque;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::sync::{lock, Condvar, Mutex};

/// What a full mailbox does with a new frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// Drop the oldest queued frame (counted in
    /// [`Subscription::dropped`](super::Subscription::dropped)).
    DropOldest,
    /// Close the mailbox: the consumer gets what is queued, then the end,
    /// and [`Subscription::lagged`](super::Subscription::lagged) says why.
    Close,
}

/// Why a mailbox stopped taking frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Closed {
    /// The watch went (its guard dropped, its ticker gone).
    Unwatched,
    /// The consumer fell `capacity` frames behind under [`Overflow::Close`].
    Lagged,
}

struct Queue<T> {
    items: VecDeque<T>,
    closed: Option<Closed>,
    dropped: u64,
    waker: Option<Waker>,
}

/// A bounded single-consumer queue; see the module docs.
pub(crate) struct Mailbox<T> {
    capacity: usize,
    overflow: Overflow,
    queue: Mutex<Queue<T>>,
    ready: Condvar,
}

impl<T> std::fmt::Debug for Mailbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let q = lock(&self.queue);
        f.debug_struct("Mailbox")
            .field("queued", &q.items.len())
            .field("capacity", &self.capacity)
            .field("dropped", &q.dropped)
            .field("closed", &q.closed)
            .finish()
    }
}

impl<T> Mailbox<T> {
    pub(crate) fn new(capacity: usize, overflow: Overflow) -> Mailbox<T> {
        Mailbox {
            capacity: capacity.max(1),
            overflow,
            queue: Mutex::new(Queue {
                items: VecDeque::new(),
                closed: None,
                dropped: 0,
                waker: None,
            }),
            ready: Condvar::new(),
        }
    }

    /// Queues `item`; `false` when the mailbox is closed (the item is
    /// dropped), so the producer can forget it.
    pub(crate) fn push(&self, item: T) -> bool {
        let mut q = lock(&self.queue);
        if q.closed.is_some() {
            return false;
        }
        if q.items.len() >= self.capacity {
            match self.overflow {
                Overflow::DropOldest => {
                    q.items.pop_front();
                    q.dropped += 1;
                }
                Overflow::Close => {
                    q.closed = Some(Closed::Lagged);
                    q.dropped += 1;
                    self.wake(q);
                    return false;
                }
            }
        }
        q.items.push_back(item);
        self.wake(q);
        true
    }

    /// Closes the mailbox; queued items are still delivered unless
    /// `discard` drops them.
    pub(crate) fn close(&self, why: Closed, discard: bool) {
        let mut q = lock(&self.queue);
        if q.closed.is_none() {
            q.closed = Some(why);
        }
        if discard {
            q.items.clear();
        }
        self.wake(q);
    }

    /// Closed, and nothing left to receive.
    pub(crate) fn finished(&self) -> bool {
        let q = lock(&self.queue);
        q.closed.is_some() && q.items.is_empty()
    }

    fn wake(&self, mut q: crate::sync::MutexGuard<'_, Queue<T>>) {
        let waker = q.waker.take();
        drop(q);
        self.ready.notify_all();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// The next item, waiting for one until `deadline` (forever if `None`);
    /// `Err(None)` when the deadline passed, `Err(Some(why))` when the
    /// mailbox is closed and empty.
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, Option<Closed>> {
        let mut q = lock(&self.queue);
        loop {
            if let Some(item) = q.items.pop_front() {
                return Ok(item);
            }
            if let Some(why) = q.closed {
                return Err(Some(why));
            }
            q = match deadline {
                None => self.ready.wait(q).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left == Duration::ZERO {
                        return Err(None);
                    }
                    self.ready
                        .wait_timeout(q, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// The next item if one is queued; `Err(None)` when none is,
    /// `Err(Some(why))` when the mailbox is closed and empty.
    pub(crate) fn try_recv(&self) -> Result<T, Option<Closed>> {
        let mut q = lock(&self.queue);
        match q.items.pop_front() {
            Some(item) => Ok(item),
            None => Err(q.closed),
        }
    }

    /// [`try_recv`](Self::try_recv) for a task: registers `cx`'s waker when
    /// nothing is queued; `Ready(Err(why))` once closed and empty.
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Result<T, Closed>> {
        let mut q = lock(&self.queue);
        if let Some(item) = q.items.pop_front() {
            return Poll::Ready(Ok(item));
        }
        if let Some(why) = q.closed {
            return Poll::Ready(Err(why));
        }
        q.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Items dropped to make room (or the one that closed it as lagged).
    pub(crate) fn dropped(&self) -> u64 {
        lock(&self.queue).dropped
    }

    /// Why it is closed, if it is.
    pub(crate) fn closed(&self) -> Option<Closed> {
        lock(&self.queue).closed
    }
}
