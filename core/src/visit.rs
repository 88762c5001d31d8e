//! The borrowed view of [`Registry::visit`](crate::Registry::visit): the
//! fast path for encoders. Each family is lent under the same locks a
//! snapshot takes, its series read on demand, nothing copied; each series
//! carries a [`RenderCache`] for the bytes an exporter derives from its
//! fixed labels.
//!
//! ```
//! let r = nanometrics::Registry::new();
//! r.counter_family("jobs_total", "Jobs.", &["queue"])?.with_labels(&["fast"])?.inc_by(3);
//! let mut lines = Vec::new();
//! r.visit(|family: &nanometrics::visit::FamilyView<'_>| {
//!     family.for_each_group(|group| {
//!         group.for_each_series(&mut |values, value| {
//!             lines.push(format!("{}{{queue={}}} {:?}", family.name, values[0], value.as_counter()));
//!         });
//!     });
//! });
//! assert_eq!(lines, ["jobs_total{queue=fast} Some(3)"]);
//! # Ok::<(), nanometrics::Error>(())
//! ```

use std::sync::Arc;

use crate::exemplar::ExemplarSnapshot;
use crate::series_handle::SeriesHandle;
use crate::shard::Reader;
use crate::snapshot::{FamilyLabels, LabelSet, MetricKind, SeriesSnapshot, Value};

/// A family held under its read lock for one read (a snapshot or a
/// visit). Its read lock is taken before the shard
/// lock, the same order as an insert's (family, then shard), so no series is
/// removed, and no handle dropped, while the shard reader holds its lock.
pub(crate) trait LockedFamily {
    /// Appends every series, each labelled with `labels` and its values.
    fn read(&self, r: &Reader, labels: &Arc<FamilyLabels>, out: &mut Vec<SeriesSnapshot>);
    /// Hands every series' label values, render cache and value to `f`,
    /// copying nothing; and its exemplars when `exemplars` (else none).
    fn for_each(&self, r: &Reader, exemplars: bool, f: &mut SeriesReadFn<'_>);
    /// Appends every series' labels and a handle to it (no shard read).
    fn handles(&self, labels: &Arc<FamilyLabels>, out: &mut Vec<(LabelSet, SeriesHandle)>);
}

/// A family, type-erased for the registry: how to hold it for a read.
pub(crate) trait Lockable: Send + Sync {
    fn lock_family(&self) -> Box<dyn LockedFamily + '_>;
}

/// What [`SeriesGroup::for_each_series_with_cache`] calls per series: its label
/// values, its [`RenderCache`], its value.
pub type SeriesWithCacheFn<'f> = dyn FnMut(&[Box<str>], &RenderCache, &Value) + 'f;

/// One series as [`SeriesGroup::for_each_series_view`] lends it: all a
/// read knows of it, borrowed.
#[derive(Debug)]
#[non_exhaustive]
pub struct SeriesView<'a> {
    /// Its label values, in [`SeriesGroup::label_names`] order.
    pub values: &'a [Box<str>],
    /// Bytes an exporter keeps for it across reads.
    pub cache: &'a RenderCache,
    /// Its value.
    pub value: &'a Value,
    /// Its latest exemplars, as [`SeriesSnapshot::exemplars`] (empty
    /// unless asked for).
    pub exemplars: &'a [Option<ExemplarSnapshot>],
    /// When it was created, as [`SeriesSnapshot::created`].
    pub created: std::time::SystemTime,
}

/// The one per-series callback of [`LockedFamily::for_each`].
pub(crate) type SeriesReadFn<'f> = dyn FnMut(&SeriesView<'_>) + 'f;

/// Bytes an exporter keeps per series across reads, derived from what never
/// changes for a series (its family's name and constant labels, its label
/// values): the text exporters render the label part of a sample line once
/// and copy it on every scrape after. Set once; dropped with the series.
/// It must depend only on those fixed parts, the same for every format that
/// uses it.
#[derive(Clone, Default)]
pub struct RenderCache(std::sync::OnceLock<Box<[u8]>>);

impl std::fmt::Debug for RenderCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RenderCache")
            .field(&self.0.get().map(|b| String::from_utf8_lossy(b)))
            .finish()
    }
}

impl RenderCache {
    /// The bytes, made by `init` on first use.
    ///
    /// ```
    /// let t = nanometrics::visit::RenderCache::default();
    /// assert_eq!(t.get_or_init(|| b"x".to_vec()), b"x");
    /// assert_eq!(t.get_or_init(|| b"y".to_vec()), b"x");
    /// ```
    pub fn get_or_init(&self, init: impl FnOnce() -> Vec<u8>) -> &[u8] {
        self.0.get_or_init(|| init().into_boxed_slice())
    }
}

/// One family as [`Registry::visit`](crate::Registry::visit) lends it:
/// what a [`FamilySnapshot`](crate::FamilySnapshot) holds, borrowed, with the values read on demand.
pub struct FamilyView<'a> {
    /// Full name, registry prefix included.
    pub name: &'a str,
    /// Help text as given.
    pub help: &'a str,
    /// Unit, if declared.
    pub unit: Option<&'a str>,
    /// Metric type.
    pub kind: MetricKind,
    pub(crate) parts: &'a [(Arc<FamilyLabels>, &'a dyn LockedFamily)],
    pub(crate) reader: &'a Reader,
}

impl std::fmt::Debug for FamilyView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FamilyView")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish()
    }
}

impl FamilyView<'_> {
    /// The family's series in groups that share constant labels and label
    /// names (one group per registration of the name), in snapshot order.
    ///
    /// ```
    /// let r = nanometrics::Registry::new();
    /// r.sub_registry("", &[("zone", "a")])?.gauge("temp", "t")?.set(1.0);
    /// r.sub_registry("", &[("zone", "b")])?.gauge("temp", "t")?.set(2.0);
    /// let mut groups = 0;
    /// r.visit(|f| f.for_each_group(|g| {
    ///     groups += 1;
    ///     assert_eq!(g.const_labels().next().unwrap().0, "zone");
    /// }));
    /// assert_eq!(groups, 2);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn for_each_group(&self, mut f: impl FnMut(&SeriesGroup<'_>)) {
        for (labels, locked) in self.parts {
            f(&SeriesGroup {
                labels,
                locked: *locked,
                reader: self.reader,
            });
        }
    }
}

/// Series of one registration inside a [`FamilyView`]: shared constant
/// labels and label names, then each series' values.
pub struct SeriesGroup<'a> {
    labels: &'a FamilyLabels,
    locked: &'a dyn LockedFamily,
    reader: &'a Reader,
}

impl std::fmt::Debug for SeriesGroup<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeriesGroup")
            .field("labels", self.labels)
            .finish()
    }
}

impl SeriesGroup<'_> {
    /// Constant labels, `(name, value)`.
    ///
    /// ```
    /// let r = nanometrics::Registry::new();
    /// r.sub_registry("", &[("zone", "a")])?.gauge("temp", "t")?;
    /// r.visit(|f| f.for_each_group(|g| assert_eq!(g.const_labels().collect::<Vec<_>>(), [("zone", "a")])));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn const_labels(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.labels.consts.iter().map(|(k, v)| (&**k, &**v))
    }

    /// Whether these series are a collected family's (see
    /// [`LabelSet::is_collected`](crate::LabelSet::is_collected)).
    ///
    /// ```
    /// let r = nanometrics::Registry::new();
    /// r.counter("x_total", "x")?;
    /// r.visit(|f| f.for_each_group(|g| assert!(!g.is_collected())));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn is_collected(&self) -> bool {
        self.labels.collected
    }

    /// Names of the variable labels, in the order of each series' values.
    ///
    /// ```
    /// let r = nanometrics::Registry::new();
    /// r.counter_family("x_total", "x", &["a", "b"])?;
    /// r.visit(|f| f.for_each_group(|g| assert_eq!(g.label_names().collect::<Vec<_>>(), ["a", "b"])));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn label_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.labels.names.iter().map(|k| &**k)
    }

    /// Hands each series' label values (in [`label_names`](Self::label_names)
    /// order) and its value to `f`, in snapshot order.
    ///
    /// ```
    /// let r = nanometrics::Registry::new();
    /// r.counter_family("x_total", "x", &["a"])?.with_labels(&["1"])?.inc();
    /// let mut n = 0;
    /// r.visit(|f| f.for_each_group(|g| g.for_each_series(&mut |values, value| {
    ///     assert_eq!((&*values[0], value.as_counter()), ("1", Some(1)));
    ///     n += 1;
    /// })));
    /// assert_eq!(n, 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn for_each_series(&self, f: &mut dyn FnMut(&[Box<str>], &Value)) {
        self.locked
            .for_each(self.reader, false, &mut |s| f(s.values, s.value));
    }

    /// [`for_each_series`](Self::for_each_series), also lending each
    /// series' [`RenderCache`]: bytes an exporter derived from the series'
    /// labels on an earlier read (they never change for a series).
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// r.counter_family("x_total", "x", &["a"])?.with_labels(&["1"])?.inc();
    /// for _ in 0..2 {
    ///     r.visit(|f| f.for_each_group(|g| g.for_each_series_with_cache(&mut |values, text, _| {
    ///         let t = text.get_or_init(|| format!("a={}", values[0]).into_bytes());
    ///         assert_eq!(t, b"a=1");
    ///     })));
    /// }
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn for_each_series_with_cache(&self, f: &mut SeriesWithCacheFn<'_>) {
        self.locked
            .for_each(self.reader, false, &mut |s| f(s.values, s.cache, s.value));
    }

    /// Each series as a [`SeriesView`]: its label values, render cache,
    /// value and creation time, and its latest exemplars when `exemplars`
    /// (one per bucket of a histogram, in the order of its `buckets`; one
    /// for a counter; none when none was recorded).
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let c = r.counter("x_total", "x")?;
    /// c.inc_by_with_exemplar(2, &nanometrics::Exemplar::new([("trace_id", "abc")])?);
    /// r.visit(|f| f.for_each_group(|g| g.for_each_series_view(true, &mut |s| {
    ///     assert_eq!(s.exemplars[0].as_ref().map(|e| e.value), Some(2.0));
    ///     assert!(s.created <= std::time::SystemTime::now());
    /// })));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn for_each_series_view(&self, exemplars: bool, f: &mut dyn FnMut(&SeriesView<'_>)) {
        self.locked.for_each(self.reader, exemplars, f);
    }
}
