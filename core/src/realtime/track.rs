//! [`Track`]: one series the ticker samples at every tick, and the ring of
//! what it read, from which windows are computed. Writers never see any of
//! this: a window is a difference of cumulative reads.
//!
//! - Counters keep, per tick, a *reset-corrected* running total: the sum
//!   of every tick's increase, where a drop (a reset) or a new series
//!   under the same labels counts its whole value as the increase, the way
//!   Prometheus's `increase()` does. A window is the difference of two.
//! - Gauges keep the value sampled at each tick.
//! - Histograms and summaries keep the last cumulative read (one count per
//!   piece of the layout) and, per tick, what changed since the previous
//!   one: count, sum, min and max bounds, and the pieces that moved,
//!   sparsely (a `(piece, count)` pair each).
//!
//! The ring's first entry is the *base*: the oldest read a window can start
//! from. It is trimmed to the longest window asked of the series.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use crate::bucket_layout::Layout;
use crate::histogram_snapshot::HistogramSnapshot;
use crate::series_handle::SeriesHandle;
use crate::snapshot::Value;

use super::window::{per_sec, CounterWindow, GaugeWindow, WindowStats};

/// A window computed from a track.
#[derive(Clone, Debug)]
pub enum WindowValue {
    /// A counter, float counter or up-down counter.
    Counter(CounterWindow),
    /// A gauge (also info and state-set series).
    Gauge(GaugeWindow),
    /// A histogram or summary.
    Histogram(WindowStats),
}

impl WindowValue {
    /// The interval the window covers.
    pub fn span(&self) -> Duration {
        match self {
            WindowValue::Counter(c) => c.span,
            WindowValue::Gauge(g) => g.span,
            WindowValue::Histogram(h) => h.span,
        }
    }
}

/// One sampled series.
pub(crate) struct Track {
    /// The series read at each tick; `None` while a watched label set is
    /// absent from its family.
    pub(crate) handle: Option<SeriesHandle>,
    /// How far back windows are asked (the ring keeps this much).
    pub(crate) retain: u64,
    /// When a window was last asked of it (handle tracks expire).
    pub(crate) used: u64,
    /// `None` until the first sample.
    ring: Option<Ring>,
}

enum Ring {
    Counter(CounterRing),
    Gauge(VecDeque<(u64, f64)>),
    Dist(DistRing),
}

struct CounterRing {
    /// May the value go down without it being a reset (up-down counters)?
    signed: bool,
    /// The value read at the last tick.
    last: f64,
    /// `(tick time, reset-corrected total)`.
    ticks: VecDeque<(u64, f64)>,
}

struct DistRing {
    layout: Arc<Layout>,
    /// The cumulative read at the last tick.
    last: HistogramSnapshot,
    /// Entry 0 is the base; each later one holds the change since the one
    /// before it.
    ticks: VecDeque<DistTick>,
}

/// What a histogram received between two reads.
struct DistTick {
    t: u64,
    sum: f64,
    /// Lower bound of the smallest observation (+Inf when none).
    min: f64,
    /// Upper bound of the largest observation (-Inf when none).
    max: f64,
    /// `(piece, observations)` for every piece that received any.
    pieces: Box<[(u32, u64)]>,
}

impl Track {
    /// Starts tracking `handle`, whose value at time `now` is `v`.
    pub(crate) fn new(handle: SeriesHandle, v: &Value, now: u64, retain: u64) -> Track {
        Track {
            handle: Some(handle),
            retain,
            used: now,
            ring: Some(Ring::starting_at(v, now)),
        }
    }

    /// Tracks `handle` from its first sample on.
    pub(crate) fn pending(handle: SeriesHandle, retain: u64) -> Track {
        Track {
            handle: Some(handle),
            retain,
            used: 0,
            ring: None,
        }
    }

    /// Adds the read `v` taken at tick time `now`. `fresh: Some(since)`
    /// says the series is not the one read before (a series created, or
    /// removed and created again under the same labels, after the read at
    /// `since`): its whole value is new. A value of another type than the
    /// track's (a name registered again as another type) restarts it.
    pub(crate) fn sample(&mut self, v: Value, now: u64, fresh: Option<u64>) {
        let retain = self.retain;
        let ring = match (&mut self.ring, fresh) {
            (Some(ring), _) => ring,
            // A gauge has no increase: its first sample is just a sample.
            (None, Some(_)) if matches!(v, Value::Gauge(_)) => {
                self.ring.insert(Ring::Gauge(VecDeque::new()))
            }
            (None, Some(since)) => self.ring.insert(Ring::starting_at(&v.zero(), since)),
            (None, None) => {
                self.ring = Some(Ring::starting_at(&v, now));
                return;
            }
        };
        let fresh = fresh.is_some();
        match (ring, v) {
            (Ring::Dist(d), Value::Histogram(h) | Value::Summary(h))
                if d.layout.finite_bounds() == h.layout().finite_bounds() =>
            {
                let tick = d.change(&h, now, fresh);
                d.last = *h;
                d.ticks.push_back(tick);
                trim(&mut d.ticks, now, retain, |t| t.t);
            }
            (Ring::Gauge(g), Value::Gauge(v)) => {
                g.push_back((now, v));
                // A gauge window uses the samples inside it: keep those.
                while g
                    .front()
                    .is_some_and(|(t, _)| now.saturating_sub(*t) > retain)
                {
                    g.pop_front();
                }
            }
            (Ring::Counter(c), v) if v.as_f64().is_some() && !matches!(v, Value::Gauge(_)) => {
                let cur = v.as_f64().unwrap_or(0.0);
                let total = c.total() + c.increase(cur, fresh);
                c.last = cur;
                c.ticks.push_back((now, total));
                trim(&mut c.ticks, now, retain, |t| t.0);
            }
            (ring, v) => *ring = Ring::starting_at(&v, now),
        }
    }

    /// The window of length `d` ending at `now`, where the series' value is
    /// `v`: the read the last tick stored when `ticked` (a watch's frame),
    /// else one taken since.
    pub(crate) fn window(&self, v: &Value, now: u64, d: Duration, ticked: bool) -> WindowValue {
        let from = now.saturating_sub(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let fresh;
        let ring = match &self.ring {
            Some(r) => r,
            None => {
                fresh = Ring::starting_at(v, now);
                &fresh
            }
        };
        match (ring, v) {
            (Ring::Dist(r), Value::Histogram(h) | Value::Summary(h)) => {
                WindowValue::Histogram(r.window(h, now, from))
            }
            (Ring::Gauge(g), Value::Gauge(last)) => {
                // The ticked read is the ring's newest sample already.
                let last = if ticked && g.back().is_some_and(|(t, _)| *t == now) {
                    None
                } else {
                    Some(*last)
                };
                WindowValue::Gauge(gauge_window(g, last, now, from))
            }
            (Ring::Counter(c), v) if v.as_f64().is_some() => {
                let cur = v.as_f64().unwrap_or(0.0);
                let now_total = c.total() + c.increase(cur, false);
                let base = base_index(&c.ticks, from, now, |t| t.0);
                let (t0, total0) = c.ticks[base];
                let span = Duration::from_nanos(now - t0.min(now));
                let delta = now_total - total0;
                WindowValue::Counter(CounterWindow {
                    delta,
                    rate_per_sec: per_sec(delta, span),
                    value: cur,
                    span,
                })
            }
            // The type changed since the last tick: nothing to compare with.
            (_, v) => Track {
                handle: None,
                retain: 0,
                used: now,
                ring: None,
            }
            .window(v, now, d, false),
        }
    }
}

/// What a series of `v`'s type holds before its first update.
trait Zero {
    fn zero(&self) -> Value;
}

impl Zero for Value {
    fn zero(&self) -> Value {
        match self {
            Value::Counter(_) => Value::Counter(0),
            Value::FloatCounter(_) => Value::FloatCounter(0.0),
            Value::UpDownCounter(_) => Value::UpDownCounter(0),
            Value::Gauge(g) => Value::Gauge(*g),
            Value::Histogram(h) | Value::Summary(h) => {
                let empty = HistogramSnapshot::empty(h.layout());
                match self {
                    Value::Summary(_) => Value::Summary(Box::new(empty)),
                    _ => Value::Histogram(Box::new(empty)),
                }
            }
        }
    }
}

impl Ring {
    /// A ring whose base is `v`, read at `now`.
    fn starting_at(v: &Value, now: u64) -> Ring {
        match v {
            Value::Histogram(h) | Value::Summary(h) => Ring::Dist(DistRing {
                layout: h.layout().clone(),
                ticks: VecDeque::from([DistTick::empty(now)]),
                last: (**h).clone(),
            }),
            Value::Gauge(g) => Ring::Gauge(VecDeque::from([(now, *g)])),
            v => Ring::Counter(CounterRing {
                signed: matches!(v, Value::UpDownCounter(_)),
                last: v.as_f64().unwrap_or(0.0),
                ticks: VecDeque::from([(now, 0.0)]),
            }),
        }
    }
}

/// Index of the entry a window starting at `from` (and ending at `now`) is
/// measured from: of the newest entry at or before `from` and the one
/// after it, the one nearer `from` (so a window covers what was asked
/// within half a tick, whatever the ticks' jitter), never one taken at
/// `now` while an older one exists; the oldest when none is that old.
fn base_index<T>(ticks: &VecDeque<T>, from: u64, now: u64, time: impl Fn(&T) -> u64) -> usize {
    let k = ticks.partition_point(|e| time(e) <= from);
    if k == 0 {
        return 0;
    }
    match ticks.get(k) {
        Some(e) if time(e) < now && time(e) - from < from - time(&ticks[k - 1]) => k,
        _ => k - 1,
    }
}

/// Drops entries no window of length `retain` ending at or after `now`
/// starts from: all but the newest entry at or before `now - retain`.
fn trim<T>(ticks: &mut VecDeque<T>, now: u64, retain: u64, time: impl Fn(&T) -> u64) {
    let from = now.saturating_sub(retain);
    while ticks.len() > 1 && ticks.get(1).is_some_and(|e| time(e) <= from) {
        ticks.pop_front();
    }
}

impl CounterRing {
    fn total(&self) -> f64 {
        self.ticks.back().map_or(0.0, |t| t.1)
    }

    /// How much the value rose from `last` to `cur`.
    fn increase(&self, cur: f64, fresh: bool) -> f64 {
        if fresh || (!self.signed && cur < self.last) {
            cur
        } else {
            cur - self.last
        }
    }
}

/// The samples taken at or after `from`, and the value read `now` if it is
/// not one of them.
fn gauge_window(g: &VecDeque<(u64, f64)>, read: Option<f64>, now: u64, from: u64) -> GaugeWindow {
    let inside = g.iter().filter(|(t, _)| *t >= from);
    let oldest = g.iter().find(|(t, _)| *t >= from).map_or(now, |(t, _)| *t);
    let last = read.or(g.back().map(|(_, v)| *v)).unwrap_or(f64::NAN);
    let (mut min, mut max, mut sum, mut n) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
    for v in inside.map(|(_, v)| *v).chain(read) {
        if v.is_nan() {
            continue;
        }
        min = min.min(v);
        max = max.max(v);
        sum += v;
        n += 1;
    }
    let (min, max, mean) = if n == 0 {
        (f64::NAN, f64::NAN, f64::NAN)
    } else {
        (min, max, sum / n as f64)
    };
    GaugeWindow {
        last,
        min,
        max,
        mean,
        samples: n,
        span: Duration::from_nanos(now - oldest.min(now)),
    }
}

impl DistTick {
    fn empty(t: u64) -> DistTick {
        DistTick {
            t,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            pieces: Box::new([]),
        }
    }
}

impl DistRing {
    /// What `cur` holds beyond `self.last` (all of it when `fresh`, or
    /// when a count went down: a reset).
    fn change(&self, cur: &HistogramSnapshot, now: u64, fresh: bool) -> DistTick {
        let prev = &self.last;
        let reset = fresh
            || cur.count < prev.count
            || cur.pieces().iter().zip(prev.pieces()).any(|(c, p)| c < p);
        let mut pieces = Vec::new();
        for (i, c) in cur.pieces().iter().enumerate() {
            let d = if reset { *c } else { c - prev.pieces()[i] };
            if d > 0 {
                pieces.push((i as u32, d));
            }
        }
        if pieces.is_empty() {
            return DistTick::empty(now);
        }
        let sum = if reset { cur.sum } else { cur.sum - prev.sum };
        // A lifetime min (max) that moved belongs to this change: exact.
        // Otherwise the edge of the lowest (highest) piece that moved,
        // clamped by the lifetime min (max), which no observation passes.
        let ps = self.layout.pieces();
        let min = if reset || prev.count == 0 || cur.min < prev.min {
            cur.min
        } else {
            pieces
                .first()
                .map_or(cur.min, |(i, _)| ps[*i as usize].lo.max(cur.min))
        };
        let max = if reset || prev.count == 0 || cur.max > prev.max {
            cur.max
        } else {
            pieces
                .last()
                .map_or(cur.max, |(i, _)| ps[*i as usize].hi.min(cur.max))
        };
        DistTick {
            t: now,
            sum,
            min,
            max,
            pieces: pieces.into_boxed_slice(),
        }
    }

    fn window(&self, cur: &HistogramSnapshot, now: u64, from: u64) -> WindowStats {
        let base = base_index(&self.ticks, from, now, |t| t.t);
        let t0 = self.ticks[base].t;
        let partial = self.change(cur, now, false);
        let mut pieces = vec![0u64; self.layout.pieces().len()];
        let mut sum = 0.0f64;
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for t in self
            .ticks
            .iter()
            .skip(base + 1)
            .chain(std::iter::once(&partial))
        {
            for (i, c) in t.pieces.iter() {
                pieces[*i as usize] += c;
            }
            sum += t.sum;
            min = min.min(t.min);
            max = max.max(t.max);
        }
        let snap = HistogramSnapshot::from_pieces(&self.layout, pieces, sum, min, max);
        WindowStats::new(snap, Duration::from_nanos(now - t0.min(now)))
    }
}

#[cfg(all(test, not(nanometrics_loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_base_is_the_read_nearest_the_window_start() {
        const S: u64 = 1_000_000_000;
        // Reads a second apart, jittered by a few milliseconds.
        let ticks: VecDeque<u64> = [0, S + 3_000_000, 2 * S - 2_000_000, 3 * S + 1_000_000]
            .into_iter()
            .collect();
        let now = 3 * S + 1_000_000;
        // A 2 s window starts at 1.001 s: the read at 1.003 s is nearest.
        assert_eq!(base_index(&ticks, now - 2 * S, now, |t| *t), 1);
        assert_eq!(base_index(&ticks, now - S, now, |t| *t), 2);
        // Longer than the ring: the oldest read.
        assert_eq!(base_index(&ticks, 0, now, |t| *t), 0);
        // Shorter than a tick: never the read taken now while one is older.
        assert_eq!(base_index(&ticks, now - 1, now, |t| *t), 2);
        let mut ring = ticks.clone();
        trim(&mut ring, now, S + S / 2, |t| *t);
        assert_eq!(ring, [S + 3_000_000, 2 * S - 2_000_000, now]);
    }
}
