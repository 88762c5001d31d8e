//! Prometheus text format 0.0.4: blanks around tokens, `#` comments,
//! `# HELP` and `# TYPE` (`counter`, `gauge`, `histogram`, `summary`,
//! `untyped`), integer millisecond timestamps. Families are formed as
//! prometheus_client's parser forms them: the samples after a `# TYPE` or
//! `# HELP` whose names that type allows belong to it, and any other
//! sample is a family of its own (type `unknown`); a counter family is
//! named without `_total` and its samples with it.

use super::line::{self, Format, Line};
use super::{ParseError, ParsedFamily, ParsedSample};

/// Parses a Prometheus text 0.0.4 exposition.
///
/// # Errors
///
/// The first line that breaks the format, with its line and column: a bad
/// name, label set, escape, value or timestamp, a `# TYPE` of no known
/// type.
///
/// ```
/// let f = nanometrics_exporters::parse::text(
///     "# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total{queue=\"a\"} 3 1500\n",
/// )?;
/// assert_eq!((f[0].name.as_str(), f[0].kind.as_str()), ("jobs", "counter"));
/// assert_eq!(f[0].samples[0].name, "jobs_total");
/// assert_eq!(f[0].samples[0].timestamp.unwrap().as_secs_f64(), 1.5);
/// assert!(nanometrics_exporters::parse::text("jobs_total{queue=a} 3\n").is_err());
/// # Ok::<(), nanometrics_exporters::parse::ParseError>(())
/// ```
pub fn parse(body: &str) -> Result<Vec<ParsedFamily>, ParseError> {
    let mut out = Vec::new();
    let mut cur: Option<ParsedFamily> = None;
    // The sample names the current family takes.
    let mut allowed: Vec<String> = Vec::new();
    for (i, raw) in body.split('\n').enumerate() {
        let text = raw.trim_matches([' ', '\t', '\r']);
        let offset = raw.len() - raw.trim_start_matches([' ', '\t', '\r']).len();
        // The cursor runs over the line without its trailing blanks and CR
        // (CRLF line endings read as LF), columns as in `raw`.
        let mut line = Line::new(&raw[..offset + text.len()], i + 1);
        line.pos = offset;
        if text.is_empty() {
            continue;
        }
        if text.starts_with('#') {
            line.pos += 1;
            line.blanks();
            let keyword = line.token(Format::Text);
            if keyword != "HELP" && keyword != "TYPE" {
                continue; // a comment
            }
            if !line.blanks() {
                return Err(line.error(format!("expected a metric name after {keyword}")));
            }
            let name = line.metric_name()?;
            if !line.at_end() && !line.blanks() {
                return Err(line.error(format!(
                    "expected a blank after the metric name, found {}",
                    line.found()
                )));
            }
            let value_at = line.pos;
            let value = line.rest();
            let new = cur.as_ref().is_none_or(|f| f.name != name);
            if new {
                out.extend(cur.take().map(finish));
                cur = Some(ParsedFamily {
                    name: name.to_string(),
                    help: String::new(),
                    kind: "unknown".into(),
                    unit: String::new(),
                    samples: Vec::new(),
                });
                allowed = vec![name.to_string()];
            }
            let f = cur.as_mut().expect("just set");
            if keyword == "HELP" {
                f.help = line::unescape(value, false);
            } else {
                let suffixes: &[&str] = match value {
                    "counter" | "gauge" | "untyped" => &[""],
                    "summary" => &["_count", "_sum", ""],
                    "histogram" => &["_count", "_sum", "_bucket"],
                    _ => {
                        return Err(line.error_at(
                            value_at,
                            format!(
                                "{} is not a type (counter, gauge, histogram, summary, untyped)",
                                line::shown(value)
                            ),
                        ))
                    }
                };
                f.kind = if value == "untyped" { "unknown" } else { value }.to_string();
                allowed = suffixes.iter().map(|s| format!("{name}{s}")).collect();
            }
            continue;
        }
        let sample = sample(line)?;
        if let Some(f) = cur.as_mut().filter(|_| allowed.contains(&sample.name)) {
            f.samples.push(sample);
        } else {
            // A sample of no declared family: a family of its own.
            out.extend(cur.take().map(finish));
            allowed.clear();
            out.push(ParsedFamily {
                name: sample.name.clone(),
                help: String::new(),
                kind: "unknown".into(),
                unit: String::new(),
                samples: vec![sample],
            });
        }
    }
    out.extend(cur.map(finish));
    Ok(out)
}

/// A counter as OpenMetrics names it: the family without `_total`, the
/// samples with it.
fn finish(mut f: ParsedFamily) -> ParsedFamily {
    if f.kind == "counter" {
        if let Some(base) = f.name.strip_suffix("_total") {
            f.name = base.to_string();
        } else {
            for s in &mut f.samples {
                s.name.push_str("_total");
            }
        }
    }
    f
}

fn sample(mut line: Line<'_>) -> Result<ParsedSample, ParseError> {
    let name = line.metric_name()?;
    line.blanks();
    let labels = if line.peek() == Some(b'{') {
        let l = line.labels(Format::Text)?;
        line.blanks();
        l
    } else {
        Vec::new()
    };
    if line.at_end() {
        return Err(line.error("expected a value"));
    }
    let value_at = line.pos;
    let v = line.token(Format::Text);
    let value = line::number(v).ok_or_else(|| {
        line.error_at(
            value_at,
            format!("value {} is not a number", line::shown(v)),
        )
    })?;
    let mut timestamp = None;
    line.blanks();
    if !line.at_end() {
        let at = line.pos;
        let t = line.token(Format::Text);
        timestamp = Some(line::text_timestamp(t).ok_or_else(|| {
            line.error_at(
                at,
                format!("timestamp {} is not an integer", line::shown(t)),
            )
        })?);
        line.blanks();
        if !line.at_end() {
            return Err(line.error(format!("unexpected {}", line.rest_shown())));
        }
    }
    Ok(ParsedSample {
        name: name.to_string(),
        labels,
        value,
        timestamp,
        exemplar: None,
    })
}
