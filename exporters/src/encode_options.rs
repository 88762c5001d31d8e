//! [`EncodeOptions`]: what the text encoders write beyond each format's
//! fixed rules.

/// Options of the text encoders (`encode_with`, `encode_registry_with` in
/// [`prometheus`](crate::prometheus) and [`openmetrics`](crate::openmetrics),
/// and the HTTP server's `created_series`).
///
/// ```
/// use nanometrics_exporters::{openmetrics, prometheus, EncodeOptions};
/// let r = nanometrics::Registry::new();
/// r.counter("jobs_total", "Jobs.")?.inc();
/// let with = EncodeOptions::default().created(true);
/// let mut om = Vec::new();
/// openmetrics::encode_registry_with(&r, &mut om, with);
/// assert!(String::from_utf8(om).unwrap().contains("\njobs_created "));
/// let text = prometheus::encode_to_string_with(&r.snapshot(), with);
/// assert!(text.contains("# TYPE jobs_created gauge\njobs_created "));
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncodeOptions {
    /// `_created` samples: each counter's, histogram's and summary's
    /// creation time in seconds (`SeriesSnapshot::created`), as
    /// prometheus_client writes them: in OpenMetrics after the series'
    /// other samples, in the text format as a `<family>_created` gauge
    /// family after the family. Off by default.
    pub created: bool,
}

impl EncodeOptions {
    /// With or without `_created` samples.
    pub fn created(mut self, on: bool) -> EncodeOptions {
        self.created = on;
        self
    }
}
