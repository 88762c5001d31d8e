//! [`Ingested`]: parsed families set into a registry as collected families
//! (`nanometrics::CollectedFamily`), so that another process's metrics
//! (an engine's `/metrics`) are served on this one's `/metrics`, exported
//! over OTLP and seen by windows, with the constant labels of the
//! registry given (a sub-registry's).

use std::collections::HashMap;

use nanometrics::{CollectedFamily, CollectedValue, Error, MetricKind, Registry};

use super::ParsedFamily;

/// Families read from an exposition, kept in a registry: each
/// [`set`](Ingested::set) replaces their values with those of a new parse
/// (the next scrape of the same source).
///
/// | parsed type | in the registry |
/// |---|---|
/// | counter | a counter (`_total`; `_created` samples, and the text format's `<name>_created` gauge family, are dropped) |
/// | gauge, unknown | a gauge |
/// | histogram | a histogram: its buckets and sum |
/// | summary | a summary: its count and sum (quantiles are dropped) |
/// | info, stateset | an info, a state set |
/// | gaugehistogram | not kept (no such type here): listed in [`skipped`](Ingested::skipped) |
///
/// A family's label names are those of all its series, in the order first
/// seen; a series without one of them has it empty (as Prometheus reads
/// an absent label). A family the registry refuses (its name is declared
/// natively with another type, a label collides with a constant label) is
/// skipped with the reason, and the others are kept.
///
/// ```
/// use nanometrics_exporters::parse::{self, Ingested};
/// let r = nanometrics::Registry::new();
/// let engine = r.sub_registry("", &[("engine", "vllm-0")])?;
/// let mut ingested = Ingested::new(&engine);
/// let body = "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model=\"llama\"} 3\n# EOF\n";
/// ingested.set(&parse::openmetrics(body).unwrap());
/// let text = nanometrics_exporters::prometheus::encode_to_string(&r.snapshot());
/// assert!(text.contains("vllm:num_requests_running{engine=\"vllm-0\",model=\"llama\"} 3.0\n"));
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Debug)]
pub struct Ingested {
    registry: Registry,
    families: HashMap<String, Kept>,
    skipped: Vec<(String, String)>,
}

#[derive(Debug)]
enum Kept {
    Family {
        family: CollectedFamily,
        /// The name it is declared under.
        declared: String,
        kind: String,
        labels: Vec<String>,
    },
    /// Refused by the registry (tried again at the next `set`).
    Refused,
}

/// A parsed family kept as `parse`; the rest the same.
pub fn ingest(registry: &Registry, families: &[ParsedFamily]) -> Ingested {
    let mut i = Ingested::new(registry);
    i.set(families);
    i
}

impl Ingested {
    /// Keeps families in `registry` (with its prefix and constant labels).
    pub fn new(registry: &Registry) -> Ingested {
        Ingested {
            registry: registry.clone(),
            families: HashMap::new(),
            skipped: Vec::new(),
        }
    }

    /// Sets `families` (a parse of the source), declaring the ones not
    /// seen before; a family kept before and absent now is emptied.
    pub fn set(&mut self, families: &[ParsedFamily]) {
        self.skipped.clear();
        // One family per name: the text format makes each untyped sample
        // a family of its own, and a name may come back later in a body.
        let mut merged: Vec<ParsedFamily> = Vec::new();
        for f in families {
            match merged.iter_mut().find(|m| m.name == f.name) {
                Some(m) if m.kind == f.kind => m.samples.extend(f.samples.iter().cloned()),
                Some(_) => self
                    .skipped
                    .push((f.name.clone(), "the name has two types in the body".into())),
                None => merged.push(f.clone()),
            }
        }
        // A text-format `<name>_created` gauge family beside its counter,
        // histogram or summary is that family's creation time, which the
        // registry does not keep (as OpenMetrics' `_created` samples).
        let creators: std::collections::HashSet<String> = merged
            .iter()
            .filter(|f| matches!(f.kind.as_str(), "counter" | "histogram" | "summary"))
            .map(|f| format!("{}_created", f.name))
            .collect();
        merged.retain(|f| {
            !(matches!(f.kind.as_str(), "gauge" | "unknown") && creators.contains(&f.name))
        });
        let mut present = std::collections::HashSet::new();
        for f in &merged {
            present.insert(f.name.as_str());
            if let Err(e) = self.set_one(f) {
                self.skipped.push((f.name.clone(), e.to_string()));
            }
        }
        // Gone from the source: emptied (still declared, so that it comes
        // back as it was); refused ones forgotten.
        self.families.retain(|name, kept| match kept {
            Kept::Family { family, .. } => {
                if !present.contains(name.as_str()) {
                    // Setting nothing cannot fail.
                    let _ = family.set([]);
                }
                true
            }
            Kept::Refused => present.contains(name.as_str()),
        });
    }

    /// Families of the last [`set`](Self::set) not kept, and why.
    ///
    /// ```
    /// use nanometrics_exporters::parse::{self, Ingested};
    /// let r = nanometrics::Registry::new();
    /// let body = "# TYPE g gaugehistogram\ng_bucket{le=\"+Inf\"} 1\ng_gcount 1\ng_gsum 1\n# EOF\n";
    /// let i = parse::ingest(&r, &parse::openmetrics(body).unwrap());
    /// assert_eq!(i.skipped()[0].0, "g");
    /// ```
    pub fn skipped(&self) -> &[(String, String)] {
        &self.skipped
    }

    fn set_one(&mut self, f: &ParsedFamily) -> Result<(), Error> {
        let kind = match f.kind.as_str() {
            "counter" => MetricKind::Counter,
            "gauge" | "unknown" => MetricKind::Gauge,
            "histogram" => MetricKind::Histogram,
            "summary" => MetricKind::Summary,
            "info" => MetricKind::Info,
            "stateset" => MetricKind::StateSet,
            other => {
                return Err(Error::InvalidValue(format!(
                    "a {other} has no counterpart in nanometrics"
                )))
            }
        };
        // Label names of every series (not `le`, `quantile`), first seen
        // first.
        let mut labels: Vec<String> = Vec::new();
        for s in &f.samples {
            for (k, _) in &s.labels {
                let part = (kind == MetricKind::Histogram && k == "le")
                    || (kind == MetricKind::Summary && k == "quantile");
                if !part && !labels.contains(k) {
                    labels.push(k.clone());
                }
            }
        }
        let kept = self.families.entry(f.name.clone()).or_insert(Kept::Refused);
        let declare = match kept {
            Kept::Family {
                kind: k, labels: l, ..
            } => *k != f.kind || !labels.iter().all(|n| l.contains(n)),
            Kept::Refused => true,
        };
        if declare {
            // First seen, or its type or labels changed (an engine
            // restarted with another version): declared anew, the old
            // declaration removed.
            if let Kept::Family { declared, .. } = kept {
                self.registry.unregister(declared);
            }
            let names: Vec<&str> = labels.iter().map(String::as_str).collect();
            let name = nanometrics::names::declared_name(&f.name, kind);
            let mut b = self.registry.metric(&name, &f.help);
            if !f.unit.is_empty() {
                b = b.unit(&f.unit);
            }
            match b.collected(kind, &names) {
                Ok(family) => {
                    *kept = Kept::Family {
                        family,
                        declared: name.into_owned(),
                        kind: f.kind.clone(),
                        labels,
                    };
                }
                Err(e) => {
                    *kept = Kept::Refused;
                    return Err(e);
                }
            }
        }
        let Kept::Family { family, labels, .. } = kept else {
            return Ok(());
        };
        family.set(series(f, kind, labels))
    }
}

/// The series of `f`: label values in `names` order, and values.
fn series(
    f: &ParsedFamily,
    kind: MetricKind,
    names: &[String],
) -> Vec<(Vec<String>, CollectedValue)> {
    let values_of = |labels: &[(String, String)]| -> Vec<String> {
        names
            .iter()
            .map(|n| {
                labels
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            })
            .collect()
    };
    let suffix = |name: &str| name.strip_prefix(f.name.as_str()).unwrap_or("").to_string();
    match kind {
        MetricKind::Histogram | MetricKind::Summary => {
            // Per series: buckets (histograms), count and sum.
            #[derive(Default)]
            struct Acc {
                buckets: Vec<(f64, u64)>,
                count: Option<u64>,
                sum: f64,
            }
            let mut order: Vec<Vec<String>> = Vec::new();
            let mut acc: HashMap<Vec<String>, Acc> = HashMap::new();
            for s in &f.samples {
                let key = values_of(&s.labels);
                if !acc.contains_key(&key) {
                    order.push(key.clone());
                }
                let a = acc.entry(key).or_default();
                match suffix(&s.name).as_str() {
                    "_bucket" => {
                        let le = s
                            .label("le")
                            .and_then(super::line::number)
                            .unwrap_or(f64::NAN);
                        // A later sample of the same bucket (a later
                        // timestamp) replaces it.
                        a.buckets.retain(|(b, _)| b.to_bits() != le.to_bits());
                        a.buckets.push((le, s.value as u64));
                    }
                    "_count" => a.count = Some(s.value as u64),
                    "_sum" => a.sum = s.value,
                    _ => {}
                }
            }
            order
                .into_iter()
                .filter_map(|key| {
                    let a = acc.remove(&key)?;
                    let value = if kind == MetricKind::Histogram {
                        let mut buckets = a.buckets;
                        buckets.sort_by(|x, y| x.0.total_cmp(&y.0));
                        CollectedValue::Histogram {
                            buckets,
                            sum: a.sum,
                        }
                    } else {
                        // Quantiles alone (no `_count`): nothing to keep,
                        // rather than a count and sum of 0 made up.
                        CollectedValue::Summary {
                            count: a.count?,
                            sum: a.sum,
                        }
                    };
                    Some((key, value))
                })
                .collect()
        }
        MetricKind::Counter => last_per_series(
            f.samples
                .iter()
                .filter(|s| suffix(&s.name) == "_total")
                .map(|s| (values_of(&s.labels), CollectedValue::FloatCounter(s.value))),
        ),
        _ => last_per_series(
            f.samples
                .iter()
                .map(|s| (values_of(&s.labels), CollectedValue::Gauge(s.value))),
        ),
    }
}

/// One value per series: the last (a series sampled at several
/// timestamps is worth its latest), in the order series first appear.
fn last_per_series(
    all: impl Iterator<Item = (Vec<String>, CollectedValue)>,
) -> Vec<(Vec<String>, CollectedValue)> {
    let mut out: Vec<(Vec<String>, CollectedValue)> = Vec::new();
    let mut at: HashMap<Vec<String>, usize> = HashMap::new();
    for (key, value) in all {
        match at.get(&key) {
            Some(&i) => out[i].1 = value,
            None => {
                at.insert(key.clone(), out.len());
                out.push((key, value));
            }
        }
    }
    out
}
