//! Bridges to the other metrics crates, so code written against them lands
//! in a nanometrics registry (and its `/metrics`, OTLP, windows, watches).
//!
//! - [`metrics`] (feature `bridge-metrics`): a recorder for the `metrics`
//!   facade: `counter!`, `gauge!`, `histogram!` with labels, `describe_*`.

#[cfg(feature = "bridge-metrics")]
pub mod metrics;
