//! [`Frame`]: what a watch delivers at a tick: the matched series' current
//! values and window statistics, and the alerts that changed state. The
//! same frame goes to callbacks, iterators, stream clients and sinks.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::snapshot::{LabelSet, MetricKind, Value};

use super::rule::Transition;
use super::track::WindowValue;

/// One tick's view of a watch; see the [module docs](super).
#[derive(Clone, Debug)]
pub struct Frame {
    /// Consecutive per watch period: the ticker's tick number divided by
    /// the watch's period in ticks, so two watches (or a watch made again
    /// with the same period) number the same tick alike, and a gap in
    /// `seq` is a frame a receiver missed.
    pub seq: u64,
    /// Wall time of the tick.
    pub time: SystemTime,
    /// The family's name.
    pub family: Arc<str>,
    /// The family's type.
    pub kind: MetricKind,
    /// The window the watch asked for.
    pub window: Duration,
    /// The longest span any series' window covers (see [`WindowStats::span`](crate::WindowStats::span)).
    pub span: Duration,
    /// The quantiles a stream or sink reports for histogram windows.
    pub quantiles: Arc<[f64]>,
    /// Every matched series, in the family's order.
    pub series: Vec<FrameSeries>,
    /// Alerts that fired or resolved at this tick (threshold watches only).
    pub alerts: Vec<Alert>,
}

/// One series in a [`Frame`].
#[derive(Clone, Debug)]
pub struct FrameSeries {
    /// Its labels, constant labels first.
    pub labels: LabelSet,
    /// Its cumulative value at the tick.
    pub value: Value,
    /// Its window statistics.
    pub window: WindowValue,
}

/// A series whose [`Threshold`](super::Threshold) state changed.
#[derive(Clone, Debug)]
pub struct Alert {
    /// The series.
    pub labels: LabelSet,
    /// Fired or resolved.
    pub transition: Transition,
    /// The statistic's value that caused it.
    pub value: f64,
}
