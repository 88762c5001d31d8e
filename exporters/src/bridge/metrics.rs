//! [`NanometricsRecorder`]: a `metrics` 0.24 recorder that keeps every
//! counter, gauge and histogram in a nanometrics [`Registry`].
//!
//! ```
//! use nanometrics_exporters::bridge::metrics::NanometricsRecorder;
//! let registry = nanometrics::Registry::new();
//! let recorder = NanometricsRecorder::builder(registry.clone())
//!     .buckets_for("request_duration_seconds", nanometrics::Buckets::exponential(0.001, 2.0, 16))
//!     .build();
//! metrics::with_local_recorder(&recorder, || {
//!     metrics::describe_counter!("requests_total", "Requests served.");
//!     metrics::counter!("requests_total", "code" => "200").increment(3);
//!     metrics::histogram!("request_duration_seconds").record(0.02);
//! });
//! let snap = registry.snapshot();
//! let requests = snap.family("requests_total").unwrap();
//! assert_eq!(requests.help, "Requests served.");
//! assert_eq!(requests.series[0].value.as_counter(), Some(3));
//! // `metrics::set_global_recorder(recorder)` makes it the process's.
//! ```
//!
//! - A key's name and label names become a family: `counter!("x", "a" =>
//!   "1")` and `counter!("x", "a" => "2")` are two series of the family
//!   `x{a}`. Names (and label names) that nanometrics does not accept are
//!   escaped to underscores (`http.requests` → `http_requests`), as
//!   Prometheus exporters do. A name used again with other label names, or
//!   as another type, gets a handle that records nothing, counted in
//!   [`NanometricsRecorder::rejected`].
//! - Handles are cached by the whole key (name and every label, compared
//!   in full, never by hash alone), in each thread's own map (no lock) and
//!   a shared one: a macro call after the thread's first is a map lookup
//!   and an `Arc` clone; a handle the caller keeps updates the nanometrics
//!   series directly. A thread keeps up to 4,096 keys per recorder and
//!   type (then starts over), and keeps their series alive while it does.
//! - `describe_*` gives the HELP text and, when the name ends with it, the
//!   unit; a description after the first registration of a name is kept
//!   for nothing (a family's HELP is fixed when it is declared).
//! - `Counter::absolute(v)` raises the counter to `v` if it is below
//!   (absolute calls on one series are serialized with each other, not with
//!   increments). Histograms use `buckets_for(name)`, else the builder's
//!   default (`Buckets::default()`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::sync::lock;
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use nanometrics::{Buckets, Registry};

/// Builds a [`NanometricsRecorder`].
#[derive(Debug)]
pub struct NanometricsRecorderBuilder {
    registry: Registry,
    buckets: HashMap<String, Buckets>,
    default_buckets: Buckets,
}

impl NanometricsRecorderBuilder {
    /// Histogram buckets for the (escaped) name `name`.
    pub fn buckets_for(mut self, name: &str, buckets: Buckets) -> Self {
        self.buckets.insert(escape(name), buckets);
        self
    }

    /// Buckets of histograms without their own (default `Buckets::default()`).
    pub fn default_buckets(mut self, buckets: Buckets) -> Self {
        self.default_buckets = buckets;
        self
    }

    /// The recorder.
    pub fn build(self) -> NanometricsRecorder {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        NanometricsRecorder {
            inner: Arc::new(Inner {
                // Relaxed: only uniqueness matters.
                id: NEXT.fetch_add(1, Ordering::Relaxed),
                registry: self.registry,
                buckets: self.buckets,
                default_buckets: self.default_buckets,
                descriptions: Mutex::new(HashMap::new()),
                counters: RwLock::new(KeyMap::default()),
                gauges: RwLock::new(KeyMap::default()),
                histograms: RwLock::new(KeyMap::default()),
                rejected: AtomicU64::new(0),
            }),
        }
    }
}

/// A `metrics` recorder over a nanometrics registry; see the
/// [module docs](self). Cheap to clone.
#[derive(Clone, Debug)]
pub struct NanometricsRecorder {
    inner: Arc<Inner>,
}

/// Hashes a [`Key`] by the hash it carries (`Key` writes exactly its
/// precomputed `u64`); equality still compares the whole key.
#[derive(Clone, Default)]
struct KeyHash(u64);

impl std::hash::Hasher for KeyHash {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by `Key`; a plain FNV-1a for anything else.
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

type KeyMap<H> = HashMap<Key, H, std::hash::BuildHasherDefault<KeyHash>>;

/// A thread's handles per recorder (by its id), usually one recorder.
type LocalHandles<H> = Vec<(u64, KeyMap<H>)>;

/// Keys a thread keeps per recorder and type before it starts over.
const LOCAL_ENTRIES: usize = 4096;

std::thread_local! {
    static LOCAL_COUNTERS: RefCell<LocalHandles<Counter>> = const { RefCell::new(Vec::new()) };
    static LOCAL_GAUGES: RefCell<LocalHandles<Gauge>> = const { RefCell::new(Vec::new()) };
    static LOCAL_HISTOGRAMS: RefCell<LocalHandles<Histogram>> = const { RefCell::new(Vec::new()) };
}

#[derive(Debug)]
struct Inner {
    /// Unique per recorder (never reused): the thread caches' key.
    id: u64,
    registry: Registry,
    buckets: HashMap<String, Buckets>,
    default_buckets: Buckets,
    /// Escaped name → (HELP, unit).
    descriptions: Mutex<HashMap<String, (String, Option<Unit>)>>,
    counters: RwLock<KeyMap<Counter>>,
    gauges: RwLock<KeyMap<Gauge>>,
    histograms: RwLock<KeyMap<Histogram>>,
    rejected: AtomicU64,
}

/// `name` with every character nanometrics does not accept in a metric
/// (or label) name replaced by `_`, and `_` in front of a leading digit.
fn escape(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

fn label_name(name: &str) -> String {
    escape(name).replace(':', "_")
}

impl NanometricsRecorder {
    /// A builder over `registry`.
    pub fn builder(registry: Registry) -> NanometricsRecorderBuilder {
        NanometricsRecorderBuilder {
            registry,
            buckets: HashMap::new(),
            default_buckets: Buckets::default(),
        }
    }

    /// A recorder over `registry` with the defaults.
    pub fn new(registry: Registry) -> NanometricsRecorder {
        NanometricsRecorder::builder(registry).build()
    }

    /// Keys whose name the registry refused (another type or other label
    /// names under that name): their handles record nothing.
    pub fn rejected(&self) -> u64 {
        self.inner.rejected.load(Ordering::Relaxed)
    }

    fn describe(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        lock(&self.inner.descriptions)
            .insert(escape(key.as_str()), (description.to_string(), unit));
    }

    /// The handle cached for `key` (in this thread's cache, else the
    /// shared one), or the one `make` declares (cached in both).
    fn handle<H: Clone + 'static>(
        &self,
        cache: &RwLock<KeyMap<H>>,
        local: &'static std::thread::LocalKey<RefCell<LocalHandles<H>>>,
        key: &Key,
        make: impl FnOnce(&Inner, &str, &str, Option<&str>, &[String], &[String]) -> Option<H>,
        noop: H,
    ) -> H {
        let id = self.inner.id;
        // The thread's own map first: no lock, no shared write.
        let hit = local
            .try_with(|l| {
                let l = l.borrow();
                let m = &l.iter().find(|(r, _)| *r == id)?.1;
                m.get(key).cloned()
            })
            .ok()
            .flatten();
        if let Some(h) = hit {
            return h;
        }
        let h = self.shared_handle(cache, key, make, noop);
        let _ = local.try_with(|l| {
            let mut l = l.borrow_mut();
            let at = match l.iter().position(|(r, _)| *r == id) {
                Some(i) => i,
                None => {
                    l.push((id, KeyMap::default()));
                    l.len() - 1
                }
            };
            let m = &mut l[at].1;
            if m.len() >= LOCAL_ENTRIES {
                m.clear();
            }
            m.insert(key.clone(), h.clone());
        });
        h
    }

    fn shared_handle<H: Clone>(
        &self,
        cache: &RwLock<KeyMap<H>>,
        key: &Key,
        make: impl FnOnce(&Inner, &str, &str, Option<&str>, &[String], &[String]) -> Option<H>,
        noop: H,
    ) -> H {
        if let Some(h) = cache.read().unwrap_or_else(|p| p.into_inner()).get(key) {
            return h.clone();
        }
        let mut w = cache.write().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = w.get(key) {
            return h.clone();
        }
        let name = escape(key.name());
        let (help, unit) = lock(&self.inner.descriptions)
            .get(&name)
            .map(|(h, u)| (h.clone(), u.map(|u| u.as_str())))
            .unwrap_or_default();
        let names: Vec<String> = key.labels().map(|l| label_name(l.key())).collect();
        let values: Vec<String> = key.labels().map(|l| l.value().to_string()).collect();
        let h = match make(&self.inner, &name, &help, unit, &names, &values) {
            Some(h) => h,
            None => {
                self.inner.rejected.fetch_add(1, Ordering::Relaxed);
                noop
            }
        };
        w.insert(key.clone(), h.clone());
        h
    }
}

/// Declares with the unit when the name allows it, else without.
fn build<M: nanometrics::Metric>(
    r: &Registry,
    name: &str,
    help: &str,
    unit: Option<&str>,
    buckets: Option<&Buckets>,
    names: &[String],
) -> Option<nanometrics::Family<M>> {
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let declare = |unit: Option<&str>| {
        let mut b = r.metric(name, help);
        if let Some(u) = unit {
            b = b.unit(u);
        }
        if let Some(bk) = buckets {
            b = b.buckets(bk.clone());
        }
        b.family::<M>(&names)
    };
    unit.and_then(|u| declare(Some(u)).ok())
        .or_else(|| declare(None).ok())
}

struct CounterCell {
    c: nanometrics::Counter,
    absolute: Mutex<()>,
}

impl CounterFn for CounterCell {
    fn increment(&self, value: u64) {
        self.c.inc_by(value);
    }

    fn absolute(&self, value: u64) {
        let _one_at_a_time = lock(&self.absolute);
        let cur = self.c.get();
        if value > cur {
            self.c.inc_by(value - cur);
        }
    }
}

struct GaugeCell(nanometrics::Gauge);

impl GaugeFn for GaugeCell {
    fn increment(&self, value: f64) {
        self.0.add(value);
    }

    fn decrement(&self, value: f64) {
        self.0.sub(value);
    }

    fn set(&self, value: f64) {
        self.0.set(value);
    }
}

struct HistogramCell(nanometrics::Histogram);

impl HistogramFn for HistogramCell {
    fn record(&self, value: f64) {
        self.0.observe(value);
    }
}

impl Recorder for NanometricsRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(key, unit, description);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.handle(
            &self.inner.counters,
            &LOCAL_COUNTERS,
            key,
            |i, name, help, unit, names, values| {
                let f = build::<nanometrics::Counter>(&i.registry, name, help, unit, None, names)?;
                let c = f.with_labels(values).ok()?;
                Some(Counter::from_arc(Arc::new(CounterCell {
                    c,
                    absolute: Mutex::new(()),
                })))
            },
            Counter::noop(),
        )
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.handle(
            &self.inner.gauges,
            &LOCAL_GAUGES,
            key,
            |i, name, help, unit, names, values| {
                let f = build::<nanometrics::Gauge>(&i.registry, name, help, unit, None, names)?;
                Some(Gauge::from_arc(Arc::new(GaugeCell(
                    f.with_labels(values).ok()?,
                ))))
            },
            Gauge::noop(),
        )
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.handle(
            &self.inner.histograms,
            &LOCAL_HISTOGRAMS,
            key,
            |i, name, help, unit, names, values| {
                let buckets = i.buckets.get(name).unwrap_or(&i.default_buckets);
                let f = build::<nanometrics::Histogram>(
                    &i.registry,
                    name,
                    help,
                    unit,
                    Some(buckets),
                    names,
                )?;
                Some(Histogram::from_arc(Arc::new(HistogramCell(
                    f.with_labels(values).ok()?,
                ))))
            },
            Histogram::noop(),
        )
    }
}
