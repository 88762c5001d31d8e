//! `nanometrics._native`: the PyO3 layer under the `nanometrics` Python
//! package.
//!
//! Every Python metric object holds a *family* (`Family`) and hands out
//! *children* (`CounterChild`, `GaugeChild`, `HistogramChild`,
//! `SummaryChild`): frozen `#[pyclass]`es over the core handle, so that an
//! update is one call into Rust that touches only the calling thread's shard
//! slot — no dict lookup, no lock, no allocation. `Family.labels` keeps the
//! children it made in a dict keyed by the label values, so a repeated
//! `labels(...)` is one dict lookup and never reaches the core's table.
//!
//! Scrapes (`Registry.encode`, the HTTP server) run without the GIL. The one
//! exception is `Gauge.set_function`: its callbacks are Python, so a collect
//! hook takes the GIL to call them, and only when there are some.
//!
//! What a handle costs in memory (`sys.getsizeof`, CPython 3.11, 64-bit): a
//! counter or gauge child is 56 bytes, a histogram or summary child 64 — the
//! Python object header, the core handle (a slot reference and an `Arc`, or
//! for a gauge its `Arc` and the registry's callback table) and the
//! `OnceLock` that binds it; no `__dict__`. The family's cache adds one dict
//! entry and the key, a tuple of the label-value strings (48 bytes for one
//! value, plus the strings). That is once per label set, however often it
//! is used; the series' shard slots are the core's (8 bytes per thread that
//! writes a counter; see `Histogram` for histograms).

use std::cell::RefCell;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple, PyType};

mod collectors;
mod otlp;
mod parse;
mod realtime;

use nanometrics as nm;
use nanometrics_exporters::http::MetricsServer;
use nanometrics_exporters::{openmetrics, prometheus, EncodeOptions};

fn value_error(e: nm::Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// === set_function callbacks ===

/// The `set_function` callbacks of one registry, keyed by the child object
/// they belong to. Entries are added, replaced or removed with the GIL held;
/// the hook (on a scrape thread) never waits for the GIL while it holds the
/// mutex, so the two cannot deadlock.
#[derive(Default)]
struct Functions {
    entries: Mutex<Vec<(usize, nm::Gauge, Py<PyAny>)>>,
    /// Callables run at each read, before the gauges' (collectors that set
    /// collected families).
    hooks: Mutex<Vec<(usize, Py<PyAny>)>>,
}

thread_local! {
    /// The Python exception a callback raised during a read on this thread,
    /// handed from the hook (which unwinds) to `Registry.encode` (which
    /// raises it).
    static PENDING: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

/// The unwind payload of a failed callback.
struct CallbackFailed;

impl Functions {
    fn set(&self, key: usize, gauge: nm::Gauge, f: Py<PyAny>) {
        let old = {
            let mut e = lock(&self.entries);
            let old = e
                .iter()
                .position(|(k, _, _)| *k == key)
                .map(|i| e.remove(i));
            e.push((key, gauge, f));
            old
        };
        // Dropped after the unlock: a decref may run `__del__`, which may
        // let another thread take the GIL — one that could be a scrape
        // waiting for this mutex.
        drop(old);
    }

    fn remove(&self, keys: &HashSet<usize>) {
        let removed: Vec<_> = {
            let mut e = lock(&self.entries);
            let (gone, kept) = std::mem::take(&mut *e)
                .into_iter()
                .partition(|(k, _, _)| keys.contains(k));
            *e = kept;
            gone
        };
        drop(removed); // after the unlock, as in `set`
    }

    fn set_hook(&self, key: usize, f: Option<Py<PyAny>>) {
        let old = {
            let mut h = lock(&self.hooks);
            let old = h.iter().position(|(k, _)| *k == key).map(|i| h.remove(i));
            if let Some(f) = f {
                h.push((key, f));
            }
            old
        };
        drop(old); // after the unlock, as in `set`
    }

    /// The collect hook: runs every hook, then calls every callback and
    /// sets its gauge. A raised exception stops the read (the scrape
    /// fails; `encode` re-raises it).
    fn run(&self) {
        // No callbacks (the usual case): no GIL.
        if lock(&self.entries).is_empty() && lock(&self.hooks).is_empty() {
            return;
        }
        Python::attach(|py| {
            let hooks: Vec<Py<PyAny>> = lock(&self.hooks)
                .iter()
                .map(|(_, f)| f.clone_ref(py))
                .collect();
            for f in hooks {
                if let Err(e) = f.call0(py) {
                    PENDING.with(|p| *p.borrow_mut() = Some(e));
                    std::panic::resume_unwind(Box::new(CallbackFailed));
                }
            }
            let entries: Vec<(nm::Gauge, Py<PyAny>)> = lock(&self.entries)
                .iter()
                .map(|(_, g, f)| (g.clone(), f.clone_ref(py)))
                .collect();
            for (g, f) in entries {
                match f.call0(py).and_then(|v| v.extract::<f64>(py)) {
                    Ok(v) => g.set(v),
                    Err(e) => {
                        PENDING.with(|p| *p.borrow_mut() = Some(e));
                        // resume_unwind: no panic message on stderr; the
                        // reader (encode, or the HTTP server's 500) reports it.
                        std::panic::resume_unwind(Box::new(CallbackFailed));
                    }
                }
            }
        });
    }
}

// === Registry ===

/// A core registry plus the `set_function` callbacks read with it.
#[pyclass(frozen, module = "nanometrics._native")]
struct Registry {
    inner: nm::Registry,
    funcs: Arc<Functions>,
    /// The root's hook that runs the callbacks (shared with sub-registries,
    /// so it lives while any of them does).
    _hook: Option<Arc<nm::CollectHook>>,
}

fn attach_functions(r: &nm::Registry) -> (Arc<Functions>, nm::CollectHook) {
    let funcs = Arc::new(Functions::default());
    let f = funcs.clone();
    (funcs, r.on_collect(move || f.run()))
}

/// The process-wide registry (`nanometrics::global()`), shared with Rust
/// code linked into this extension.
fn global_functions() -> Arc<Functions> {
    static GLOBAL: OnceLock<Arc<Functions>> = OnceLock::new();
    GLOBAL
        .get_or_init(|| {
            let (funcs, hook) = attach_functions(nm::global());
            hook.forget();
            funcs
        })
        .clone()
}

#[pymethods]
impl Registry {
    /// A new, empty registry.
    #[new]
    fn new() -> Registry {
        let inner = nm::Registry::new();
        let (funcs, hook) = attach_functions(&inner);
        Registry {
            inner,
            funcs,
            _hook: Some(Arc::new(hook)),
        }
    }

    /// The process-wide registry: the one Rust code in this process declares
    /// into with `nanometrics::global()`.
    #[staticmethod]
    fn default() -> Registry {
        Registry {
            inner: nm::global().clone(),
            funcs: global_functions(),
            _hook: None,
        }
    }

    /// A child registry: metric names get `prefix_` in front, every series
    /// the constant `labels`; its metrics are read with this registry's.
    fn sub_registry(&self, prefix: &str, labels: Vec<(String, String)>) -> PyResult<Registry> {
        let pairs: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let inner = self
            .inner
            .sub_registry(prefix, &pairs)
            .map_err(value_error)?;
        Ok(Registry {
            inner,
            funcs: self.funcs.clone(),
            _hook: self._hook.clone(),
        })
    }

    /// Declares a family. `kind` is one of counter, gauge, histogram,
    /// summary, info, stateset; `limit` caps its label sets (None: no cap).
    /// `kwnames` are the names `labels(**kwargs)` accepts, when they differ
    /// from the (escaped) label names.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (kind, name, documentation, labelnames, unit, buckets, child_cls, limit=None, kwnames=None))]
    fn family(
        &self,
        py: Python<'_>,
        kind: &str,
        name: &str,
        documentation: &str,
        labelnames: Vec<String>,
        unit: &str,
        buckets: Option<Vec<f64>>,
        child_cls: Py<PyType>,
        limit: Option<usize>,
        kwnames: Option<Vec<String>>,
    ) -> PyResult<Family> {
        if let Some(k) = &kwnames {
            if k.len() != labelnames.len() {
                return Err(PyValueError::new_err(
                    "kwnames must name every label, in the order of labelnames",
                ));
            }
        }
        let names: Vec<&str> = labelnames.iter().map(String::as_str).collect();
        let mut b = self.inner.metric(name, documentation);
        if !unit.is_empty() {
            b = b.unit(unit);
        }
        b = b.cardinality_limit(limit.unwrap_or(usize::MAX));
        let (fam, type_name) = match kind {
            "counter" => (
                Fam::Counter(b.family::<nm::FloatCounter>(&names)),
                "counter",
            ),
            "gauge" => (Fam::Gauge(b.family::<nm::Gauge>(&names)), "gauge"),
            "info" => (Fam::Gauge(b.info_family(&names)), "info"),
            "stateset" => (Fam::Gauge(b.state_set_family(&names)), "enum"),
            "histogram" => {
                let buckets = nm::Buckets::explicit(buckets.unwrap_or_default());
                (
                    Fam::Histogram(b.buckets(buckets).family::<nm::Histogram>(&names)),
                    "histogram",
                )
            }
            "summary" => (Fam::Summary(b.family::<nm::Summary>(&names)), "summary"),
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown metric kind {other:?}"
                )))
            }
        };
        Ok(Family {
            kind: fam.ok()?,
            name: name.to_string(),
            type_name,
            kw_names: kwnames.unwrap_or(labelnames),
            children: PyDict::new(py).unbind(),
            child_cls,
            funcs: self.funcs.clone(),
        })
    }

    /// Starts pushing this registry as OTLP/HTTP: the `OTEL_*`
    /// environment's settings with the given ones over them (see
    /// `nanometrics.otlp.start`).
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (endpoint=None, headers=None, interval=None, timeout=None, gzip=None, resource=None, temporality=None))]
    fn otlp_start(
        &self,
        py: Python<'_>,
        endpoint: Option<String>,
        headers: Option<Vec<(String, String)>>,
        interval: Option<f64>,
        timeout: Option<f64>,
        gzip: Option<bool>,
        resource: Option<Vec<(String, String)>>,
        temporality: Option<String>,
    ) -> PyResult<otlp::OtlpExporter> {
        otlp::start(
            py,
            &self.inner,
            otlp::Overrides {
                endpoint,
                headers,
                interval,
                timeout,
                gzip,
                resource,
                temporality,
            },
        )
    }

    /// Starts a watch on the series `selector` names (see
    /// `nanometrics.realtime.watch`); `threshold` is `(stat, above, enter,
    /// exit, for_seconds)`.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (selector, every=None, window=None, quantiles=None, threshold=None, callback=None, queue=16))]
    fn watch(
        &self,
        py: Python<'_>,
        selector: &str,
        every: Option<f64>,
        window: Option<f64>,
        quantiles: Option<Vec<f64>>,
        threshold: Option<(String, bool, f64, Option<f64>, f64)>,
        callback: Option<Py<PyAny>>,
        queue: usize,
    ) -> PyResult<realtime::Watch> {
        let args = realtime::WatchArgs {
            selector,
            every,
            window,
            quantiles,
            threshold,
            callback,
            queue,
        };
        py.detach(|| realtime::watch(&self.inner, args))
    }

    /// Declares a family whose series Python sets whole (`Collected.set`,
    /// `set_histograms`, `set_summaries`); `unit` as a declaration's.
    #[pyo3(signature = (kind, name, documentation, labelnames, unit=""))]
    fn collected(
        &self,
        kind: &str,
        name: &str,
        documentation: &str,
        labelnames: Vec<String>,
        unit: &str,
    ) -> PyResult<collectors::Collected> {
        collectors::Collected::declare(&self.inner, kind, name, documentation, labelnames, unit)
    }

    /// Runs `f()` (with the GIL) at the start of each read of this
    /// registry, under `key`; `f=None` removes it. An exception fails that
    /// read.
    #[pyo3(signature = (key, f=None))]
    fn on_collect(&self, key: usize, f: Option<Py<PyAny>>) {
        self.funcs.set_hook(key, f);
    }

    /// The process collector (Linux: `/proc/self`; elsewhere nothing).
    fn process_collector(&self) -> PyResult<collectors::ProcessHandle> {
        collectors::ProcessHandle::start(&self.inner)
    }

    /// Removes the family exposed as `name`; returns whether there was one.
    fn unregister(&self, name: &str) -> bool {
        self.inner.unregister(name)
    }

    /// The registry in the text format 0.0.4, or OpenMetrics 1.0 with
    /// `openmetrics=True`; with `_created` samples when `created`. Runs
    /// without the GIL, except to call `set_function` callbacks; an
    /// exception a callback raises propagates.
    #[pyo3(signature = (openmetrics=false, created=false))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        openmetrics: bool,
        created: bool,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let r = self.inner.clone();
        let options = EncodeOptions::default().created(created);
        let res = py.detach(move || {
            std::panic::catch_unwind(AssertUnwindSafe(|| {
                let mut out = Vec::with_capacity(64 * 1024);
                if openmetrics {
                    openmetrics::encode_registry_with(&r, &mut out, options);
                } else {
                    prometheus::encode_registry_with(&r, &mut out, options);
                }
                out
            }))
        });
        match res {
            Ok(body) => Ok(PyBytes::new(py, &body)),
            Err(payload) => Err(unwound(payload)),
        }
    }

    /// Every family as `(family_name, sample_name, help, unit, kind,
    /// series)`, the two names by `nanometrics::names`; each series is
    /// `(labels, value, exemplars, created)` with `labels` a list of `(name, value)`
    /// pairs and `value` a float, or for a histogram `(count, sum, [(le,
    /// cumulative count), ...])`, for a summary `(count, sum)`; `exemplars`
    /// has an entry per bucket (a histogram's) or one (a counter's), each
    /// `None` or `(labels, value, timestamp)`, and is empty when none was
    /// recorded; `created` is the series' creation time (seconds), `None`
    /// for a collected family's.
    fn collect<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let r = self.inner.clone();
        let snap = py
            .detach(move || std::panic::catch_unwind(AssertUnwindSafe(|| r.snapshot())))
            .map_err(unwound)?;
        let out = PyList::empty(py);
        for f in &snap.families {
            let series = PyList::empty(py);
            for s in &f.series {
                let labels: Vec<(&str, &str)> = s.labels.iter().collect();
                let value: Bound<'py, PyAny> = match &s.value {
                    nm::Value::Histogram(h) => {
                        let buckets: Vec<(f64, u64)> = h.buckets.clone();
                        (h.count, h.sum, buckets).into_pyobject(py)?.into_any()
                    }
                    nm::Value::Summary(h) => (h.count, h.sum).into_pyobject(py)?.into_any(),
                    v => v.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
                };
                let exemplars: Vec<Option<ExemplarTuple<'_>>> = s
                    .exemplars
                    .iter()
                    .map(|e| e.as_ref().map(exemplar_tuple))
                    .collect();
                // None for a collected family's series (its source's own
                // creation time is not known).
                let created = (!s.labels.is_collected()).then(|| {
                    s.created
                        .duration_since(UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64())
                });
                series.append((labels, value, exemplars, created))?;
            }
            out.append((
                nm::names::family_name(&f.name, f.kind),
                nm::names::sample_name(&f.name, f.kind),
                f.help.as_str(),
                f.unit.as_deref().unwrap_or(""),
                f.kind.as_str(),
                series,
            ))?;
        }
        Ok(out)
    }

    /// Serves `/metrics` (text or OpenMetrics by content negotiation, gzip;
    /// `_created` samples while `set_created_series` says so, read at each
    /// scrape), `/health` and `/live` on `addr:port` from Rust threads:
    /// scrapes never take the GIL, except for `set_function` callbacks.
    #[pyo3(signature = (port, addr="127.0.0.1"))]
    fn serve(&self, py: Python<'_>, port: u16, addr: &str) -> PyResult<Server> {
        let ip: IpAddr = match addr {
            "" => IpAddr::from([0, 0, 0, 0]),
            "localhost" => IpAddr::from([127, 0, 0, 1]),
            a => a.parse().map_err(|e| {
                PyValueError::new_err(format!(
                    "invalid address {a:?}: {e} (an IP address is needed)"
                ))
            })?,
        };
        let bind = SocketAddr::new(ip, port);
        let r = self.inner.clone();
        let server = py
            .detach(move || {
                MetricsServer::builder()
                    .bind(bind.to_string())
                    .registry(r)
                    .created_series_switch(created_switch().clone())
                    .start()
            })
            .map_err(|e| {
                PyErr::new::<pyo3::exceptions::PyOSError, _>(format!("cannot serve on {bind}: {e}"))
            })?;
        let local = server.local_addr();
        Ok(Server {
            inner: Mutex::new(Some(server)),
            addr: local,
        })
    }
}

/// Turns a caught unwind from a read into the exception to raise.
fn unwound(payload: Box<dyn std::any::Any + Send>) -> PyErr {
    if payload.is::<CallbackFailed>() {
        if let Some(e) = PENDING.with(|p| p.borrow_mut().take()) {
            return e;
        }
    }
    let msg = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("a collect hook panicked");
    PyRuntimeError::new_err(format!("reading the registry failed: {msg}"))
}

// === Server ===

/// A running `/metrics` server (see `Registry.serve`).
#[pyclass(frozen, module = "nanometrics._native")]
struct Server {
    inner: Mutex<Option<MetricsServer>>,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Dropped while still serving: only at interpreter teardown (the
        // Python layer keeps running servers referenced). Stopping would
        // join the server's thread with the GIL held, and a scrape in flight
        // may be waiting for the GIL to call a `set_function` callback; the
        // process is exiting, so leave the thread to end with it.
        if let Some(s) = self
            .inner
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            std::mem::forget(s);
        }
    }
}

#[pymethods]
impl Server {
    /// The bound port (useful after binding port 0).
    #[getter]
    fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The bound host address.
    #[getter]
    fn host(&self) -> String {
        self.addr.ip().to_string()
    }

    /// Whether the server is still serving.
    fn is_alive(&self) -> bool {
        lock(&self.inner).is_some()
    }

    /// Stops accepting, finishes in-flight scrapes, frees the port.
    fn shutdown(&self, py: Python<'_>) {
        let s = lock(&self.inner).take();
        if let Some(s) = s {
            py.detach(move || s.shutdown());
        }
    }
}

// === Family ===

enum Fam {
    Counter(Result<nm::Family<nm::FloatCounter>, nm::Error>),
    Gauge(Result<nm::Family<nm::Gauge>, nm::Error>),
    Histogram(Result<nm::Family<nm::Histogram>, nm::Error>),
    Summary(Result<nm::Family<nm::Summary>, nm::Error>),
}

impl Fam {
    fn ok(self) -> PyResult<Kind> {
        Ok(match self {
            Fam::Counter(f) => Kind::Counter(f.map_err(value_error)?),
            Fam::Gauge(f) => Kind::Gauge(f.map_err(value_error)?),
            Fam::Histogram(f) => Kind::Histogram(f.map_err(value_error)?),
            Fam::Summary(f) => Kind::Summary(f.map_err(value_error)?),
        })
    }
}

enum Kind {
    Counter(nm::Family<nm::FloatCounter>),
    Gauge(nm::Family<nm::Gauge>),
    Histogram(nm::Family<nm::Histogram>),
    Summary(nm::Family<nm::Summary>),
}

/// One declared metric: its label names, and a child per label-value set.
#[pyclass(frozen, module = "nanometrics._native")]
struct Family {
    kind: Kind,
    name: String,
    type_name: &'static str,
    /// The label names `labels(**kwargs)` accepts (as declared, before
    /// escaping; the core family has them escaped).
    kw_names: Vec<String>,
    /// `tuple[str, ...]` of label values → child object.
    children: Py<PyDict>,
    child_cls: Py<PyType>,
    funcs: Arc<Functions>,
}

impl Family {
    /// The label values of a `labels(...)` call as a tuple of `str`, with
    /// prometheus_client's rules and messages.
    fn key<'py>(
        &self,
        py: Python<'py>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let n = self.kw_names.len();
        if n == 0 {
            return Err(PyValueError::new_err(format!(
                "No label names were set when constructing {}:{} (labels() needs labelnames at construction)",
                self.type_name, self.name
            )));
        }
        let kwargs = kwargs.filter(|k| !k.is_empty());
        let values: Vec<Bound<'py, PyString>> = match kwargs {
            Some(kw) => {
                if !args.is_empty() {
                    return Err(PyValueError::new_err(
                        "Can't pass both *args and **kwargs to labels()",
                    ));
                }
                let mut vals = Vec::with_capacity(n);
                for name in &self.kw_names {
                    match kw.get_item(name)? {
                        Some(v) => vals.push(v.str()?),
                        None => return Err(self.wrong_names(kw)),
                    }
                }
                if kw.len() != n {
                    return Err(self.wrong_names(kw));
                }
                vals
            }
            None => {
                if args.len() != n {
                    return Err(PyValueError::new_err(format!(
                        "Incorrect label count: {}:{} has {} label names {:?}, got {} values",
                        self.type_name,
                        self.name,
                        n,
                        self.kw_names,
                        args.len()
                    )));
                }
                args.iter().map(|v| v.str()).collect::<PyResult<_>>()?
            }
        };
        PyTuple::new(py, values)
    }

    fn wrong_names(&self, kw: &Bound<'_, PyDict>) -> PyErr {
        let got: Vec<String> = kw.keys().iter().map(|k| k.to_string()).collect();
        PyValueError::new_err(format!(
            "Incorrect label names: {}:{} has label names {:?}, got {:?}",
            self.type_name, self.name, self.kw_names, got
        ))
    }

    fn values(key: &Bound<'_, PyTuple>) -> PyResult<Vec<String>> {
        key.iter().map(|v| v.extract::<String>()).collect()
    }
}

#[pymethods]
impl Family {
    /// The child for these label values (positional, or all by name),
    /// created on first use and cached: a repeated call is one dict lookup.
    #[pyo3(signature = (*args, **kwargs))]
    fn labels<'py>(
        slf: &Bound<'py, Self>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let this = slf.get();
        let py = slf.py();
        let children = this.children.bind(py);
        // Fast path: exact `str` values are their own key (other types are
        // keyed by their `str()`: 1 and True hash alike but label differently).
        if kwargs.is_none_or(|k| k.is_empty())
            && args.len() == this.kw_names.len()
            && args.iter().all(|v| v.is_exact_instance_of::<PyString>())
        {
            if let Some(child) = children.get_item(args)? {
                return Ok(child);
            }
        }
        let key = this.key(py, args, kwargs)?;
        if let Some(child) = children.get_item(&key)? {
            return Ok(child);
        }
        let child = this.child_cls.bind(py).call0()?;
        child.call_method1(pyo3::intern!(py, "_bind"), (slf, &key))?;
        children.set_item(&key, &child)?;
        Ok(child)
    }

    /// Removes the series with these label values (no error if absent).
    #[pyo3(signature = (*args))]
    fn remove(&self, py: Python<'_>, args: &Bound<'_, PyTuple>) -> PyResult<()> {
        let key = self.key(py, args, None)?;
        let values = Family::values(&key)?;
        let children = self.children.bind(py);
        if let Some(child) = children.get_item(&key)? {
            self.funcs.remove(&HashSet::from([child.as_ptr() as usize]));
            children.del_item(&key)?;
        }
        match &self.kind {
            Kind::Counter(f) => f.remove(&values),
            Kind::Gauge(f) => f.remove(&values),
            Kind::Histogram(f) => f.remove(&values),
            Kind::Summary(f) => f.remove(&values),
        };
        Ok(())
    }

    /// Removes every series.
    fn clear(&self, py: Python<'_>) {
        let children = self.children.bind(py);
        let keys: HashSet<usize> = children
            .values()
            .iter()
            .map(|c| c.as_ptr() as usize)
            .collect();
        self.funcs.remove(&keys);
        children.clear();
        match &self.kind {
            Kind::Counter(f) => f.clear(),
            Kind::Gauge(f) => f.clear(),
            Kind::Histogram(f) => f.clear(),
            Kind::Summary(f) => f.clear(),
        }
    }

    /// Drops the `set_function` callbacks of this family's children and of
    /// `owner` (the metric object itself, when it has no labels): for a
    /// family that is no longer exposed.
    fn drop_functions(&self, py: Python<'_>, owner: &Bound<'_, PyAny>) {
        let mut keys: HashSet<usize> = self
            .children
            .bind(py)
            .values()
            .iter()
            .map(|c| c.as_ptr() as usize)
            .collect();
        keys.insert(owner.as_ptr() as usize);
        self.funcs.remove(&keys);
    }

    /// The label-value tuples of the live children, in creation order.
    fn keys<'py>(&self, py: Python<'py>) -> Bound<'py, PyList> {
        self.children.bind(py).keys()
    }
}

fn family_values(family: &Bound<'_, Family>, key: &Bound<'_, PyTuple>) -> PyResult<Vec<String>> {
    let n = family.get().kw_names.len();
    if key.len() != n {
        return Err(PyValueError::new_err(format!(
            "expected {n} label values, got {}",
            key.len()
        )));
    }
    Family::values(key)
}

fn wrong_kind(what: &str) -> PyErr {
    PyValueError::new_err(format!("this family does not hold {what}s"))
}

// === children ===
//
// A child is a frozen object whose series is bound once (`_bind`): by
// `Family.labels` for a label set, or by the Python metric's `__init__` for a
// metric without labels, which is itself a child (so `c.inc()` is one method
// lookup on the type and one call, no Python frame). A metric declared with
// label names never binds: its updates raise, as prometheus_client's do.

fn unbound(kind: &str) -> PyErr {
    PyValueError::new_err(format!(
        "{kind} metric is missing label values (call .labels(...) first)"
    ))
}

fn already_bound() -> PyErr {
    PyRuntimeError::new_err("this metric object is already bound to a series")
}

/// An `exemplar=` argument as prometheus_client takes it: a mapping of
/// label names to values; `None` or an empty one is no exemplar.
fn exemplar_arg(e: Option<&Bound<'_, PyAny>>) -> PyResult<Option<nm::Exemplar>> {
    let Some(e) = e.filter(|e| !e.is_none()) else {
        return Ok(None);
    };
    if !e.is_truthy()? {
        return Ok(None);
    }
    let not_a_mapping = || {
        PyTypeError::new_err(format!(
            "an exemplar is a dict of str label names to str values, got {}",
            e.get_type()
                .name()
                .map_or_else(|_| "?".into(), |n| n.to_string())
        ))
    };
    let items = e.call_method0("items").map_err(|_| not_a_mapping())?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for item in items.try_iter()? {
        let (k, v): (String, String) = item?.extract().map_err(|_| not_a_mapping())?;
        pairs.push((escape_label_name(&k), v));
    }
    match nm::Exemplar::new(pairs) {
        Ok(x) => Ok(Some(x)),
        Err(nm::Error::InvalidExemplar(m)) => Err(PyValueError::new_err(m)),
        Err(other) => Err(value_error(other)),
    }
}

/// prometheus_client's "underscores" escaping of a label name, as the
/// Python layer applies to every name it declares (`_names._escape`):
/// each character outside `[a-zA-Z_]` (digits after the first) becomes
/// `_`. prometheus_client 0.26 accepts such names as they are (UTF-8
/// names); here they are escaped, as metric and label names are.
fn escape_label_name(k: &str) -> String {
    k.chars()
        .enumerate()
        .map(|(i, c)| {
            let ok = c.is_ascii_alphabetic() || c == '_' || (c.is_ascii_digit() && i > 0);
            if ok {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// An exemplar as `collect()` hands it to Python: `(labels, value,
/// timestamp)`.
type ExemplarTuple<'a> = (Vec<(&'a str, &'a str)>, f64, f64);

fn exemplar_tuple(e: &nm::ExemplarSnapshot) -> ExemplarTuple<'_> {
    let ts = e
        .timestamp
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    (e.exemplar.labels().collect(), e.value, ts)
}

/// The core handle type a kind of child binds to, and where its family is.
trait ChildHandle: nm::Metric {
    /// The metric type's name in messages.
    const TYPE: &'static str;
    fn family(kind: &Kind) -> Option<&nm::Family<Self>>;
}

macro_rules! child_handle {
    ($t:ty, $kind:ident, $name:literal) => {
        impl ChildHandle for $t {
            const TYPE: &'static str = $name;
            fn family(kind: &Kind) -> Option<&nm::Family<Self>> {
                match kind {
                    Kind::$kind(f) => Some(f),
                    _ => None,
                }
            }
        }
    };
}
child_handle!(nm::FloatCounter, Counter, "counter");
child_handle!(nm::Gauge, Gauge, "gauge");
child_handle!(nm::Histogram, Histogram, "histogram");
child_handle!(nm::Summary, Summary, "summary");

/// The series a child is bound to: every child class holds one and binds it
/// the same way.
struct Series<M>(OnceLock<M>);

impl<M: ChildHandle> Series<M> {
    fn empty() -> Self {
        Series(OnceLock::new())
    }

    #[inline]
    fn get(&self) -> PyResult<&M> {
        self.0.get().ok_or_else(|| unbound(M::TYPE))
    }

    /// Binds to the series `key` of `family`, once.
    fn bind(&self, family: &Bound<'_, Family>, key: &Bound<'_, PyTuple>) -> PyResult<()> {
        let values = family_values(family, key)?;
        let f = M::family(&family.get().kind).ok_or_else(|| wrong_kind(M::TYPE))?;
        let h = f.with_labels(&values).map_err(value_error)?;
        self.0.set(h).map_err(|_| already_bound())
    }
}

/// A counter series: `inc(amount=1)`.
#[pyclass(frozen, subclass, module = "nanometrics._native")]
struct CounterChild {
    c: Series<nm::FloatCounter>,
}

#[pymethods]
impl CounterChild {
    /// An unbound child (arguments are for the Python subclass' `__init__`).
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        CounterChild { c: Series::empty() }
    }

    /// Binds this object to the series `key` of `family` (once).
    fn _bind(&self, family: &Bound<'_, Family>, key: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.c.bind(family, key)
    }

    /// Adds `amount` (default 1), which must be non-negative and finite.
    /// With `exemplar` (a dict of labels, e.g. a trace id), the increment
    /// becomes the series' latest exemplar, exposed in OpenMetrics and OTLP.
    #[pyo3(signature = (amount=1.0, exemplar=None))]
    fn inc(&self, amount: f64, exemplar: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let c = self.c.get()?;
        if !(0.0..f64::INFINITY).contains(&amount) {
            return Err(PyValueError::new_err(format!(
                "Counters can only be incremented by non-negative amounts (a counter never goes down; got {amount})."
            )));
        }
        match exemplar_arg(exemplar)? {
            None => c.inc_by(amount),
            Some(e) => c.inc_by_with_exemplar(amount, &e),
        }
        Ok(())
    }

    /// The current total.
    fn get(&self) -> PyResult<f64> {
        Ok(self.c.get()?.get())
    }

    /// Restarts the total at zero (increments racing with it are kept).
    fn reset(&self) -> PyResult<()> {
        self.c.get()?.reset();
        Ok(())
    }

    /// Increase per second over the last `window` seconds, from the shared
    /// ticker's reads: the first call starts tracking the series (NaN:
    /// nothing to compare with yet).
    fn rate(&self, py: Python<'_>, window: f64) -> PyResult<f64> {
        let w = realtime::duration_arg("window", window)?;
        let c = self.c.get()?.clone();
        Ok(py.detach(move || c.window(w)).rate_per_sec)
    }
}

/// A gauge series.
#[pyclass(frozen, subclass, module = "nanometrics._native")]
struct GaugeChild {
    g: Series<nm::Gauge>,
    /// The registry's `set_function` callbacks, set when bound.
    funcs: OnceLock<Arc<Functions>>,
}

impl GaugeChild {
    #[inline]
    fn gauge(&self) -> PyResult<&nm::Gauge> {
        self.g.get()
    }
}

#[pymethods]
impl GaugeChild {
    /// An unbound child (arguments are for the Python subclass' `__init__`).
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        GaugeChild {
            g: Series::empty(),
            funcs: OnceLock::new(),
        }
    }

    /// Binds this object to the series `key` of `family` (once).
    fn _bind(&self, family: &Bound<'_, Family>, key: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.g.bind(family, key)?;
        let _ = self.funcs.set(family.get().funcs.clone());
        Ok(())
    }

    /// Adds `amount` (default 1).
    #[pyo3(signature = (amount=1.0))]
    fn inc(&self, amount: f64) -> PyResult<()> {
        self.gauge()?.add(amount);
        Ok(())
    }

    /// Subtracts `amount` (default 1).
    #[pyo3(signature = (amount=1.0))]
    fn dec(&self, amount: f64) -> PyResult<()> {
        self.gauge()?.sub(amount);
        Ok(())
    }

    /// Sets the value.
    fn set(&self, value: f64) -> PyResult<()> {
        self.gauge()?.set(value);
        Ok(())
    }

    /// Sets the value to the current Unix time in seconds.
    fn set_to_current_time(&self) -> PyResult<()> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        self.gauge()?.set(now);
        Ok(())
    }

    /// Computes the value with `f()` at every read of the registry (each
    /// scrape), instead of the value set.
    fn set_function(slf: &Bound<'_, Self>, f: Bound<'_, PyAny>) -> PyResult<()> {
        let this = slf.get();
        let g = this.gauge()?;
        let funcs = this.funcs.get().ok_or_else(|| unbound("gauge"))?;
        if !f.is_callable() {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "set_function needs a callable, got {}",
                f.get_type().name()?
            )));
        }
        funcs.set(slf.as_ptr() as usize, g.clone(), f.unbind());
        Ok(())
    }

    /// The current value.
    fn get(&self) -> PyResult<f64> {
        Ok(self.gauge()?.get())
    }
}

/// Count, sum, min, max, mean and quantiles of a distribution, as a dict.
fn stats_dict<'py>(py: Python<'py>, st: &nm::Stats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("count", st.count)?;
    d.set_item("sum", st.sum)?;
    d.set_item("min", st.min)?;
    d.set_item("max", st.max)?;
    d.set_item("mean", st.mean)?;
    for (k, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
        d.set_item(k, st.quantile(q))?;
    }
    Ok(d)
}

/// A histogram series: `observe(amount)`.
#[pyclass(frozen, subclass, module = "nanometrics._native")]
struct HistogramChild {
    h: Series<nm::Histogram>,
}

#[pymethods]
impl HistogramChild {
    /// An unbound child (arguments are for the Python subclass' `__init__`).
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        HistogramChild { h: Series::empty() }
    }

    /// Binds this object to the series `key` of `family` (once).
    fn _bind(&self, family: &Bound<'_, Family>, key: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.h.bind(family, key)
    }

    /// Records one observation (NaN is ignored).
    /// With `exemplar` (a dict of labels, e.g. a trace id), the
    /// observation becomes its bucket's latest exemplar, exposed in
    /// OpenMetrics and OTLP.
    #[pyo3(signature = (amount, exemplar=None))]
    fn observe(&self, amount: f64, exemplar: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let h = self.h.get()?;
        // NaN is ignored, its exemplar unread (prometheus_client finds no
        // bucket for it, so it never looks at the exemplar).
        if amount.is_nan() {
            return Ok(());
        }
        match exemplar_arg(exemplar)? {
            None => h.observe(amount),
            Some(e) => h.observe_with_exemplar(amount, &e),
        }
        Ok(())
    }

    /// `{count, sum, min, max, mean, p50, p90, p99}` now, from one
    /// consistent read (quantiles within 3.2 % inside the bucket range);
    /// with `window` (seconds), of the observations of that window only,
    /// plus `rate` and `span` (see `nanometrics::WindowStats`).
    #[pyo3(signature = (window=None))]
    fn stats<'py>(&self, py: Python<'py>, window: Option<f64>) -> PyResult<Bound<'py, PyDict>> {
        let h = self.h.get()?.clone();
        match window {
            None => stats_dict(py, &py.detach(move || h.stats())),
            Some(w) => {
                let w = realtime::duration_arg("window", w)?;
                realtime::window_dict(py, &py.detach(move || h.window(w)))
            }
        }
    }
}

/// A summary series: `observe(amount)`.
#[pyclass(frozen, subclass, module = "nanometrics._native")]
struct SummaryChild {
    s: Series<nm::Summary>,
}

#[pymethods]
impl SummaryChild {
    /// An unbound child (arguments are for the Python subclass' `__init__`).
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        SummaryChild { s: Series::empty() }
    }

    /// Binds this object to the series `key` of `family` (once).
    fn _bind(&self, family: &Bound<'_, Family>, key: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.s.bind(family, key)
    }

    /// Records one observation (NaN is ignored).
    fn observe(&self, amount: f64) -> PyResult<()> {
        self.s.get()?.observe(amount);
        Ok(())
    }

    /// `{count, sum, min, max, mean, p50, p90, p99}` now; with `window`,
    /// of that window (see `HistogramChild.stats`).
    #[pyo3(signature = (window=None))]
    fn stats<'py>(&self, py: Python<'py>, window: Option<f64>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.s.get()?.clone();
        match window {
            None => stats_dict(py, &py.detach(move || s.stats())),
            Some(w) => {
                let w = realtime::duration_arg("window", w)?;
                realtime::window_dict(py, &py.detach(move || s.window(w)))
            }
        }
    }
}

// === Rust-side metrics, for the shared-registry guarantee ===

/// Increments `rust_side_events_total{source=...}` in the process-wide
/// registry from Rust, as a Rust component linked into this extension would:
/// the proof that Python and Rust metrics share one registry and one
/// `/metrics`.
#[pyfunction]
#[pyo3(signature = (source, n=1))]
fn rust_side_increment(py: Python<'_>, source: &str, n: u64) -> PyResult<()> {
    let source = source.to_string();
    py.detach(move || {
        let f = nm::global().counter_family(
            "rust_side_events_total",
            "Events counted by Rust code in the same process.",
            &["source"],
        )?;
        // A Rust thread of its own, as a component's worker would be.
        std::thread::spawn(move || f.with_labels(&[source]).map(|c| c.inc_by(n)))
            .join()
            .unwrap_or_else(|_| Err(nm::Error::InvalidValue("worker panicked".into())))
    })
    .map_err(value_error)
}

/// Whether an `Accept` header prefers OpenMetrics over the text format
/// (q-values honoured), as the HTTP server decides.
#[pyfunction]
fn wants_openmetrics(accept: &str) -> bool {
    nanometrics_exporters::http::wants_openmetrics(accept)
}

/// The process-wide `_created` setting the servers read at each scrape
/// (prometheus_client's `disable_created_metrics()` is process-wide too).
fn created_switch() -> &'static Arc<std::sync::atomic::AtomicBool> {
    static ON: OnceLock<Arc<std::sync::atomic::AtomicBool>> = OnceLock::new();
    ON.get_or_init(|| Arc::new(std::sync::atomic::AtomicBool::new(true)))
}

/// Sets whether servers write `_created` samples (from their next scrape).
#[pyfunction]
fn set_created_series(on: bool) {
    // Relaxed: a setting, read once per scrape.
    created_switch().store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether an `Accept-Encoding` header takes gzip (q-values honoured), as
/// the HTTP server decides.
#[pyfunction]
fn accepts_gzip(accept_encoding: &str) -> bool {
    nanometrics_exporters::http::accepts_gzip(accept_encoding)
}

/// `nanometrics::names::declared_name`: the name to declare so that the
/// family is exposed as `family` (`kind`: "counter", "gauge", "histogram",
/// "summary", "info", "stateset").
#[pyfunction]
fn declared_name(family: &str, kind: &str) -> PyResult<String> {
    let kind = match kind {
        "counter" => nm::MetricKind::Counter,
        "gauge" => nm::MetricKind::Gauge,
        "histogram" => nm::MetricKind::Histogram,
        "summary" => nm::MetricKind::Summary,
        "info" => nm::MetricKind::Info,
        "stateset" => nm::MetricKind::StateSet,
        other => {
            return Err(PyValueError::new_err(format!(
                "unknown metric type {other:?}"
            )))
        }
    };
    Ok(nm::names::declared_name(family, kind).into_owned())
}

/// The extension module `nanometrics._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    add_to_module(m)
}

/// Adds this package's classes and functions to `m`. A Rust crate that
/// builds its own extension module can call it to ship the `nanometrics`
/// API inside that module: its Rust code and its Python code then declare
/// into the same `nanometrics::global()` registry and one `/metrics`.
/// (Two separately built extension modules each carry their own copy of the
/// core, and so their own global registry.)
pub fn add_to_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Registry>()?;
    m.add_class::<Server>()?;
    m.add_class::<Family>()?;
    m.add_class::<collectors::Collected>()?;
    m.add_class::<collectors::ProcessHandle>()?;
    m.add_class::<CounterChild>()?;
    m.add_class::<GaugeChild>()?;
    m.add_class::<HistogramChild>()?;
    m.add_class::<SummaryChild>()?;
    m.add_class::<realtime::Watch>()?;
    m.add_class::<otlp::OtlpExporter>()?;
    m.add_function(wrap_pyfunction!(realtime::set_tick_interval, m)?)?;
    m.add_function(wrap_pyfunction!(realtime::tick_interval, m)?)?;
    m.add_function(wrap_pyfunction!(rust_side_increment, m)?)?;
    m.add_function(wrap_pyfunction!(wants_openmetrics, m)?)?;
    m.add_function(wrap_pyfunction!(accepts_gzip, m)?)?;
    m.add_function(wrap_pyfunction!(set_created_series, m)?)?;
    m.add_function(wrap_pyfunction!(declared_name, m)?)?;
    m.add_function(wrap_pyfunction!(parse::parse_families, m)?)?;
    m.add("TEXT_CONTENT_TYPE", prometheus::CONTENT_TYPE)?;
    m.add("OPENMETRICS_CONTENT_TYPE", openmetrics::CONTENT_TYPE)?;
    Ok(())
}
