//! [`Snapshot`]: the one thing exporters read.
//!
//! ```text
//! Snapshot
//! └── families: Vec<FamilySnapshot>     one per exposed name, in registration order
//!     ├── name, help, unit, kind        name already carries the registry prefix
//!     └── series: Vec<SeriesSnapshot>   in creation order
//!         ├── labels: LabelSet          constant labels first, then variable ones
//!         └── value: Value              Counter(u64) | FloatCounter(f64) | Gauge(f64)
//!                                       | UpDownCounter(i64) | Histogram(HistogramSnapshot)
//!                                       | Summary(HistogramSnapshot)
//! ```
//!
//! Every value in a snapshot is read under one acquisition of the shard lock,
//! so no thread exits (folds) half-way through it; each histogram is
//! internally consistent (`count == Σ buckets == +Inf bucket`, with `sum`,
//! `min` and `max` of the same observations).

use std::sync::Arc;

use crate::exemplar::ExemplarSnapshot;
use crate::histogram_snapshot::HistogramSnapshot;

/// Label values of one series, shared with snapshots.
pub(crate) type Values = Arc<[Box<str>]>;

/// Constant labels of a registration, shared by all its series.
pub(crate) type ConstLabels = Arc<[(Box<str>, Box<str>)]>;

/// The type of a metric family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
///
/// ```
/// # let r = nanometrics::Registry::new();
/// r.up_down_counter("q", "q")?;
/// assert_eq!(r.snapshot().families[0].kind, nanometrics::MetricKind::UpDownCounter);
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub enum MetricKind {
    /// Monotonic `u64` ([`Counter`](crate::Counter)) or `f64`
    /// ([`FloatCounter`](crate::FloatCounter)).
    Counter,
    /// Set-able `f64` ([`Gauge`](crate::Gauge)).
    Gauge,
    /// Sharded `i64` ([`UpDownCounter`](crate::UpDownCounter)); exposed as a gauge.
    UpDownCounter,
    /// Distribution ([`Histogram`](crate::Histogram)).
    Histogram,
    /// Count and sum ([`Summary`](crate::Summary)).
    Summary,
    /// Gauges of value 1 whose labels carry the information (build version,
    /// configuration): [`MetricBuilder::info_family`](crate::MetricBuilder::info_family).
    /// The name ends in `_info`; OpenMetrics exposes the type `info`, the
    /// text format a gauge.
    Info,
    /// Gauges of value 0 or 1, one per state, the state in a label named
    /// like the family: [`MetricBuilder::state_set_family`](crate::MetricBuilder::state_set_family).
    /// OpenMetrics exposes the type `stateset`, the text format a gauge.
    StateSet,
}

impl MetricKind {
    /// Lower-case name (`"counter"`, `"gauge"`, `"up_down_counter"`,
    /// `"histogram"`, `"summary"`, `"info"`, `"stateset"`).
    ///
    /// ```
    /// assert_eq!(nanometrics::MetricKind::Histogram.as_str(), "histogram");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::UpDownCounter => "up_down_counter",
            MetricKind::Histogram => "histogram",
            MetricKind::Summary => "summary",
            MetricKind::Info => "info",
            MetricKind::StateSet => "stateset",
        }
    }
}

/// One series' value.
#[derive(Clone, Debug, PartialEq)]
///
/// ```
/// # let r = nanometrics::Registry::new();
/// r.counter("x_total", "x")?.inc();
/// assert_eq!(r.snapshot().families[0].series[0].value.as_counter(), Some(1));
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub enum Value {
    /// A counter total.
    Counter(u64),
    /// A float counter total.
    FloatCounter(f64),
    /// A gauge (may be NaN or ±Inf).
    Gauge(f64),
    /// An up-down counter.
    UpDownCounter(i64),
    /// A consistent histogram read (boxed: it is much larger than the other
    /// variants, and a snapshot holds one `Value` per series).
    Histogram(Box<HistogramSnapshot>),
    /// A consistent summary read (count, sum, min, max; boxed like
    /// `Histogram`).
    Summary(Box<HistogramSnapshot>),
}

impl Value {
    /// The counter total, if this is a counter.
    ///
    /// ```
    /// use nanometrics::Value;
    /// assert_eq!(Value::Counter(3).as_counter(), Some(3));
    /// assert_eq!(Value::Gauge(1.0).as_counter(), None);
    /// ```
    pub fn as_counter(&self) -> Option<u64> {
        match self {
            Value::Counter(v) => Some(*v),
            _ => None,
        }
    }

    /// The value as an `f64`, for every scalar variant (counters, float
    /// counters, gauges, up-down counters); `None` for distributions.
    ///
    /// ```
    /// use nanometrics::Value;
    /// assert_eq!(Value::Counter(3).as_f64(), Some(3.0));
    /// assert_eq!(Value::FloatCounter(0.5).as_f64(), Some(0.5));
    /// assert_eq!(Value::UpDownCounter(-1).as_f64(), Some(-1.0));
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Counter(v) => Some(*v as f64),
            Value::FloatCounter(v) | Value::Gauge(v) => Some(*v),
            Value::UpDownCounter(v) => Some(*v as f64),
            Value::Histogram(_) | Value::Summary(_) => None,
        }
    }

    /// The gauge value, if this is a gauge.
    ///
    /// ```
    /// assert_eq!(nanometrics::Value::Gauge(0.5).as_gauge(), Some(0.5));
    /// ```
    pub fn as_gauge(&self) -> Option<f64> {
        match self {
            Value::Gauge(v) => Some(*v),
            _ => None,
        }
    }

    /// The up-down counter value, if this is one.
    ///
    /// ```
    /// assert_eq!(nanometrics::Value::UpDownCounter(-2).as_up_down_counter(), Some(-2));
    /// ```
    pub fn as_up_down_counter(&self) -> Option<i64> {
        match self {
            Value::UpDownCounter(v) => Some(*v),
            _ => None,
        }
    }

    /// The histogram snapshot, if this is a histogram.
    ///
    /// ```
    /// assert!(nanometrics::Value::Counter(1).as_histogram().is_none());
    /// ```
    pub fn as_histogram(&self) -> Option<&HistogramSnapshot> {
        match self {
            Value::Histogram(h) => Some(h),
            _ => None,
        }
    }

    /// The distribution behind a histogram or a summary.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// r.summary("x", "x")?.observe(2.0);
    /// assert_eq!(r.snapshot().families[0].series[0].value.as_distribution().unwrap().sum, 2.0);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn as_distribution(&self) -> Option<&HistogramSnapshot> {
        match self {
            Value::Histogram(h) | Value::Summary(h) => Some(h),
            _ => None,
        }
    }
}

/// The labels of one series: constant labels (from sub-registries and the
/// builder) first, then the family's variable labels, in declaration order.
///
/// ```
/// use nanometrics::Registry;
/// let r = Registry::new();
/// let c = r.sub_registry("worker", &[("dynamo_namespace", "prod")])?;
/// c.counter_family("jobs_total", "Jobs.", &["queue"])?.with_labels(&["fast"])?.inc();
/// let snap = r.snapshot();
/// let s = &snap.families[0].series[0];
/// assert_eq!(s.labels.iter().collect::<Vec<_>>(), [("dynamo_namespace", "prod"), ("queue", "fast")]);
/// assert_eq!(s.labels.get("queue"), Some("fast"));
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct LabelSet {
    pub(crate) family: Arc<FamilyLabels>,
    pub(crate) values: Values,
}

/// What every series of one registration shares: constant labels and the
/// family's label names.
#[derive(Debug, PartialEq)]
pub(crate) struct FamilyLabels {
    pub(crate) consts: ConstLabels,
    pub(crate) names: Arc<[Box<str>]>,
    /// A collected family's (values set whole by another library).
    pub(crate) collected: bool,
}

impl LabelSet {
    /// Whether the series is a collected family's (a
    /// [`CollectedFamily`](crate::CollectedFamily): another library keeps
    /// its values, so its [`created`](SeriesSnapshot::created) is only when
    /// nanometrics first saw it, and exporters write no `_created` for it).
    ///
    /// ```
    /// let r = nanometrics::Registry::new();
    /// r.counter("own_total", "x")?;
    /// r.metric("theirs_total", "x").collected(nanometrics::MetricKind::Counter, &[])?
    ///     .set([(vec![], nanometrics::CollectedValue::Counter(1))])?;
    /// let snap = r.snapshot();
    /// assert_eq!(snap.family("own_total").unwrap().series[0].labels.is_collected(), false);
    /// assert_eq!(snap.family("theirs_total").unwrap().series[0].labels.is_collected(), true);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn is_collected(&self) -> bool {
        self.family.collected
    }

    /// `(name, value)` pairs, constant labels first.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// # r.sub_registry("", &[("zone", "a")])?.counter_family("x_total", "x", &["code"])?.with_labels(&["200"])?;
    /// let snap = r.snapshot();
    /// let labels = &snap.families[0].series[0].labels;
    /// assert_eq!(labels.iter().collect::<Vec<_>>(), [("zone", "a"), ("code", "200")]);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        let f = &*self.family;
        f.consts.iter().map(|(k, v)| (&**k, &**v)).chain(
            f.names
                .iter()
                .zip(self.values.iter())
                .map(|(k, v)| (&**k, &**v)),
        )
    }

    /// Number of labels.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// # r.sub_registry("", &[("zone", "a")])?.counter_family("x_total", "x", &["code"])?.with_labels(&["200"])?;
    /// let snap = r.snapshot();
    /// let labels = &snap.families[0].series[0].labels;
    /// assert_eq!(labels.len(), 2);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.family.consts.len() + self.family.names.len()
    }

    /// Whether there are no labels.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// # r.sub_registry("", &[("zone", "a")])?.counter_family("x_total", "x", &["code"])?.with_labels(&["200"])?;
    /// let snap = r.snapshot();
    /// let labels = &snap.families[0].series[0].labels;
    /// assert!(!labels.is_empty());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of label `name`.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// # r.sub_registry("", &[("zone", "a")])?.counter_family("x_total", "x", &["code"])?.with_labels(&["200"])?;
    /// let snap = r.snapshot();
    /// let labels = &snap.families[0].series[0].labels;
    /// assert_eq!(labels.get("code"), Some("200"));
    /// assert_eq!(labels.get("nope"), None);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }
}

/// Which series a [`LabelSet`] belongs to, without comparing labels: equal
/// for every read of one series, and different for two series that are
/// alive at once. A series removed and declared again is another series.
/// It is only meaningful while a label set of the series is alive (a
/// reader that keeps state per series keeps one of its label sets with
/// it, so the identity cannot be reused meanwhile).
///
/// ```
/// # let r = nanometrics::Registry::new();
/// let f = r.counter_family("x_total", "x", &["code"])?;
/// f.with_labels(&["200"])?;
/// f.with_labels(&["500"])?;
/// let (a, b) = (r.snapshot(), r.snapshot());
/// let id = |s: &nanometrics::Snapshot, i: usize| s.families[0].series[i].labels.series_id();
/// assert_eq!(id(&a, 0), id(&b, 0));
/// assert_ne!(id(&a, 0), id(&a, 1));
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeriesId(usize, usize);

impl LabelSet {
    /// This series' [`SeriesId`].
    pub fn series_id(&self) -> SeriesId {
        // Each series holds its own allocation of label values (an empty
        // one too: an `Arc` always allocates its counts), and each
        // registration its own `FamilyLabels`.
        SeriesId(
            Arc::as_ptr(&self.family) as usize,
            Arc::as_ptr(&self.values) as *const Box<str> as usize,
        )
    }
}

impl PartialEq for LabelSet {
    fn eq(&self, o: &Self) -> bool {
        self.iter().eq(o.iter())
    }
}

/// One series of a family.
#[derive(Clone, Debug, PartialEq)]
///
/// ```
/// # let r = nanometrics::Registry::new();
/// # r.sub_registry("", &[("zone", "a")])?.counter_family("x_total", "x", &["code"])?.with_labels(&["200"])?;
/// let snap = r.snapshot();
/// let labels = &snap.families[0].series[0].labels;
/// assert_eq!(snap.families[0].series[0].value, nanometrics::Value::Counter(0));
/// assert!(snap.families[0].series[0].created <= std::time::SystemTime::now());
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub struct SeriesSnapshot {
    /// Its labels.
    pub labels: LabelSet,
    /// Its value.
    pub value: Value,
    /// When the series was created (its family's `with_labels` that made
    /// it, or the declaration of a metric without labels): the start of
    /// its cumulative values. A series removed and created again starts
    /// anew.
    pub created: std::time::SystemTime,
    /// The latest exemplar of each bucket (histograms: in the order of
    /// their `buckets`) or of the series (counters: one entry); empty when
    /// none was ever recorded, and for the other types.
    pub exemplars: Vec<Option<ExemplarSnapshot>>,
}

/// All series exposed under one name.
#[derive(Clone, Debug, PartialEq)]
///
/// ```
/// # let r = nanometrics::Registry::new();
/// r.metric("lat_seconds", "Latency.").unit("seconds").build::<nanometrics::Gauge>()?;
/// let f = &r.snapshot().families[0];
/// assert_eq!((f.name.as_str(), f.help.as_str(), f.unit.as_deref()), ("lat_seconds", "Latency.", Some("seconds")));
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub struct FamilySnapshot {
    /// Full name, registry prefix included (e.g. `dynamo_component_requests_total`).
    pub name: String,
    /// Help text as given (not escaped).
    pub help: String,
    /// Unit, if declared (the name ends with it).
    pub unit: Option<String>,
    /// Metric type.
    pub kind: MetricKind,
    /// Series, in the order they were created (a removal moves the
    /// family's newest series into the gap).
    pub series: Vec<SeriesSnapshot>,
}

/// A point-in-time read of a registry (and every sub-registry below it).
///
/// ```
/// use nanometrics::{Registry, Value};
/// let r = Registry::new();
/// r.counter("requests_total", "Requests.")?.inc_by(3);
/// let snap = r.snapshot();
/// assert_eq!(snap.families[0].name, "requests_total");
/// assert_eq!(snap.families[0].series[0].value, Value::Counter(3));
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Families in registration order.
    pub families: Vec<FamilySnapshot>,
}

impl Snapshot {
    /// The family named `name`.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// r.gauge("temp", "t")?.set(1.0);
    /// assert!(r.snapshot().family("temp").is_some());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn family(&self, name: &str) -> Option<&FamilySnapshot> {
        self.families.iter().find(|f| f.name == name)
    }
}
