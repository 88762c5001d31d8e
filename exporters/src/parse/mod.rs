//! Strict parsers of the two text formats: [`openmetrics`] (OpenMetrics
//! 1.0) and [`text`] (Prometheus text 0.0.4), the reverse of the
//! encoders. They read what an engine serves on its `/metrics` (names
//! like `vllm:num_requests_running` included) into [`ParsedFamily`]s,
//! the structures `prometheus_client`'s parsers return; every error names
//! its line and column. [`ingest`] sets parsed families into a registry,
//! with constant labels added, as collected families that the registry's
//! `/metrics` and OTLP export serve.
//!
//! ```
//! use nanometrics_exporters::parse;
//! let families = parse::openmetrics(
//!     "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model=\"llama\"} 3\n# EOF\n",
//! )?;
//! assert_eq!(families[0].name, "vllm:num_requests_running");
//! assert_eq!(families[0].samples[0].labels, [("model".to_string(), "llama".to_string())]);
//! assert_eq!(families[0].samples[0].value, 3.0);
//! let err = parse::openmetrics("a 1\n").unwrap_err();
//! assert_eq!((err.line, err.message.as_str()), (2, "missing \"# EOF\" at the end"));
//! # Ok::<(), parse::ParseError>(())
//! ```
//!
//! | file | what it holds |
//! |---|---|
//! | `line.rs` | one line's tokens: names, label sets, escapes, numbers, timestamps |
//! | `openmetrics.rs` | OpenMetrics: metadata, families, the type rules |
//! | `text.rs` | text 0.0.4 |
//! | `ingest.rs` | parsed families into a registry |

mod ingest;
mod line;
mod openmetrics;
mod text;

use std::fmt;

pub use ingest::{ingest, Ingested};
pub use openmetrics::parse as openmetrics;
pub use text::parse as text;

/// A metric family as a parser returns it: `prometheus_client`'s
/// `Metric` (name, documentation, type, unit, samples).
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedFamily {
    /// The family name (OpenMetrics: a counter's without `_total`; the
    /// text format's counters are named so too, as prometheus_client's
    /// parser does).
    pub name: String,
    /// `# HELP`, unescaped; empty when absent.
    pub help: String,
    /// `# TYPE`: `counter`, `gauge`, `histogram`, `gaugehistogram`,
    /// `summary`, `info`, `stateset`, or `unknown` (the text format's
    /// `untyped`, or no `# TYPE`).
    pub kind: String,
    /// `# UNIT` (OpenMetrics); empty when absent.
    pub unit: String,
    /// Its samples, in the order written.
    pub samples: Vec<ParsedSample>,
}

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedSample {
    /// The sample name (`requests_total`, `latency_seconds_bucket`, ...).
    pub name: String,
    /// Its labels, unescaped, in the order written.
    pub labels: Vec<(String, String)>,
    /// Its value.
    pub value: f64,
    /// Its timestamp: OpenMetrics' seconds, the text format's milliseconds
    /// (as seconds).
    pub timestamp: Option<Timestamp>,
    /// Its exemplar (OpenMetrics).
    pub exemplar: Option<ParsedExemplar>,
}

impl ParsedSample {
    /// The value of label `name`.
    ///
    /// ```
    /// let f = nanometrics_exporters::parse::openmetrics("a{x=\"1\"} 2\n# EOF\n")?;
    /// assert_eq!(f[0].samples[0].label("x"), Some("1"));
    /// # Ok::<(), nanometrics_exporters::parse::ParseError>(())
    /// ```
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An exemplar: `# {labels} value [timestamp]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedExemplar {
    /// Its labels, unescaped.
    pub labels: Vec<(String, String)>,
    /// Its value.
    pub value: f64,
    /// Its timestamp.
    pub timestamp: Option<Timestamp>,
}

/// A timestamp as written, exact to the nanosecond: seconds and
/// nanoseconds since the epoch (prometheus_client's `Timestamp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    /// Whole seconds (negative before 1970).
    pub sec: i64,
    /// Nanoseconds, 0 to 999,999,999, added to `sec`.
    pub nsec: u32,
}

impl Timestamp {
    /// Seconds as an `f64`.
    ///
    /// ```
    /// let t = nanometrics_exporters::parse::Timestamp { sec: 1, nsec: 500_000_000 };
    /// assert_eq!(t.as_secs_f64(), 1.5);
    /// ```
    pub fn as_secs_f64(&self) -> f64 {
        self.sec as f64 + f64::from(self.nsec) / 1e9
    }
}

/// Why an exposition does not parse: where, and which rule it breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters), 1 when the whole line is at fault.
    pub column: usize,
    /// The rule broken.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ParseError {}
