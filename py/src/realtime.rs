//! Windows and watches for Python: `Registry.watch` and the `Watch` it
//! returns (frames as the JSON that `/metrics/stream` sends, which the
//! Python layer parses), window statistics of a child, and the shared
//! ticker's period.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use nanometrics as nm;
use nanometrics::realtime::{Frame, Overflow, Stat, Subscription, Threshold};
use nanometrics_exporters::frame_json::write_frame;

use crate::{lock, value_error};

/// `seconds` as a duration: positive and finite, or a `ValueError` naming
/// `what`.
pub(crate) fn duration_arg(what: &str, s: f64) -> PyResult<Duration> {
    if s.is_finite() && s > 0.0 && s <= 1e9 {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(PyValueError::new_err(format!(
            "{what} must be a positive, finite number of seconds (got {s})"
        )))
    }
}

/// A statistic by name: count, rate, sum, mean, min, max, delta, last, or
/// `pNN` (`p50`, `p99`, `p99.9`) for a quantile.
fn stat(name: &str) -> PyResult<Stat> {
    Ok(match name {
        "count" => Stat::Count,
        "rate" => Stat::Rate,
        "sum" => Stat::Sum,
        "mean" => Stat::Mean,
        "min" => Stat::Min,
        "max" => Stat::Max,
        "delta" => Stat::Delta,
        "last" => Stat::Last,
        p => match p.strip_prefix('p').and_then(|q| q.parse::<f64>().ok()) {
            Some(q) if (0.0..=100.0).contains(&q) => Stat::Quantile(q / 100.0),
            _ => {
                return Err(PyValueError::new_err(format!(
                    "unknown statistic {name:?}: one of count, rate, sum, mean, min, max, delta, last, or pNN (p50, p99, p99.9)"
                )))
            }
        },
    })
}

fn frame_json(frame: &Frame) -> String {
    let mut out = Vec::with_capacity(1024);
    write_frame(&mut out, frame);
    // The encoder writes UTF-8 only (escaped label values, numbers).
    String::from_utf8(out).unwrap_or_default()
}

/// A running watch: frames pulled with `next_json`, or pushed to the
/// callback it was made with.
#[pyclass(frozen, module = "nanometrics._native")]
pub(crate) struct Watch {
    sub: Option<Arc<Subscription>>,
    guard: Mutex<Option<nm::realtime::Watch>>,
}

#[pymethods]
impl Watch {
    /// The next frame's JSON, waiting up to `timeout` seconds (forever if
    /// None) without the GIL; None on timeout or once the watch has ended
    /// (`closed()` tells which).
    #[pyo3(signature = (timeout=None))]
    fn next_json(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<String>> {
        let Some(sub) = self.sub.clone() else {
            return Err(PyValueError::new_err(
                "this watch delivers its frames to its callback",
            ));
        };
        let timeout = match timeout {
            Some(t) if t <= 0.0 => Some(Duration::ZERO),
            Some(t) => Some(duration_arg("timeout", t)?),
            None => None,
        };
        let frame = py.detach(move || match timeout {
            Some(d) => sub.recv_timeout(d),
            None => sub.recv(),
        });
        Ok(frame.map(|f| frame_json(&f)))
    }

    /// Whether the watch has ended and its last frame was taken.
    fn closed(&self) -> bool {
        match &self.sub {
            Some(sub) => sub.is_closed(),
            None => lock(&self.guard).is_none(),
        }
    }

    /// Ends the watch; a thread waiting in `next_json` gets None. A
    /// callback running now finishes; no other starts.
    fn close(&self, py: Python<'_>) {
        let guard = lock(&self.guard).take();
        // Without the GIL: ending takes the ticker's lock, which a tick
        // holds while it reads.
        py.detach(move || {
            if let Some(sub) = &self.sub {
                sub.close();
            }
            drop(guard);
        });
    }

    /// `{delivered, dropped, errors, panics}`: frames handed to the
    /// callback, frames dropped because the consumer fell behind, and
    /// callback calls that raised.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let (delivered, dropped, errors) = match (&self.sub, &*lock(&self.guard)) {
            (Some(sub), _) => (0, sub.dropped(), 0),
            (None, Some(w)) => {
                let s = w.stats();
                (s.delivered, s.dropped, s.errors + s.panics)
            }
            (None, None) => (0, 0, 0),
        };
        d.set_item("delivered", delivered)?;
        d.set_item("dropped", dropped)?;
        d.set_item("errors", errors)?;
        Ok(d)
    }
}

/// What `Registry.watch` was asked for.
pub(crate) struct WatchArgs<'a> {
    pub(crate) selector: &'a str,
    pub(crate) every: Option<f64>,
    pub(crate) window: Option<f64>,
    pub(crate) quantiles: Option<Vec<f64>>,
    pub(crate) threshold: Option<(String, bool, f64, Option<f64>, f64)>,
    pub(crate) callback: Option<Py<PyAny>>,
    pub(crate) queue: usize,
}

/// Starts a watch on `registry` with the shared ticker (called without
/// the GIL: starting takes the ticker's lock).
pub(crate) fn watch(registry: &nm::Registry, a: WatchArgs<'_>) -> PyResult<Watch> {
    let mut b = registry.watch(a.selector).map_err(value_error)?;
    if let Some(e) = a.every {
        b = b.every(duration_arg("every", e)?);
    }
    if let Some(w) = a.window {
        b = b.window(duration_arg("window", w)?);
    }
    if let Some(q) = &a.quantiles {
        b = b.quantiles(q);
    }
    if let Some((name, above, enter, exit, hold)) = a.threshold {
        let s = stat(&name)?;
        let mut t = if above {
            Threshold::above(s, enter)
        } else {
            Threshold::below(s, enter)
        };
        if let Some(x) = exit {
            t = t.exit(x);
        }
        if hold != 0.0 {
            t = t.for_duration(duration_arg("for_", hold)?);
        }
        b = b.threshold(t);
    }
    b = b.queue(a.queue, Overflow::DropOldest);
    match a.callback {
        None => Ok(Watch {
            sub: Some(Arc::new(b.subscribe().map_err(value_error)?)),
            guard: Mutex::new(None),
        }),
        Some(cb) => {
            // On the watch's thread: the GIL only for the call. An exception
            // goes to sys.unraisablehook and is counted; the next frame is
            // delivered as usual.
            let sink = move |frame: &Frame| {
                let json = frame_json(frame);
                // Never attach to an interpreter that is shutting down.
                Python::try_attach(|py| match cb.call1(py, (json,)) {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        let msg = e.to_string();
                        e.write_unraisable(py, Some(cb.bind(py)));
                        Err(msg.into())
                    }
                })
                .unwrap_or_else(|| Err("the interpreter is shutting down".into()))
            };
            let w = b.sink(sink).map_err(value_error)?;
            Ok(Watch {
                sub: None,
                guard: Mutex::new(Some(w)),
            })
        }
    }
}

/// Sets the period of the shared ticker behind windows and watches.
#[pyfunction]
pub(crate) fn set_tick_interval(seconds: f64) -> PyResult<()> {
    nm::realtime::ticker().set_interval(duration_arg("the tick interval", seconds)?);
    Ok(())
}

/// The shared ticker's period, in seconds.
#[pyfunction]
pub(crate) fn tick_interval() -> f64 {
    nm::realtime::ticker().interval().as_secs_f64()
}

/// A window of a histogram or summary as a dict: `{count, sum, min, max,
/// mean, p50, p90, p99, rate, span}`.
pub(crate) fn window_dict<'py>(
    py: Python<'py>,
    w: &nm::WindowStats,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("count", w.count)?;
    d.set_item("sum", w.sum)?;
    d.set_item("min", w.min)?;
    d.set_item("max", w.max)?;
    d.set_item("mean", w.mean)?;
    for (k, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
        d.set_item(k, w.quantile(q))?;
    }
    d.set_item("rate", w.rate_per_sec)?;
    d.set_item("span", w.span.as_secs_f64())?;
    Ok(d)
}
