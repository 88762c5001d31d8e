//! [`Threshold`]: a rule on one window statistic, with separate levels to
//! enter and leave the alerting state (hysteresis) and an optional time the
//! condition must hold first (Prometheus's `for`). Each series a watch
//! follows has its own [`RuleState`].

use std::time::Duration;

use crate::error::Error;
use crate::snapshot::MetricKind;

use super::track::WindowValue;

/// A statistic of a window, for a [`Threshold`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stat {
    /// Histogram: observations in the window.
    Count,
    /// Histogram: observations per second; counter: increase per second.
    Rate,
    /// Histogram: sum of the observations.
    Sum,
    /// Histogram or gauge: the mean.
    Mean,
    /// Histogram or gauge: the smallest value (a histogram's is a bound).
    Min,
    /// Histogram or gauge: the largest value (a histogram's is a bound).
    Max,
    /// Histogram: an estimated quantile, `q` in `[0, 1]`.
    Quantile(f64),
    /// Counter: the increase over the window.
    Delta,
    /// Counter or gauge: the current value.
    Last,
}

impl Stat {
    /// The statistic of `w`; NaN when `w` does not have it or is empty.
    pub fn of(self, w: &WindowValue) -> f64 {
        match (self, w) {
            (Stat::Count, WindowValue::Histogram(h)) => h.count as f64,
            (Stat::Rate, WindowValue::Histogram(h)) => h.rate_per_sec,
            (Stat::Sum, WindowValue::Histogram(h)) => h.sum,
            (Stat::Mean, WindowValue::Histogram(h)) => h.mean,
            (Stat::Min, WindowValue::Histogram(h)) => h.min,
            (Stat::Max, WindowValue::Histogram(h)) => h.max,
            (Stat::Quantile(q), WindowValue::Histogram(h)) => h.quantile(q),
            (Stat::Rate, WindowValue::Counter(c)) => c.rate_per_sec,
            (Stat::Delta, WindowValue::Counter(c)) => c.delta,
            (Stat::Last, WindowValue::Counter(c)) => c.value,
            (Stat::Mean, WindowValue::Gauge(g)) => g.mean,
            (Stat::Min, WindowValue::Gauge(g)) => g.min,
            (Stat::Max, WindowValue::Gauge(g)) => g.max,
            (Stat::Last, WindowValue::Gauge(g)) => g.last,
            _ => f64::NAN,
        }
    }

    /// Whether a family of type `kind` has this statistic.
    pub(crate) fn check(self, kind: MetricKind) -> Result<(), Error> {
        use MetricKind as K;
        let ok = match self {
            Stat::Quantile(q) if !(0.0..=1.0).contains(&q) => {
                return Err(Error::InvalidWatch(format!(
                    "quantile {q} is outside [0, 1]"
                )))
            }
            Stat::Count | Stat::Sum | Stat::Quantile(_) => {
                matches!(kind, K::Histogram | K::Summary)
            }
            Stat::Rate => !matches!(kind, K::Gauge | K::Info | K::StateSet),
            Stat::Mean | Stat::Min | Stat::Max => !matches!(kind, K::Counter | K::UpDownCounter),
            Stat::Delta => matches!(kind, K::Counter | K::UpDownCounter),
            Stat::Last => !matches!(kind, K::Histogram | K::Summary),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidWatch(format!(
                "a {} has no window statistic {self:?}",
                kind.as_str()
            )))
        }
    }
}

/// Fire when a window statistic crosses a level.
///
/// `above(stat, level)` enters the alerting state when the statistic rises
/// above `level` and leaves it when it falls below the exit level (the same
/// level unless [`exit`](Self::exit) sets a lower one); `below` mirrors
/// it. With [`for_duration`](Self::for_duration) the condition must hold
/// that long, at every evaluation, before the alert fires. A NaN (no data
/// in the window) changes nothing: it neither enters nor leaves (no data is
/// not a recovery). A firing series that leaves its family for longer than
/// the window resolves, with the value NaN.
///
/// ```
/// use std::time::Duration;
/// use nanometrics::realtime::{Stat, Threshold};
/// let t = Threshold::above(Stat::Quantile(0.9), 0.5).exit(0.4).for_duration(Duration::from_secs(3));
/// assert!(Threshold::above(Stat::Mean, 0.5).exit(0.6).validate().is_err());
/// # let _ = t;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    stat: Stat,
    above: bool,
    enter: f64,
    exit: f64,
    hold: Duration,
}

impl Threshold {
    /// Alert while `stat` is above `level`.
    pub fn above(stat: Stat, level: f64) -> Threshold {
        Threshold {
            stat,
            above: true,
            enter: level,
            exit: level,
            hold: Duration::ZERO,
        }
    }

    /// Alert while `stat` is below `level`.
    pub fn below(stat: Stat, level: f64) -> Threshold {
        Threshold {
            above: false,
            ..Threshold::above(stat, level)
        }
    }

    /// The level that ends the alert: at or below the entering level for
    /// [`above`](Self::above), at or above it for [`below`](Self::below).
    pub fn exit(mut self, level: f64) -> Threshold {
        self.exit = level;
        self
    }

    /// How long the condition must hold before the alert fires.
    pub fn for_duration(mut self, d: Duration) -> Threshold {
        self.hold = d;
        self
    }

    /// The statistic it watches.
    pub fn stat(&self) -> Stat {
        self.stat
    }

    /// Checks the levels: finite, and the exit level on the right side.
    pub fn validate(&self) -> Result<(), Error> {
        if !self.enter.is_finite() || !self.exit.is_finite() {
            return Err(Error::InvalidWatch(format!(
                "threshold levels must be finite (enter {}, exit {})",
                self.enter, self.exit
            )));
        }
        let wrong = if self.above {
            self.exit > self.enter
        } else {
            self.exit < self.enter
        };
        if wrong {
            return Err(Error::InvalidWatch(format!(
                "the exit level {} must be {} the entering level {} (hysteresis)",
                self.exit,
                if self.above {
                    "at or below"
                } else {
                    "at or above"
                },
                self.enter
            )));
        }
        if let Stat::Quantile(q) = self.stat {
            if !(0.0..=1.0).contains(&q) {
                return Err(Error::InvalidWatch(format!(
                    "quantile {q} is outside [0, 1]"
                )));
            }
        }
        Ok(())
    }
}

/// Whether a series is alerting, and since when its condition holds.
#[derive(Clone, Debug, Default)]
pub(crate) struct RuleState {
    firing: bool,
    /// When the entering condition started to hold (not yet firing).
    pending: Option<u64>,
}

/// A change of a series' alert state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The condition held (for the `for` duration): the alert fires.
    Fired,
    /// The statistic crossed the exit level: the alert is over.
    Resolved,
}

impl RuleState {
    /// Evaluates `rule` on `value` at time `now` (nanoseconds).
    pub(crate) fn update(&mut self, rule: &Threshold, value: f64, now: u64) -> Option<Transition> {
        if value.is_nan() {
            return None;
        }
        let (entering, leaving) = if rule.above {
            (value > rule.enter, value < rule.exit)
        } else {
            (value < rule.enter, value > rule.exit)
        };
        if self.firing {
            if leaving {
                self.firing = false;
                return Some(Transition::Resolved);
            }
            return None;
        }
        if !entering {
            self.pending = None;
            return None;
        }
        let since = *self.pending.get_or_insert(now);
        let hold = u64::try_from(rule.hold.as_nanos()).unwrap_or(u64::MAX);
        if now.saturating_sub(since) >= hold {
            self.firing = true;
            self.pending = None;
            return Some(Transition::Fired);
        }
        None
    }

    pub(crate) fn firing(&self) -> bool {
        self.firing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn hysteresis_and_for() {
        let rule = Threshold::above(Stat::Mean, 10.0)
            .exit(5.0)
            .for_duration(Duration::from_secs(2));
        let mut st = RuleState::default();
        let steps = [
            (0, 11.0, None),
            (S, 12.0, None),
            (2 * S, 4.0, None), // dropped before 2 s held: pending reset
            (3 * S, 11.0, None),
            (4 * S, f64::NAN, None),
            (5 * S, 11.0, Some(Transition::Fired)),
            (6 * S, 7.0, None), // between the levels: still firing
            (7 * S, 4.9, Some(Transition::Resolved)),
            (8 * S, 7.0, None),
        ];
        for (t, v, want) in steps {
            assert_eq!(st.update(&rule, v, t), want, "at {t} with {v}");
        }
        assert!(!st.firing());
    }

    #[test]
    fn below_mirrors_above() {
        let rule = Threshold::below(Stat::Last, 1.0).exit(2.0);
        let mut st = RuleState::default();
        assert_eq!(st.update(&rule, 0.5, 0), Some(Transition::Fired));
        assert_eq!(st.update(&rule, 1.5, 1), None);
        assert_eq!(st.update(&rule, 2.5, 2), Some(Transition::Resolved));
        assert!(Threshold::below(Stat::Last, 1.0)
            .exit(0.5)
            .validate()
            .is_err());
        assert!(Threshold::above(Stat::Last, f64::NAN).validate().is_err());
    }

    #[test]
    fn stats_follow_the_family_type() {
        assert!(Stat::Quantile(0.9).check(MetricKind::Histogram).is_ok());
        assert!(Stat::Quantile(0.9).check(MetricKind::Counter).is_err());
        assert!(Stat::Quantile(1.5).check(MetricKind::Histogram).is_err());
        assert!(Stat::Delta.check(MetricKind::Gauge).is_err());
        assert!(Stat::Rate.check(MetricKind::Counter).is_ok());
        assert!(Stat::Mean.check(MetricKind::Gauge).is_ok());
    }
}
