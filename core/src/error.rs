//! The one error type of the core.

use std::fmt;

/// Why a metric could not be declared, resolved or updated.
///
/// Every variant names the rule that was broken; the message repeats the
/// offending input so it can be shown to a user as is.
///
/// ```
/// use nanometrics::{Error, Registry};
/// let r = Registry::new();
/// let err = r.counter("0bad", "help").unwrap_err();
/// assert!(matches!(err, Error::InvalidName(_)));
/// assert!(err.to_string().contains("0bad"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A metric name must match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    InvalidName(String),
    /// A label name must match `[a-zA-Z_][a-zA-Z0-9_]*`, must not start with
    /// `__` (reserved), must not be `le` or `quantile` (reserved for
    /// histograms and summaries) and must be unique within a metric.
    InvalidLabelName(String),
    /// The number of label values differs from the number of label names.
    LabelCount {
        /// Label names the family was declared with.
        expected: usize,
        /// Label values that were given.
        got: usize,
    },
    /// Labels given by name ([`Family::with`](crate::Family::with)) must
    /// name each of the family's labels exactly once, and nothing else.
    LabelMismatch(String),
    /// The name is already registered with another type, help, label names,
    /// buckets or unit. Identical re-registration returns the existing metric.
    Conflict(String),
    /// A label collides with a constant label of this registry or an ancestor.
    LabelCollision(String),
    /// Histogram buckets must be finite, strictly increasing and not NaN.
    InvalidBuckets(String),
    /// A value that can never be exported (NaN, or a negative counter
    /// increment).
    InvalidValue(String),
    /// A fixed capacity (the per-process slot space) is exhausted.
    Capacity(String),
    /// A window or watch was asked for something it cannot do: a selector
    /// that does not parse, a zero window or period, a statistic the
    /// family's type does not have, hysteresis levels in the wrong order.
    InvalidWatch(String),
    /// An exemplar's label names must follow the label-name rule (not
    /// starting with `__`) and be unique, its values hold no carriage
    /// return, and names and values together at most 128 characters
    /// (OpenMetrics).
    InvalidExemplar(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidName(n) => write!(
                f,
                "invalid metric name {n:?}: names must match [a-zA-Z_:][a-zA-Z0-9_:]*"
            ),
            Error::InvalidLabelName(msg) => write!(f, "invalid label name: {msg}"),
            Error::LabelCount { expected, got } => write!(
                f,
                "wrong number of label values: the family has {expected} label names, got {got} values"
            ),
            Error::LabelMismatch(msg) => write!(f, "labels do not match the family's: {msg}"),
            Error::Conflict(msg) => write!(f, "conflicting registration: {msg}"),
            Error::LabelCollision(msg) => write!(f, "label collision: {msg}"),
            Error::InvalidBuckets(msg) => write!(f, "invalid histogram buckets: {msg}"),
            Error::InvalidValue(msg) => write!(f, "invalid value: {msg}"),
            Error::Capacity(msg) => write!(f, "capacity exhausted: {msg}"),
            Error::InvalidWatch(msg) => write!(f, "invalid watch: {msg}"),
            Error::InvalidExemplar(msg) => write!(f, "invalid exemplar: {msg}"),
        }
    }
}

impl std::error::Error for Error {}
