//! [`CollectedFamily`]: a family whose values another library keeps and
//! hands over whole, read after read (a bridge from the `prometheus` crate,
//! a process collector, a language binding's own metrics). Its series sit
//! beside native ones in every snapshot, visit and exposition, under the
//! same declaration rules; what is set is what the next read sees.
//!
//! ```
//! use nanometrics::{CollectedValue, MetricKind, Registry};
//! let r = Registry::new();
//! let jobs = r.metric("jobs_total", "Jobs.").collected(MetricKind::Counter, &["queue"])?;
//! jobs.set([(vec!["fast".to_string()], CollectedValue::Counter(3))])?;
//! let snap = r.snapshot();
//! assert_eq!(snap.families[0].series[0].value.as_counter(), Some(3));
//! # Ok::<(), nanometrics::Error>(())
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use crate::bucket_layout::Layout;
use crate::error::Error;
use crate::histogram_snapshot::HistogramSnapshot;
use crate::names::check_text;
use crate::series_handle::SeriesHandle;
use crate::shard::Reader;
use crate::snapshot::{FamilyLabels, LabelSet, MetricKind, SeriesSnapshot, Value, Values};
use crate::sync::lock_std;
use crate::visit::{Lockable, LockedFamily, RenderCache, SeriesReadFn, SeriesView};

/// One collected series' value, as the library that keeps it has it.
#[derive(Clone, Debug, PartialEq)]
pub enum CollectedValue {
    /// A counter total (for [`MetricKind::Counter`]).
    Counter(u64),
    /// A float counter total, finite and not negative
    /// ([`MetricKind::Counter`]).
    FloatCounter(f64),
    /// A gauge ([`MetricKind::Gauge`]; 1 for [`MetricKind::Info`], 0 or 1
    /// for [`MetricKind::StateSet`]).
    Gauge(f64),
    /// An up-down counter ([`MetricKind::UpDownCounter`]).
    UpDownCounter(i64),
    /// A histogram ([`MetricKind::Histogram`]): cumulative `(upper bound,
    /// count)` buckets, bounds increasing, the last `+Inf` (its count is the
    /// histogram's count), and the sum of the observations.
    Histogram {
        /// Cumulative buckets ending with `(f64::INFINITY, count)`.
        buckets: Vec<(f64, u64)>,
        /// Sum of the observations.
        sum: f64,
    },
    /// A summary's count and sum ([`MetricKind::Summary`]).
    Summary {
        /// Number of observations.
        count: u64,
        /// Sum of the observations.
        sum: f64,
    },
}

/// A family whose series are set whole by [`set`](Self::set), declared by
/// [`MetricBuilder::collected`](crate::MetricBuilder::collected). Cloning
/// it is cheap; every clone sets the same family.
///
/// - Each [`set`](Self::set) replaces every series: a label set missing
///   from it is gone from the next read. A label set present before keeps
///   its creation time (OTLP start time) and the bytes exporters cached for
///   it.
/// - A collected histogram keeps its classic buckets exactly; it has no
///   min or max (NaN), and its quantiles are as coarse as its buckets.
/// - Collected series cannot be windowed or watched (they have no handle).
/// - No cardinality limit applies: the library that keeps the series
///   bounds them. Label values follow the native rules (no carriage
///   return).
#[derive(Clone)]
pub struct CollectedFamily {
    inner: Arc<CollectedInner>,
}

impl std::fmt::Debug for CollectedFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectedFamily")
            .field("kind", &self.inner.kind)
            .field("labels", &self.inner.names)
            .field("series", &lock_std(&self.inner.table).entries.len())
            .finish()
    }
}

pub(crate) struct CollectedInner {
    kind: MetricKind,
    names: Arc<[Box<str>]>,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    entries: Vec<Entry>,
    /// Layouts of the bucket bounds seen lately (histograms of one family
    /// nearly always share theirs): building one per series per read would
    /// cost more than the read.
    layouts: Vec<Arc<Layout>>,
}

struct Entry {
    values: Values,
    text: RenderCache,
    value: Value,
    created: SystemTime,
}

/// Layouts kept per family.
const LAYOUTS_KEPT: usize = 8;

/// The most pieces a collected histogram's layout may have (a native
/// histogram's bounds are held to a like limit when declared).
const MAX_PIECES: usize = 4096;

impl CollectedInner {
    pub(crate) fn new(kind: MetricKind, names: Arc<[Box<str>]>) -> CollectedInner {
        CollectedInner {
            kind,
            names,
            table: Mutex::new(Table::default()),
        }
    }
}

impl CollectedFamily {
    pub(crate) fn from_inner(inner: Arc<CollectedInner>) -> CollectedFamily {
        CollectedFamily { inner }
    }

    /// Replaces every series with `series`: `(label values, value)`, the
    /// values in the order of the family's label names.
    ///
    /// A series whose label values do not match the label names, whose
    /// value does not fit the family's kind (a histogram in a counter
    /// family, a negative float counter, unordered buckets), or whose label
    /// values repeat an earlier one's, is left out and the first such is
    /// the error; every other series is set all the same, so one bad series
    /// never hides the rest.
    ///
    /// ```
    /// use nanometrics::{CollectedValue, MetricKind, Registry};
    /// let r = Registry::new();
    /// let lat = r.metric("latency_seconds", "Latency.").collected(MetricKind::Histogram, &[])?;
    /// lat.set([(vec![], CollectedValue::Histogram { buckets: vec![(0.1, 2), (1.0, 3), (f64::INFINITY, 4)], sum: 2.5 })])?;
    /// let snap = r.snapshot();
    /// let h = snap.families[0].series[0].value.as_histogram().unwrap();
    /// assert_eq!((h.count, h.sum, h.buckets.clone()), (4, 2.5, vec![(0.1, 2), (1.0, 3), (f64::INFINITY, 4)]));
    /// let bad = lat.set([(vec![], CollectedValue::Gauge(1.0))]);
    /// assert!(matches!(bad, Err(nanometrics::Error::InvalidValue(_))));
    /// assert!(r.snapshot().families[0].series.is_empty());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn set(
        &self,
        series: impl IntoIterator<Item = (Vec<String>, CollectedValue)>,
    ) -> Result<(), Error> {
        let inner = &*self.inner;
        // Drawn before the lock: an iterator may read the registry.
        let series: Vec<_> = series.into_iter().collect();
        let mut table = lock_std(&inner.table);
        let mut old: HashMap<Values, (RenderCache, SystemTime)> =
            std::mem::take(&mut table.entries)
                .into_iter()
                .map(|e| (e.values, (e.text, e.created)))
                .collect();
        let mut seen: HashSet<Values> = HashSet::new();
        let mut first_error = None;
        let now = SystemTime::now();
        for (labels, value) in series {
            let checked = check_labels(&inner.names, labels)
                .and_then(|values| {
                    if seen.contains(&values) {
                        return Err(Error::InvalidValue(format!(
                            "the label values {values:?} appear twice"
                        )));
                    }
                    Ok(values)
                })
                .and_then(|values| Ok((to_value(inner.kind, value, &mut table)?, values)));
            match checked {
                Ok((value, values)) => {
                    // A continuing series keeps its allocation of label
                    // values: its `SeriesId`.
                    let (values, (text, created)) = old
                        .remove_entry(&values)
                        .unwrap_or((values, (RenderCache::default(), now)));
                    seen.insert(values.clone());
                    table.entries.push(Entry {
                        values,
                        text,
                        value,
                        created,
                    });
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// How many series the last [`set`](Self::set) left.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let g = r.metric("temp", "t").collected(nanometrics::MetricKind::Gauge, &["room"])?;
    /// g.set([(vec!["a".into()], nanometrics::CollectedValue::Gauge(20.5))])?;
    /// assert_eq!(g.len(), 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        lock_std(&self.inner.table).entries.len()
    }

    /// Whether the family has no series.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let g = r.metric("temp", "t").collected(nanometrics::MetricKind::Gauge, &[])?;
    /// assert!(g.is_empty());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn check_labels(names: &[Box<str>], labels: Vec<String>) -> Result<Values, Error> {
    if labels.len() != names.len() {
        return Err(Error::LabelMismatch(format!(
            "{} label values {labels:?} for the label names {names:?}",
            labels.len()
        )));
    }
    for v in &labels {
        check_text("label value", v)?;
    }
    Ok(labels.into_iter().map(String::into_boxed_str).collect())
}

fn to_value(kind: MetricKind, v: CollectedValue, table: &mut Table) -> Result<Value, Error> {
    use CollectedValue as C;
    let wrong = |v: &CollectedValue| {
        Error::InvalidValue(format!("{v:?} does not fit a {} family", kind.as_str()))
    };
    Ok(match (kind, v) {
        (MetricKind::Counter, C::Counter(n)) => Value::Counter(n),
        (MetricKind::Counter, C::FloatCounter(x)) if x.is_finite() && x >= 0.0 => {
            Value::FloatCounter(x)
        }
        (MetricKind::Gauge, C::Gauge(x)) => Value::Gauge(x),
        (MetricKind::Info, C::Gauge(x)) if x == 1.0 => Value::Gauge(x),
        (MetricKind::StateSet, C::Gauge(x)) if x == 0.0 || x == 1.0 => Value::Gauge(x),
        (MetricKind::UpDownCounter, C::UpDownCounter(n)) => Value::UpDownCounter(n),
        (MetricKind::Histogram, C::Histogram { buckets, sum }) => {
            let per_bucket = check_buckets(&buckets)?;
            let bounds: Vec<f64> = buckets[..buckets.len() - 1].iter().map(|b| b.0).collect();
            let layout = layout_for(table, &bounds)?;
            Value::Histogram(Box::new(HistogramSnapshot::from_classic(
                &layout,
                &per_bucket,
                sum,
            )))
        }
        (MetricKind::Summary, C::Summary { count, sum }) => {
            let layout = layout_for(table, &[])?;
            Value::Summary(Box::new(HistogramSnapshot::from_classic(
                &layout,
                &[count],
                sum,
            )))
        }
        (_, v) => return Err(wrong(&v)),
    })
}

/// Per-bucket counts of cumulative `buckets`, checked: increasing bounds,
/// `+Inf` last, counts that never fall.
fn check_buckets(buckets: &[(f64, u64)]) -> Result<Vec<u64>, Error> {
    let bad = |why: &str| Error::InvalidValue(format!("histogram buckets {buckets:?}: {why}"));
    match buckets.last() {
        Some((b, _)) if *b == f64::INFINITY => {}
        _ => return Err(bad("the last bound must be +Inf")),
    }
    let mut per_bucket = Vec::with_capacity(buckets.len());
    let (mut prev_bound, mut prev_count) = (f64::NEG_INFINITY, 0u64);
    for (i, &(b, c)) in buckets.iter().enumerate() {
        if b.is_nan() || (i > 0 && b <= prev_bound) || b == f64::NEG_INFINITY {
            return Err(bad("bounds must increase"));
        }
        if c < prev_count {
            return Err(bad("cumulative counts must not fall"));
        }
        per_bucket.push(c - prev_count);
        (prev_bound, prev_count) = (b, c);
    }
    Ok(per_bucket)
}

fn layout_for(table: &mut Table, bounds: &[f64]) -> Result<Arc<Layout>, Error> {
    if let Some(l) = table.layouts.iter().find(|l| l.finite_bounds() == bounds) {
        return Ok(l.clone());
    }
    let layout = Arc::new(Layout::new(bounds).map_err(|e| match e {
        Error::InvalidBuckets(why) => Error::InvalidValue(format!("histogram buckets: {why}")),
        e => e,
    })?);
    // Each read copies the pieces: bounds spread over hundreds of octaves
    // would make that megabytes per series.
    if layout.pieces().len() > MAX_PIECES {
        return Err(Error::InvalidValue(format!(
            "histogram buckets {bounds:?} span too wide a range ({} pieces; at most {MAX_PIECES})",
            layout.pieces().len()
        )));
    }
    if table.layouts.len() == LAYOUTS_KEPT {
        table.layouts.remove(0);
    }
    table.layouts.push(layout.clone());
    Ok(layout)
}

// === held for a read (visit::LockedFamily) ===

struct LockedCollected<'a>(MutexGuard<'a, Table>);

impl LockedFamily for LockedCollected<'_> {
    fn read(&self, _: &Reader, labels: &Arc<FamilyLabels>, out: &mut Vec<SeriesSnapshot>) {
        out.extend(self.0.entries.iter().map(|e| SeriesSnapshot {
            created: e.created,
            labels: LabelSet {
                family: labels.clone(),
                values: e.values.clone(),
            },
            value: e.value.clone(),
            exemplars: Vec::new(),
        }));
    }

    fn for_each(&self, _: &Reader, _exemplars: bool, f: &mut SeriesReadFn<'_>) {
        for e in &self.0.entries {
            f(&SeriesView {
                values: &e.values,
                cache: &e.text,
                value: &e.value,
                exemplars: &[],
                created: e.created,
            });
        }
    }

    fn handles(&self, _: &Arc<FamilyLabels>, _: &mut Vec<(LabelSet, SeriesHandle)>) {
        // Collected series have no handle: nothing to window or watch.
    }
}

impl Lockable for CollectedInner {
    fn lock_family(&self) -> Box<dyn LockedFamily + '_> {
        Box::new(LockedCollected(lock_std(&self.table)))
    }
}
