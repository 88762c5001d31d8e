//! [`WatchState`]: the ticker's side of one watch. At every tick it finds
//! the series its selector matches (a new series under a known label set
//! is a reset), samples them into their tracks, and at every period
//! builds a [`Frame`], evaluates the threshold rule and hands the frame to
//! the subscriber's mailbox.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::registry::Registry;
use crate::series_handle::SeriesHandle;
use crate::shard::Reader;
use crate::snapshot::{LabelSet, MetricKind, Value};

use super::frame::{Alert, Frame, FrameSeries};
use super::mailbox::Mailbox;
use super::rule::{RuleState, Threshold, Transition};
use super::selector::Selector;
use super::track::Track;

/// A label set's `(name, value)` pairs: how a watch knows a series again
/// after it is removed and re-created.
type Key = Vec<(Box<str>, Box<str>)>;

/// What a watch asked for; fixed when it is made.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub(crate) registry: Registry,
    pub(crate) selector: Selector,
    /// Frames every this many ticks.
    pub(crate) period: u64,
    pub(crate) window: Duration,
    pub(crate) quantiles: Arc<[f64]>,
    pub(crate) rule: Option<Threshold>,
}

/// A series the watch follows.
struct Followed {
    labels: LabelSet,
    /// `None` until its first sample.
    track: Option<Track>,
    /// The value read at the last tick.
    value: Option<Value>,
    /// The series found at this tick is new since the read at this time
    /// (not the one sampled before, or one that appeared after the watch
    /// started): its whole value counts as new.
    fresh: Option<u64>,
    /// Tick time it was last found in its family.
    seen: u64,
    rule: RuleState,
}

pub(crate) struct WatchState {
    pub(crate) id: u64,
    spec: Spec,
    kind: Option<MetricKind>,
    followed: HashMap<Key, Followed>,
    /// Keys in the family's order, as found at the last tick.
    order: Vec<Key>,
    /// When it last read its series.
    last: Option<u64>,
    /// Resolutions of firing series that left their family, for the next
    /// frame.
    forgotten: Vec<Alert>,
    pub(crate) mailbox: Arc<Mailbox<Arc<Frame>>>,
}

impl WatchState {
    pub(crate) fn new(id: u64, spec: Spec, mailbox: Arc<Mailbox<Arc<Frame>>>) -> WatchState {
        WatchState {
            id,
            spec,
            kind: None,
            followed: HashMap::new(),
            order: Vec::new(),
            last: None,
            forgotten: Vec::new(),
            mailbox,
        }
    }

    /// How far back the tracks keep reads: the window and one tick more.
    fn retain(&self, interval: u64) -> u64 {
        u64::try_from(self.spec.window.as_nanos())
            .unwrap_or(u64::MAX)
            .saturating_add(interval)
    }

    /// Finds the matched series (family locks only, no shard lock).
    pub(crate) fn resolve(&mut self, now: u64, interval: u64) {
        let retain = self.retain(interval);
        self.order.clear();
        if let Some((kind, series)) = self
            .spec
            .registry
            .series_handles(self.spec.selector.family())
        {
            self.kind = Some(kind);
            for (labels, handle) in series {
                if !self.spec.selector.matches(&labels) {
                    continue;
                }
                let key: Key = labels.iter().map(|(k, v)| (k.into(), v.into())).collect();
                let f = self
                    .followed
                    .entry(key.clone())
                    .or_insert_with(|| Followed {
                        labels: labels.clone(),
                        track: None,
                        value: None,
                        // Found after the watch's first read: created since.
                        fresh: self.last.map(|t| t.min(now)),
                        seen: now,
                        rule: RuleState::default(),
                    });
                f.seen = now;
                match &mut f.track {
                    Some(t) => {
                        let same = t.handle.as_ref().is_some_and(|h| same_series(h, &handle));
                        if !same {
                            f.fresh = Some(self.last.unwrap_or(now));
                        }
                        t.handle = Some(handle);
                    }
                    None => f.track = Some(Track::pending(handle, retain)),
                }
                self.order.push(key);
            }
        }
        // A label set gone for longer than the window has nothing left to
        // report (a firing alert of it resolves); one that comes back
        // sooner continues as a reset.
        let forgotten = &mut self.forgotten;
        self.followed.retain(|_, f| {
            let gone = f.seen != now;
            if gone {
                if let Some(t) = &mut f.track {
                    t.handle = None;
                }
            }
            let keep = !gone || now.saturating_sub(f.seen) <= retain;
            if !keep && f.rule.firing() {
                forgotten.push(Alert {
                    labels: f.labels.clone(),
                    transition: Transition::Resolved,
                    value: f64::NAN,
                });
            }
            keep
        });
    }

    /// Samples every matched series under the reader.
    pub(crate) fn sample(&mut self, r: &Reader, now: u64) {
        for key in &self.order {
            let Some(f) = self.followed.get_mut(key) else {
                continue;
            };
            let Some(track) = &mut f.track else { continue };
            let Some(h) = track.handle.clone() else {
                continue;
            };
            let v = h.read(r);
            track.sample(v.clone(), now, f.fresh.take());
            f.value = Some(v);
        }
        self.last = Some(now);
    }

    /// The frame of tick `tick` at time `now`, if one is due: every period,
    /// or for a threshold watch, every period at which an alert changed.
    pub(crate) fn frame(
        &mut self,
        tick: u64,
        now: u64,
        wall: std::time::SystemTime,
    ) -> Option<Frame> {
        if tick % self.spec.period != 0 {
            return None;
        }
        let kind = self.kind?;
        let mut series = Vec::with_capacity(self.order.len());
        let mut alerts = std::mem::take(&mut self.forgotten);
        let mut span = Duration::ZERO;
        for key in &self.order {
            let Some(f) = self.followed.get_mut(key) else {
                continue;
            };
            let (Some(track), Some(value)) = (&f.track, &f.value) else {
                continue;
            };
            let window = track.window(value, now, self.spec.window, true);
            span = span.max(window.span());
            if let Some(rule) = &self.spec.rule {
                let v = rule.stat().of(&window);
                if let Some(transition) = f.rule.update(rule, v, now) {
                    alerts.push(Alert {
                        labels: f.labels.clone(),
                        transition,
                        value: v,
                    });
                }
            }
            series.push(FrameSeries {
                labels: f.labels.clone(),
                value: value.clone(),
                window,
            });
        }
        if self.spec.rule.is_some() && alerts.is_empty() {
            return None;
        }
        Some(Frame {
            seq: tick / self.spec.period,
            time: wall,
            family: self.spec.selector.family().into(),
            kind,
            window: self.spec.window,
            span,
            quantiles: self.spec.quantiles.clone(),
            series,
            alerts,
        })
    }
}

/// Whether two handles are the same series.
pub(crate) fn same_series(a: &SeriesHandle, b: &SeriesHandle) -> bool {
    a.id() == b.id() && a.kind() == b.kind()
}
