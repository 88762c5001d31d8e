//! # nanometrics-exporters
//!
//! Exposition of a [`nanometrics::Snapshot`]: pure encoders that write a
//! snapshot into a byte buffer, never touching the hot path.
//!
//! - [`prometheus`]: the Prometheus text format 0.0.4
//!   (`text/plain; version=0.0.4; charset=utf-8`).
//! - [`openmetrics`]: OpenMetrics 1.0 text
//!   (`application/openmetrics-text; version=1.0.0; charset=utf-8`).
//!
//! ```
//! use nanometrics::Registry;
//! use nanometrics_exporters::{openmetrics, prometheus};
//!
//! let registry = Registry::new();
//! registry.counter("requests_total", "Requests served.")?.inc();
//! let text = prometheus::encode_to_string(&registry.snapshot());
//! assert!(text.contains("# TYPE requests_total counter\nrequests_total 1\n"));
//! let om = openmetrics::encode_to_string(&registry.snapshot());
//! assert!(om.contains("# TYPE requests counter\n# HELP requests Requests served.\nrequests_total 1\n"));
//! assert!(om.ends_with("# EOF\n"));
//! # Ok::<(), nanometrics::Error>(())
//! ```
//!
//! - [`push`]: the seam for push backends ([`push::PushBackend`]) and the
//!   thread that drives one ([`push::PushExporter`]).
//! - `backends` (feature `http`): every backend of a process from one
//!   configuration (builder or environment): pull, OTLP, custom push.
//! - [`bridge`]: other metrics crates into a nanometrics registry (the
//!   `metrics` facade's recorder, feature `bridge-metrics`).
//! - [`frame_json`]: a real-time [`Frame`](nanometrics::realtime::Frame) as
//!   JSON.
//! - [`parse`]: strict parsers of both formats (an engine's `/metrics`
//!   read back, errors with line and column), and [`parse::Ingested`] to
//!   serve what they read from a registry.
//!
//! With the default `http` feature, [`http::MetricsServer`] serves them on
//! `/metrics` (with `/health` and `/live`), and frames of watches as
//! server-sent events on `/metrics/stream` ([`sse`]). With the `nats`
//! feature, `nats::NatsSink` publishes frames to a NATS subject; with the
//! `otlp` feature, `otlp::OtlpExporter` pushes snapshots as OTLP/HTTP.
//!
//! Both encoders share the rules in [`format`](mod@format): how names, label values, HELP
//! texts and numbers are written.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use encode_options::EncodeOptions;

#[cfg(feature = "http")]
pub mod backends;
mod body;
pub mod bridge;
mod encode_options;
pub mod format;
pub mod frame_json;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "nats")]
pub mod nats;
pub mod openmetrics;
#[cfg(feature = "otlp")]
pub mod otlp;
pub mod parse;
#[cfg(feature = "http")]
mod percent;
pub mod prometheus;
pub mod push;
#[cfg(feature = "http")]
pub mod sse;
mod sync;
#[cfg(all(test, feature = "http"))]
mod test_vars;
