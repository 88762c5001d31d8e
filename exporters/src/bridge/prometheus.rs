//! The `prometheus` crate (0.14), both ways, so a runtime that uses it can
//! adopt nanometrics one component at a time behind one `/metrics`:
//!
//! - [`NanometricsCollector`]: a nanometrics [`Registry`] as a
//!   `prometheus::core::Collector`. Registered into an existing
//!   `prometheus::Registry`, its families appear in that registry's
//!   `gather()` and `TextEncoder` output (histograms with their exact
//!   buckets).
//! - [`GatheredRegistry`]: an existing `prometheus::Registry` gathered into
//!   a nanometrics registry on every read, as [`CollectedFamily`]s: one
//!   `/metrics` ([`MetricsServer`](crate::http::MetricsServer)), OTLP
//!   export and snapshots then carry both.
//!
//! ```
//! use nanometrics_exporters::bridge::prometheus::{GatheredRegistry, NanometricsCollector};
//! use prometheus::Encoder;
//!
//! // Theirs into ours: one exposition for both.
//! let ours = nanometrics::Registry::new();
//! ours.counter("tokens_total", "Tokens.")?.inc_by(7);
//! let theirs = prometheus::Registry::new();
//! let legacy = prometheus::IntCounter::new("legacy_requests_total", "Requests.").unwrap();
//! theirs.register(Box::new(legacy.clone())).unwrap();
//! legacy.inc_by(3);
//! let _bridge = GatheredRegistry::attach(&ours, theirs)?;
//! let text = nanometrics_exporters::prometheus::encode_to_string(&ours.snapshot());
//! assert!(text.contains("legacy_requests_total 3.0\n"));
//! assert!(text.contains("tokens_total 7\n"));
//!
//! // Ours into theirs: their TextEncoder writes our families.
//! let host = prometheus::Registry::new();
//! let mine = nanometrics::Registry::new();
//! mine.gauge("queue_depth", "Queued.")?.set(4.0);
//! host.register(Box::new(NanometricsCollector::new(mine.clone()).unwrap())).unwrap();
//! let mut out = Vec::new();
//! prometheus::TextEncoder::new().encode(&host.gather(), &mut out).unwrap();
//! assert!(String::from_utf8(out).unwrap().contains("queue_depth 4\n"));
//! # Ok::<(), nanometrics::Error>(())
//! ```
//!
//! **A name on both sides.** [`NanometricsCollector::new`] describes every
//! family the registry holds then, so `prometheus::Registry::register`
//! rejects the collector when the registry already has one of those
//! names with other labels or help (or the same series). Families
//! declared later are only described by their samples: keep their names
//! apart from the host registry's (`prometheus`'s `gather` would merge two
//! families of one name). [`GatheredRegistry`] declares each gathered
//! family in the nanometrics registry, whose rules refuse a name it
//! already has natively: [`GatheredRegistry::attach`] returns that error,
//! and a family that first appears later and collides is left out and
//! counted ([`GatheredRegistry::rejected`]).
//!
//! **Not both ways at once.** A `prometheus` registry that holds a
//! `NanometricsCollector` is not gathered (each side would copy the
//! other's copies back): `attach` refuses it, and if the collector is
//! registered later, gathering stops and the gathered families empty
//! (counted, with the reason in [`GatheredRegistry::last_error`]).
//!
//! **What maps to what.** Theirs into ours: counters become float
//! counters (a counter whose name lacks `_total` is exposed with it, as
//! every nanometrics counter is), gauges gauges, histograms histograms (cumulative buckets,
//! `+Inf` added when absent), summaries summaries (count and sum; their
//! quantiles are dropped); untyped families, and series whose label names
//! differ from the first series' of their family, are left out and
//! counted. Ours into theirs: counters and float counters become
//! counters (a `u64` above 2^53 rounds to the nearest `f64`, as every
//! Prometheus sample does), gauges, up-down counters, info and state-set
//! families gauges, histograms histograms (finite bounds; `prometheus`
//! writes `+Inf` from the count), summaries summaries without quantiles;
//! an empty HELP becomes the name (`prometheus` refuses an empty one).
//! `prometheus`'s `TextEncoder` writes `+Inf`/`NaN` sample values as Rust
//! prints them (`inf`, `NaN`), which Prometheus itself parses.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use nanometrics::names::sample_name;
use nanometrics::{
    CollectHook, CollectedFamily, CollectedValue, Error, MetricKind, Registry, Snapshot, Value,
};
use prometheus::core::{Collector, Desc};
use prometheus::proto;

use crate::sync::lock;

/// Why a registry holding a `NanometricsCollector` is not gathered.
const LOOP: &str = "the prometheus registry holds a NanometricsCollector: gathering it would copy metrics back and forth (gather a registry without the collector)";

thread_local! {
    /// This thread is gathering a `prometheus` registry into ours.
    static GATHERING: Cell<bool> = const { Cell::new(false) };
    /// A `NanometricsCollector` was read while this thread gathered: the
    /// source holds a collector of a nanometrics registry (a loop).
    static LOOP_SEEN: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as gathering while it lives (also when a collector
/// panics: the flag never sticks).
struct Gathering;

impl Gathering {
    /// `None` when this thread is gathering already (a nested read).
    fn start() -> Option<Gathering> {
        if GATHERING.with(|g| g.replace(true)) {
            return None;
        }
        LOOP_SEEN.with(|l| l.set(false));
        Some(Gathering)
    }

    /// Whether a collector of a nanometrics registry was read since
    /// `start`.
    fn loop_seen(&self) -> bool {
        LOOP_SEEN.with(Cell::get)
    }
}

impl Drop for Gathering {
    fn drop(&mut self) {
        GATHERING.with(|g| g.set(false));
    }
}

// === ours into theirs ===

/// A nanometrics [`Registry`] as a `prometheus` collector: register it into
/// a `prometheus::Registry` and every `gather()` reads a fresh snapshot.
pub struct NanometricsCollector {
    registry: Registry,
    descs: Vec<Desc>,
}

impl std::fmt::Debug for NanometricsCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NanometricsCollector")
            .field("descs", &self.descs.len())
            .finish()
    }
}

impl NanometricsCollector {
    /// A collector of `registry`, describing the families it holds now
    /// (one `Desc` per registration: name, HELP, constant labels, label
    /// names), so that registering it checks them against the host
    /// registry's.
    ///
    /// # Errors
    ///
    /// A family that `prometheus` cannot describe (its rules for names are
    /// those of nanometrics, so this does not happen for names declared
    /// through nanometrics).
    pub fn new(registry: Registry) -> Result<NanometricsCollector, prometheus::Error> {
        let mut descs = Vec::new();
        let mut seen = std::collections::HashSet::new();
        registry.visit(|family| {
            family.for_each_group(|group| {
                let consts: HashMap<String, String> = group
                    .const_labels()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                let names: Vec<String> = group.label_names().map(str::to_string).collect();
                let name = sample_name(family.name, family.kind).into_owned();
                let mut key: Vec<String> = consts.iter().map(|(k, v)| format!("{k}={v}")).collect();
                key.sort();
                if seen.insert((name.clone(), key)) {
                    descs.push(Desc::new(
                        name,
                        help_or_name(family.help, family.name),
                        names,
                        consts,
                    ));
                }
            })
        });
        Ok(NanometricsCollector {
            registry,
            descs: descs.into_iter().collect::<Result<_, _>>()?,
        })
    }
}

fn help_or_name<'a>(help: &'a str, name: &'a str) -> String {
    if help.is_empty() { name } else { help }.to_string()
}

impl Collector for NanometricsCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<proto::MetricFamily> {
        // Read while this thread gathers a `prometheus` registry into a
        // nanometrics one: that registry holds this collector, and each
        // side would copy the other's copies back. The gatherer sees
        // this and stops (see `GatheredRegistry`).
        if GATHERING.with(Cell::get) {
            LOOP_SEEN.with(|l| l.set(true));
            return Vec::new();
        }
        to_metric_families(&self.registry.snapshot())
    }
}

/// `snap` as `prometheus` metric families (families without series left
/// out: `prometheus`'s encoders refuse them).
fn to_metric_families(snap: &Snapshot) -> Vec<proto::MetricFamily> {
    let mut out = Vec::with_capacity(snap.families.len());
    for f in snap.families.iter().filter(|f| !f.series.is_empty()) {
        let field_type = match f.kind {
            MetricKind::Counter => proto::MetricType::COUNTER,
            MetricKind::Histogram => proto::MetricType::HISTOGRAM,
            MetricKind::Summary => proto::MetricType::SUMMARY,
            MetricKind::Gauge
            | MetricKind::UpDownCounter
            | MetricKind::Info
            | MetricKind::StateSet => proto::MetricType::GAUGE,
        };
        let mut mf = proto::MetricFamily::default();
        mf.set_name(sample_name(&f.name, f.kind).into_owned());
        mf.set_help(help_or_name(&f.help, &f.name));
        mf.set_field_type(field_type);
        let metrics = f
            .series
            .iter()
            .map(|s| {
                let mut m = proto::Metric::default();
                m.set_label(
                    s.labels
                        .iter()
                        .map(|(k, v)| {
                            let mut p = proto::LabelPair::default();
                            p.set_name(k.to_string());
                            p.set_value(v.to_string());
                            p
                        })
                        .collect(),
                );
                set_value(&mut m, &s.value);
                m
            })
            .collect();
        mf.set_metric(metrics);
        out.push(mf);
    }
    out
}

fn set_value(m: &mut proto::Metric, value: &Value) {
    let gauge = |v: f64| {
        let mut g = proto::Gauge::default();
        g.set_value(v);
        g
    };
    let counter = |v: f64| {
        let mut c = proto::Counter::default();
        c.set_value(v);
        c
    };
    match value {
        Value::Counter(n) => m.set_counter(counter(*n as f64)),
        Value::FloatCounter(x) => m.set_counter(counter(*x)),
        Value::Gauge(x) => m.set_gauge(gauge(*x)),
        Value::UpDownCounter(n) => m.set_gauge(gauge(*n as f64)),
        Value::Histogram(h) => {
            let mut p = proto::Histogram::default();
            p.set_sample_count(h.count);
            p.set_sample_sum(h.sum);
            p.set_bucket(
                h.buckets
                    .iter()
                    .filter(|(b, _)| b.is_finite())
                    .map(|(b, c)| {
                        let mut bucket = proto::Bucket::default();
                        bucket.set_upper_bound(*b);
                        bucket.set_cumulative_count(*c);
                        bucket
                    })
                    .collect(),
            );
            m.set_histogram(p);
        }
        Value::Summary(h) => {
            let mut p = proto::Summary::default();
            p.set_sample_count(h.count);
            p.set_sample_sum(h.sum);
            m.set_summary(p);
        }
    }
}

// === theirs into ours ===

/// A `prometheus::Registry` gathered into a nanometrics [`Registry`] on
/// every read of it (snapshot, scrape, OTLP export), through a collect
/// hook: each gathered family is a [`CollectedFamily`] of the same name.
/// Dropping it removes the hook; the families stay, holding their last
/// values.
pub struct GatheredRegistry {
    state: Arc<State>,
    _hook: CollectHook,
}

impl std::fmt::Debug for GatheredRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatheredRegistry")
            .field("rejected", &self.rejected())
            .finish()
    }
}

struct State {
    source: prometheus::Registry,
    target: Registry,
    /// `source` was seen to hold a `NanometricsCollector`: gathering
    /// stopped for good.
    looped: std::sync::atomic::AtomicBool,
    families: Mutex<HashMap<String, Declared>>,
    rejected: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// What a gathered name became in the nanometrics registry.
enum Declared {
    Family {
        family: CollectedFamily,
        labels: Vec<String>,
    },
    /// Refused (the error was counted when it was).
    Refused,
}

impl GatheredRegistry {
    /// Gathers `source` into `target` now and on every read of `target`
    /// after.
    ///
    /// # Errors
    ///
    /// The first family that `target` refuses now (a name it already has
    /// natively, or under other labels or help): a name on both sides is
    /// an error, never a duplicate family. Nothing of the bridge stays in
    /// `target` then. (Untyped families and series that do not fit are
    /// left out and counted, not errors.)
    pub fn attach(
        target: &Registry,
        source: prometheus::Registry,
    ) -> Result<GatheredRegistry, Error> {
        let state = Arc::new(State {
            source,
            target: target.clone(),
            looped: std::sync::atomic::AtomicBool::new(false),
            families: Mutex::new(HashMap::new()),
            rejected: AtomicU64::new(0),
            last_error: Mutex::new(None),
        });
        let refused = state.gather().or_else(|| {
            state
                .looped
                .load(Ordering::Relaxed)
                .then(|| Error::Conflict(LOOP.into()))
        });
        if let Some(e) = refused {
            // Nothing stays behind of a bridge that was refused.
            for (name, declared) in lock(&state.families).iter() {
                if let Declared::Family { .. } = declared {
                    target.unregister(name);
                }
            }
            return Err(e);
        }
        let weak = Arc::downgrade(&state);
        let hook = target.on_collect(move || {
            if let Some(state) = weak.upgrade() {
                state.gather();
            }
        });
        Ok(GatheredRegistry { state, _hook: hook })
    }

    /// What was left out so far: each name the nanometrics registry
    /// refused (once), and on every read that met them, untyped families
    /// and series whose labels or values did not fit their family.
    pub fn rejected(&self) -> u64 {
        self.state.rejected.load(Ordering::Relaxed)
    }

    /// The error of the last family or series left out.
    pub fn last_error(&self) -> Option<String> {
        lock(&self.state.last_error).clone()
    }
}

impl State {
    /// One gather of `source` into `target`. Returns the first name
    /// `target` refused (what `attach` fails on); every other thing left
    /// out is counted.
    fn gather(&self) -> Option<Error> {
        if self.looped.load(Ordering::Relaxed) {
            return None;
        }
        // A read of `target` inside this gather (a collector of it in
        // `source`) gathers nothing more.
        let gathering = Gathering::start()?;
        // No lock of ours is held while `source` is read: a scrape of
        // `source` may be reading `target` (and waiting for this lock)
        // meanwhile.
        let gathered = self.source.gather();
        let looped = gathering.loop_seen();
        drop(gathering);
        let mut refused = None;
        let count = |e: &Error| {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            *lock(&self.last_error) = Some(e.to_string());
        };
        let mut families = lock(&self.families);
        if looped {
            // Copies of copies, both ways: gather nothing from now on, and
            // hold nothing that would go stale.
            self.looped.store(true, Ordering::Relaxed);
            count(&Error::Conflict(LOOP.into()));
            for declared in families.values() {
                if let Declared::Family { family, .. } = declared {
                    // Setting nothing cannot fail.
                    let _ = family.set([]);
                }
            }
            return None;
        }
        let mut present = std::collections::HashSet::new();
        for mf in &gathered {
            present.insert(mf.name().to_string());
            let Some(kind) = kind_of(mf.get_field_type()) else {
                count(&Error::InvalidValue(format!(
                    "{:?} is untyped, which nanometrics does not expose",
                    mf.name()
                )));
                continue;
            };
            let Some(first_metric) = mf.get_metric().first() else {
                continue;
            };
            let labels: Vec<String> = first_metric
                .get_label()
                .iter()
                .map(|p| p.name().to_string())
                .collect();
            let declared = families.entry(mf.name().to_string()).or_insert_with(|| {
                let names: Vec<&str> = labels.iter().map(String::as_str).collect();
                match self
                    .target
                    .metric(mf.name(), mf.help())
                    .collected(kind, &names)
                {
                    Ok(family) => Declared::Family {
                        family,
                        labels: labels.clone(),
                    },
                    Err(e) => {
                        count(&e);
                        refused.get_or_insert(e);
                        Declared::Refused
                    }
                }
            });
            let Declared::Family {
                family,
                labels: names,
            } = declared
            else {
                continue;
            };
            let mut series = Vec::with_capacity(mf.get_metric().len());
            for m in mf.get_metric() {
                let pairs = m.get_label();
                if pairs.len() != names.len()
                    || pairs.iter().zip(&*names).any(|(p, n)| p.name() != n)
                {
                    count(&Error::LabelMismatch(format!(
                        "a series of {:?} has the labels {:?}, its family {names:?}",
                        mf.name(),
                        pairs.iter().map(|p| p.name()).collect::<Vec<_>>()
                    )));
                    continue;
                }
                let values = pairs.iter().map(|p| p.value().to_string()).collect();
                series.push((values, collected_value(kind, m)));
            }
            if let Err(e) = family.set(series) {
                count(&e);
            }
        }
        // A family gone from `source` (its collector unregistered) has no
        // series left.
        for (name, declared) in families.iter() {
            if let (false, Declared::Family { family, .. }) = (present.contains(name), declared) {
                // Setting nothing cannot fail.
                let _ = family.set([]);
            }
        }
        refused
    }
}

fn kind_of(t: proto::MetricType) -> Option<MetricKind> {
    match t {
        proto::MetricType::COUNTER => Some(MetricKind::Counter),
        proto::MetricType::GAUGE => Some(MetricKind::Gauge),
        proto::MetricType::HISTOGRAM => Some(MetricKind::Histogram),
        proto::MetricType::SUMMARY => Some(MetricKind::Summary),
        _ => None,
    }
}

fn collected_value(kind: MetricKind, m: &proto::Metric) -> CollectedValue {
    match kind {
        MetricKind::Counter => CollectedValue::FloatCounter(m.get_counter().value()),
        MetricKind::Histogram => {
            let h = m.get_histogram();
            // Keyed by the bound's bits to keep the last count of a bound
            // given twice; `+Inf` comes from the count when absent.
            let mut buckets: BTreeMap<u64, (f64, u64)> = BTreeMap::new();
            for b in h.get_bucket() {
                let bound = b.upper_bound();
                buckets.insert(order_key(bound), (bound, b.cumulative_count()));
            }
            buckets
                .entry(order_key(f64::INFINITY))
                .or_insert((f64::INFINITY, h.get_sample_count()));
            CollectedValue::Histogram {
                buckets: buckets.into_values().collect(),
                sum: h.get_sample_sum(),
            }
        }
        MetricKind::Summary => {
            let s = m.get_summary();
            CollectedValue::Summary {
                count: s.sample_count(),
                sum: s.sample_sum(),
            }
        }
        _ => CollectedValue::Gauge(m.get_gauge().value()),
    }
}

/// A key that sorts `f64`s (not NaN) in value order.
fn order_key(x: f64) -> u64 {
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}
