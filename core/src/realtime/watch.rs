//! [`Registry::watch`]: subscriptions. A [`WatchBuilder`] says what to
//! follow and how often; [`subscribe`](WatchBuilder::subscribe) returns a
//! [`Subscription`] to pull frames from (blocking, or from a task), and
//! [`call`](WatchBuilder::call) runs a callback on a thread of its own.
//! Both return a guard: dropping it ends the watch.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::registry::Registry;
use crate::sync::lock;

use super::frame::Frame;
use super::mailbox::{Closed, Mailbox, Overflow};
use super::rule::Threshold;
use super::selector::Selector;
use super::sink::FrameSink;
use super::ticker::{ticker, Ticker};
use super::watch_state::{Spec, WatchState};

/// A subscriber's mailbox.
type Frames = Mailbox<Arc<Frame>>;

/// Quantiles a frame reports for histogram windows unless told otherwise.
pub const DEFAULT_QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

/// Frames a subscriber may fall behind by, unless told otherwise.
pub const DEFAULT_QUEUE: usize = 16;

impl Registry {
    /// Follows the series `selector` names (a family, and optionally label
    /// matchers: `ttft_seconds{model="llama"}`) in this registry's view;
    /// see [`WatchBuilder`]. The family is named as it was declared here
    /// (a sub-registry adds its prefix, as it did at declaration); it need
    /// not exist yet.
    ///
    /// ```
    /// use std::time::Duration;
    /// use nanometrics::{realtime::Ticker, Buckets, Registry};
    /// let r = Registry::new();
    /// let ttft = r.histogram_family("ttft_seconds", "TTFT.", &["model"], Buckets::default())?;
    /// let t = Ticker::manual(Duration::from_secs(1));
    /// let frames = r
    ///     .watch(r#"ttft_seconds{model="llama"}"#)?
    ///     .ticker(&t)
    ///     .window(Duration::from_secs(10))
    ///     .subscribe()?;
    /// ttft.with_labels(&["llama"])?.observe(0.25);
    /// ttft.with_labels(&["mistral"])?.observe(9.0);
    /// t.advance(1);
    /// let frame = frames.try_recv().expect("a frame per tick");
    /// assert_eq!(frame.series.len(), 1);
    /// assert_eq!(frame.series[0].labels.get("model"), Some("llama"));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn watch(&self, selector: &str) -> Result<WatchBuilder, Error> {
        let selector: Selector = selector.parse()?;
        let family = self.full_name(selector.family());
        Ok(WatchBuilder {
            registry: self.clone(),
            selector: selector.with_family(family),
            every: None,
            window: None,
            quantiles: Arc::from(DEFAULT_QUANTILES),
            rule: None,
            ticker: None,
            queue: DEFAULT_QUEUE,
            overflow: Overflow::DropOldest,
        })
    }
}

/// What a watch follows and how; made by [`Registry::watch`].
///
/// - [`every`](Self::every): how often a frame comes (default: every
///   tick), rounded up to whole ticks;
/// - [`window`](Self::window): the window of the statistics (default: the
///   period);
/// - [`threshold`](Self::threshold): deliver only frames at which a rule's
///   alert fires or resolves;
/// - [`ticker`](Self::ticker): which [`Ticker`] reads (default
///   [`ticker()`]).
#[derive(Debug)]
#[must_use = "a watch starts with .subscribe() or .call()"]
pub struct WatchBuilder {
    registry: Registry,
    selector: Selector,
    every: Option<Duration>,
    window: Option<Duration>,
    quantiles: Arc<[f64]>,
    rule: Option<Threshold>,
    ticker: Option<Ticker>,
    queue: usize,
    overflow: Overflow,
}

impl WatchBuilder {
    /// How often a frame comes (rounded up to whole ticks).
    pub fn every(mut self, period: Duration) -> Self {
        self.every = Some(period);
        self
    }

    /// The window the statistics cover.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = Some(window);
        self
    }

    /// The quantiles stream clients and sinks get for histogram windows
    /// (each in `[0, 1]`; frames carry the whole window for any other).
    pub fn quantiles(mut self, qs: &[f64]) -> Self {
        self.quantiles = qs.into();
        self
    }

    /// Delivers only the frames at which `rule`'s alert fires or resolves
    /// for some series (listed in [`Frame::alerts`]): at most one per
    /// period, however many updates the series took.
    pub fn threshold(mut self, rule: Threshold) -> Self {
        self.rule = Some(rule);
        self
    }

    /// The ticker that reads for this watch.
    pub fn ticker(mut self, ticker: &Ticker) -> Self {
        self.ticker = Some(ticker.clone());
        self
    }

    /// How many frames a subscriber may fall behind by, and what happens
    /// past that (default: 16, [`Overflow::DropOldest`]).
    pub fn queue(mut self, capacity: usize, overflow: Overflow) -> Self {
        self.queue = capacity;
        self.overflow = overflow;
        self
    }

    /// Starts the watch; frames are pulled from the [`Subscription`].
    pub fn subscribe(self) -> Result<Subscription, Error> {
        let (watch, mailbox) = self.start()?;
        Ok(Subscription { mailbox, watch })
    }

    /// Starts the watch, calling `f` with each frame on a thread of the
    /// watch's own (`nanometrics-watch`), never on a recording thread or
    /// the ticker's: a slow callback delays only its own frames (the
    /// oldest are dropped past the queue, and counted), and a panicking
    /// one is caught and counted ([`Watch::stats`]); either way the ticker
    /// keeps its cadence and other watches are served.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use nanometrics::realtime::{Stat, Threshold, Ticker};
    /// let r = nanometrics::Registry::new();
    /// let depth = r.gauge("queue_depth", "Queued requests.")?;
    /// let t = Ticker::manual(Duration::from_secs(1));
    /// let (tx, rx) = mpsc::channel();
    /// let _watch = r
    ///     .watch("queue_depth")?
    ///     .ticker(&t)
    ///     .threshold(Threshold::above(Stat::Last, 100.0).exit(50.0))
    ///     .call(move |frame| tx.send(frame.alerts.len()).unwrap())?;
    /// depth.set(150.0);
    /// t.advance(1);
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(1));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn call(self, mut f: impl FnMut(&Frame) + Send + 'static) -> Result<Watch, Error> {
        self.sink(move |frame: &Frame| {
            f(frame);
            Ok(())
        })
    }

    /// Starts the watch, handing each frame to `sink` on the watch's own
    /// thread (see [`call`](Self::call) and [`FrameSink`]); its errors are
    /// counted in [`WatchStats::errors`].
    pub fn sink(self, mut sink: impl FrameSink) -> Result<Watch, Error> {
        let (mut watch, mailbox) = self.start()?;
        let stats = watch.counts.clone();
        let thread = std::thread::Builder::new()
            .name("nanometrics-watch".into())
            .spawn(move || {
                while let Ok(frame) = mailbox.recv(None) {
                    // Relaxed: counts read on their own.
                    match catch_unwind(AssertUnwindSafe(|| sink.send(&frame))) {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => {
                            stats.errors.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            stats.panics.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    stats.delivered.fetch_add(1, Ordering::Relaxed);
                }
            })
            .map_err(|e| Error::InvalidWatch(format!("cannot start the watch's thread: {e}")))?;
        watch.thread = Some(thread);
        Ok(watch)
    }

    fn start(self) -> Result<(Watch, Arc<Frames>), Error> {
        let ticker = self.ticker.unwrap_or_else(|| ticker().clone());
        let interval = ticker.interval();
        let every = self.every.unwrap_or(interval);
        let window = self.window.unwrap_or(every);
        if every.is_zero() || window.is_zero() {
            return Err(Error::InvalidWatch(format!(
                "the period ({every:?}) and the window ({window:?}) must be longer than zero"
            )));
        }
        if let Some(q) = self.quantiles.iter().find(|q| !(0.0..=1.0).contains(*q)) {
            return Err(Error::InvalidWatch(format!(
                "quantile {q} is outside [0, 1]"
            )));
        }
        if let Some(rule) = &self.rule {
            rule.validate()?;
            if let Some((kind, _)) = self.registry.series_handles(self.selector.family()) {
                rule.stat().check(kind)?;
            }
        }
        let period = every.as_nanos().div_ceil(interval.as_nanos()).max(1);
        let spec = Spec {
            registry: self.registry,
            selector: self.selector,
            period: u64::try_from(period).unwrap_or(u64::MAX),
            window,
            quantiles: self.quantiles,
            rule: self.rule,
        };
        let mailbox = Arc::new(Mailbox::new(self.queue, self.overflow));
        let mut state = WatchState::new(0, spec, mailbox.clone());
        let mut st = lock(&ticker.inner.state);
        // The first read now: the first frame's window starts here, not
        // at the first tick.
        ticker.first_read(&st, &mut state);
        state.id = Ticker::watch_id(&mut st);
        let id = state.id;
        st.watches.push(state);
        ticker.ensure_running(&mut st);
        drop(st);
        let watch = Watch {
            ticker,
            id,
            mailbox: mailbox.clone(),
            counts: Arc::new(Counts::default()),
            thread: None,
        };
        Ok((watch, mailbox))
    }
}

#[derive(Debug, Default)]
struct Counts {
    delivered: AtomicU64,
    errors: AtomicU64,
    panics: AtomicU64,
}

/// A running watch; dropping it ends the watch (a callback already running
/// finishes, and no other starts).
#[must_use = "dropping a Watch ends it at once"]
#[derive(Debug)]
pub struct Watch {
    ticker: Ticker,
    id: u64,
    mailbox: Arc<Frames>,
    counts: Arc<Counts>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What a watch's subscriber has seen; see [`Watch::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WatchStats {
    /// Frames handed to the callback or sink.
    pub delivered: u64,
    /// Frames the sink reported an error for.
    pub errors: u64,
    /// Frames dropped because the subscriber was too far behind.
    pub dropped: u64,
    /// Callback calls that panicked.
    pub panics: u64,
}

impl Watch {
    /// Frames delivered and dropped, and callback panics.
    pub fn stats(&self) -> WatchStats {
        WatchStats {
            // Relaxed: counts read on their own.
            delivered: self.counts.delivered.load(Ordering::Relaxed),
            errors: self.counts.errors.load(Ordering::Relaxed),
            dropped: self.mailbox.dropped(),
            panics: self.counts.panics.load(Ordering::Relaxed),
        }
    }
}

impl Watch {
    /// Ends the watch: the ticker forgets it, and its subscriber gets the
    /// end (after what is queued, unless `discard`).
    fn end(&self, discard: bool) {
        lock(&self.ticker.inner.state)
            .watches
            .retain(|w| w.id != self.id);
        self.mailbox.close(Closed::Unwatched, discard);
    }
}

impl Drop for Watch {
    /// A callback's queued frames are dropped: the call running now (if
    /// any) finishes, no other starts, and the thread ends. It is not
    /// waited for (a callback may be the one dropping its watch, or wait
    /// for something the dropping thread holds).
    fn drop(&mut self) {
        self.end(self.thread.is_some());
        let _ = self.thread.take();
    }
}

/// Frames of a watch, pulled: blocking ([`recv`](Self::recv), the
/// iterator), with a timeout, without waiting, or from an async task
/// ([`next_frame`](Self::next_frame)). Dropping it ends the watch.
#[derive(Debug)]
pub struct Subscription {
    mailbox: Arc<Frames>,
    watch: Watch,
}

impl Subscription {
    /// The next frame, waiting for it; `None` once the watch has ended.
    pub fn recv(&self) -> Option<Arc<Frame>> {
        self.mailbox.recv(None).ok()
    }

    /// The next frame if it comes within `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Arc<Frame>> {
        self.mailbox.recv(Some(Instant::now() + timeout)).ok()
    }

    /// The next frame if one is queued.
    pub fn try_recv(&self) -> Option<Arc<Frame>> {
        self.mailbox.try_recv().ok()
    }

    /// For a task: the next frame, or `Ready(None)` once the watch has
    /// ended; registers the task to be woken when neither is there yet.
    pub fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<Arc<Frame>>> {
        self.mailbox.poll_recv(cx).map(Result::ok)
    }

    /// The next frame, from an async task; `None` once the watch has ended.
    pub async fn next_frame(&self) -> Option<Arc<Frame>> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Frames dropped because this subscriber fell behind.
    pub fn dropped(&self) -> u64 {
        self.mailbox.dropped()
    }

    /// Whether the subscription ended because it fell behind (with
    /// [`Overflow::Close`]).
    pub fn lagged(&self) -> bool {
        self.mailbox.closed() == Some(Closed::Lagged)
    }

    /// The watch's id on its ticker.
    pub fn id(&self) -> u64 {
        self.watch.id
    }

    /// Ends the watch now, through a shared reference (another thread may
    /// be waiting in [`recv`](Self::recv): it gets what is queued, then
    /// `None`). Dropping the subscription does the same.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let r = nanometrics::Registry::new();
    /// # r.gauge("g", "g")?;
    /// let t = nanometrics::realtime::Ticker::manual(Duration::from_secs(1));
    /// let sub = std::sync::Arc::new(r.watch("g")?.ticker(&t).subscribe()?);
    /// let s2 = sub.clone();
    /// let waiter = std::thread::spawn(move || s2.recv().is_none());
    /// sub.close();
    /// assert!(waiter.join().unwrap());
    /// assert_eq!(t.stats().watches, 0);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn close(&self) {
        self.watch.end(false);
    }

    /// Whether the watch has ended and every frame it queued was received.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let r = nanometrics::Registry::new();
    /// # r.gauge("g", "g")?;
    /// let t = nanometrics::realtime::Ticker::manual(Duration::from_secs(1));
    /// let sub = r.watch("g")?.ticker(&t).subscribe()?;
    /// t.advance(1);
    /// sub.close();
    /// assert!(!sub.is_closed()); // one frame still to take
    /// assert!(sub.try_recv().is_some());
    /// assert!(sub.is_closed());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.mailbox.finished()
    }
}

impl Iterator for Subscription {
    type Item = Arc<Frame>;

    fn next(&mut self) -> Option<Arc<Frame>> {
        self.recv()
    }
}
