//! [`Family`]: one metric per label-value set, resolved by the values
//! themselves.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hashbrown::HashTable;

/// A random per-family hash seed; under loom a fixed one, so that table
/// layouts (and with them drop orders of handles) replay identically in every
/// explored execution.
fn hash_seed() -> u64 {
    #[cfg(not(nanometrics_loom))]
    return std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), 0u64);
    #[cfg(nanometrics_loom)]
    return 0x5EED;
}

use crate::bucket_layout::Layout;
use crate::buckets::Buckets;
use crate::counter::{Counter, FloatCounter, UpDownCounter};
use crate::error::Error;
use crate::exemplar::ExemplarSnapshot;
use crate::gauge::Gauge;
use crate::histogram::Histogram;
use crate::series_handle::SeriesHandle;
use crate::shard::Reader;
use crate::snapshot::{FamilyLabels, LabelSet, MetricKind, SeriesSnapshot, Value, Values};
use crate::summary::Summary;
use crate::visit::{Lockable, LockedFamily, RenderCache, SeriesReadFn, SeriesView};

/// Default cardinality limit of a family: label sets beyond it share one
/// overflow series.
///
/// ```
/// # let r = nanometrics::Registry::new();
/// let f = r.counter_family("x_total", "x", &["id"])?;
/// for i in 0..nanometrics::DEFAULT_CARDINALITY_LIMIT + 5 {
///     f.with_labels(&[i.to_string()])?.inc();
/// }
/// assert_eq!(f.len(), nanometrics::DEFAULT_CARDINALITY_LIMIT + 1); // + the overflow series
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub const DEFAULT_CARDINALITY_LIMIT: usize = 2000;

/// The label value every label of the overflow series carries.
///
/// ```
/// # let r = nanometrics::Registry::new();
/// let f = r.metric("x_total", "x").cardinality_limit(1).family::<nanometrics::Counter>(&["id"])?;
/// f.with_labels(&["a"])?.inc();
/// f.with_labels(&["b"])?.inc();
/// assert_eq!(f.get(&[nanometrics::OVERFLOW_LABEL_VALUE]).unwrap().get(), 1);
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub const OVERFLOW_LABEL_VALUE: &str = "__overflow__";

/// The counter family, registered in the root registry on a family's first
/// overflow, that counts the lookups each family's cardinality limit sent to
/// its overflow series; its one label, `family`, is the family's full name.
/// Every such lookup counts, the thread-cached ones too (a cache hit on an
/// overflowed label set costs one more `inc`). A registry that declares
/// this name itself as something else gets no overflow counts. (The Python
/// layer keeps a child per label set, so there each label set counts once.)
///
/// ```
/// # let r = nanometrics::Registry::new();
/// let f = r.metric("users_total", "x").cardinality_limit(1).family::<nanometrics::Counter>(&["user"])?;
/// for u in ["a", "b", "c", "c"] { f.with_labels(&[u])?.inc(); }
/// let overflowed = r.counter_family(nanometrics::OVERFLOW_COUNTER_NAME, nanometrics::OVERFLOW_COUNTER_HELP, &["family"])?;
/// assert_eq!(overflowed.with_labels(&["users_total"])?.get(), 3); // b, c, c
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub const OVERFLOW_COUNTER_NAME: &str = "nanometrics_cardinality_overflow_total";

/// The HELP text of [`OVERFLOW_COUNTER_NAME`].
pub const OVERFLOW_COUNTER_HELP: &str =
    "Label-set lookups that found the family at its cardinality limit and were given its overflow series.";

pub(crate) mod sealed {
    use super::*;

    /// What a family needs from its metric type. Not implementable outside
    /// this crate.
    pub trait Sealed: Sized {
        type Config: Clone + Send + Sync + fmt::Debug + 'static;
        /// The configuration a declaration's buckets make (and the bounds
        /// two declarations of one name must agree on); `None` buckets are
        /// the type's default.
        fn config(buckets: Option<&Buckets>) -> Result<(Self::Config, Option<Vec<f64>>), Error>;
        const KIND: MetricKind;
        fn create(cfg: &Self::Config) -> Result<Self, Error>;
        fn read(&self, r: &Reader) -> Value;
        /// The series' latest exemplars (one per bucket, or one for a
        /// counter) into `out`; empty for types without exemplars or when
        /// none was recorded.
        fn exemplars(&self, _r: &Reader, out: &mut Vec<Option<ExemplarSnapshot>>) {
            out.clear();
        }
        /// The series' identity while this handle lives.
        fn series_id(&self) -> usize;
        /// Runs `f` on this thread's lookup cache for this metric type;
        /// `None` when the cache is unavailable (TLS teardown, re-entry, loom).
        fn with_cache<R>(f: impl FnOnce(&mut LocalCache<Self>) -> R) -> Option<R>;
    }
}

/// Defines `with_cache` with a thread-local cache of its own for one type.
macro_rules! local_cache {
    ($t:ty) => {
        #[cfg(not(nanometrics_loom))]
        fn with_cache<R>(f: impl FnOnce(&mut LocalCache<$t>) -> R) -> Option<R> {
            std::thread_local! {
                static CACHE: std::cell::RefCell<LocalCache<$t>> =
                    const { std::cell::RefCell::new(LocalCache::new()) };
            }
            CACHE
                .try_with(|c| c.try_borrow_mut().ok().map(|mut c| f(&mut c)))
                .ok()
                .flatten()
        }
        // The models exercise the shards; the cache is plain thread-local data.
        #[cfg(nanometrics_loom)]
        fn with_cache<R>(_: impl FnOnce(&mut LocalCache<$t>) -> R) -> Option<R> {
            None
        }
    };
}

/// A metric type that can live in a [`Family`]: [`Counter`],
/// [`FloatCounter`], [`Gauge`], [`UpDownCounter`], [`Histogram`] or
/// [`Summary`].
///
/// ```
/// use nanometrics::{Family, Metric, Registry};
/// fn series_count<M: Metric>(f: &Family<M>) -> usize { f.len() }
/// let r = Registry::new();
/// assert_eq!(series_count(&r.gauge_family("g", "g", &["a"])?), 0);
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub trait Metric: sealed::Sealed + Clone + Send + Sync + fmt::Debug + 'static {}

impl sealed::Sealed for Counter {
    type Config = ();
    fn config(_: Option<&Buckets>) -> Result<((), Option<Vec<f64>>), Error> {
        Ok(((), None))
    }
    const KIND: MetricKind = MetricKind::Counter;
    fn create(_: &()) -> Result<Self, Error> {
        Counter::create()
    }
    fn read(&self, r: &Reader) -> Value {
        Value::Counter(Counter::read(self, r))
    }
    fn exemplars(&self, r: &Reader, out: &mut Vec<Option<ExemplarSnapshot>>) {
        Counter::exemplars(self, r, out)
    }
    fn series_id(&self) -> usize {
        Counter::series_id(self)
    }
    local_cache!(Counter);
}
impl Metric for Counter {}

impl sealed::Sealed for FloatCounter {
    type Config = ();
    fn config(_: Option<&Buckets>) -> Result<((), Option<Vec<f64>>), Error> {
        Ok(((), None))
    }
    const KIND: MetricKind = MetricKind::Counter;
    fn create(_: &()) -> Result<Self, Error> {
        FloatCounter::create()
    }
    fn read(&self, r: &Reader) -> Value {
        Value::FloatCounter(FloatCounter::read(self, r))
    }
    fn exemplars(&self, r: &Reader, out: &mut Vec<Option<ExemplarSnapshot>>) {
        FloatCounter::exemplars(self, r, out)
    }
    fn series_id(&self) -> usize {
        FloatCounter::series_id(self)
    }
    local_cache!(FloatCounter);
}
impl Metric for FloatCounter {}

impl sealed::Sealed for Summary {
    type Config = Arc<Layout>;
    fn config(_: Option<&Buckets>) -> Result<(Arc<Layout>, Option<Vec<f64>>), Error> {
        Ok((crate::summary::layout(), None))
    }
    const KIND: MetricKind = MetricKind::Summary;
    fn create(cfg: &Arc<Layout>) -> Result<Self, Error> {
        Summary::create(cfg)
    }
    fn read(&self, r: &Reader) -> Value {
        Value::Summary(Box::new(Summary::read(self, r)))
    }
    fn series_id(&self) -> usize {
        Summary::series_id(self)
    }
    local_cache!(Summary);
}
impl Metric for Summary {}

impl sealed::Sealed for UpDownCounter {
    type Config = ();
    fn config(_: Option<&Buckets>) -> Result<((), Option<Vec<f64>>), Error> {
        Ok(((), None))
    }
    const KIND: MetricKind = MetricKind::UpDownCounter;
    fn create(_: &()) -> Result<Self, Error> {
        UpDownCounter::create()
    }
    fn read(&self, r: &Reader) -> Value {
        Value::UpDownCounter(UpDownCounter::read(self, r))
    }
    fn series_id(&self) -> usize {
        UpDownCounter::series_id(self)
    }
    local_cache!(UpDownCounter);
}
impl Metric for UpDownCounter {}

impl sealed::Sealed for Gauge {
    type Config = ();
    fn config(_: Option<&Buckets>) -> Result<((), Option<Vec<f64>>), Error> {
        Ok(((), None))
    }
    const KIND: MetricKind = MetricKind::Gauge;
    fn create(_: &()) -> Result<Self, Error> {
        Ok(Gauge::create())
    }
    fn read(&self, _: &Reader) -> Value {
        Value::Gauge(self.get())
    }
    fn series_id(&self) -> usize {
        Gauge::series_id(self)
    }
    local_cache!(Gauge);
}
impl Metric for Gauge {}

impl sealed::Sealed for Histogram {
    type Config = Arc<Layout>;
    fn config(buckets: Option<&Buckets>) -> Result<(Arc<Layout>, Option<Vec<f64>>), Error> {
        let default = Buckets::default();
        let bounds = buckets.unwrap_or(&default).validated()?.to_vec();
        let layout = crate::shard::staging::fits(Layout::new(&bounds)?)?;
        Ok((Arc::new(layout), Some(bounds)))
    }
    const KIND: MetricKind = MetricKind::Histogram;
    fn create(cfg: &Arc<Layout>) -> Result<Self, Error> {
        Histogram::create(cfg)
    }
    fn read(&self, r: &Reader) -> Value {
        Value::Histogram(Box::new(Histogram::read(self, r)))
    }
    fn exemplars(&self, r: &Reader, out: &mut Vec<Option<ExemplarSnapshot>>) {
        Histogram::read_exemplars(self, r, out)
    }
    fn series_id(&self) -> usize {
        Histogram::series_id(self)
    }
    local_cache!(Histogram);
}
impl Metric for Histogram {}

/// `t` as nanoseconds since the Unix epoch (0 before it).
fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A type-erased handle to `m`'s series.
pub(crate) fn handle_of<M: Metric>(m: &M) -> SeriesHandle {
    let m = m.clone();
    SeriesHandle::new(m.series_id(), M::KIND, move |r| m.read(r))
}

/// Entries per thread and metric type in the lookup cache.
const CACHE_ENTRIES: usize = 64;

struct CacheEntry<M> {
    family: u64,
    generation: u64,
    /// `labelkey::quick_hash` of the values.
    quick: u64,
    /// The first values as samples, compared on a hit when the query's
    /// values are short (`values` otherwise).
    words: EntryWords,
    values: Values,
    metric: M,
    /// The values were sent to the overflow series: a hit counts again.
    overflowed: bool,
}

/// A thread's direct-mapped cache of recently resolved series, so that a
/// repeated `with_labels` skips the shared table. An entry is valid only for
/// the family generation it was filled in; `remove` and `clear` bump it.
/// A stale entry keeps its handle (and the series' slots) alive until it is
/// overwritten or the thread exits.
pub struct LocalCache<M> {
    entries: Vec<Option<CacheEntry<M>>>,
}

impl<M> fmt::Debug for LocalCache<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCache")
            .field("filled", &self.entries.iter().flatten().count())
            .finish()
    }
}

impl<M> LocalCache<M> {
    // Under loom the caches are off (see `local_cache!`).
    #[cfg_attr(nanometrics_loom, allow(dead_code))]
    const fn new() -> LocalCache<M> {
        LocalCache {
            entries: Vec::new(),
        }
    }

    fn index(family: u64, hash: u64) -> usize {
        (hash ^ family.wrapping_mul(0x9E37_79B9_7F4A_7C15)) as usize % CACHE_ENTRIES
    }
}

fn next_family_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    // Relaxed: only uniqueness matters.
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[derive(Clone)]
struct Entry<M> {
    hash: u64,
    values: Values,
    metric: M,
    text: RenderCache,
    /// When the series was created, nanoseconds since the Unix epoch.
    created: u64,
}

/// A family's series in creation order, indexed by label values.
///
/// Snapshots walk `entries` in order, so the exposition lists series in the
/// order they were created (a removal moves the last series into the gap)
/// without sorting on every scrape.
struct Table<M> {
    entries: Vec<Entry<M>>,
    /// Positions in `entries`, keyed by the entry's hash.
    index: HashTable<usize>,
}

impl<M> Default for Table<M> {
    fn default() -> Self {
        Table {
            entries: Vec::new(),
            index: HashTable::new(),
        }
    }
}

impl<M> Table<M> {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn find<S: AsRef<str>>(&self, hash: u64, values: &[S]) -> Option<&Entry<M>> {
        let entries = &self.entries;
        self.index
            .find(hash, |&i| same(&entries[i].values, values))
            .map(|&i| &entries[i])
    }

    fn insert(&mut self, entry: Entry<M>) {
        let entries = &self.entries;
        self.index
            .insert_unique(entry.hash, entries.len(), |&i| entries[i].hash);
        self.entries.push(entry);
    }

    fn remove<S: AsRef<str>>(&mut self, hash: u64, values: &[S]) -> Option<Entry<M>> {
        let entries = &self.entries;
        let found = self
            .index
            .find_entry(hash, |&i| same(&entries[i].values, values))
            .ok()?;
        let (i, _) = found.remove();
        let last = self.entries.len() - 1;
        if i != last {
            // The last entry moves into the gap: repoint its index slot.
            let moved = self.entries[last].hash;
            if let Some(slot) = self.index.find_mut(moved, |&j| j == last) {
                *slot = i;
            }
        }
        Some(self.entries.swap_remove(i))
    }
}

// === impl Family ===

/// A metric with variable labels: one series per label-value set.
///
/// [`with_labels`](Family::with_labels) finds the series by the values
/// themselves (`["ab", "c"]` and `["a", "bc"]` are different series). A
/// repeated lookup on a thread hits that thread's cache (a hash, one probe,
/// a comparison, no lock); a first lookup reads the family's table under its
/// read lock, and creating a series takes its write lock. It returns an owned
/// handle; keep it and every update is the handle's fast path.
///
/// Beyond the cardinality limit (default
/// [`DEFAULT_CARDINALITY_LIMIT`]) new label sets share one overflow series
/// whose every label value is [`OVERFLOW_LABEL_VALUE`], so totals are
/// conserved, and each lookup sent there is counted in the root registry's
/// `nanometrics_cardinality_overflow_total{family="<name>"}`
/// ([`OVERFLOW_COUNTER_NAME`]).
///
/// ```
/// use nanometrics::Registry;
/// let r = Registry::new();
/// let tokens = r.counter_family("tokens_total", "Tokens.", &["model", "kind"])?;
/// let out = tokens.with_labels(&["llama", "output"])?;
/// out.inc_by(10);
/// assert_eq!(tokens.with_labels(&["llama", "output"])?.get(), 10);
/// assert!(tokens.remove(&["llama", "output"]));
/// assert_eq!(tokens.with_labels(&["llama", "output"])?.get(), 0); // a new series
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub struct Family<M: Metric> {
    inner: Arc<FamilyInner<M>>,
}

impl<M: Metric> Clone for Family<M> {
    fn clone(&self) -> Self {
        Family {
            inner: self.inner.clone(),
        }
    }
}

impl<M: Metric> fmt::Debug for Family<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No series count: that takes the family's lock, which a
        // `Registry::visit` callback may already hold.
        f.debug_struct("Family")
            .field("kind", &M::KIND)
            .field("labels", &self.inner.names)
            .finish()
    }
}

pub(crate) struct FamilyInner<M: Metric> {
    /// Process-unique id (never reused, unlike the address), for the caches.
    id: u64,
    /// Bumped by every removal, invalidating cached handles.
    generation: AtomicU64,
    names: Arc<[Box<str>]>,
    cfg: M::Config,
    seed: u64,
    /// Every series. Behind the thread-local caches, so a lookup reaches it
    /// (and its lock) only on a thread's first use of a label set.
    table: RwLock<Table<M>>,
    limit: usize,
    /// Counts the lookups the cardinality limit sends to the overflow
    /// series (set by the registry).
    on_overflow: Option<OverflowCount>,
}

/// The counter of a family's overflowed lookups, declared on first use.
pub(crate) struct OverflowCount {
    declare: Box<dyn Fn() -> Option<Counter> + Send + Sync>,
    counter: std::sync::OnceLock<Option<Counter>>,
}

impl OverflowCount {
    /// `declare` makes the counter (`None`: counting is off, e.g. the
    /// registry is gone or has the name as something else); it runs once.
    pub(crate) fn new(declare: impl Fn() -> Option<Counter> + Send + Sync + 'static) -> Self {
        OverflowCount {
            declare: Box::new(declare),
            counter: std::sync::OnceLock::new(),
        }
    }

    fn count(&self) {
        if let Some(c) = self.counter.get_or_init(|| (self.declare)()) {
            c.inc();
        }
    }
}

impl<M: Metric> Family<M> {
    pub(crate) fn new(
        names: Arc<[Box<str>]>,
        cfg: M::Config,
        limit: usize,
        on_overflow: Option<OverflowCount>,
    ) -> Family<M> {
        Family {
            inner: Arc::new(FamilyInner {
                id: next_family_id(),
                generation: AtomicU64::new(0),
                names,
                cfg,
                seed: hash_seed(),
                table: RwLock::new(Table::default()),
                limit: limit.max(1),
                on_overflow,
            }),
        }
    }

    pub(crate) fn inner(&self) -> &Arc<FamilyInner<M>> {
        &self.inner
    }

    pub(crate) fn from_inner(inner: Arc<FamilyInner<M>>) -> Family<M> {
        Family { inner }
    }

    /// The handle for these label values, creating the series on first use.
    ///
    /// Errors with [`Error::LabelCount`] when the number of values differs
    /// from the family's label names.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let f = r.gauge_family("temp_celsius", "Temperature.", &["gpu"])?;
    /// f.with_labels(&["0"])?.set(71.5);
    /// assert!(f.with_labels(&["0", "extra"]).is_err());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    #[inline]
    pub fn with_labels<S: AsRef<str>>(&self, values: &[S]) -> Result<M, Error> {
        let inner = &*self.inner;
        if values.len() != inner.names.len() {
            return Err(Error::LabelCount {
                expected: inner.names.len(),
                got: values.len(),
            });
        }
        // A label count known at compile time keeps the values' samples in
        // registers, for the cache key and for the comparison on a hit.
        if let Ok(v) = <&[S; 1]>::try_from(values) {
            return self.with_held(v);
        }
        if let Ok(v) = <&[S; 2]>::try_from(values) {
            return self.with_held(v);
        }
        if let Ok(v) = <&[S; 3]>::try_from(values) {
            return self.with_held(v);
        }
        if let Ok(v) = <&[S; 4]>::try_from(values) {
            return self.with_held(v);
        }
        // The cache takes a cheap hash; the shared table, on a miss, the
        // seeded one (see `labelkey`).
        let quick = crate::labelkey::quick_hash(values);
        let generation = inner.generation();
        if let Some(m) = inner.cached(quick, generation, |e| same(&e.values, values)) {
            return Ok(m);
        }
        inner.lookup(quick, generation, values)
    }

    /// The handle for these labels given by name, in any order: the same
    /// series as [`with_labels`](Self::with_labels) with the values in the
    /// family's order. A label the family does not have, one given twice, or
    /// one of the family's left out is [`Error::LabelMismatch`] (a swapped
    /// order cannot make a new series by mistake). Matching the names costs
    /// more than a positional lookup (and a small allocation): resolve once
    /// and keep the handle, as with `with_labels`.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let tokens = r.counter_family("tokens_total", "Tokens.", &["model", "kind"])?;
    /// tokens.with(&[("kind", "output"), ("model", "llama")])?.inc();
    /// assert_eq!(tokens.with_labels(&["llama", "output"])?.get(), 1);
    /// assert!(tokens.with(&[("model", "llama")]).is_err()); // kind missing
    /// assert!(tokens.with(&[("model", "llama"), ("knd", "output")]).is_err());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn with(&self, labels: &[(&str, &str)]) -> Result<M, Error> {
        let names = &self.inner.names;
        for (i, (k, _)) in labels.iter().enumerate() {
            if !names.iter().any(|n| **n == **k) {
                return Err(Error::LabelMismatch(format!(
                    "{k:?} is not a label of this family (its labels: {names:?})"
                )));
            }
            if labels[..i].iter().any(|(o, _)| o == k) {
                return Err(Error::LabelMismatch(format!("{k:?} is given twice")));
            }
        }
        if labels.len() != names.len() {
            let missing: Vec<&str> = names
                .iter()
                .map(|n| &**n)
                .filter(|n| !labels.iter().any(|(k, _)| k == n))
                .collect();
            return Err(Error::LabelMismatch(format!("{missing:?} missing")));
        }
        let value_of = |n: &str| labels.iter().find(|(k, _)| *k == n).map_or("", |(_, v)| v);
        let values: Vec<&str> = names.iter().map(|n| value_of(n)).collect();
        self.with_labels(&values)
    }

    /// `with_labels` for `N` (at most `labelkey::HELD_VALUES`) values.
    #[inline(always)]
    fn with_held<S: AsRef<str>, const N: usize>(&self, values: &[S; N]) -> Result<M, Error> {
        let inner = &*self.inner;
        let samples = crate::labelkey::value_words(values);
        let quick = crate::labelkey::quick_hash_of(samples);
        let exact = samples.iter().all(|s| s.is_exact());
        let generation = inner.generation();
        let hit = inner.cached(quick, generation, |e| {
            if exact {
                e.words.matches(&samples)
            } else {
                same(&e.values, values)
            }
        });
        if let Some(m) = hit {
            return Ok(m);
        }
        inner.lookup(quick, generation, values)
    }

    /// The handle for these values if the series exists; never creates one.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let f = r.counter_family("x_total", "x", &["a"])?;
    /// assert!(f.get(&["1"]).is_none());
    /// f.with_labels(&["1"])?;
    /// assert!(f.get(&["1"]).is_some());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn get<S: AsRef<str>>(&self, values: &[S]) -> Option<M> {
        let inner = &*self.inner;
        if values.len() != inner.names.len() {
            return None;
        }
        let hash = inner.hash(values);
        inner.read().find(hash, values).map(|e| e.metric.clone())
    }

    /// Removes a series; returns whether it existed. Handles kept elsewhere
    /// keep working but are no longer exported; a later
    /// [`with_labels`](Family::with_labels) with the same values starts from
    /// zero.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let f = r.counter_family("x_total", "x", &["a"])?;
    /// f.with_labels(&["1"])?.inc();
    /// assert!(f.remove(&["1"]));
    /// assert!(!f.remove(&["1"]));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn remove<S: AsRef<str>>(&self, values: &[S]) -> bool {
        let inner = &*self.inner;
        if values.len() != inner.names.len() {
            return false;
        }
        let hash = inner.hash(values);
        let removed = {
            let mut table = inner.write();
            let Some(removed) = table.remove(hash, values) else {
                return false;
            };
            // Release: pairs with the Acquire load in `with_labels`.
            inner.generation.fetch_add(1, Ordering::Release);
            removed
        };
        // The removed handle drops here, outside the lock.
        drop(removed);
        true
    }

    /// Removes every series.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let f = r.counter_family("x_total", "x", &["a"])?;
    /// f.with_labels(&["1"])?;
    /// f.clear();
    /// assert!(f.is_empty());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn clear(&self) {
        let old = {
            let mut table = self.inner.write();
            // Release: pairs with the Acquire load in `with_labels`.
            self.inner.generation.fetch_add(1, Ordering::Release);
            std::mem::take(&mut *table)
        };
        drop(old);
    }

    /// Number of series.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let f = r.counter_family("x_total", "x", &["a"])?;
    /// f.with_labels(&["1"])?;
    /// f.with_labels(&["2"])?;
    /// assert_eq!(f.len(), 2);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.inner.read().len()
    }

    /// Whether the family has no series.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// assert!(r.counter_family("x_total", "x", &["a"])?.is_empty());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The variable label names.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let f = r.counter_family("x_total", "x", &["model", "kind"])?;
    /// assert_eq!(f.label_names().collect::<Vec<_>>(), ["model", "kind"]);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn label_names(&self) -> impl Iterator<Item = &str> {
        self.inner.names.iter().map(|s| &**s)
    }
}

use crate::labelkey::{values_eq as same, EntryWords};

impl<M: Metric> FamilyInner<M> {
    /// The family's generation, for the lookup cache.
    #[inline(always)]
    fn generation(&self) -> u64 {
        // Acquire: pairs with the Release bump in `remove`/`clear`; a lookup
        // that happens after a removal sees the new generation and misses.
        self.generation.load(Ordering::Acquire)
    }

    /// The handle in this thread's cache for the values with this quick
    /// hash, if their entry is current and `eq` confirms the values.
    #[inline(always)]
    fn cached(
        &self,
        quick: u64,
        generation: u64,
        eq: impl FnOnce(&CacheEntry<M>) -> bool,
    ) -> Option<M> {
        let (metric, overflowed) = M::with_cache(|c| {
            let e = c
                .entries
                .get(LocalCache::<M>::index(self.id, quick))?
                .as_ref()?;
            let hit =
                e.family == self.id && e.generation == generation && e.quick == quick && eq(e);
            hit.then(|| (e.metric.clone(), e.overflowed))
        })
        .flatten()?;
        if overflowed {
            self.count_overflow();
        }
        Some(metric)
    }

    /// One more lookup sent to the overflow series (outside the cache's
    /// borrow: the first count declares the counter).
    #[cold]
    #[inline(never)]
    fn count_overflow(&self) {
        if let Some(o) = &self.on_overflow {
            o.count();
        }
    }

    /// The shared-table path of `with_labels`; fills this thread's cache.
    #[inline(never)]
    fn lookup<S: AsRef<str>>(&self, quick: u64, generation: u64, values: &[S]) -> Result<M, Error> {
        let hash = self.hash(values);
        let found = self
            .read()
            .find(hash, values)
            .map(|e| (e.values.clone(), e.metric.clone()));
        let (values, metric, overflowed) = match found {
            Some((v, m)) => (v, m, false),
            None => {
                let (m, overflowed) = self.insert(hash, values)?;
                let v: Values = values
                    .iter()
                    .map(|v| Box::<str>::from(v.as_ref()))
                    .collect();
                (v, m, overflowed)
            }
        };
        let entry = CacheEntry {
            family: self.id,
            generation,
            quick,
            words: EntryWords::of(&values),
            values,
            metric: metric.clone(),
            overflowed,
        };
        let old = M::with_cache(|c| {
            if c.entries.is_empty() {
                c.entries.resize_with(CACHE_ENTRIES, || None);
            }
            c.entries[LocalCache::<M>::index(self.id, quick)].replace(entry)
        });
        // The evicted handle drops here, outside the cache borrow.
        drop(old);
        if overflowed {
            self.count_overflow();
        }
        Ok(metric)
    }

    #[inline]
    fn hash<S: AsRef<str>>(&self, values: &[S]) -> u64 {
        crate::labelkey::hash_values(self.seed, values)
    }

    fn read(&self) -> RwLockReadGuard<'_, Table<M>> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Table<M>> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Finds or creates the series under the write lock. Past the cardinality
    /// limit, a new label set gets the overflow series instead (`true`).
    #[cold]
    fn insert<S: AsRef<str>>(&self, hash: u64, values: &[S]) -> Result<(M, bool), Error> {
        let mut table = self.write();
        if let Some(e) = table.find(hash, values) {
            return Ok((e.metric.clone(), false));
        }
        if table.len() >= self.limit {
            let overflow = vec![OVERFLOW_LABEL_VALUE; values.len()];
            let h = self.hash(&overflow);
            if let Some(e) = table.find(h, &overflow) {
                return Ok((e.metric.clone(), true));
            }
            return Ok((self.create(&mut table, h, &overflow)?, true));
        }
        Ok((self.create(&mut table, hash, values)?, false))
    }

    fn create<S: AsRef<str>>(
        &self,
        table: &mut Table<M>,
        hash: u64,
        values: &[S],
    ) -> Result<M, Error> {
        for v in values {
            crate::names::check_text("label value", v.as_ref())?;
        }
        let metric = M::create(&self.cfg)?;
        let values: Values = values
            .iter()
            .map(|v| Box::<str>::from(v.as_ref()))
            .collect();
        table.insert(Entry {
            hash,
            values,
            metric: metric.clone(),
            text: RenderCache::default(),
            created: unix_nanos(SystemTime::now()),
        });
        Ok(metric)
    }
}

// === held for a read (visit::LockedFamily) ===

struct LockedTable<'a, M>(RwLockReadGuard<'a, Table<M>>);

impl<M: Metric> LockedFamily for LockedTable<'_, M> {
    fn read(&self, r: &Reader, labels: &Arc<FamilyLabels>, out: &mut Vec<SeriesSnapshot>) {
        out.reserve(self.0.entries.len());
        out.extend(self.0.entries.iter().map(|e| SeriesSnapshot {
            created: UNIX_EPOCH + Duration::from_nanos(e.created),
            labels: LabelSet {
                family: labels.clone(),
                values: e.values.clone(),
            },
            // Exemplars first, then the value: an exemplar's record comes
            // after its value's, so the value read counts every exemplar's.
            exemplars: {
                let mut ex = Vec::new();
                e.metric.exemplars(r, &mut ex);
                ex
            },
            value: e.metric.read(r),
        }));
    }

    fn for_each(&self, r: &Reader, exemplars: bool, f: &mut SeriesReadFn<'_>) {
        let mut ex = Vec::new();
        for e in &self.0.entries {
            // Before the value, as in `read`.
            if exemplars {
                e.metric.exemplars(r, &mut ex);
            }
            f(&SeriesView {
                values: &e.values,
                cache: &e.text,
                value: &e.metric.read(r),
                exemplars: &ex,
                created: UNIX_EPOCH + Duration::from_nanos(e.created),
            });
        }
    }

    fn handles(&self, labels: &Arc<FamilyLabels>, out: &mut Vec<(LabelSet, SeriesHandle)>) {
        out.extend(self.0.entries.iter().map(|e| {
            let labels = LabelSet {
                family: labels.clone(),
                values: e.values.clone(),
            };
            (labels, handle_of(&e.metric))
        }));
    }
}

impl<M: Metric> Lockable for FamilyInner<M> {
    fn lock_family(&self) -> Box<dyn LockedFamily + '_> {
        Box::new(LockedTable(self.read()))
    }
}
