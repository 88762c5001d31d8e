//! `parse_exposition`: the strict Rust parsers
//! (`nanometrics_exporters::parse`) for `nanometrics.parser` and
//! `nanometrics.openmetrics.parser`, which build prometheus_client's
//! structures from what it returns.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;

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

type Labels<'a> = Vec<(&'a str, &'a str)>;

/// Every family of `text` (OpenMetrics when `openmetrics`, else the text
/// format 0.0.4) as `(name, help, type, unit, samples)`, each sample
/// `(name, labels, value, timestamp, exemplar)`: labels as `(name, value)`
/// pairs, the timestamp `None` or `(sec, nsec)`, the exemplar `None` or
/// `(labels, value, timestamp)`. Parsed without the GIL; a `ValueError`
/// names the line and column at fault.
#[pyfunction]
pub(crate) fn parse_exposition<'py>(
    py: Python<'py>,
    text: &str,
    openmetrics: bool,
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
    let out = PyList::empty(py);
    for f in &families {
        let samples = PyList::empty(py);
        for s in &f.samples {
            let labels: Labels<'_> = s
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let exemplar = s.exemplar.as_ref().map(|e| {
                let labels: Labels<'_> = e
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                (labels, e.value, e.timestamp.map(timestamp))
            });
            samples.append((
                s.name.as_str(),
                labels,
                s.value,
                s.timestamp.map(timestamp),
                exemplar,
            ))?;
        }
        out.append((
            f.name.as_str(),
            f.help.as_str(),
            f.kind.as_str(),
            f.unit.as_str(),
            samples,
        ))?;
    }
    Ok(out)
}
