//! Bridges to the other metrics crates, so code written against them lands
//! in a nanometrics registry (and its `/metrics`, OTLP, windows, watches).
//!
//! - [`metrics`] (feature `bridge-metrics`): a recorder for the `metrics`
//!   facade: `counter!`, `gauge!`, `histogram!` with labels, `describe_*`.
//! - `prometheus` (feature `bridge-prometheus`): the `prometheus` crate
//!   both ways: a nanometrics registry as its collector, and its registry
//!   gathered into a nanometrics one.

#[cfg(feature = "bridge-metrics")]
pub mod metrics;
#[cfg(feature = "bridge-prometheus")]
pub mod prometheus;
