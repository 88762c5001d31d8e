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

use nanometrics::{FamilySnapshot, MetricKind, Snapshot, Value};

use crate::format::{
    counter_sample_name, into_string, sample, type_word, write_buckets, write_f64, write_help,
    write_i64, write_u64,
};

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
    for family in &snapshot.families {
        encode_family(family, out);
    }
    out.extend_from_slice(b"# EOF\n");
}

/// Encodes `snapshot` into a new `String`.
///
/// ```
/// let r = nanometrics::Registry::new();
/// let om = nanometrics_exporters::openmetrics::encode_to_string(&r.snapshot());
/// assert_eq!(om, "# EOF\n");
/// ```
pub fn encode_to_string(snapshot: &Snapshot) -> String {
    let mut out = Vec::with_capacity(4096);
    encode(snapshot, &mut out);
    into_string(out)
}

fn encode_family(f: &FamilySnapshot, out: &mut Vec<u8>) {
    let sample_name = match f.kind {
        MetricKind::Counter => counter_sample_name(&f.name),
        _ => f.name.as_str().into(),
    };
    let family = match f.kind {
        MetricKind::Counter => sample_name.strip_suffix("_total").unwrap_or(&sample_name),
        _ => sample_name.as_ref(),
    };
    out.extend_from_slice(b"# TYPE ");
    out.extend_from_slice(family.as_bytes());
    out.push(b' ');
    out.extend_from_slice(type_word(f).as_bytes());
    out.push(b'\n');
    if let Some(unit) = f
        .unit
        .as_deref()
        .filter(|u| family.ends_with(&format!("_{u}")))
    {
        out.extend_from_slice(b"# UNIT ");
        out.extend_from_slice(family.as_bytes());
        out.push(b' ');
        out.extend_from_slice(unit.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"# HELP ");
    out.extend_from_slice(family.as_bytes());
    out.push(b' ');
    write_help(out, &f.help, true);
    out.push(b'\n');
    for s in &f.series {
        match &s.value {
            Value::Counter(v) => {
                sample(out, &sample_name, "", s.labels.iter(), |o| write_u64(o, *v))
            }
            Value::Gauge(v) => sample(out, family, "", s.labels.iter(), |o| write_f64(o, *v)),
            Value::UpDownCounter(v) => {
                sample(out, family, "", s.labels.iter(), |o| write_i64(o, *v))
            }
            Value::Histogram(h) => {
                let negative_bounds = h.buckets.first().is_some_and(|(b, _)| *b < 0.0);
                write_buckets(out, family, &s.labels, &h.buckets);
                // `_count` and `_sum` come as a pair, and only when no bucket
                // is negative and the sum is not negative (the +Inf bucket
                // still carries the count).
                if !negative_bounds && h.sum >= 0.0 {
                    sample(out, family, "_count", s.labels.iter(), |o| {
                        write_u64(o, h.count)
                    });
                    sample(out, family, "_sum", s.labels.iter(), |o| {
                        write_f64(o, h.sum)
                    });
                }
            }
        }
    }
}
