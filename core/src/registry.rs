//! [`Registry`]: declares metrics once and reads them all in one
//! [`Snapshot`].

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::buckets::Buckets;
use crate::collected::{CollectedFamily, CollectedInner};
use crate::counter::{Counter, FloatCounter, UpDownCounter};
use crate::error::Error;
use crate::family::{
    Family, Metric, OverflowCount, DEFAULT_CARDINALITY_LIMIT, OVERFLOW_COUNTER_HELP,
    OVERFLOW_COUNTER_NAME,
};
use crate::gauge::Gauge;
use crate::histogram::Histogram;
use crate::names::{
    check_text, check_unit, exposed_names, is_valid_metric_name, join_name, validate_label_name,
};
use crate::series_handle::SeriesHandle;
use crate::shard;
use crate::snapshot::{ConstLabels, FamilyLabels, FamilySnapshot, LabelSet, MetricKind, Snapshot};
use crate::summary::Summary;
use crate::sync::lock_std;
use crate::visit::{FamilyView, Lockable, LockedFamily};

/// What a registration declares; two registrations of one name must agree.
#[derive(Debug, PartialEq)]
struct Desc {
    name: String,
    help: String,
    unit: Option<String>,
    kind: MetricKind,
    const_names: Vec<Box<str>>,
    names: Arc<[Box<str>]>,
    buckets: Option<Vec<f64>>,
}

/// What a snapshot needs of one registration.
type InView = (Arc<Desc>, Arc<FamilyLabels>, Arc<dyn Lockable>);

struct Registration {
    desc: Arc<Desc>,
    /// Constant label names and values, and the family's label names: shared
    /// by every series of this registration in a snapshot.
    labels: Arc<FamilyLabels>,
    family: Arc<dyn Any + Send + Sync>,
    family_type: &'static str,
    collect: Arc<dyn Lockable>,
    /// Ids of the registering node and all its ancestors.
    path: Arc<[u64]>,
}

type Hook = Arc<dyn Fn() + Send + Sync>;

#[derive(Default)]
struct Root {
    regs: Mutex<Vec<Registration>>,
    hooks: Mutex<Vec<(u64, Hook)>>,
    /// The id of each sub-registry made, by (parent id, prefix, constant
    /// labels): the same child asked for twice is one registry, whose
    /// snapshot holds what either declared.
    children: Mutex<HashMap<(u64, String, ConstLabels), u64>>,
}

/// A hook added by [`Registry::on_collect`]; dropping it removes the hook.
#[must_use = "dropping a CollectHook removes the hook at once"]
pub struct CollectHook {
    root: std::sync::Weak<Root>,
    id: u64,
}

impl fmt::Debug for CollectHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectHook").field("id", &self.id).finish()
    }
}

impl CollectHook {
    /// Keeps the hook for as long as its registry lives.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// r.on_collect(|| {}).forget();
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn forget(self) {
        std::mem::forget(self);
    }
}

impl Drop for CollectHook {
    fn drop(&mut self) {
        if let Some(root) = self.root.upgrade() {
            lock_std(&root.hooks).retain(|(id, _)| *id != self.id);
        }
    }
}

struct Node {
    root: Arc<Root>,
    id: u64,
    path: Arc<[u64]>,
    prefix: String,
    consts: ConstLabels,
}

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    // Relaxed: only uniqueness matters.
    NEXT.fetch_add(1, Ordering::Relaxed)
}

// === impl Registry ===

/// Where metrics are declared.
///
/// A registry is cheap to clone (an `Arc`) and `Send + Sync`. A
/// [sub-registry](Registry::sub_registry) adds a name prefix and constant
/// labels; a metric registered through it appears in its own
/// [`snapshot`](Registry::snapshot) and in every ancestor's.
///
/// Registering a name again with the same type, help, labels, unit and
/// buckets returns the existing metric; anything else is
/// [`Error::Conflict`].
///
/// ```
/// use nanometrics::{Buckets, Registry};
/// let registry = Registry::new();
/// let requests = registry.counter("requests_total", "Requests served.")?;
/// let again = registry.counter("requests_total", "Requests served.")?;
/// requests.inc();
/// assert_eq!(again.get(), 1);
/// assert!(registry.gauge("requests_total", "Requests served.").is_err());
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone)]
pub struct Registry {
    node: Arc<Node>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("prefix", &self.node.prefix)
            .field("const_labels", &self.node.consts)
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

/// The process-wide default registry.
///
/// ```
/// let c = nanometrics::global().counter("doc_global_total", "Doc example.")?;
/// c.inc();
/// assert!(nanometrics::global().snapshot().family("doc_global_total").is_some());
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub fn global() -> &'static Registry {
    static GLOBAL: OnceLock<Registry> = OnceLock::new();
    GLOBAL.get_or_init(Registry::new)
}

impl Registry {
    /// An empty root registry.
    ///
    /// ```
    /// assert!(nanometrics::Registry::new().snapshot().families.is_empty());
    /// ```
    pub fn new() -> Registry {
        let id = next_id();
        Registry {
            node: Arc::new(Node {
                root: Arc::new(Root::default()),
                id,
                path: Arc::from([id]),
                prefix: String::new(),
                consts: Arc::from([]),
            }),
        }
    }

    /// A child registry: metric names get `prefix_` in front (an empty prefix
    /// adds none) and every series gets `const_labels`. A label name already
    /// used by an ancestor is [`Error::LabelCollision`]. Asking again for
    /// the same prefix and labels gives the same child: its snapshot holds
    /// what was declared through either (each distinct child is remembered
    /// for the life of the root).
    ///
    /// ```
    /// use nanometrics::Registry;
    /// let registry = Registry::new();
    /// let component = registry.sub_registry("dynamo_component", &[("dynamo_namespace", "prod")])?;
    /// component.counter("requests_total", "Requests.")?.inc();
    /// let snap = registry.snapshot();
    /// assert_eq!(snap.families[0].name, "dynamo_component_requests_total");
    /// assert_eq!(snap.families[0].series[0].labels.get("dynamo_namespace"), Some("prod"));
    /// assert!(component.sub_registry("x", &[("dynamo_namespace", "dev")]).is_err());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn sub_registry(
        &self,
        prefix: &str,
        const_labels: &[(&str, &str)],
    ) -> Result<Registry, Error> {
        if !prefix.is_empty() && !is_valid_metric_name(prefix) {
            return Err(Error::InvalidName(prefix.to_string()));
        }
        let consts = merge_consts(&self.node.consts, const_labels)?;
        let key = (self.node.id, prefix.to_string(), consts.clone());
        let id = *lock_std(&self.node.root.children)
            .entry(key)
            .or_insert_with(next_id);
        let prefix = join_name(&self.node.prefix, prefix);
        Ok(Registry {
            node: Arc::new(Node {
                root: self.node.root.clone(),
                id,
                path: self.node.path.iter().copied().chain([id]).collect(),
                prefix,
                consts,
            }),
        })
    }

    /// The name prefix this registry puts in front of every metric name
    /// (empty for a root registry).
    ///
    /// ```
    /// let r = nanometrics::Registry::new();
    /// assert_eq!(r.prefix(), "");
    /// let c = r.sub_registry("dynamo", &[])?.sub_registry("router", &[])?;
    /// assert_eq!(c.prefix(), "dynamo_router");
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn prefix(&self) -> &str {
        &self.node.prefix
    }

    /// The constant labels every series of this registry gets, `(name,
    /// value)`, its ancestors' first.
    ///
    /// ```
    /// let r = nanometrics::Registry::new().sub_registry("", &[("zone", "a")])?;
    /// assert_eq!(r.const_labels().collect::<Vec<_>>(), [("zone", "a")]);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn const_labels(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.node.consts.iter().map(|(k, v)| (&**k, &**v))
    }

    /// Starts a declaration with the rarer options: unit, constant labels,
    /// cardinality limit.
    ///
    /// ```
    /// use nanometrics::{Buckets, Registry};
    /// let r = Registry::new();
    /// let h = r.metric("prefill_duration_seconds", "Prefill time.")
    ///     .unit("seconds")
    ///     .const_label("engine", "vllm")
    ///     .buckets(Buckets::default()).build::<nanometrics::Histogram>()?;
    /// h.observe(0.1);
    /// let f = r.metric("requests_total", "Requests.").cardinality_limit(1).family::<nanometrics::Counter>(&["user"])?;
    /// f.with_labels(&["a"])?.inc();
    /// f.with_labels(&["b"])?.inc(); // over the limit: lands in the overflow series
    /// assert_eq!(f.with_labels(&["__overflow__"])?.get(), 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn metric(&self, name: &str, help: &str) -> MetricBuilder<'_> {
        MetricBuilder {
            registry: self,
            name: name.to_string(),
            help: help.to_string(),
            unit: None,
            consts: Vec::new(),
            limit: DEFAULT_CARDINALITY_LIMIT,
            kind: None,
            buckets: None,
        }
    }

    // === the everyday shortcuts ===
    //
    // Each is `self.metric(name, help)` then `.build::<M>()` (unlabeled) or
    // `.family::<M>(labels)`, with `.buckets(..)` for histograms: see
    // [`MetricBuilder`] for the options (unit, constant labels, cardinality
    // limit) and the rules every declaration follows.

    /// Declares an unlabeled [`Counter`].
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let c = r.counter("requests_total", "Requests.")?;
    /// c.inc();
    /// assert_eq!(c.get(), 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn counter(&self, name: &str, help: &str) -> Result<Counter, Error> {
        self.metric(name, help).build::<Counter>()
    }

    /// Declares an unlabeled [`Gauge`].
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let g = r.gauge("temperature_celsius", "Temperature.")?;
    /// g.set(21.5);
    /// assert_eq!(g.get(), 21.5);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn gauge(&self, name: &str, help: &str) -> Result<Gauge, Error> {
        self.metric(name, help).build::<Gauge>()
    }

    /// Declares an unlabeled [`UpDownCounter`].
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let q = r.up_down_counter("queue_depth", "Queued.")?;
    /// q.add(3);
    /// assert_eq!(q.get(), 3);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn up_down_counter(&self, name: &str, help: &str) -> Result<UpDownCounter, Error> {
        self.metric(name, help).build::<UpDownCounter>()
    }

    /// Declares an unlabeled [`Histogram`].
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let h = r.histogram("latency_seconds", "Latency.", nanometrics::Buckets::default())?;
    /// h.observe(0.1);
    /// assert_eq!(h.snapshot().count, 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn histogram(&self, name: &str, help: &str, buckets: Buckets) -> Result<Histogram, Error> {
        self.metric(name, help)
            .buckets(buckets)
            .build::<Histogram>()
    }

    /// Declares a [`Family`] of counters with variable labels.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let f = r.counter_family("tokens_total", "Tokens.", &["model"])?;
    /// f.with_labels(&["llama"])?.inc_by(3);
    /// assert_eq!(f.len(), 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn counter_family(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<Family<Counter>, Error> {
        self.metric(name, help).family::<Counter>(labels)
    }

    /// Declares a [`Family`] of gauges.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let f = r.gauge_family("gpu_memory_bytes", "GPU memory.", &["gpu"])?;
    /// f.with_labels(&["0"])?.set(1e9);
    /// assert_eq!(f.get(&["0"]).unwrap().get(), 1e9);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn gauge_family(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<Family<Gauge>, Error> {
        self.metric(name, help).family::<Gauge>(labels)
    }

    /// Declares a [`Family`] of up-down counters.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let f = r.up_down_counter_family("inflight", "In flight.", &["route"])?;
    /// f.with_labels(&["/v1"])?.inc();
    /// assert_eq!(f.with_labels(&["/v1"])?.get(), 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn up_down_counter_family(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<Family<UpDownCounter>, Error> {
        self.metric(name, help).family::<UpDownCounter>(labels)
    }

    /// Declares a [`Family`] of histograms.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let f = r.histogram_family("ttft_seconds", "TTFT.", &["model"], nanometrics::Buckets::default())?;
    /// f.with_labels(&["llama"])?.observe(0.05);
    /// assert_eq!(f.len(), 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn histogram_family(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: Buckets,
    ) -> Result<Family<Histogram>, Error> {
        self.metric(name, help)
            .buckets(buckets)
            .family::<Histogram>(labels)
    }

    /// Declares an unlabeled [`FloatCounter`].
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let c = r.float_counter("cpu_seconds_total", "CPU.")?;
    /// c.inc_by(0.5);
    /// assert_eq!(c.get(), 0.5);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn float_counter(&self, name: &str, help: &str) -> Result<FloatCounter, Error> {
        self.metric(name, help).build::<FloatCounter>()
    }

    /// Declares a [`Family`] of float counters.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let f = r.float_counter_family("busy_seconds_total", "Busy.", &["gpu"])?;
    /// f.with_labels(&["0"])?.inc_by(0.25);
    /// assert_eq!(f.get(&["0"]).unwrap().get(), 0.25);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn float_counter_family(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<Family<FloatCounter>, Error> {
        self.metric(name, help).family::<FloatCounter>(labels)
    }

    /// Declares an unlabeled [`Summary`].
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let s = r.summary("prompt_tokens", "Prompt lengths.")?;
    /// s.observe(512.0);
    /// assert_eq!(s.snapshot().count, 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn summary(&self, name: &str, help: &str) -> Result<Summary, Error> {
        self.metric(name, help).build::<Summary>()
    }

    /// Declares a [`Family`] of summaries.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let f = r.summary_family("prompt_tokens", "Prompt lengths.", &["model"])?;
    /// f.with_labels(&["llama"])?.observe(512.0);
    /// assert_eq!(f.len(), 1);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn summary_family(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<Family<Summary>, Error> {
        self.metric(name, help).family::<Summary>(labels)
    }

    /// Removes every registration exposed under `name` from this registry
    /// (and its sub-registries' view); returns whether there was one. Handles
    /// already held keep working but are no longer exposed; declaring the
    /// name again starts a new family at zero.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let c = r.counter("x_total", "x")?;
    /// assert!(r.unregister("x_total"));
    /// assert!(!r.unregister("x_total"));
    /// c.inc();
    /// assert!(r.snapshot().families.is_empty());
    /// assert_eq!(r.counter("x_total", "x")?.get(), 0);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn unregister(&self, name: &str) -> bool {
        let full = join_name(&self.node.prefix, name);
        let mut regs = lock_std(&self.node.root.regs);
        let before = regs.len();
        regs.retain(|r| !(r.desc.name == full && r.path.contains(&self.node.id)));
        regs.len() != before
    }

    /// Runs `hook` at the start of every read of this registry's root
    /// ([`snapshot`](Self::snapshot), [`visit`](Self::visit), and so every
    /// scrape), before any lock is taken: the place to set gauges computed
    /// on demand (queue lengths owned by another component, values a
    /// language binding fetches). Hooks run in registration order on the
    /// reading thread; a panic in one propagates to the reader (an HTTP
    /// exporter answers that scrape with 500). Dropping the returned
    /// [`CollectHook`] removes the hook.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let g = r.gauge("queue_length", "Queued.")?;
    /// let queue = std::sync::Arc::new(std::sync::Mutex::new(vec![1, 2, 3]));
    /// let q = queue.clone();
    /// let hook = r.on_collect(move || g.set(q.lock().unwrap().len() as f64));
    /// assert_eq!(r.snapshot().families[0].series[0].value.as_gauge(), Some(3.0));
    /// drop(hook);
    /// queue.lock().unwrap().clear();
    /// assert_eq!(r.snapshot().families[0].series[0].value.as_gauge(), Some(3.0));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn on_collect(&self, hook: impl Fn() + Send + Sync + 'static) -> CollectHook {
        let id = next_id();
        lock_std(&self.node.root.hooks).push((id, Arc::new(hook)));
        CollectHook {
            root: Arc::downgrade(&self.node.root),
            id,
        }
    }

    fn run_hooks(&self) {
        // Cloned out of the lock: a hook may declare metrics or add hooks.
        let hooks: Vec<Hook> = lock_std(&self.node.root.hooks)
            .iter()
            .map(|(_, h)| h.clone())
            .collect();
        for h in hooks {
            h();
        }
    }

    /// Reads every metric of this registry and its sub-registries.
    /// See [`Snapshot`] for the shape. Writers are never blocked.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// r.counter("a_total", "a")?.inc();
    /// r.gauge("b", "b")?.set(2.0);
    /// let snap = r.snapshot();
    /// assert_eq!(snap.families.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["a_total", "b"]);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        let mut families: Vec<FamilySnapshot> = Vec::new();
        self.read_families(|desc, parts, reader| {
            let mut f = FamilySnapshot {
                name: desc.name.clone(),
                help: desc.help.clone(),
                unit: desc.unit.clone(),
                kind: desc.kind,
                series: Vec::new(),
            };
            for (labels, locked) in parts {
                locked.read(reader, labels, &mut f.series);
            }
            families.push(f);
        });
        Snapshot { families }
    }

    /// Reads every family like [`snapshot`](Self::snapshot), but lends each
    /// one to `f` instead of copying it: the fast path for encoders. The
    /// family's read locks and the shard lock are held while `f` runs, so `f`
    /// must not declare, resolve or read metrics, nor drop the last handle of
    /// a series, itself (it would wait on those locks forever); encode, and
    /// return.
    ///
    /// ```
    /// let r = nanometrics::Registry::new();
    /// r.counter_family("jobs_total", "Jobs.", &["queue"])?.with_labels(&["fast"])?.inc_by(3);
    /// let mut seen = Vec::new();
    /// r.visit(|family| {
    ///     family.for_each_group(|group| {
    ///         let names: Vec<&str> = group.label_names().collect();
    ///         group.for_each_series(&mut |values, value| {
    ///             seen.push(format!("{}{names:?}{values:?} {:?}", family.name, value.as_counter()));
    ///         });
    ///     });
    /// });
    /// assert_eq!(seen, [r#"jobs_total["queue"]["fast"] Some(3)"#]);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn visit(&self, mut f: impl FnMut(&FamilyView<'_>)) {
        self.read_families(|desc, parts, reader| {
            f(&FamilyView {
                name: &desc.name,
                help: &desc.help,
                unit: desc.unit.as_deref(),
                kind: desc.kind,
                parts,
                reader,
            })
        });
    }

    /// The registrations in view grouped by name (first registration of a
    /// name first), read under every family's read lock and then the shard
    /// lock — the order an insert takes them in, so no series is removed and
    /// no handle dropped meanwhile.
    fn read_families(
        &self,
        mut f: impl FnMut(&Desc, &[(Arc<FamilyLabels>, &dyn LockedFamily)], &shard::Reader),
    ) {
        self.run_hooks();
        let regs: Vec<InView> = lock_std(&self.node.root.regs)
            .iter()
            .filter(|r| r.path.contains(&self.node.id))
            .map(|r| (r.desc.clone(), r.labels.clone(), r.collect.clone()))
            .collect();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, (desc, _, _)) in regs.iter().enumerate() {
            let g = *index.entry(&desc.name).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[g].push(i);
        }
        let locked: Vec<Box<dyn LockedFamily + '_>> =
            regs.iter().map(|(_, _, c)| c.lock_family()).collect();
        let reader = shard::reader();
        let mut parts: Vec<(Arc<FamilyLabels>, &dyn LockedFamily)> = Vec::new();
        for g in &groups {
            parts.clear();
            parts.extend(g.iter().map(|&i| (regs[i].1.clone(), &*locked[i])));
            f(&regs[g[0]].0, &parts, &reader);
        }
        drop(parts);
        drop(reader);
        drop(locked);
    }

    /// `name` as this registry exposes it: its prefix joined in front.
    pub(crate) fn full_name(&self, name: &str) -> String {
        join_name(&self.node.prefix, name)
    }

    /// The type of the family exposed as `name` (its full name, prefixes
    /// included) in this registry's view, and a handle to each of its
    /// series with its labels; `None` when no such family is in view. Takes
    /// the families' read locks, not the shard lock, and runs no hooks.
    pub(crate) fn series_handles(
        &self,
        name: &str,
    ) -> Option<(MetricKind, Vec<(LabelSet, SeriesHandle)>)> {
        let regs: Vec<InView> = lock_std(&self.node.root.regs)
            .iter()
            .filter(|r| r.desc.name == name && r.path.contains(&self.node.id))
            .map(|r| (r.desc.clone(), r.labels.clone(), r.collect.clone()))
            .collect();
        let kind = regs.first()?.0.kind;
        let mut out = Vec::new();
        for (_, labels, collect) in &regs {
            collect.lock_family().handles(labels, &mut out);
        }
        Some((kind, out))
    }

    /// The counter of the lookups that the cardinality limit of the family
    /// named `family` sends to its overflow series:
    /// `nanometrics_cardinality_overflow_total{family}` in the root registry,
    /// declared on the first one (a weak reference, so the registry can go).
    fn overflow_count(&self, family: &str) -> OverflowCount {
        let root = Arc::downgrade(&self.node.root);
        let id = self.node.path[0];
        let family = family.to_string();
        OverflowCount::new(move || {
            let root = root.upgrade()?;
            let registry = Registry {
                node: Arc::new(Node {
                    root,
                    id,
                    path: Arc::from([id]),
                    prefix: String::new(),
                    consts: Arc::from([]),
                }),
            };
            registry
                .metric(OVERFLOW_COUNTER_NAME, OVERFLOW_COUNTER_HELP)
                .cardinality_limit(usize::MAX)
                .family::<Counter>(&["family"])
                .and_then(|f| f.with_labels(&[&family]))
                .ok()
        })
    }

    /// The one declaration path of native families: every shortcut and
    /// every builder ends here.
    fn register<M: Metric>(
        &self,
        b: MetricBuilder<'_>,
        names: &[&str],
    ) -> Result<Family<M>, Error> {
        if b.buckets.is_some() && M::KIND != MetricKind::Histogram {
            return Err(Error::InvalidBuckets(format!(
                "{} ({}) takes no buckets: only histograms do",
                b.name,
                b.kind.unwrap_or(M::KIND).as_str()
            )));
        }
        let (cfg, buckets) = M::config(b.buckets.as_ref())?;
        let limit = b.limit;
        let family = self.declare(
            b,
            names,
            M::KIND,
            buckets,
            std::any::type_name::<M>(),
            |desc| {
                let on_overflow = (!desc.names.is_empty() && desc.name != OVERFLOW_COUNTER_NAME)
                    .then(|| self.overflow_count(&desc.name));
                let inner = Family::<M>::new(desc.names.clone(), cfg, limit, on_overflow)
                    .inner()
                    .clone();
                (inner.clone(), inner)
            },
        )?;
        family
            .downcast()
            .map(Family::from_inner)
            .map_err(|_| unreachable_type())
    }

    /// Declares a [`CollectedFamily`]: see [`MetricBuilder::collected`].
    fn register_collected(
        &self,
        b: MetricBuilder<'_>,
        kind: MetricKind,
        names: &[&str],
    ) -> Result<CollectedFamily, Error> {
        if b.buckets.is_some() {
            return Err(Error::InvalidBuckets(format!(
                "{} is collected: each of its histograms brings its own buckets",
                b.name
            )));
        }
        let family = self.declare(
            b,
            names,
            kind,
            None,
            std::any::type_name::<CollectedFamily>(),
            |desc| {
                let inner = Arc::new(CollectedInner::new(kind, desc.names.clone()));
                (inner.clone(), inner)
            },
        )?;
        family
            .downcast()
            .map(CollectedFamily::from_inner)
            .map_err(|_| unreachable_type())
    }

    /// Checks a declaration (name, unit, labels, help) against the rules
    /// and every registration in the root: the same name with the same
    /// constant labels returns the family already there (`type_name` says
    /// which Rust type holds it; another is a conflict); a new one is made
    /// by `make` (as `Any` for later declarations, and as what a read
    /// locks) and registered.
    fn declare(
        &self,
        b: MetricBuilder<'_>,
        names: &[&str],
        default_kind: MetricKind,
        buckets: Option<Vec<f64>>,
        type_name: &'static str,
        make: impl FnOnce(&Desc) -> (Arc<dyn Any + Send + Sync>, Arc<dyn Lockable>),
    ) -> Result<Arc<dyn Any + Send + Sync>, Error> {
        if !is_valid_metric_name(&b.name) {
            return Err(Error::InvalidName(b.name));
        }
        let full = join_name(&self.node.prefix, &b.name);
        let kind = b.kind.unwrap_or(default_kind);
        // A family named `_total` would be written `# TYPE  counter`.
        if crate::names::family_name(&full, kind).is_empty() {
            return Err(Error::InvalidName(format!(
                "{full} (a {kind:?} family is named without its type's suffix, which leaves nothing)"
            )));
        }
        if let Some(u) = &b.unit {
            check_unit(&full, u, default_kind)?;
        }
        let extra: Vec<(&str, &str)> = b
            .consts
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let consts = merge_consts(&self.node.consts, &extra)?;
        for (i, n) in names.iter().enumerate() {
            validate_label_name(n)?;
            if names[..i].contains(n) {
                return Err(Error::InvalidLabelName(format!("{n:?} appears twice")));
            }
            if let Some((_, v)) = consts.iter().find(|(k, _)| **k == **n) {
                return Err(Error::LabelCollision(format!(
                    "label {n:?} of {full:?} is already a constant label of its registry ({n}={v:?}, set by the registry or an ancestor level)"
                )));
            }
        }
        let desc = Desc {
            name: full,
            help: b.help,
            unit: b.unit,
            kind,
            const_names: consts.iter().map(|(k, _)| k.clone()).collect(),
            names: names.iter().map(|n| Box::<str>::from(*n)).collect(),
            buckets,
        };
        check_text("HELP", &desc.help)?;
        let mut regs = lock_std(&self.node.root.regs);
        let ours = exposed_names(&desc.name, desc.kind);
        if let Some(r) = regs.iter().filter(|r| r.desc.name != desc.name).find(|r| {
            exposed_names(&r.desc.name, r.desc.kind)
                .iter()
                .any(|n| ours.contains(n))
        }) {
            return Err(Error::Conflict(format!(
                "{:?} ({}) would be exposed as {ours:?}, which collides with {:?} ({}), exposed as {:?}",
                desc.name,
                desc.kind.as_str(),
                r.desc.name,
                r.desc.kind.as_str(),
                exposed_names(&r.desc.name, r.desc.kind),
            )));
        }
        for r in regs.iter().filter(|r| r.desc.name == desc.name) {
            if *r.desc != desc {
                return Err(Error::Conflict(format!(
                    "{:?} is already registered as {} with help {:?}, labels {:?}{}; now as {} with help {:?}, labels {:?}",
                    desc.name,
                    r.desc.kind.as_str(),
                    r.desc.help,
                    r.desc.const_names.iter().chain(r.desc.names.iter()).collect::<Vec<_>>(),
                    r.desc.buckets.as_ref().map(|b| format!(", buckets {b:?}")).unwrap_or_default(),
                    desc.kind.as_str(),
                    desc.help,
                    desc.const_names.iter().chain(desc.names.iter()).collect::<Vec<_>>(),
                )));
            }
            if r.labels.consts == consts {
                if r.family_type != type_name {
                    // Same kind, another type (a `u64` and an `f64` counter,
                    // a native and a collected family).
                    return Err(Error::Conflict(format!(
                        "{:?} is already registered as a {} of another value type ({} vs {type_name})",
                        desc.name,
                        desc.kind.as_str(),
                        r.family_type,
                    )));
                }
                return Ok(r.family.clone());
            }
        }
        let (family, collect) = make(&desc);
        let labels = Arc::new(FamilyLabels {
            consts,
            names: desc.names.clone(),
            collected: type_name == std::any::type_name::<CollectedFamily>(),
        });
        regs.push(Registration {
            desc: Arc::new(desc),
            labels,
            family: family.clone(),
            family_type: type_name,
            collect,
            path: self.node.path.clone(),
        });
        Ok(family)
    }
}

/// `declare` returns a family of the type it was asked for; this error is
/// for the downcast that cannot fail.
fn unreachable_type() -> Error {
    Error::Conflict("a registration holds another type than its declaration says".into())
}

fn merge_consts(base: &ConstLabels, extra: &[(&str, &str)]) -> Result<ConstLabels, Error> {
    if extra.is_empty() {
        return Ok(base.clone());
    }
    let mut out: Vec<(Box<str>, Box<str>)> = base.to_vec();
    for (k, v) in extra {
        validate_label_name(k)?;
        check_text("label value", v)?;
        if out.iter().any(|(o, _)| **o == **k) {
            return Err(Error::LabelCollision(format!(
                "constant label {k:?} is already set by this registry or an ancestor"
            )));
        }
        out.push(((*k).into(), (*v).into()));
    }
    Ok(out.into())
}

// === impl MetricBuilder ===

/// Options for one declaration; see [`Registry::metric`].
#[derive(Debug)]
#[must_use = "a builder declares nothing until a terminal method such as .counter() is called"]
///
/// ```
/// # let r = nanometrics::Registry::new();
/// let h = r.metric("req_duration_seconds", "Latency.").unit("seconds").buckets(nanometrics::Buckets::default()).build::<nanometrics::Histogram>()?;
/// h.observe(0.2);
/// # Ok::<(), nanometrics::Error>(())
/// ```
pub struct MetricBuilder<'r> {
    registry: &'r Registry,
    name: String,
    help: String,
    unit: Option<String>,
    consts: Vec<(String, String)>,
    limit: usize,
    kind: Option<MetricKind>,
    buckets: Option<Buckets>,
}

impl MetricBuilder<'_> {
    /// Declares the unit (OpenMetrics `# UNIT`); the name must end with
    /// `_<unit>` (before `_total` for counters).
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// r.metric("payload_bytes", "Payload size.").unit("bytes").build::<nanometrics::Gauge>()?;
    /// assert!(r.metric("payload", "x").unit("bytes").build::<nanometrics::Gauge>().is_err());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn unit(mut self, unit: &str) -> Self {
        self.unit = Some(unit.to_string());
        self
    }

    /// Adds a constant label to every series of this metric.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// r.metric("build_info", "Build.").const_label("version", "1.2.3").build::<nanometrics::Gauge>()?.set(1.0);
    /// assert_eq!(r.snapshot().families[0].series[0].labels.get("version"), Some("1.2.3"));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn const_label(mut self, name: &str, value: &str) -> Self {
        self.consts.push((name.to_string(), value.to_string()));
        self
    }

    /// At most `n` label sets (at least 1); more share one overflow series.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let f = r.metric("users_total", "x").cardinality_limit(2).family::<nanometrics::Counter>(&["user"])?;
    /// for u in ["a", "b", "c", "d"] { f.with_labels(&[u])?.inc(); }
    /// assert_eq!(f.len(), 3);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn cardinality_limit(mut self, n: usize) -> Self {
        self.limit = n;
        self
    }

    /// A histogram's classic bucket bounds (default: [`Buckets::default`]);
    /// any other type refuses them with [`Error::InvalidBuckets`].
    ///
    /// ```
    /// use nanometrics::{Buckets, Histogram, Registry};
    /// let r = Registry::new();
    /// let h = r.metric("ttft_seconds", "TTFT.").buckets(Buckets::exponential(0.001, 2.0, 16)).build::<Histogram>()?;
    /// h.observe(0.01);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn buckets(mut self, buckets: Buckets) -> Self {
        self.buckets = Some(buckets);
        self
    }

    /// Declares a [`Family`] of any metric type with these variable labels.
    ///
    /// ```
    /// use nanometrics::{Counter, Histogram, Registry, Summary};
    /// let r = Registry::new();
    /// let requests = r.metric("requests_total", "Requests.").family::<Counter>(&["model", "status"])?;
    /// requests.with_labels(&["llama", "ok"])?.inc();
    /// let latency = r.metric("latency_seconds", "Latency.").unit("seconds").family::<Histogram>(&["model"])?;
    /// latency.with_labels(&["llama"])?.observe(0.2);
    /// r.metric("prompt_tokens", "Prompt sizes.").family::<Summary>(&["model"])?;
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn family<M: Metric>(self, labels: &[&str]) -> Result<Family<M>, Error> {
        let r = self.registry;
        r.register(self, labels)
    }

    /// Declares one unlabeled metric of any type.
    ///
    /// ```
    /// use nanometrics::{FloatCounter, Gauge, Registry};
    /// let r = Registry::new();
    /// r.metric("cpu_seconds_total", "CPU.").unit("seconds").build::<FloatCounter>()?.inc_by(1.5);
    /// r.metric("build_info", "Build.").const_label("version", "1.2.3").build::<Gauge>()?.set(1.0);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn build<M: Metric>(self) -> Result<M, Error> {
        self.family::<M>(&[])?.with_labels::<&str>(&[])
    }

    /// Declares an info family: gauges whose labels carry the information
    /// and whose value is 1 (set it when you create a series). The name must
    /// end in `_info`; OpenMetrics exposes the type `info`, the text format
    /// a gauge.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let f = r.metric("build_info", "Build.").info_family(&["version"])?;
    /// f.with_labels(&["1.2.0"])?.set(1.0);
    /// assert_eq!(r.snapshot().families[0].kind, nanometrics::MetricKind::Info);
    /// assert!(r.metric("build", "x").info_family(&[]).is_err());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn info_family(mut self, labels: &[&str]) -> Result<Family<Gauge>, Error> {
        self.check_info()?;
        self.kind = Some(MetricKind::Info);
        self.family::<Gauge>(labels)
    }

    fn check_info(&self) -> Result<(), Error> {
        if !self.name.ends_with("_info") {
            return Err(Error::InvalidName(format!(
                "{} (an info metric's name must end in \"_info\")",
                self.name
            )));
        }
        Ok(())
    }

    /// Declares a state set: one gauge per state, 1 for the current state
    /// and 0 for the others, the state in the label named like the family
    /// (which `labels` must include). OpenMetrics exposes the type
    /// `stateset`, the text format a gauge.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let f = r.metric("engine_state", "State.").state_set_family(&["engine_state"])?;
    /// f.with_labels(&["running"])?.set(1.0);
    /// f.with_labels(&["stopped"])?.set(0.0);
    /// assert!(r.metric("other", "x").state_set_family(&["state"]).is_err());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn state_set_family(mut self, labels: &[&str]) -> Result<Family<Gauge>, Error> {
        self.check_state_set(labels)?;
        self.kind = Some(MetricKind::StateSet);
        self.family::<Gauge>(labels)
    }

    /// [`state_set_family`](Self::state_set_family) with the state label
    /// added after `labels`: named like the family (prefix included), so
    /// the same declaration works under any registry.
    ///
    /// ```
    /// # let r = nanometrics::Registry::new();
    /// let mode = r.sub_registry("engine", &[])?.metric("mode", "Mode.").state_set(&["engine_id"])?;
    /// mode.with_labels(&["e0", "running"])?.set(1.0);
    /// let snap = r.snapshot();
    /// assert_eq!(snap.families[0].series[0].labels.get("engine_mode"), Some("running"));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn state_set(self, labels: &[&str]) -> Result<Family<Gauge>, Error> {
        let state = join_name(&self.registry.node.prefix, &self.name).replace(':', "_");
        let mut all: Vec<&str> = labels.to_vec();
        all.push(&state);
        self.state_set_family(&all)
    }

    fn check_state_set(&self, labels: &[&str]) -> Result<(), Error> {
        let full = join_name(&self.registry.node.prefix, &self.name);
        // A `:` cannot be in a label name: there the family's name is
        // written with `_` (as prometheus_client escapes it).
        let label = full.replace(':', "_");
        if !labels.contains(&label.as_str()) {
            return Err(Error::InvalidLabelName(format!(
                "a state set's states go in a label named like the family, {label:?}, which {labels:?} lacks"
            )));
        }
        Ok(())
    }

    /// Declares a [`CollectedFamily`] of `kind` with the label names
    /// `labels`: a family whose values another library keeps and hands
    /// over whole with [`CollectedFamily::set`] (a bridge, a collector
    /// computed on demand). It follows every rule of a native declaration
    /// (names, units, labels, conflicts; an info family's name ends in
    /// `_info`, a state set has a label named like it); histograms bring
    /// their buckets with each value, so `.buckets(..)` is an error.
    /// Declaring it again returns the same family; a native family of
    /// the name is a conflict.
    ///
    /// ```
    /// use nanometrics::{CollectedValue, MetricKind, Registry};
    /// let r = Registry::new();
    /// let up = r.metric("up", "Up.").collected(MetricKind::Gauge, &["job"])?;
    /// up.set([(vec!["api".into()], CollectedValue::Gauge(1.0))])?;
    /// assert_eq!(r.snapshot().families[0].series[0].value.as_gauge(), Some(1.0));
    /// assert!(r.gauge("up", "Up.").is_err());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn collected(self, kind: MetricKind, labels: &[&str]) -> Result<CollectedFamily, Error> {
        match kind {
            MetricKind::Info => self.check_info()?,
            MetricKind::StateSet => self.check_state_set(labels)?,
            _ => {}
        }
        let r = self.registry;
        r.register_collected(self, kind, labels)
    }
}
