//! `parse_families`: the strict Rust parsers
//! (`nanometrics_exporters::parse`) for `nanometrics.parser` and
//! `nanometrics.openmetrics.parser`, building prometheus_client's
//! structures (the classes are passed in) straight from what they return.

use std::collections::HashMap;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use nanometrics_exporters::parse::{self, ParsedFamily, Timestamp};

/// `(sec, nsec)` of a timestamp, as prometheus_client's `Timestamp` holds
/// it: whole seconds toward zero, nanoseconds with the sign of the time.
fn timestamp(t: Timestamp) -> (i64, i64) {
    if t.sec < 0 && t.nsec > 0 {
        (t.sec + 1, i64::from(t.nsec) - 1_000_000_000)
    } else {
        (t.sec, i64::from(t.nsec))
    }
}

/// The Python classes the results are made of.
struct Classes<'py> {
    metric: Bound<'py, PyAny>,
    sample: Bound<'py, PyAny>,
    exemplar: Bound<'py, PyAny>,
    timestamp: Bound<'py, PyAny>,
    /// `tuple.__new__`, which makes a named tuple without its Python
    /// `__new__`.
    tuple_new: Bound<'py, PyAny>,
}

/// Strings made once per parse (names, label names and values repeat).
struct Strings<'py> {
    py: Python<'py>,
    made: HashMap<String, Bound<'py, PyString>>,
}

impl<'py> Strings<'py> {
    fn get(&mut self, s: &str) -> Bound<'py, PyString> {
        if let Some(p) = self.made.get(s) {
            return p.clone();
        }
        let p = PyString::new(self.py, s);
        self.made.insert(s.to_string(), p.clone());
        p
    }

    fn labels(&mut self, labels: &[(String, String)]) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(self.py);
        for (k, v) in labels {
            d.set_item(self.get(k), self.get(v))?;
        }
        Ok(d)
    }
}

/// A timestamp as prometheus_client's parsers give it: a `Timestamp`
/// (OpenMetrics), or milliseconds / 1000 (text).
fn time<'py>(
    py: Python<'py>,
    c: &Classes<'py>,
    t: Option<Timestamp>,
    openmetrics: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let Some(t) = t else {
        return Ok(py.None().into_bound(py));
    };
    let (sec, nsec) = timestamp(t);
    if openmetrics {
        // Set as prometheus_client keeps a negative time: its constructor
        // cannot make one between -1 and 0.
        let ts = c.timestamp.call1((0, 0))?;
        ts.setattr("sec", sec)?;
        ts.setattr("nsec", nsec)?;
        Ok(ts)
    } else {
        let ms = sec * 1000 + nsec / 1_000_000;
        Ok((ms as f64 / 1000.0).into_pyobject(py)?.into_any())
    }
}

/// Every family of `text` (OpenMetrics when `openmetrics`, else the text
/// format 0.0.4) as `metric(name, help, type, unit)` objects whose
/// `samples` are `sample` named tuples (with `exemplar` and `timestamp`
/// objects). Parsed without the GIL; a `ValueError` names the line and
/// column at fault.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub(crate) fn parse_families<'py>(
    py: Python<'py>,
    text: &str,
    openmetrics: bool,
    metric: Bound<'py, PyAny>,
    sample: Bound<'py, PyAny>,
    exemplar: Bound<'py, PyAny>,
    timestamp_cls: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let owned = text.to_string();
    let families: Vec<ParsedFamily> = py
        .detach(move || {
            if openmetrics {
                parse::openmetrics(&owned)
            } else {
                parse::text(&owned)
            }
        })
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let c = Classes {
        metric,
        sample,
        exemplar,
        timestamp: timestamp_cls,
        tuple_new: py
            .import("builtins")?
            .getattr("tuple")?
            .getattr("__new__")?,
    };
    let mut strings = Strings {
        py,
        made: HashMap::new(),
    };
    let none = py.None().into_bound(py);
    let out = PyList::empty(py);
    for f in &families {
        let m = c.metric.call1((
            f.name.as_str(),
            f.help.as_str(),
            f.kind.as_str(),
            f.unit.as_str(),
        ))?;
        let samples = PyList::empty(py);
        for s in &f.samples {
            let labels = strings.labels(&s.labels)?;
            let ex = match &s.exemplar {
                None => none.clone(),
                Some(e) => c.exemplar.call1((
                    strings.labels(&e.labels)?,
                    e.value,
                    time(py, &c, e.timestamp, openmetrics)?,
                ))?,
            };
            let items = PyTuple::new(
                py,
                [
                    strings.get(&s.name).into_any(),
                    labels.into_any(),
                    s.value.into_pyobject(py)?.into_any(),
                    time(py, &c, s.timestamp, openmetrics)?,
                    ex,
                    none.clone(),
                ],
            )?;
            samples.append(c.tuple_new.call1((&c.sample, items))?)?;
        }
        m.setattr("samples", samples)?;
        out.append(m)?;
    }
    Ok(out)
}
