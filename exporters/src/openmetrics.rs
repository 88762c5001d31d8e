//! OpenMetrics 1.0 text.
//!
//! Spec: <https://github.com/prometheus/OpenMetrics/blob/main/specification/OpenMetrics.md>.
//!
//! ```text
//! # TYPE requests counter
//! # HELP requests Requests served.
//! requests_total{code="200"} 1027
//! # TYPE latency_seconds histogram
//! # UNIT latency_seconds seconds
//! # HELP latency_seconds Latency.
//! latency_seconds_bucket{le="0.005"} 3
//! …
//! # EOF
//! ```
//!
//! A counter family is named without `_total` and its sample with it; HELP
//! also escapes `"`; `# UNIT` appears when the metric declared one (the
//! registry makes sure the name ends with it); a histogram with negative
//! bounds, or a negative sum, omits `_count` and `_sum` (the spec allows a
//! sum only when no bucket is negative, and the two only together; the
//! `+Inf` bucket still carries the count); the body ends with `# EOF`.

use nanometrics::{Registry, Snapshot};

use crate::body::{self, Format};
use crate::format::into_string;
use crate::EncodeOptions;

/// The `Content-Type` of this format.
///
/// ```
/// assert!(nanometrics_exporters::openmetrics::CONTENT_TYPE.starts_with("application/openmetrics-text"));
/// ```
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Encodes `snapshot` into `out` (appending), ending with `# EOF`.
///
/// ```
/// use nanometrics::Registry;
/// let r = Registry::new();
/// r.counter("jobs_total", "Jobs \"done\".")?.inc();
/// let mut buf = Vec::new();
/// nanometrics_exporters::openmetrics::encode(&r.snapshot(), &mut buf);
/// assert_eq!(
///     String::from_utf8(buf).unwrap(),
///     "# TYPE jobs counter\n# HELP jobs Jobs \\\"done\\\".\njobs_total 1\n# EOF\n"
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
/// let om = nanometrics_exporters::openmetrics::encode_to_string(&r.snapshot());
/// assert_eq!(om, "# EOF\n");
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
/// nanometrics_exporters::openmetrics::encode_registry(&r, &mut a);
/// let mut b = Vec::new();
/// nanometrics_exporters::openmetrics::encode(&r.snapshot(), &mut b);
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
/// nanometrics_exporters::openmetrics::encode_with(&r.snapshot(), &mut buf, EncodeOptions::default().created(true));
/// assert!(String::from_utf8(buf).unwrap().contains("jobs_created"));
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn encode_with(snapshot: &Snapshot, out: &mut Vec<u8>, options: EncodeOptions) {
    for family in &snapshot.families {
        body::snapshot_family(out, Format::OpenMetrics, family, options.created);
    }
    out.extend_from_slice(b"# EOF\n");
}

/// [`encode_to_string`] with `options`.
///
/// ```
/// use nanometrics_exporters::EncodeOptions;
/// let r = nanometrics::Registry::new();
/// r.summary("size_bytes", "Sizes.")?;
/// let s = nanometrics_exporters::openmetrics::encode_to_string_with(&r.snapshot(), EncodeOptions::default().created(true));
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
/// nanometrics_exporters::openmetrics::encode_registry_with(&r, &mut a, with);
/// nanometrics_exporters::openmetrics::encode_with(&r.snapshot(), &mut b, with);
/// assert_eq!(a, b);
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn encode_registry_with(registry: &Registry, out: &mut Vec<u8>, options: EncodeOptions) {
    registry.visit(|family| body::view_family(out, Format::OpenMetrics, family, options.created));
    out.extend_from_slice(b"# EOF\n");
}
