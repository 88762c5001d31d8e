//! The Prometheus text exposition format, version 0.0.4.
//!
//! Spec: <https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format>.
//!
//! ```text
//! # HELP requests_total Requests served.
//! # TYPE requests_total counter
//! requests_total{code="200"} 1027
//! # HELP latency_seconds Latency.
//! # TYPE latency_seconds histogram
//! latency_seconds_bucket{le="0.005"} 3
//! …
//! latency_seconds_bucket{le="+Inf"} 7
//! latency_seconds_sum 1.25
//! latency_seconds_count 7
//! ```
//!
//! A counter's `# TYPE` names its sample (`x_total`); an up-down counter is
//! a gauge; there is no `# UNIT` and no `# EOF`.

use nanometrics::{Registry, Snapshot};

use crate::body::{self, Format};
use crate::format::into_string;
use crate::EncodeOptions;

/// The `Content-Type` of this format.
///
/// ```
/// assert!(nanometrics_exporters::prometheus::CONTENT_TYPE.contains("version=0.0.4"));
/// ```
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Encodes `snapshot` into `out` (appending; clear it to reuse the buffer).
///
/// ```
/// use nanometrics::Registry;
/// let r = Registry::new();
/// r.gauge_family("temp_celsius", "Temperature.", &["gpu"])?.with_labels(&["0"])?.set(71.5);
/// let mut buf = Vec::new();
/// nanometrics_exporters::prometheus::encode(&r.snapshot(), &mut buf);
/// assert_eq!(
///     String::from_utf8(buf).unwrap(),
///     "# HELP temp_celsius Temperature.\n# TYPE temp_celsius gauge\ntemp_celsius{gpu=\"0\"} 71.5\n"
/// );
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn encode(snapshot: &Snapshot, out: &mut Vec<u8>) {
    encode_with(snapshot, out, EncodeOptions::default());
}

/// Encodes `snapshot` into a new `String`.
///
/// ```
/// let r = nanometrics::Registry::new();
/// r.counter("jobs_total", "Jobs.")?.inc_by(3);
/// let text = nanometrics_exporters::prometheus::encode_to_string(&r.snapshot());
/// assert!(text.ends_with("jobs_total 3\n"));
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn encode_to_string(snapshot: &Snapshot) -> String {
    encode_to_string_with(snapshot, EncodeOptions::default())
}

/// Encodes every metric of `registry` (and its sub-registries) straight into
/// `out`, without building a [`Snapshot`]: the same bytes as
/// `encode(&registry.snapshot(), out)`, at a fraction of the cost, which is
/// what the HTTP server uses. The registry's read locks are held while it
/// runs (writers are not affected).
///
/// ```
/// let r = nanometrics::Registry::new();
/// r.counter("jobs_total", "Jobs.")?.inc_by(3);
/// let mut a = Vec::new();
/// nanometrics_exporters::prometheus::encode_registry(&r, &mut a);
/// let mut b = Vec::new();
/// nanometrics_exporters::prometheus::encode(&r.snapshot(), &mut b);
/// assert_eq!(a, b);
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn encode_registry(registry: &Registry, out: &mut Vec<u8>) {
    encode_registry_with(registry, out, EncodeOptions::default());
}

/// [`encode`] with `options` (`_created` samples: [`EncodeOptions`]).
///
/// ```
/// use nanometrics_exporters::EncodeOptions;
/// let r = nanometrics::Registry::new();
/// r.counter("jobs_total", "Jobs.")?;
/// let mut buf = Vec::new();
/// nanometrics_exporters::prometheus::encode_with(&r.snapshot(), &mut buf, EncodeOptions::default().created(true));
/// assert!(String::from_utf8(buf).unwrap().contains("jobs_created"));
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn encode_with(snapshot: &Snapshot, out: &mut Vec<u8>, options: EncodeOptions) {
    for family in &snapshot.families {
        body::snapshot_family(out, Format::Text, family, options.created);
    }
}

/// [`encode_to_string`] with `options`.
///
/// ```
/// use nanometrics_exporters::EncodeOptions;
/// let r = nanometrics::Registry::new();
/// r.summary("size_bytes", "Sizes.")?;
/// let s = nanometrics_exporters::prometheus::encode_to_string_with(&r.snapshot(), EncodeOptions::default().created(true));
/// assert!(s.contains("size_bytes_created"));
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn encode_to_string_with(snapshot: &Snapshot, options: EncodeOptions) -> String {
    let mut out = Vec::with_capacity(4096);
    encode_with(snapshot, &mut out, options);
    into_string(out)
}

/// [`encode_registry`] with `options`: the same bytes as
/// [`encode_with`] of the registry's snapshot.
///
/// ```
/// use nanometrics_exporters::EncodeOptions;
/// let r = nanometrics::Registry::new();
/// r.counter("jobs_total", "Jobs.")?.inc();
/// let with = EncodeOptions::default().created(true);
/// let (mut a, mut b) = (Vec::new(), Vec::new());
/// nanometrics_exporters::prometheus::encode_registry_with(&r, &mut a, with);
/// nanometrics_exporters::prometheus::encode_with(&r.snapshot(), &mut b, with);
/// assert_eq!(a, b);
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn encode_registry_with(registry: &Registry, out: &mut Vec<u8>, options: EncodeOptions) {
    registry.visit(|family| body::view_family(out, Format::Text, family, options.created));
}
