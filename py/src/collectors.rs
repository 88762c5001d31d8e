//! What Python's default and custom collectors stand on: a family whose
//! values Python sets whole at each read ([`Collected`]), Python callables
//! run at each read (the `Functions` hooks in `lib.rs`), and the core's
//! process collector ([`ProcessHandle`]).

use nanometrics as nm;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::value_error;

/// One histogram series from Python: label values, cumulative `(upper
/// bound, count)` buckets ending with `+Inf`, and the sum.
type HistogramSeries = (Vec<String>, Vec<(f64, u64)>, f64);

/// A collected family (`nanometrics::CollectedFamily`) set whole from
/// Python: counters, gauges, infos, state sets, histograms, summaries.
#[pyclass(frozen, module = "nanometrics._native")]
pub(crate) struct Collected {
    family: nm::CollectedFamily,
    counter: bool,
}

impl Collected {
    pub(crate) fn declare(
        r: &nm::Registry,
        kind: &str,
        name: &str,
        documentation: &str,
        labelnames: Vec<String>,
        unit: &str,
    ) -> PyResult<Collected> {
        let (k, counter) = match kind {
            "counter" => (nm::MetricKind::Counter, true),
            "gauge" => (nm::MetricKind::Gauge, false),
            "info" => (nm::MetricKind::Info, false),
            "stateset" => (nm::MetricKind::StateSet, false),
            "histogram" => (nm::MetricKind::Histogram, false),
            "summary" => (nm::MetricKind::Summary, false),
            other => {
                return Err(PyValueError::new_err(format!(
                    "a collected family is a counter, gauge, info, stateset, histogram or summary, not {other:?}"
                )))
            }
        };
        let names: Vec<&str> = labelnames.iter().map(String::as_str).collect();
        let mut builder = r.metric(name, documentation);
        if !unit.is_empty() {
            builder = builder.unit(unit);
        }
        let family = builder.collected(k, &names).map_err(value_error)?;
        Ok(Collected { family, counter })
    }
}

#[pymethods]
impl Collected {
    /// Replaces every series: `[(label values, value), ...]`. A series that
    /// does not fit (label count, a negative or NaN counter) raises
    /// `ValueError`; the others are set.
    fn set(&self, series: Vec<(Vec<String>, f64)>) -> PyResult<()> {
        let counter = self.counter;
        self.family
            .set(series.into_iter().map(|(labels, v)| {
                let value = if counter {
                    nm::CollectedValue::FloatCounter(v)
                } else {
                    nm::CollectedValue::Gauge(v)
                };
                (labels, value)
            }))
            .map_err(value_error)
    }

    /// Replaces every series of a histogram family: `[(label values,
    /// cumulative [(upper bound, count)] ending with +Inf, sum), ...]`.
    fn set_histograms(&self, series: Vec<HistogramSeries>) -> PyResult<()> {
        self.family
            .set(series.into_iter().map(|(labels, buckets, sum)| {
                (labels, nm::CollectedValue::Histogram { buckets, sum })
            }))
            .map_err(value_error)
    }

    /// Replaces every series of a summary family: `[(label values, count,
    /// sum), ...]`.
    fn set_summaries(&self, series: Vec<(Vec<String>, u64, f64)>) -> PyResult<()> {
        self.family
            .set(
                series.into_iter().map(|(labels, count, sum)| {
                    (labels, nm::CollectedValue::Summary { count, sum })
                }),
            )
            .map_err(value_error)
    }
}

/// The core's process collector in a registry; dropping it stops its
/// updates (`nanometrics::process::ProcessCollector`).
#[pyclass(frozen, module = "nanometrics._native")]
pub(crate) struct ProcessHandle {
    _inner: Option<ProcessInner>,
}

#[cfg(target_os = "linux")]
type ProcessInner = nm::process::ProcessCollector;
#[cfg(not(target_os = "linux"))]
type ProcessInner = ();

impl ProcessHandle {
    pub(crate) fn start(r: &nm::Registry) -> PyResult<ProcessHandle> {
        #[cfg(target_os = "linux")]
        let inner = Some(nm::process::ProcessCollector::register(r).map_err(value_error)?);
        #[cfg(not(target_os = "linux"))]
        let inner = {
            let _ = r;
            None
        };
        Ok(ProcessHandle { _inner: inner })
    }
}
