//! [`Ticker`]: the thread that reads the series someone windows or
//! watches at a fixed period, keeps their rings ([`Track`]), and hands
//! each watch its frames. Writers never see it: it reads shards the way a
//! scrape does.
//!
//! One mutex holds everything the ticker owns; a tick holds it while it
//! finds, reads and frames. The locks it takes under it are the ones a
//! scrape takes (families, then the shard lock), in the same order, and
//! nothing that holds those takes the ticker's. No subscriber code runs
//! under it: frames go into mailboxes.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::counter::{Counter, FloatCounter, UpDownCounter};
use crate::family::{handle_of, Metric};
use crate::gauge::Gauge;
use crate::histogram::Histogram;
use crate::histogram_snapshot::HistogramSnapshot;
use crate::shard;
use crate::summary::Summary;
use crate::sync::{lock, Condvar, Mutex};

use super::clock::Clock;
use super::track::{Track, WindowValue};
use super::watch_state::WatchState;
use super::window::{CounterWindow, GaugeWindow, WindowStats};

/// The shortest tick.
pub const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// The longest tick.
pub const MAX_INTERVAL: Duration = Duration::from_secs(86_400);

/// A series windowed through its handle and not asked again for this long
/// (or twice its longest window, if that is longer) stops being tracked.
pub const IDLE_EXPIRY: Duration = Duration::from_secs(600);

/// Reads the series that are windowed or watched at every tick; see the
/// [module docs](super).
///
/// The process has one shared ticker, [`ticker()`] (1 s, started on first
/// use); [`Ticker::new`] makes another (its own thread, its own period),
/// and [`Ticker::manual`] one that ticks only when told to, for tests and
/// simulations. A ticker's thread, `nanometrics-ticker`, starts with the
/// first window or watch and ends with [`stop`](Self::stop) or when the
/// last clone of the ticker (and the last watch on it) is gone.
///
/// ```
/// use std::time::Duration;
/// use nanometrics::{realtime::Ticker, Registry};
/// let c = Registry::new().counter("tokens_total", "Tokens.")?;
/// let t = Ticker::manual(Duration::from_secs(1));
/// t.window(&c, Duration::from_secs(60)); // tracked from here on
/// c.inc_by(30);
/// t.advance(3);
/// let w = t.window(&c, Duration::from_secs(60));
/// assert_eq!((w.delta, w.rate_per_sec), (30.0, 10.0));
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone)]
pub struct Ticker {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Ticker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticker")
            .field("interval", &self.interval())
            .field("stats", &self.stats())
            .finish()
    }
}

pub(crate) struct Inner {
    clock: Clock,
    pub(crate) state: Mutex<State>,
    /// Held from the end of a tick's reads until its frames are delivered.
    delivering: Mutex<()>,
    wake: Condvar,
}

pub(crate) struct State {
    interval: Duration,
    /// Bumped when the interval changes: the thread reschedules.
    schedule: u64,
    ticks: u64,
    missed: u64,
    /// Ticks that panicked (a bug; the ticker goes on).
    failed: u64,
    last_tick: Duration,
    thread: Option<JoinHandle<()>>,
    /// Which thread may tick: `stop` bumps it, and a thread whose number
    /// is no longer current exits (so a thread started after a stop never
    /// races an old one that has not noticed yet).
    generation: u64,
    handles: HashMap<usize, Track>,
    pub(crate) watches: Vec<WatchState>,
    next_watch: u64,
}

/// What a ticker has done; see [`Ticker::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TickerStats {
    /// Ticks taken.
    pub ticks: u64,
    /// Ticks skipped because a tick (or the machine) ran late.
    pub missed_ticks: u64,
    /// Ticks that panicked (a bug to report; the ticker went on).
    pub failed_ticks: u64,
    /// Series windowed through their handles.
    pub windowed_series: usize,
    /// Watches.
    pub watches: usize,
    /// How long the last tick's reads and frames took.
    pub last_tick: Duration,
}

/// The process's shared ticker: 1 s, started by the first window or
/// watch that uses it.
///
/// ```
/// assert_eq!(nanometrics::realtime::ticker().interval(), std::time::Duration::from_secs(1));
/// ```
pub fn ticker() -> &'static Ticker {
    static TICKER: OnceLock<Ticker> = OnceLock::new();
    TICKER.get_or_init(|| Ticker::with_clock(Clock::real(), Duration::from_secs(1)))
}

impl Ticker {
    /// A ticker of its own, reading every `interval` (clamped to
    /// [`MIN_INTERVAL`]..=[`MAX_INTERVAL`]) on its own thread once
    /// something uses it.
    ///
    /// ```
    /// let t = nanometrics::realtime::Ticker::new(std::time::Duration::from_millis(100));
    /// assert_eq!(t.stats().ticks, 0); // no thread until a window or watch
    /// ```
    pub fn new(interval: Duration) -> Ticker {
        Ticker::with_clock(Clock::real(), interval)
    }

    /// A ticker whose clock moves only by [`advance`](Self::advance), which
    /// also takes the ticks: windows and watches see exactly the ticks a
    /// test makes. It has no thread.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let t = nanometrics::realtime::Ticker::manual(Duration::from_secs(1));
    /// t.advance(2);
    /// assert_eq!(t.stats().ticks, 2);
    /// ```
    pub fn manual(interval: Duration) -> Ticker {
        Ticker::with_clock(Clock::manual(), interval)
    }

    fn with_clock(clock: Clock, interval: Duration) -> Ticker {
        Ticker {
            inner: Arc::new(Inner {
                clock,
                state: Mutex::new(State {
                    interval: interval.clamp(MIN_INTERVAL, MAX_INTERVAL),
                    schedule: 0,
                    ticks: 0,
                    missed: 0,
                    failed: 0,
                    last_tick: Duration::ZERO,
                    thread: None,
                    generation: 0,
                    handles: HashMap::new(),
                    watches: Vec::new(),
                    next_watch: 1,
                }),
                delivering: Mutex::new(()),
                wake: Condvar::new(),
            }),
        }
    }

    /// The period.
    pub fn interval(&self) -> Duration {
        lock(&self.inner.state).interval
    }

    /// Changes the period (clamped to [`MIN_INTERVAL`]..=[`MAX_INTERVAL`]);
    /// the next tick comes
    /// one new period after the change. Rings keep their reads, so windows
    /// stay exact; watch periods are counted in ticks, so they scale too.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let t = nanometrics::realtime::Ticker::new(Duration::from_secs(1));
    /// t.set_interval(Duration::from_millis(100));
    /// assert_eq!(t.interval(), Duration::from_millis(100));
    /// ```
    pub fn set_interval(&self, interval: Duration) {
        let mut st = lock(&self.inner.state);
        st.interval = interval.clamp(MIN_INTERVAL, MAX_INTERVAL);
        st.schedule += 1;
        self.inner.wake.notify_all();
    }

    /// What the ticker has done so far.
    pub fn stats(&self) -> TickerStats {
        let st = lock(&self.inner.state);
        TickerStats {
            ticks: st.ticks,
            missed_ticks: st.missed,
            failed_ticks: st.failed,
            windowed_series: st.handles.len(),
            watches: st.watches.len(),
            last_tick: st.last_tick,
        }
    }

    /// Moves a [manual](Self::manual) ticker's clock forward by `n`
    /// periods, taking a tick after each; `false` (and nothing) on a
    /// ticker with a real clock.
    pub fn advance(&self, n: u32) -> bool {
        if matches!(self.inner.clock, Clock::Real { .. }) {
            return false;
        }
        for _ in 0..n {
            let interval = self.interval();
            self.inner.clock.advance(interval);
            self.inner.tick(None);
        }
        true
    }

    /// Stops the thread and waits for it (not from inside the ticker
    /// itself). Windows and watches stay; the next one to be made starts
    /// the thread again.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let c = nanometrics::Registry::new().counter("x_total", "x")?;
    /// let t = nanometrics::realtime::Ticker::new(Duration::from_millis(10));
    /// t.window(&c, Duration::from_secs(1));
    /// t.stop();
    /// let ticks = t.stats().ticks;
    /// std::thread::sleep(Duration::from_millis(50));
    /// assert_eq!(t.stats().ticks, ticks);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn stop(&self) {
        let thread = {
            let mut st = lock(&self.inner.state);
            st.generation += 1;
            self.inner.wake.notify_all();
            st.thread.take()
        };
        if let Some(t) = thread {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }

    /// Starts the thread if the clock is real and none runs.
    pub(crate) fn ensure_running(&self, st: &mut State) {
        if !matches!(self.inner.clock, Clock::Real { .. }) || st.thread.is_some() {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        let generation = st.generation;
        st.thread = std::thread::Builder::new()
            .name("nanometrics-ticker".into())
            .spawn(move || run(weak, generation))
            .ok();
    }

    /// The clock's time now, in nanoseconds.
    pub(crate) fn now(&self) -> u64 {
        self.inner.clock.now()
    }

    /// Finds and reads a new watch's series (the ticker's state locked).
    pub(crate) fn first_read(&self, st: &State, w: &mut WatchState) {
        let now = self.now();
        let interval = u64::try_from(st.interval.as_nanos()).unwrap_or(u64::MAX);
        w.resolve(now, interval);
        let r = shard::reader();
        w.sample(&r, now);
    }

    /// A new watch's id.
    pub(crate) fn watch_id(st: &mut State) -> u64 {
        st.next_watch += 1;
        st.next_watch
    }

    /// Statistics of `metric` over the last `window`: tracks it from the
    /// first call on (that call's window is empty), reading it at every
    /// tick after; see [`WindowStats`], [`CounterWindow`],
    /// [`GaugeWindow`]. A window longer than any asked before covers only
    /// what the ring kept until then (its `span` says how much). It reads
    /// the series like a scrape: not from inside a
    /// [`Registry::visit`](crate::Registry::visit) callback, which holds
    /// the lock that read needs.
    pub fn window<M: Windowed>(&self, metric: &M, window: Duration) -> M::Window {
        let handle = handle_of(metric);
        let mut st = lock(&self.inner.state);
        let now = self.now();
        self.ensure_running(&mut st);
        let interval = u64::try_from(st.interval.as_nanos()).unwrap_or(u64::MAX);
        let asked = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
        let r = shard::reader();
        let value = handle.read(&r);
        drop(r);
        let track = st
            .handles
            .entry(handle.id())
            .or_insert_with(|| Track::new(handle, &value, now, 0));
        track.retain = track.retain.max(asked.saturating_add(interval));
        track.used = now;
        metric.pick(track.window(&value, now, window, false))
    }
}

impl Inner {
    /// One tick: find, read and frame under the state lock, then deliver
    /// outside it (a subscriber's waker is its code), in tick order. A
    /// thread of an older `generation` (stopped) does not tick.
    fn tick(&self, generation: Option<u64>) {
        let started = Instant::now();
        let mut st = lock(&self.state);
        if generation.is_some_and(|g| g != st.generation) {
            return;
        }
        // Read under the lock: no read stamped earlier than one already taken.
        let now = self.clock.now();
        let wall = self.clock.wall(now);
        st.ticks += 1;
        let tick = st.ticks;
        let interval = u64::try_from(st.interval.as_nanos()).unwrap_or(u64::MAX);
        for w in &mut st.watches {
            w.resolve(now, interval);
        }
        let r = shard::reader();
        for t in st.handles.values_mut() {
            if let Some(h) = t.handle.clone() {
                t.sample(h.read(&r), now, None);
            }
        }
        for w in &mut st.watches {
            w.sample(&r, now);
        }
        drop(r);
        let mut out = Vec::new();
        st.watches.retain_mut(|w| {
            if let Some(frame) = w.frame(tick, now, wall) {
                out.push((w.mailbox.clone(), Arc::new(frame)));
            }
            w.mailbox.closed().is_none()
        });
        let idle = u64::try_from(IDLE_EXPIRY.as_nanos()).unwrap_or(u64::MAX);
        st.handles
            .retain(|_, t| now.saturating_sub(t.used) <= idle.max(t.retain.saturating_mul(2)));
        // Taken before the state lock is released: the next tick delivers
        // after this one.
        let in_order = lock(&self.delivering);
        drop(st);
        // A mailbox that closed meanwhile refuses the frame; the watch is
        // forgotten at the next tick.
        for (mailbox, frame) in out {
            mailbox.push(frame);
        }
        drop(in_order);
        lock(&self.state).last_tick = started.elapsed();
    }
}

/// The thread: ticks at `start + k × interval`, skipping (and counting)
/// the ticks it is too late for, so a slow tick never shifts the cadence.
fn run(weak: Weak<Inner>, generation: u64) {
    let mut next: Option<(Instant, u64)> = None;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        // Only this thread holds the ticker: nobody can ask anything of it.
        if Arc::strong_count(&inner) == 1 {
            return;
        }
        let st = lock(&inner.state);
        if st.generation != generation {
            // Stopped (`stop` took the handle; a later window or watch
            // starts a thread of the new generation).
            return;
        }
        let now = Instant::now();
        let due = match next {
            Some((due, schedule)) if schedule == st.schedule => due,
            _ => {
                let due = now + st.interval;
                next = Some((due, st.schedule));
                due
            }
        };
        if now < due {
            // Bounded, so a ticker dropped meanwhile is noticed.
            let wait = (due - now).min(Duration::from_millis(200));
            drop(inner.wake.wait_timeout(st, wait));
            continue;
        }
        drop(st);
        // A panic in a tick (a bug) loses that tick, not the ticker. (A
        // stop between the check above and this tick lets it finish.)
        if catch_unwind(AssertUnwindSafe(|| inner.tick(Some(generation)))).is_err() {
            lock(&inner.state).failed += 1;
        }
        let mut st = lock(&inner.state);
        let interval = st.interval;
        let mut following = due + interval;
        let now = Instant::now();
        if following <= now {
            let behind = ((now - following).as_nanos() / interval.as_nanos()) as u32 + 1;
            st.missed += u64::from(behind);
            following += interval * behind;
        }
        if let Some((_, schedule)) = next {
            next = Some((following, schedule));
        }
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A metric type a [`Ticker`] can window: its window type. Implemented for
/// every metric type; not implementable outside this crate.
pub trait Windowed: Metric + sealed::Sealed {
    /// What [`Ticker::window`] returns for it.
    type Window;
    #[doc(hidden)]
    fn pick(&self, w: WindowValue) -> Self::Window;
}

fn counter_window(w: WindowValue) -> CounterWindow {
    match w {
        WindowValue::Counter(c) => c,
        // A track's window always has its series' type.
        _ => CounterWindow {
            delta: f64::NAN,
            rate_per_sec: f64::NAN,
            value: f64::NAN,
            span: Duration::ZERO,
        },
    }
}

fn dist_window(w: WindowValue, empty: impl FnOnce() -> HistogramSnapshot) -> WindowStats {
    match w {
        WindowValue::Histogram(h) => h,
        _ => WindowStats::new(empty(), Duration::ZERO),
    }
}

macro_rules! windowed {
    ($t:ty, $w:ty, |$s:ident, $v:ident| $e:expr) => {
        impl sealed::Sealed for $t {}
        impl Windowed for $t {
            type Window = $w;
            fn pick(&self, $v: WindowValue) -> $w {
                let $s = self;
                $e
            }
        }
    };
}

windowed!(Counter, CounterWindow, |_s, w| counter_window(w));
windowed!(FloatCounter, CounterWindow, |_s, w| counter_window(w));
windowed!(UpDownCounter, CounterWindow, |_s, w| counter_window(w));
windowed!(Gauge, GaugeWindow, |_s, w| match w {
    WindowValue::Gauge(g) => g,
    _ => GaugeWindow {
        last: f64::NAN,
        min: f64::NAN,
        max: f64::NAN,
        mean: f64::NAN,
        samples: 0,
        span: Duration::ZERO,
    },
});
windowed!(Histogram, WindowStats, |s, w| dist_window(w, || {
    HistogramSnapshot::empty(s.snapshot().layout())
}));
windowed!(Summary, WindowStats, |s, w| dist_window(w, || {
    HistogramSnapshot::empty(s.snapshot().layout())
}));
