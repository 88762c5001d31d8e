//! OTLP push for Python: `Registry.otlp_start` and the `OtlpExporter`
//! handle it returns (what `nanometrics.otlp.start` wraps).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use nanometrics as nm;
use nanometrics_exporters::otlp::{OtlpConfig, OtlpExporter as Exporter, Temporality};

use crate::lock;

/// Settings given from Python; `None` keeps the environment's (or the
/// default) value.
pub(crate) struct Overrides {
    pub(crate) endpoint: Option<String>,
    pub(crate) headers: Option<Vec<(String, String)>>,
    pub(crate) interval: Option<f64>,
    pub(crate) timeout: Option<f64>,
    pub(crate) gzip: Option<bool>,
    pub(crate) resource: Option<Vec<(String, String)>>,
    pub(crate) temporality: Option<String>,
}

fn seconds(what: &str, s: f64) -> PyResult<Duration> {
    if s.is_finite() && s > 0.0 && s <= 86_400.0 {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(PyValueError::new_err(format!(
            "{what} must be a number of seconds greater than 0 (at most 86400), got {s}"
        )))
    }
}

/// The environment's configuration with `o` applied over it.
fn config(o: Overrides) -> PyResult<OtlpConfig> {
    let mut c = OtlpConfig::from_env().map_err(|e| PyValueError::new_err(e.to_string()))?;
    if let Some(e) = o.endpoint {
        c.endpoint = e;
    }
    if let Some(h) = o.headers {
        c.headers = h;
    }
    if let Some(i) = o.interval {
        c.interval = seconds("interval", i)?;
    }
    if let Some(t) = o.timeout {
        c.timeout = seconds("timeout", t)?;
    }
    if let Some(g) = o.gzip {
        c.gzip = g;
    }
    if let Some(r) = o.resource {
        for (k, v) in r {
            c.resource.retain(|(key, _)| *key != k);
            c.resource.push((k, v));
        }
    }
    if let Some(t) = o.temporality {
        c.temporality = match t.to_ascii_lowercase().as_str() {
            "cumulative" => Temporality::Cumulative,
            "delta" | "lowmemory" => Temporality::Delta,
            other => {
                return Err(PyValueError::new_err(format!(
                    "temporality must be 'cumulative', 'delta' or 'lowmemory', got {other:?}"
                )))
            }
        };
    }
    Ok(c)
}

/// Starts an exporter of `registry`.
pub(crate) fn start(
    py: Python<'_>,
    registry: &nm::Registry,
    o: Overrides,
) -> PyResult<OtlpExporter> {
    let c = config(o)?;
    let registry = registry.clone();
    let e = py
        .detach(move || Exporter::start(registry, c).map_err(|e| e.to_string()))
        .map_err(PyValueError::new_err)?;
    Ok(OtlpExporter {
        inner: Mutex::new(Some(Arc::new(e))),
    })
}

/// A running OTLP exporter.
#[pyclass(frozen, module = "nanometrics._native")]
pub(crate) struct OtlpExporter {
    /// Cloned out of the lock before any wait: no lock is held while the
    /// GIL is released (a collect hook may need the GIL on the export's
    /// thread).
    inner: Mutex<Option<Arc<Exporter>>>,
}

impl OtlpExporter {
    fn get(&self) -> PyResult<Arc<Exporter>> {
        lock(&self.inner).clone().ok_or_else(stopped)
    }
}

impl Drop for OtlpExporter {
    /// Dropped without `shutdown()`: the final export runs without the GIL
    /// (or not at all once the interpreter is going away).
    fn drop(&mut self) {
        if let Some(e) = lock(&self.inner).take() {
            let _ = Python::try_attach(|py| py.detach(move || e.shutdown()));
        }
    }
}

fn stopped() -> PyErr {
    PyRuntimeError::new_err("this OTLP exporter has been shut down")
}

#[pymethods]
impl OtlpExporter {
    /// Exports now (without the GIL) and waits; raises `RuntimeError` with
    /// the receiver's answer when it fails.
    fn export_now(&self, py: Python<'_>) -> PyResult<()> {
        let e = self.get()?;
        py.detach(move || e.export_now().map_err(|e| e.to_string()))
            .map_err(|m| PyRuntimeError::new_err(format!("OTLP export failed: {m}")))
    }

    /// The final export, then stops; raises if that export failed. Later
    /// calls do nothing.
    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        let Some(e) = lock(&self.inner).take() else {
            return Ok(());
        };
        py.detach(move || e.shutdown().map_err(|e| e.to_string()))
            .map_err(|m| PyRuntimeError::new_err(format!("the final OTLP export failed: {m}")))
    }

    /// `{exports, failures, last_error}`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let e = lock(&self.inner).clone();
        if let Some(e) = e {
            let s = e.stats();
            d.set_item("exports", s.exports)?;
            d.set_item("failures", s.failures)?;
            d.set_item("last_error", s.last_error)?;
        }
        Ok(d)
    }
}
