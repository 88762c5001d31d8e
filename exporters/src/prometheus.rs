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

use nanometrics::{FamilySnapshot, MetricKind, Snapshot, Value};

use crate::format::{
    counter_sample_name, into_string, sample, type_word, write_buckets, write_f64, write_help,
    write_i64, write_u64,
};

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
    for family in &snapshot.families {
        encode_family(family, out);
    }
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
    let mut out = Vec::with_capacity(4096);
    encode(snapshot, &mut out);
    into_string(out)
}

fn encode_family(f: &FamilySnapshot, out: &mut Vec<u8>) {
    let name = match f.kind {
        MetricKind::Counter => counter_sample_name(&f.name),
        _ => f.name.as_str().into(),
    };
    out.extend_from_slice(b"# HELP ");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    write_help(out, &f.help, false);
    out.extend_from_slice(b"\n# TYPE ");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(type_word(f).as_bytes());
    out.push(b'\n');
    for s in &f.series {
        match &s.value {
            Value::Counter(v) => sample(out, &name, "", s.labels.iter(), |o| write_u64(o, *v)),
            Value::Gauge(v) => sample(out, &name, "", s.labels.iter(), |o| write_f64(o, *v)),
            Value::UpDownCounter(v) => {
                sample(out, &name, "", s.labels.iter(), |o| write_i64(o, *v))
            }
            Value::Histogram(h) => {
                write_buckets(out, &name, &s.labels, &h.buckets);
                sample(out, &name, "_sum", s.labels.iter(), |o| write_f64(o, h.sum));
                sample(out, &name, "_count", s.labels.iter(), |o| {
                    write_u64(o, h.count)
                });
            }
        }
    }
}
