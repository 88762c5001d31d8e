//! # nanometrics
//!
//! A metrics core for latency-critical code: counters whose increment costs
//! about a nanosecond on the thread that makes it (histogram records a few
//! more), read by exporters that never slow that thread down.
//!
//! ```
//! use nanometrics::{Buckets, Registry};
//!
//! let registry = Registry::new();
//! let requests = registry.counter("requests_total", "Requests served.")?;
//! let latency = registry.histogram("request_duration_seconds", "Latency.", Buckets::exponential(0.001, 2.0, 16))?;
//! let tokens = registry.counter_family("tokens_total", "Tokens.", &["model", "kind"])?;
//! let out = tokens.with_labels(&["llama", "output"])?; // keep the handle: the fast path
//!
//! requests.inc();
//! latency.observe(0.025);
//! out.inc_by(128);
//!
//! let stats = latency.stats();
//! assert_eq!(stats.count, 1);
//! assert_eq!(registry.snapshot().families.len(), 3);
//! # Ok::<(), nanometrics::Error>(())
//! ```
//!
//! ## Main types
//!
//! - [`Registry`] (and [`global()`]): declares metrics, builds [`Snapshot`]s;
//!   [`Registry::sub_registry`] adds a prefix and constant labels.
//! - [`Counter`], [`UpDownCounter`], [`FloatCounter`]: per-thread sharded, a
//!   relaxed load and store per update.
//! - [`Gauge`]: one atomic `f64` per series.
//! - [`Histogram`] with [`Buckets`]: O(1) bucket index, exact `le` bounds,
//!   [`Stats`] with quantiles; [`Summary`]: the same recording, exposed as a
//!   count and a sum.
//! - Info and state-set families ([`MetricBuilder::info_family`],
//!   [`MetricBuilder::state_set_family`]): gauges exposed as OpenMetrics
//!   `info` and `stateset`.
//! - [`Family`]: one series per label-value set.
//! - [`Exemplar`]: a trace id (or any small label set) kept as the latest
//!   exemplar of a counter or histogram bucket
//!   ([`Histogram::observe_with_exemplar`],
//!   [`Counter::inc_by_with_exemplar`]), read as [`ExemplarSnapshot`]s.
//! - [`Snapshot`]: the one thing exporters read; [`Registry::on_collect`]
//!   hooks run before each read.
//! - [`Error`]: every rule a declaration can break.
//! - Windows: [`Histogram::window`] ([`WindowStats`]),
//!   [`Counter::window`] ([`CounterWindow`]), [`Gauge::window`]
//!   ([`GaugeWindow`]); watches: [`Registry::watch`].
//!
//! ## Modules
//!
//! - [`names`]: the naming rules (valid names, the names a family is
//!   exposed under) that registration and the exporters share.
//! - [`visit`]: the copy-free read API for encoders
//!   ([`Registry::visit`]).
//! - [`realtime`]: the ticker behind windows, watches with thresholds,
//!   frames and subscriptions.
//! - [`diagnostics`]: live shard threads, dropped float increments,
//!   releasing parked handle references.
//! - `process` (Linux): the process's CPU, memory, file descriptors,
//!   threads and start time, read from `/proc` at each read.
//!
//! The crate root holds what a user declares and reads; encoder plumbing
//! and diagnostics are only in their modules:
//!
//! ```compile_fail
//! use nanometrics::FamilyView; // nanometrics::visit::FamilyView
//! ```
//!
//! ```compile_fail
//! use nanometrics::live_shard_threads; // nanometrics::diagnostics::live_shard_threads
//! ```
//!
//! How the shards work, and why the invariants hold, is in
//! `ARCHITECTURE.md` and the [`implementation`] page.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod bucket_layout;
mod buckets;
mod collected;
mod counter;
pub mod diagnostics;
mod error;
mod exemplar;
mod family;
mod gauge;
mod group;
mod hierarchy;
mod histogram;
mod histogram_snapshot;
mod label_syntax;
mod labelkey;
pub mod names;
#[cfg(target_os = "linux")]
pub mod process;
pub mod realtime;
mod registry;
mod series_handle;
mod shard;
mod snapshot;
mod summary;
mod sync;
pub mod visit;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

pub mod implementation {
    #![doc = include_str!("../IMPLEMENTATION.md")]
}

pub use buckets::Buckets;
pub use collected::{CollectedFamily, CollectedValue};
pub use counter::{Counter, FloatCounter, UpDownCounter};
pub use error::Error;
pub use exemplar::{Exemplar, ExemplarSnapshot, EXEMPLAR_MAX_CHARS};
pub use family::{
    Family, Metric, DEFAULT_CARDINALITY_LIMIT, OVERFLOW_COUNTER_HELP, OVERFLOW_COUNTER_NAME,
    OVERFLOW_LABEL_VALUE,
};
pub use gauge::Gauge;
pub use group::Metrics;
pub use hierarchy::Levels;
pub use histogram::{Histogram, HistogramTimer};
pub use histogram_snapshot::{HistogramSnapshot, Stats};
/// `#[derive(Metrics)]`: see the [`Metrics`](trait@Metrics) trait.
#[cfg(feature = "derive")]
pub use nanometrics_derive::Metrics;
pub use realtime::{CounterWindow, GaugeWindow, WindowStats};
pub use registry::{global, CollectHook, MetricBuilder, Registry};
pub use snapshot::{
    FamilySnapshot, LabelSet, MetricKind, SeriesId, SeriesSnapshot, Snapshot, Value,
};
pub use summary::Summary;
