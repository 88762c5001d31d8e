//! One family's lines in either text format, from a [`FamilySnapshot`] or
//! straight from a [`FamilyView`] (the copy-free path of
//! `encode_registry`). Both paths write the same bytes; the tests compare
//! them.

use std::borrow::Cow;

use nanometrics::names::{family_name, sample_name};
use nanometrics::visit::{FamilyView, SeriesGroup};
use nanometrics::{ExemplarSnapshot, FamilySnapshot, MetricKind, Value};

use crate::format::{write_f64, write_help, write_i64, write_label_value, write_labels, write_u64};

/// Which text format is being written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// Prometheus text 0.0.4.
    Text,
    /// OpenMetrics 1.0.
    OpenMetrics,
}

/// The name in `# TYPE`/`# HELP` (and the base of histogram samples), the
/// sample name of counters and gauges, and the family name (the base of
/// `_created`).
struct Names<'a> {
    header: Cow<'a, str>,
    sample: Cow<'a, str>,
    family: &'a str,
}

/// What a family's `_created` samples need: whether they are written, and
/// (text format) the lines kept for the `<name>_created` gauge family
/// written after the family, as prometheus_client writes them.
struct Created {
    on: bool,
    late: Vec<u8>,
}

impl Created {
    fn new(on: bool, kind: MetricKind) -> Created {
        Created {
            on: on
                && matches!(
                    kind,
                    MetricKind::Counter | MetricKind::Histogram | MetricKind::Summary
                ),
            late: Vec::new(),
        }
    }

    /// The family's `_created` gauge family (text format), if any.
    fn finish(self, out: &mut Vec<u8>, fmt: Format, names: &Names<'_>, help: &str) {
        if fmt == Format::Text && !self.late.is_empty() {
            let name = format!("{}_created", names.family);
            let mut escaped = Vec::with_capacity(help.len());
            write_help(&mut escaped, help, false);
            for (what, rest) in [(&b"# HELP "[..], &escaped[..]), (b"# TYPE ", b"gauge")] {
                out.extend_from_slice(what);
                out.extend_from_slice(name.as_bytes());
                out.push(b' ');
                out.extend_from_slice(rest);
                out.push(b'\n');
            }
            out.extend_from_slice(&self.late);
        }
    }
}

fn type_word(fmt: Format, name: &str, kind: MetricKind) -> &'static str {
    match (fmt, kind) {
        (_, MetricKind::Counter) => "counter",
        (_, MetricKind::Gauge | MetricKind::UpDownCounter) => "gauge",
        (_, MetricKind::Histogram) => "histogram",
        (_, MetricKind::Summary) => "summary",
        // The text format has no info or stateset type: their samples are
        // gauges there (as prometheus_client writes them).
        (Format::Text, MetricKind::Info | MetricKind::StateSet) => "gauge",
        (Format::OpenMetrics, MetricKind::Info) => "info",
        // A state set's states are in a label named like the family, which
        // a name with `:` cannot be (label names have no `:`): such a family
        // is written as the gauges it is made of, as in the text format.
        (Format::OpenMetrics, MetricKind::StateSet) if name.contains(':') => "gauge",
        (Format::OpenMetrics, MetricKind::StateSet) => "stateset",
    }
}

/// Writes `# HELP`/`# TYPE` (and `# UNIT` in OpenMetrics) and returns the
/// names the samples use.
fn header<'a>(
    out: &mut Vec<u8>,
    fmt: Format,
    name: &'a str,
    help: &str,
    unit: Option<&str>,
    kind: MetricKind,
) -> Names<'a> {
    let sample = sample_name(name, kind);
    let header = match fmt {
        Format::OpenMetrics => Cow::Borrowed(family_name(name, kind)),
        Format::Text => sample.clone(),
    };
    let line = |out: &mut Vec<u8>, what: &[u8], rest: &[u8]| {
        out.extend_from_slice(what);
        out.extend_from_slice(header.as_bytes());
        out.push(b' ');
        out.extend_from_slice(rest);
        out.push(b'\n');
    };
    let mut escaped = Vec::with_capacity(help.len());
    write_help(&mut escaped, help, fmt == Format::OpenMetrics);
    match fmt {
        Format::Text => {
            line(out, b"# HELP ", &escaped);
            line(out, b"# TYPE ", type_word(fmt, name, kind).as_bytes());
        }
        Format::OpenMetrics => {
            line(out, b"# TYPE ", type_word(fmt, name, kind).as_bytes());
            if let Some(unit) = unit.filter(|u| header.ends_with(&format!("_{u}"))) {
                line(out, b"# UNIT ", unit.as_bytes());
            }
            line(out, b"# HELP ", &escaped);
        }
    }
    Names {
        header,
        sample,
        family: family_name(name, kind),
    }
}

fn line<'a>(
    out: &mut Vec<u8>,
    name: &str,
    suffix: &str,
    labels: impl Iterator<Item = (&'a str, &'a str)>,
    le: Option<f64>,
    value: impl FnOnce(&mut Vec<u8>),
) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(suffix.as_bytes());
    write_labels(out, labels, le);
    out.push(b' ');
    value(out);
    out.push(b'\n');
}

/// Appends ` # {labels} value timestamp` (OpenMetrics' exemplar, after a
/// counter's `_total` or a histogram bucket's count), or nothing. The text
/// format has no exemplars: its callers pass `None`.
fn write_exemplar(out: &mut Vec<u8>, e: Option<&ExemplarSnapshot>) {
    let Some(e) = e else {
        return;
    };
    out.extend_from_slice(b" # ");
    if e.exemplar.labels().len() == 0 {
        out.extend_from_slice(b"{}");
    } else {
        write_labels(out, e.exemplar.labels(), None);
    }
    out.push(b' ');
    write_f64(out, e.value);
    out.push(b' ');
    let since = e
        .timestamp
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    write_f64(out, since.as_secs_f64());
}

/// The exemplar of slot `i` when the format carries exemplars.
fn exemplar(
    fmt: Format,
    exemplars: &[Option<ExemplarSnapshot>],
    i: usize,
) -> Option<&ExemplarSnapshot> {
    match fmt {
        Format::OpenMetrics => exemplars.get(i).and_then(Option::as_ref),
        Format::Text => None,
    }
}

/// One series' `_created` sample (seconds since the epoch): in
/// OpenMetrics after its other samples, in the text format kept for the
/// family's `_created` gauge family.
fn created_line<'a>(
    out: &mut Vec<u8>,
    fmt: Format,
    names: &Names<'_>,
    labels: impl Iterator<Item = (&'a str, &'a str)>,
    created: &mut Created,
    at: Option<std::time::SystemTime>,
) {
    // A collected family's creation time is only when we first saw it
    // (`None`): no `_created` then, as its source writes none.
    let (true, Some(at)) = (created.on, at) else {
        return;
    };
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let to = match fmt {
        Format::OpenMetrics => out,
        Format::Text => &mut created.late,
    };
    line(to, names.family, "_created", labels, None, |o| {
        write_f64(o, secs)
    });
}

/// One series, any kind; `labels` is called once per line written;
/// `exemplars` as [`nanometrics::SeriesSnapshot::exemplars`].
fn series<'a, I>(
    out: &mut Vec<u8>,
    fmt: Format,
    names: &Names<'_>,
    labels: impl Fn() -> I,
    value: &Value,
    exemplars: &[Option<ExemplarSnapshot>],
    created: (&mut Created, Option<std::time::SystemTime>),
) where
    I: Iterator<Item = (&'a str, &'a str)>,
{
    let (h, s) = (&*names.header, &*names.sample);
    let ex = |i| exemplar(fmt, exemplars, i);
    match value {
        Value::Counter(v) => line(out, s, "", labels(), None, |o| {
            write_u64(o, *v);
            write_exemplar(o, ex(0));
        }),
        Value::FloatCounter(v) => line(out, s, "", labels(), None, |o| {
            write_f64(o, *v);
            write_exemplar(o, ex(0));
        }),
        Value::Summary(d) => {
            // No quantile lines: a count and a sum, as prometheus_client's
            // Summary exposes. OpenMetrics forbids a negative `_sum`
            // (counter-like), so there a negative sum is left out.
            line(out, h, "_count", labels(), None, |o| write_u64(o, d.count));
            if fmt == Format::Text || d.sum >= 0.0 {
                line(out, h, "_sum", labels(), None, |o| write_f64(o, d.sum));
            }
        }
        Value::Gauge(v) => line(out, s, "", labels(), None, |o| write_f64(o, *v)),
        Value::UpDownCounter(v) => line(out, s, "", labels(), None, |o| write_i64(o, *v)),
        Value::Histogram(hist) => {
            for (i, (bound, count)) in hist.buckets.iter().enumerate() {
                line(out, h, "_bucket", labels(), Some(*bound), |o| {
                    write_u64(o, *count);
                    write_exemplar(o, ex(i));
                });
            }
            match fmt {
                Format::Text => {
                    line(out, h, "_sum", labels(), None, |o| write_f64(o, hist.sum));
                    line(out, h, "_count", labels(), None, |o| {
                        write_u64(o, hist.count)
                    });
                }
                Format::OpenMetrics => {
                    // `_count` and `_sum` come as a pair, and only when no
                    // bucket is negative and the sum is not negative (the
                    // `+Inf` bucket still carries the count).
                    let negative = hist.buckets.first().is_some_and(|(b, _)| *b < 0.0);
                    if !negative && hist.sum >= 0.0 {
                        line(out, h, "_count", labels(), None, |o| {
                            write_u64(o, hist.count)
                        });
                        line(out, h, "_sum", labels(), None, |o| write_f64(o, hist.sum));
                    }
                }
            }
        }
    }
    created_line(out, fmt, names, labels(), created.0, created.1);
}

/// A family of a [`nanometrics::Snapshot`]; with `_created` samples when
/// `created` (counters, histograms, summaries).
pub(crate) fn snapshot_family(out: &mut Vec<u8>, fmt: Format, f: &FamilySnapshot, created: bool) {
    let names = header(out, fmt, &f.name, &f.help, f.unit.as_deref(), f.kind);
    let mut c = Created::new(created, f.kind);
    for s in &f.series {
        series(
            out,
            fmt,
            &names,
            || s.labels.iter(),
            &s.value,
            &s.exemplars,
            (&mut c, (!s.labels.is_collected()).then_some(s.created)),
        );
    }
    c.finish(out, fmt, &names, &f.help);
}

/// A family lent by [`nanometrics::Registry::visit`]. Counters and gauges
/// take the fast path: the fixed parts of each line (name, constant labels,
/// label names, quotes) are built once per group, so a series costs its
/// label values and its number.
pub(crate) fn view_family(out: &mut Vec<u8>, fmt: Format, f: &FamilyView<'_>, created: bool) {
    let names = header(out, fmt, f.name, f.help, f.unit, f.kind);
    // Only OpenMetrics carries exemplars, and only counters and histograms
    // have them: the others skip reading them.
    let with_exemplars =
        fmt == Format::OpenMetrics && matches!(f.kind, MetricKind::Counter | MetricKind::Histogram);
    let mut c = Created::new(created, f.kind);
    f.for_each_group(|g| match f.kind {
        MetricKind::Histogram | MetricKind::Summary => {
            g.for_each_series_view(with_exemplars, &mut |s| {
                let labels = || {
                    g.const_labels()
                        .chain(g.label_names().zip(s.values.iter().map(|v| &**v)))
                };
                series(
                    out,
                    fmt,
                    &names,
                    labels,
                    s.value,
                    s.exemplars,
                    (&mut c, (!g.is_collected()).then_some(s.created)),
                );
            })
        }
        _ => {
            let frags = fragments(&names.sample, g);
            g.for_each_series_view(with_exemplars, &mut |s| {
                let (values, text, value, exemplars) = (s.values, s.cache, s.value, s.exemplars);
                // The line up to the value never changes for a series: made
                // once, copied on every scrape after.
                out.extend_from_slice(text.get_or_init(|| {
                    let mut t = Vec::new();
                    for (frag, v) in frags.iter().zip(values) {
                        t.extend_from_slice(frag);
                        write_label_value(&mut t, v);
                    }
                    t.extend_from_slice(&frags[frags.len() - 1]);
                    t
                }));
                match value {
                    Value::Counter(v) => write_u64(out, *v),
                    Value::FloatCounter(v) | Value::Gauge(v) => write_f64(out, *v),
                    Value::UpDownCounter(v) => write_i64(out, *v),
                    Value::Histogram(_) | Value::Summary(_) => {}
                }
                write_exemplar(out, exemplar(fmt, exemplars, 0));
                out.push(b'\n');
                let labels = g
                    .const_labels()
                    .chain(g.label_names().zip(values.iter().map(|v| &**v)));
                let at = (!g.is_collected()).then_some(s.created);
                created_line(out, fmt, &names, labels, &mut c, at);
            })
        }
    });
    c.finish(out, fmt, &names, f.help);
}

/// The fixed text around a group's label values: `name{c="v",a="`, then
/// `",b="` between values, then `"} ` (or `name ` with no labels at all);
/// one more fragment than there are label names.
fn fragments(name: &str, g: &SeriesGroup<'_>) -> Vec<Vec<u8>> {
    let mut frags = Vec::new();
    let mut cur = name.as_bytes().to_vec();
    let mut first = true;
    let mut open = |cur: &mut Vec<u8>, k: &str| {
        cur.push(if first { b'{' } else { b',' });
        first = false;
        cur.extend_from_slice(k.as_bytes());
        cur.extend_from_slice(b"=\"");
    };
    for (k, v) in g.const_labels() {
        open(&mut cur, k);
        write_label_value(&mut cur, v);
        cur.push(b'"');
    }
    for k in g.label_names() {
        open(&mut cur, k);
        frags.push(std::mem::replace(&mut cur, b"\"".to_vec()));
    }
    if first {
        cur.push(b' ');
    } else {
        cur.extend_from_slice(b"} ");
    }
    frags.push(cur);
    frags
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An exemplar's label values are escaped as a series' are (`"`, `\`
    /// and line feed), an empty label set is `{}`, and the text format
    /// writes none.
    #[test]
    fn exemplars_are_escaped_and_only_in_openmetrics() {
        let r = nanometrics::Registry::new();
        let c = r.counter("x_total", "X.").unwrap();
        c.inc_by_with_exemplar(
            2,
            &nanometrics::Exemplar::new([("q", "a\"b\\c\nd")]).unwrap(),
        );
        let h = r
            .histogram("h", "H.", nanometrics::Buckets::explicit(vec![1.0]))
            .unwrap();
        h.observe_with_exemplar(
            0.5,
            &nanometrics::Exemplar::new(Vec::<(&str, &str)>::new()).unwrap(),
        );
        let snap = r.snapshot();
        let mut om = Vec::new();
        let mut text = Vec::new();
        for f in &snap.families {
            snapshot_family(&mut om, Format::OpenMetrics, f, false);
            snapshot_family(&mut text, Format::Text, f, false);
        }
        let om = String::from_utf8(om).unwrap();
        assert!(
            om.contains("x_total 2 # {q=\"a\\\"b\\\\c\\nd\"} 2.0 "),
            "{om}"
        );
        assert!(om.contains("h_bucket{le=\"1.0\"} 1 # {} 0.5 "), "{om}");
        assert!(!String::from_utf8(text).unwrap().contains(" # "));
    }
}
