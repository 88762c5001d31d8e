//! Names: what a metric or label may be called, and which names a family
//! occupies in an exposition. Core registration, the exporters' encoders
//! and the Python layer all follow these rules.

use std::borrow::Cow;

use crate::error::Error;
use crate::label_syntax::is_label_name_syntax;
use crate::snapshot::MetricKind;

/// Whether `name` is a valid metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
///
/// ```
/// use nanometrics::names::is_valid_metric_name;
/// assert!(is_valid_metric_name("vllm:num_requests_running"));
/// assert!(!is_valid_metric_name("0a"));
/// assert!(!is_valid_metric_name("a-b"));
/// assert!(!is_valid_metric_name(""));
/// ```
pub fn is_valid_metric_name(name: &str) -> bool {
    let mut b = name.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

/// Checks a label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`,
/// not `le` or `quantile`.
///
/// ```
/// use nanometrics::names::validate_label_name;
/// assert!(validate_label_name("model").is_ok());
/// for bad in ["le", "quantile", "__x", "a:b", "0a", ""] {
///     assert!(validate_label_name(bad).is_err(), "{bad}");
/// }
/// ```
pub fn validate_label_name(name: &str) -> Result<(), Error> {
    if !is_label_name_syntax(name) {
        return Err(Error::InvalidLabelName(format!(
            "{name:?} must match [a-zA-Z_][a-zA-Z0-9_]*"
        )));
    }
    if name.starts_with("__") {
        return Err(Error::InvalidLabelName(format!(
            "{name:?}: names starting with \"__\" are reserved"
        )));
    }
    if name == "le" || name == "quantile" {
        return Err(Error::InvalidLabelName(format!(
            "{name:?} is reserved for histogram and summary buckets"
        )));
    }
    Ok(())
}

/// `prefix_name`, or either alone when the other is empty.
pub(crate) fn join_name(prefix: &str, name: &str) -> String {
    match (prefix.is_empty(), name.is_empty()) {
        (true, _) => name.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}_{name}"),
    }
}

/// The family name OpenMetrics writes for a family declared as `name`:
/// without `_total` for a counter, without `_info` for an info family,
/// else `name` itself.
///
/// ```
/// use nanometrics::{names::family_name, MetricKind};
/// assert_eq!(family_name("requests_total", MetricKind::Counter), "requests");
/// assert_eq!(family_name("build_info", MetricKind::Info), "build");
/// assert_eq!(family_name("requests_total", MetricKind::Gauge), "requests_total");
/// ```
pub fn family_name(name: &str, kind: MetricKind) -> &str {
    let suffix = match kind {
        MetricKind::Counter => "_total",
        MetricKind::Info => "_info",
        _ => return name,
    };
    name.strip_suffix(suffix).unwrap_or(name)
}

/// The name a family's samples carry (and the Prometheus text format's
/// `# TYPE` names): a counter's ends in `_total` (appended when the declared
/// name lacks it, as prometheus_client and `prometheus-client` do); any
/// other family's is its name. Histograms and summaries add their
/// `_bucket`/`_count`/`_sum` to it.
///
/// ```
/// use nanometrics::{names::sample_name, MetricKind};
/// assert_eq!(sample_name("requests_total", MetricKind::Counter), "requests_total");
/// assert_eq!(sample_name("requests", MetricKind::Counter), "requests_total");
/// assert_eq!(sample_name("build_info", MetricKind::Info), "build_info");
/// ```
pub fn sample_name(name: &str, kind: MetricKind) -> Cow<'_, str> {
    if kind == MetricKind::Counter && !name.ends_with("_total") {
        format!("{name}_total").into()
    } else {
        name.into()
    }
}

/// The name to declare so that a family is exposed as `family` in
/// OpenMetrics: the inverse of [`family_name`] (a counter's declared name
/// ends in `_total`, an info family's in `_info`), for bindings that start
/// from the family name (Python's `prometheus_client` API does).
///
/// ```
/// use nanometrics::{names::{declared_name, family_name}, MetricKind};
/// assert_eq!(declared_name("requests", MetricKind::Counter), "requests_total");
/// assert_eq!(declared_name("x_total", MetricKind::Counter), "x_total_total");
/// assert_eq!(declared_name("build", MetricKind::Info), "build_info");
/// assert_eq!(declared_name("temp", MetricKind::Gauge), "temp");
/// for kind in [MetricKind::Counter, MetricKind::Info, MetricKind::Histogram] {
///     assert_eq!(family_name(&declared_name("a", kind), kind), "a");
/// }
/// ```
pub fn declared_name(family: &str, kind: MetricKind) -> Cow<'_, str> {
    match kind {
        MetricKind::Counter => format!("{family}_total").into(),
        MetricKind::Info => format!("{family}_info").into(),
        _ => family.into(),
    }
}

/// Every name a family occupies in an exposition: its family name in either
/// format and its sample names. Two families may not share any.
pub(crate) fn exposed_names(name: &str, kind: MetricKind) -> Vec<String> {
    let base = family_name(name, kind);
    let with = |suffixes: &[&str]| suffixes.iter().map(|s| format!("{name}{s}")).collect();
    match kind {
        // `_created`: counters, histograms and summaries may be exposed
        // with their creation time (the exporters' `created` option).
        MetricKind::Counter => vec![
            base.to_string(),
            format!("{base}_total"),
            format!("{base}_created"),
        ],
        MetricKind::Gauge | MetricKind::UpDownCounter | MetricKind::StateSet => {
            vec![name.to_string()]
        }
        MetricKind::Info => vec![base.to_string(), name.to_string()],
        MetricKind::Summary => with(&["", "_count", "_sum", "_created"]),
        MetricKind::Histogram => with(&["", "_bucket", "_count", "_sum", "_created"]),
    }
}

/// Label values and HELP texts may hold any character but a carriage
/// return: no text format can carry one (OpenMetrics forbids a raw CR and has
/// no escape for it), and dropping it would lose input.
pub(crate) fn check_text(what: &str, text: &str) -> Result<(), Error> {
    if text.contains('\r') {
        return Err(Error::InvalidValue(format!(
            "{what} {text:?} contains a carriage return, which no exposition format can carry"
        )));
    }
    Ok(())
}

/// A unit must match `[a-zA-Z0-9_]+`, and the family name must end with
/// `_<unit>`.
pub(crate) fn check_unit(name: &str, unit: &str, kind: MetricKind) -> Result<(), Error> {
    let valid = !unit.is_empty() && unit.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
    let base = family_name(name, kind);
    if !valid || !base.ends_with(&format!("_{unit}")) {
        return Err(Error::InvalidName(format!(
            "{name} (unit {unit:?}: a unit must match [a-zA-Z0-9_]+ and the name must end with \"_{unit}\")"
        )));
    }
    Ok(())
}
