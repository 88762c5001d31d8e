//! [`Metrics`]: a struct of metrics declared once and registered together,
//! usually by `#[derive(Metrics)]` (feature `derive`, on by default).

use crate::error::Error;
use crate::registry::Registry;

/// A group of metrics that registers itself: each field a metric or a
/// nested group. `#[derive(Metrics)]` writes [`register`](Self::register)
/// from the struct; a hand-written impl may do anything a registry allows.
///
/// ```
/// use nanometrics::{Counter, Family, Histogram, Metrics, Registry, UpDownCounter};
///
/// #[derive(Metrics)]
/// #[metrics(prefix = "engine")]
/// pub struct EngineMetrics {
///     /// Requests finished, by model and status.
///     #[metric(labels = ["model", "status"])]
///     pub requests_total: Family<Counter>,
///     /// Time to first token.
///     #[metric(unit = "seconds", buckets = exponential(0.001, 2.0, 16))]
///     pub time_to_first_token_seconds: Histogram,
///     /// Requests in flight.
///     pub inflight_requests: UpDownCounter,
///     /// A nested group registers under its own prefix.
///     pub kv: KvCacheMetrics,
/// }
///
/// #[derive(Metrics)]
/// #[metrics(prefix = "kv")]
/// pub struct KvCacheMetrics {
///     /// KV blocks in use.
///     #[metric(name = "blocks_in_use")]
///     pub used: nanometrics::Gauge,
/// }
///
/// let registry = Registry::new();
/// let m = EngineMetrics::register(&registry)?;
/// m.requests_total.with_labels(&["llama", "ok"])?.inc();
/// m.kv.used.set(12.0);
/// let snap = registry.snapshot();
/// let names: Vec<&str> = snap.families.iter().map(|f| f.name.as_str()).collect();
/// assert_eq!(names, [
///     "engine_requests_total",
///     "engine_time_to_first_token_seconds",
///     "engine_inflight_requests",
///     "engine_kv_blocks_in_use",
/// ]);
/// assert_eq!(snap.families[0].help, "Requests finished, by model and status.");
/// // Registering again returns the same series.
/// let again = EngineMetrics::register(&registry)?;
/// again.kv.used.add(1.0);
/// assert_eq!(m.kv.used.get(), 13.0);
/// # Ok::<(), nanometrics::Error>(())
/// ```
///
/// **Fields.** A field of type `Counter`, `FloatCounter`, `UpDownCounter`,
/// `Gauge`, `Histogram` or `Summary` is one metric; `Family<M>` is a
/// family of them and needs `labels`; any other type is a nested group (it
/// implements `Metrics`) registered on the same registry, under its own
/// `#[metrics(prefix)]`. The field's name is the metric's name, its doc
/// comment the HELP text (a metric field without one does not compile:
/// a metric without HELP fails promtool's lint).
///
/// **`#[metric(..)]`** on a metric field: `name = "..."` (instead of the
/// field's name), `labels = ["a", "b"]` (families), `unit = "seconds"`,
/// `buckets = exponential(0.001, 2.0, 16)` (histograms; also `linear`,
/// `log`, `explicit(vec![..])`, or any expression of type `Buckets`),
/// `const_labels = [("k", "v")]`, `cardinality_limit = N`, `info` or
/// `state_set` (a `Family<Gauge>` exposed as OpenMetrics `info` or
/// `stateset`; a state set's state label, named like the family with
/// its prefix, is added after `labels`, so the group works under any
/// prefix). A field type may come from a `macro_rules!` fragment, a doc
/// comment may be computed (`#[doc = concat!(..)]`), a raw identifier
/// names the metric without its `r#`.
///
/// **`#[metrics(..)]`** on the struct: `prefix = "engine"` (a
/// sub-registry's prefix for every field) and `const_labels = [("k",
/// "v")]`.
///
/// Every rule of a declaration applies when `register` runs (valid
/// names, units that end the name, no conflicting re-declaration) and
/// comes back as an [`Error`].
pub trait Metrics: Sized {
    /// Declares every metric of the group on `registry` (or finds the
    /// ones declared before, identically) and returns their handles.
    fn register(registry: &Registry) -> Result<Self, Error>;

    /// [`register`](Self::register) on a sub-registry of `registry` with
    /// `prefix` and `const_labels`.
    ///
    /// ```
    /// use nanometrics::{Counter, Metrics, Registry};
    /// #[derive(Metrics)]
    /// struct Worker {
    ///     /// Jobs done.
    ///     jobs_total: Counter,
    /// }
    /// let r = Registry::new();
    /// Worker::register_with(&r, "pool", &[("pool", "a")])?.jobs_total.inc();
    /// let snap = r.snapshot();
    /// assert_eq!(snap.families[0].name, "pool_jobs_total");
    /// assert_eq!(snap.families[0].series[0].labels.get("pool"), Some("a"));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    fn register_with(
        registry: &Registry,
        prefix: &str,
        const_labels: &[(&str, &str)],
    ) -> Result<Self, Error> {
        Self::register(&registry.sub_registry(prefix, const_labels)?)
    }
}
