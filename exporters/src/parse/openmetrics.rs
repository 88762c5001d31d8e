//! OpenMetrics 1.0: the grammar (`tools/conformance/openmetrics-1.0.abnf`)
//! and the rules a family's samples follow, as the OpenMetrics project's
//! parser tests and prometheus_client's parser hold them: metadata once
//! and before the samples, families and series groups not interleaved,
//! timestamps not going backwards within a group, the suffixes each type
//! allows, counter-like values neither negative nor NaN, histogram
//! buckets in order and matching the count, exemplars only on counters'
//! `_total` and buckets, `# EOF` last.

use std::collections::HashSet;

use super::line::{self, Format, Line};
use super::{ParseError, ParsedExemplar, ParsedFamily, ParsedSample, Timestamp};

/// Parses an OpenMetrics 1.0 exposition.
///
/// # Errors
///
/// The first line that breaks the grammar or a family's rules, with its
/// line and column.
///
/// ```
/// let f = nanometrics_exporters::parse::openmetrics(
///     "# TYPE a counter\n# HELP a Jobs.\na_total 3 # {trace_id=\"x\"} 1.0 1.7e9\n# EOF\n",
/// )?;
/// assert_eq!((f[0].name.as_str(), f[0].kind.as_str(), f[0].help.as_str()), ("a", "counter", "Jobs."));
/// assert_eq!(f[0].samples[0].exemplar.as_ref().unwrap().value, 1.0);
/// let e = nanometrics_exporters::parse::openmetrics("# TYPE a counter\na_total -1\n# EOF\n").unwrap_err();
/// assert_eq!((e.line, e.column), (2, 1));
/// # Ok::<(), nanometrics_exporters::parse::ParseError>(())
/// ```
pub fn parse(body: &str) -> Result<Vec<ParsedFamily>, ParseError> {
    let mut p = Parser::default();
    let mut lines = body.split('\n').enumerate().peekable();
    while let Some((i, text)) = lines.next() {
        let number = i + 1;
        // The LF after `# EOF` is optional: a body ending in LF splits into
        // one more, empty, piece.
        if p.eof {
            if text.is_empty() && lines.peek().is_none() {
                break;
            }
            return Err(Line::new(text, number).error("text after \"# EOF\""));
        }
        let line = Line::new(text, number);
        if text.is_empty() {
            if lines.peek().is_none() {
                // The body ended without `# EOF`.
                break;
            }
            return Err(line.error("a blank line"));
        }
        if text.contains('\r') {
            return Err(line.error_at(text.find('\r').unwrap_or(0), "a carriage return"));
        }
        if text == "# EOF" {
            p.eof = true;
        } else if text.starts_with('#') {
            p.metadata(line)?;
        } else {
            p.sample(line)?;
        }
    }
    if !p.eof {
        let number = body.split('\n').count();
        return Err(ParseError {
            line: number,
            column: 1,
            message: "missing \"# EOF\" at the end".into(),
        });
    }
    p.finish()?;
    Ok(p.out)
}

/// The samples a family of `kind` may have: its name plus one of these.
fn suffixes(kind: &str) -> &'static [&'static str] {
    match kind {
        "counter" => &["_total", "_created"],
        "summary" => &["", "_count", "_sum", "_created"],
        "histogram" => &["_count", "_sum", "_bucket", "_created"],
        "gaugehistogram" => &["_gcount", "_gsum", "_bucket"],
        "info" => &["_info"],
        _ => &[""],
    }
}

const TYPES: [&str; 8] = [
    "counter",
    "gauge",
    "histogram",
    "gaugehistogram",
    "summary",
    "info",
    "stateset",
    "unknown",
];

/// A label set, sorted, as a key.
type Key = Vec<(String, String)>;

/// The family being read.
struct Family {
    name: String,
    help: Option<String>,
    kind: Option<String>,
    unit: Option<String>,
    samples: Vec<ParsedSample>,
    /// The line of each sample (for errors found when the family ends).
    lines: Vec<usize>,
    /// Where the family starts.
    first_line: usize,
    /// The current group (the series' labels without `le`, `quantile` or
    /// the state), the groups seen, the current group's timestamp, and
    /// where in `samples` the run at that timestamp starts.
    group: Option<Key>,
    groups: HashSet<Key>,
    group_time: Option<Timestamp>,
    run_start: usize,
    /// The run's series, once it is long enough for a scan to be slow.
    run_seen: HashSet<(String, Key)>,
}

impl Family {
    fn new(name: &str, kind: Option<&str>, first_line: usize) -> Family {
        Family {
            name: name.to_string(),
            help: None,
            kind: kind.map(str::to_string),
            unit: None,
            samples: Vec::new(),
            lines: Vec::new(),
            first_line,
            group: None,
            groups: HashSet::new(),
            group_time: None,
            run_start: 0,
            run_seen: HashSet::new(),
        }
    }

    /// Its type (one of [`TYPES`]; `unknown` without `# TYPE`).
    fn kind(&self) -> &'static str {
        let kind = self.kind.as_deref().unwrap_or("unknown");
        TYPES
            .iter()
            .find(|t| **t == kind)
            .copied()
            .unwrap_or("unknown")
    }

    fn allows(&self, sample: &str) -> bool {
        sample
            .strip_prefix(self.name.as_str())
            .is_some_and(|suffix| suffixes(self.kind()).contains(&suffix))
    }
}

#[derive(Default)]
struct Parser {
    out: Vec<ParsedFamily>,
    family: Option<Family>,
    /// Every sample name a finished family took.
    taken: HashSet<String>,
    eof: bool,
}

impl Parser {
    fn metadata(&mut self, mut line: Line<'_>) -> Result<(), ParseError> {
        line.expect(b'#', "'#'")?;
        line.expect(b' ', "' ' after '#'")?;
        let at = line.pos;
        let keyword = line.token(Format::OpenMetrics);
        if !matches!(keyword, "TYPE" | "HELP" | "UNIT") {
            return Err(line.error_at(
                at,
                format!(
                    "{} is not a metadata keyword (TYPE, HELP, UNIT or EOF)",
                    line::shown(keyword)
                ),
            ));
        }
        line.expect(b' ', "' ' after the keyword")?;
        let name = line.metric_name()?;
        line.expect(b' ', "' ' after the metric name")?;
        let value_at = line.pos;
        let value = line.rest();
        let number = line.number();
        match &self.family {
            Some(f) if f.name == name => {
                if !f.samples.is_empty() {
                    return Err(line.error_at(at, format!("metadata for {name} after its samples")));
                }
            }
            _ => {
                self.finish()?;
                self.family = Some(Family::new(name, None, number));
            }
        }
        let f = self.family.as_mut().expect("just set");
        match keyword {
            "TYPE" => {
                if f.kind.is_some() {
                    return Err(line.error_at(at, format!("a second TYPE for {name}")));
                }
                if !TYPES.contains(&value) {
                    return Err(line.error_at(
                        value_at,
                        format!("{} is not a metric type", line::shown(value)),
                    ));
                }
                f.kind = Some(value.to_string());
            }
            "HELP" => {
                if f.help.is_some() {
                    return Err(line.error_at(at, format!("a second HELP for {name}")));
                }
                f.help = Some(line::unescape(value, true));
            }
            _ => {
                if f.unit.is_some() {
                    return Err(line.error_at(at, format!("a second UNIT for {name}")));
                }
                if let Some(bad) =
                    value.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                {
                    return Err(
                        line.error_at(value_at + bad, "a unit is made of metric name characters")
                    );
                }
                f.unit = Some(value.to_string());
            }
        }
        Ok(())
    }

    fn sample(&mut self, mut line: Line<'_>) -> Result<(), ParseError> {
        let number = line.number();
        let name = line.metric_name()?;
        let labels = if line.peek() == Some(b'{') {
            line.labels(Format::OpenMetrics)?
        } else {
            Vec::new()
        };
        line.expect(b' ', "' ' before the value")?;
        let value_at = line.pos;
        let value_text = line.token(Format::OpenMetrics);
        let value = line::number(value_text).ok_or_else(|| {
            line.error_at(
                value_at,
                format!("value {} is not a number", line::shown(value_text)),
            )
        })?;
        let mut timestamp = None;
        if line.peek() == Some(b' ') && !line.rest().starts_with(" #") {
            line.pos += 1;
            let at = line.pos;
            let t = line.token(Format::OpenMetrics);
            timestamp = Some(line::om_timestamp(t).ok_or_else(|| {
                line.error_at(at, format!("timestamp {} is not a number", line::shown(t)))
            })?);
        }
        let mut exemplar = None;
        if line.rest().starts_with(" # ") {
            line.pos += 3;
            let at = line.pos;
            if line.peek() != Some(b'{') {
                return Err(line.error("expected the exemplar's '{'"));
            }
            let labels = line.labels(Format::OpenMetrics)?;
            let chars: usize = labels
                .iter()
                .map(|(k, v)| k.chars().count() + v.chars().count())
                .sum();
            if chars > 128 {
                return Err(line.error_at(
                    at,
                    format!("exemplar labels have {chars} characters (at most 128)"),
                ));
            }
            line.expect(b' ', "' ' before the exemplar's value")?;
            let v_at = line.pos;
            let v = line.token(Format::OpenMetrics);
            let value = line::number(v).ok_or_else(|| {
                line.error_at(
                    v_at,
                    format!("exemplar value {} is not a number", line::shown(v)),
                )
            })?;
            let mut ts = None;
            if line.eat(b' ') {
                let t_at = line.pos;
                let t = line.token(Format::OpenMetrics);
                ts = Some(line::om_timestamp(t).ok_or_else(|| {
                    line.error_at(
                        t_at,
                        format!("exemplar timestamp {} is not a number", line::shown(t)),
                    )
                })?);
            }
            exemplar = Some(ParsedExemplar {
                labels,
                value,
                timestamp: ts,
            });
        }
        if !line.at_end() {
            return Err(line.error(format!("unexpected {}", line.rest_shown())));
        }
        let sample = ParsedSample {
            name: name.to_string(),
            labels,
            value,
            timestamp,
            exemplar,
        };
        self.add(sample, &line, number)
    }

    /// Checks `s` against its family's rules and adds it.
    fn add(&mut self, s: ParsedSample, line: &Line<'_>, number: usize) -> Result<(), ParseError> {
        if !self.family.as_ref().is_some_and(|f| f.allows(&s.name)) {
            self.finish()?;
            self.family = Some(Family::new(&s.name, Some("unknown"), number));
        }
        let f = self.family.as_mut().expect("just set");
        let kind = f.kind();
        let suffix = &s.name[f.name.len()..];
        let bad = |m: String| Err(line.error_at(0, m));
        if kind == "stateset" && s.label(&f.name).is_none() {
            return bad(format!("a stateset sample without its {:?} label", f.name));
        }
        if suffix == "_bucket" {
            match s.label("le").map(|le| (le, line::number(le))) {
                Some((le, Some(b))) if !b.is_nan() && (b != f64::INFINITY || le == "+Inf") => {}
                _ => {
                    return bad(
                        "a bucket needs an le label that is a number (+Inf written \"+Inf\")"
                            .into(),
                    )
                }
            }
            if s.value.fract() != 0.0 {
                return bad("a bucket's value is an integer".into());
            }
        }
        if matches!(suffix, "_count" | "_gcount") && s.value.fract() != 0.0 {
            return bad("a count is an integer".into());
        }
        if kind == "summary" && suffix.is_empty() {
            match s.label("quantile").map(|q| (q, line::number(q))) {
                Some((q, Some(v)))
                    if (0.0..=1.0).contains(&v) && !q.eq_ignore_ascii_case("nan") => {}
                _ => return bad("a quantile sample needs a quantile label between 0 and 1".into()),
            }
        }
        // Groups: a series' samples together; timestamps forward. The key
        // is built only when the group changes (once per series).
        let same = f
            .group
            .as_ref()
            .is_some_and(|cur| in_group(&s, &f.name, kind, cur));
        if same {
            if s.timestamp.is_some() != f.group_time.is_some() {
                return bad("a timestamp on some samples of a group and not others".into());
            }
            if kind != "info" && f.group_time > s.timestamp {
                return bad("the timestamp went backwards within a group".into());
            }
        } else {
            let g = group_of(&s, &f.name, kind);
            if f.group.is_some() && f.groups.contains(&g) {
                return bad(format!("{} comes apart from the rest of its group", s.name));
            }
            f.groups.insert(g.clone());
            f.group = Some(g);
        }
        // The same series again at the same timestamp within the group.
        let new_run = !same || s.timestamp != f.group_time;
        if new_run {
            f.run_start = f.samples.len();
            f.run_seen.clear();
        }
        let run = &f.samples[f.run_start..];
        let repeat = if run.len() < 16 {
            run.iter()
                .any(|p| p.name == s.name && same_labels(&p.labels, &s.labels))
        } else {
            // A long run (an info's samples, a histogram's buckets, a
            // state set's states): a set, not a scan per sample.
            if f.run_seen.is_empty() {
                f.run_seen = run
                    .iter()
                    .map(|p| (p.name.clone(), sorted(&p.labels)))
                    .collect();
            }
            !f.run_seen.insert((s.name.clone(), sorted(&s.labels)))
        };
        f.group_time = s.timestamp;
        if kind == "stateset" && s.value != 0.0 && s.value != 1.0 {
            return bad("a stateset's values are 0 and 1".into());
        }
        if kind == "info" && s.value != 1.0 {
            return bad("an info's value is 1".into());
        }
        if kind == "summary" && suffix.is_empty() && s.value < 0.0 {
            return bad("a quantile value cannot be negative".into());
        }
        let counter_like = ["_total", "_sum", "_count", "_bucket", "_gcount", "_gsum"];
        if counter_like.contains(&suffix) && s.value.is_nan() {
            return bad(format!("{} cannot be NaN", s.name));
        }
        if counter_like[..5].contains(&suffix) && s.value < 0.0 {
            return bad(format!("{} cannot be negative", s.name));
        }
        if s.exemplar.is_some()
            && !((matches!(kind, "histogram" | "gaugehistogram") && suffix == "_bucket")
                || (kind == "counter" && suffix == "_total"))
        {
            return bad("only a counter's _total and a histogram's buckets have exemplars".into());
        }
        // The same series at the same timestamp again: prometheus_client
        // keeps the first (the OpenMetrics tests hold such bodies valid).
        if !repeat {
            f.samples.push(s);
            f.lines.push(number);
        }
        Ok(())
    }

    /// Ends the current family: its own rules (errors at its first
    /// line), then into `out`.
    fn finish(&mut self) -> Result<(), ParseError> {
        let Some(f) = self.family.take() else {
            return Ok(());
        };
        let kind = f.kind().to_string();
        let err = |m: String| ParseError {
            line: f.first_line,
            column: 1,
            message: m,
        };
        let mut names: Vec<&str> = suffixes(&kind).to_vec();
        if !names.contains(&"") {
            names.push("");
        }
        for suffix in names {
            let taken = format!("{}{suffix}", f.name);
            if !self.taken.insert(taken.clone()) {
                return Err(err(format!("{taken} is the name of two families")));
            }
        }
        let unit = f.unit.clone().unwrap_or_default();
        if !unit.is_empty() && !f.name.ends_with(&format!("_{unit}")) {
            return Err(err(format!(
                "{} does not end with its unit {unit:?}",
                f.name
            )));
        }
        if !unit.is_empty() && matches!(kind.as_str(), "info" | "stateset") {
            return Err(err(format!("a {kind} has no unit")));
        }
        if matches!(kind.as_str(), "histogram" | "gaugehistogram") {
            check_histogram(&f.samples, &f.name).map_err(|(m, i)| ParseError {
                line: f.lines[i],
                column: 1,
                message: m,
            })?;
        }
        self.out.push(ParsedFamily {
            name: f.name,
            help: f.help.unwrap_or_default(),
            kind,
            unit,
            samples: f.samples,
        });
        Ok(())
    }
}

fn sorted(labels: &[(String, String)]) -> Key {
    let mut k = labels.to_vec();
    k.sort();
    k
}

/// The label a sample's group leaves out: `le` (buckets), `quantile`
/// (quantiles) or the state (a state set); `None` for an info, whose
/// samples are all one group.
fn dropped<'a>(s: &ParsedSample, name: &'a str, kind: &str) -> Option<Option<&'a str>> {
    Some(match kind {
        "info" => return None,
        "summary" if s.name == name => Some("quantile"),
        "stateset" => Some(name),
        "histogram" | "gaugehistogram" if s.name.strip_prefix(name) == Some("_bucket") => {
            Some("le")
        }
        _ => None,
    })
}

/// The series a sample belongs to within its family: its labels without
/// the one [`dropped`] names, sorted.
fn group_of(s: &ParsedSample, name: &str, kind: &str) -> Key {
    let Some(drop) = dropped(s, name, kind) else {
        return Vec::new();
    };
    let mut k: Key = s
        .labels
        .iter()
        .filter(|(n, _)| Some(n.as_str()) != drop)
        .cloned()
        .collect();
    k.sort();
    k
}

/// Whether `s` is in group `key` (as `group_of(s) == *key`, without
/// building its key).
fn in_group(s: &ParsedSample, name: &str, kind: &str, key: &Key) -> bool {
    let Some(drop) = dropped(s, name, kind) else {
        return key.is_empty();
    };
    let mut n = 0;
    for (k, v) in &s.labels {
        if Some(k.as_str()) == drop {
            continue;
        }
        n += 1;
        let found = key
            .binary_search_by(|(kk, _)| kk.as_str().cmp(k))
            .is_ok_and(|i| key[i].1 == *v);
        if !found {
            return false;
        }
    }
    n == key.len()
}

/// The same label set, in any order (names are unique within one).
fn same_labels(a: &[(String, String)], b: &[(String, String)]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

/// Per group: buckets in order with growing counts, a `+Inf` bucket equal
/// to the count, `_count` and `_sum` (`_gcount`, `_gsum`) together, no
/// `_sum` with negative buckets. An error comes with the index of the
/// sample at fault (the group's last, for what only its end shows).
fn check_histogram(samples: &[ParsedSample], name: &str) -> Result<(), (String, usize)> {
    #[derive(Default)]
    struct G {
        bucket: Option<f64>,
        value: f64,
        count: Option<f64>,
        negative: bool,
        sum: bool,
        gsum: bool,
        negative_gsum: bool,
    }
    let done = |g: &G| -> Result<(), String> {
        if g.bucket != Some(f64::INFINITY) {
            return Err(format!("{name}: a +Inf bucket is missing"));
        }
        if g.count.is_some_and(|c| c != g.value) {
            return Err(format!("{name}: the count is not the +Inf bucket's"));
        }
        if g.sum && g.count.is_none() {
            return Err(format!("{name}: _sum without _count"));
        }
        if g.gsum && g.count.is_none() {
            return Err(format!("{name}: _gsum without _gcount"));
        }
        if !(g.sum || g.gsum) && g.count.is_some() {
            return Err(format!("{name}: _count without _sum"));
        }
        if g.negative && g.sum {
            return Err(format!("{name}: _sum with negative buckets"));
        }
        if !g.negative && g.negative_gsum {
            return Err(format!("{name}: a negative _gsum with no negative bucket"));
        }
        Ok(())
    };
    let mut cur: Option<(Key, Option<Timestamp>, G)> = None;
    let mut last = 0;
    for (i, s) in samples.iter().enumerate() {
        let suffix = &s.name[name.len()..];
        if suffix.is_empty() {
            continue;
        }
        let same = cur
            .as_ref()
            .is_some_and(|(k, t, _)| *t == s.timestamp && in_group(s, name, "histogram", k));
        if !same {
            if let Some((_, _, g)) = &cur {
                done(g).map_err(|m| (m, last))?;
            }
            cur = Some((group_of(s, name, "histogram"), s.timestamp, G::default()));
        }
        last = i;
        let g = &mut cur.as_mut().expect("just set").2;
        match suffix {
            "_bucket" => {
                let b = s.label("le").and_then(line::number).unwrap_or(f64::NAN);
                g.negative |= b < 0.0;
                if g.bucket.is_some_and(|prev| b <= prev) {
                    return Err((format!("{name}: buckets out of order"), i));
                }
                if s.value < g.value {
                    return Err((format!("{name}: bucket counts go down"), i));
                }
                g.bucket = Some(b);
                g.value = s.value;
            }
            "_count" | "_gcount" => g.count = Some(s.value),
            "_sum" => g.sum = true,
            "_gsum" => {
                g.gsum = true;
                g.negative_gsum |= s.value < 0.0;
            }
            _ => {}
        }
    }
    if let Some((_, _, g)) = &cur {
        done(g).map_err(|m| (m, last))?;
    }
    Ok(())
}
