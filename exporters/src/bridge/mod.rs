//! Bridges to the other metrics crates, so code written against them lands
//! in a nanometrics registry (and its `/metrics`, OTLP, windows, watches).
//!
//! - `metrics` (feature `bridge-metrics`): a recorder for the `metrics`
//!   facade: `counter!`, `gauge!`, `histogram!` with labels, `describe_*`.
//! - `prometheus` (feature `bridge-prometheus`): the `prometheus` crate
//!   both ways: a nanometrics registry as its collector, and its registry
//!   gathered into a nanometrics one.
//! - `tracing` (feature `tracing`): a `tracing_subscriber` layer that
//!   times spans into a histogram family, with the span's trace as the
//!   bucket's exemplar (a `traceparent` field, or with the feature
//!   `tracing-opentelemetry` the ids of `tracing-opentelemetry`'s layer),
//!   and counts events by level.
//! - `otel` (feature `bridge-otel`): counters, up-down counters and gauges
//!   as observable instruments of the OpenTelemetry metrics API, so an
//!   `SdkMeterProvider`'s readers see them.

#[cfg(feature = "bridge-metrics")]
pub mod metrics;
#[cfg(feature = "bridge-otel")]
pub mod otel;
#[cfg(feature = "bridge-prometheus")]
pub mod prometheus;
#[cfg(feature = "tracing")]
pub mod tracing;
