//! OTLP push (feature `otlp`): the registry's snapshots sent as OTLP/HTTP
//! protobuf (`POST …/v1/metrics`), or as OTLP/gRPC with the `otlp-grpc`
//! feature ([`Protocol::Grpc`]), on a period, from a thread of their own.
//!
//! ```no_run
//! use nanometrics_exporters::otlp::{OtlpConfig, OtlpExporter};
//! let registry = nanometrics::global();
//! // OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS, OTEL_METRIC_EXPORT_INTERVAL, … (see OtlpConfig::from_env)
//! let exporter = OtlpExporter::start(registry.clone(), OtlpConfig::from_env()?)?;
//! // … the process runs …
//! exporter.shutdown()?; // a final export: nothing recorded before it is lost
//! # Ok::<(), nanometrics_exporters::push::BackendError>(())
//! ```
//!
//! - [`config`](OtlpConfig): endpoint, headers, timeout, gzip, interval,
//!   resource, temporality; from a builder or the environment.
//! - The mapping (metric types to OTLP points, start times, delta):
//!   `mapping.rs`, documented on [`OtlpBackend`]. A failed export changes
//!   nothing: the next delta still starts at the last accepted export.
//!   Requests are written straight as protobuf (`wire.rs`: each series'
//!   attributes encoded once, every size known before a byte is written),
//!   the bytes prost writes for `opentelemetry-proto`'s messages, without
//!   building them.
//! - Delivery: `transport.rs` (and `grpc.rs`). 429, 502, 503 and 504, or
//!   gRPC's retryable codes (and a receiver that
//!   cannot be reached) are retried within the export timeout, after
//!   `Retry-After` or an exponential backoff with jitter; any other
//!   answer is final for that export. A partial success is reported on
//!   stderr and not retried. A dead receiver costs one failed export per
//!   period and nothing else: no queue grows, no recording thread waits,
//!   and with cumulative temporality the next export carries everything.
//! - Self-metrics, in the exported registry, labelled by `endpoint`:
//!   `nanometrics_otlp_exports_total`, `nanometrics_otlp_failures_total`,
//!   `nanometrics_otlp_retries_total`,
//!   `nanometrics_otlp_rejected_points_total` (a partial success's count),
//!   `nanometrics_otlp_last_success_timestamp_seconds`.

mod attempt;
mod attributes;
mod config;
mod exemplar;
#[cfg(feature = "otlp-grpc")]
mod grpc;
mod mapping;
mod transport;
mod wire;

use std::time::SystemTime;

use nanometrics::{Counter, Gauge, Registry, Snapshot};

pub use config::{
    ConfigError, OtlpConfig, Protocol, Temporality, DEFAULT_ENDPOINT, DEFAULT_GRPC_ENDPOINT,
};

use crate::push::{BackendError, PushBackend, PushExporter, PushStats};
use mapping::Mapper;
use transport::Transport;

/// The OTLP [`PushBackend`]: maps each snapshot (see the table below) and
/// POSTs it. [`OtlpExporter`] drives one on a period.
///
#[doc = include_str!("mapping.md")]
pub struct OtlpBackend {
    mapper: Mapper,
    transport: Transport,
    runtime: tokio::runtime::Runtime,
    counts: Option<SelfMetrics>,
}

impl std::fmt::Debug for OtlpBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpBackend")
            .field("transport", &self.transport)
            .finish()
    }
}

#[derive(Debug)]
struct SelfMetrics {
    exports: Counter,
    failures: Counter,
    retries: Counter,
    rejected_points: Counter,
    last_success: Gauge,
}

impl SelfMetrics {
    /// The series of the exporter to `endpoint` (one set per endpoint).
    fn declare(r: &Registry, endpoint: &str) -> Option<SelfMetrics> {
        let l = ["endpoint"];
        let counter = |name: &str, help: &str| {
            r.counter_family(name, help, &l)
                .and_then(|f| f.with_labels(&[endpoint]))
                .ok()
        };
        Some(SelfMetrics {
            exports: counter(
                "nanometrics_otlp_exports_total",
                "OTLP exports that the receiver accepted.",
            )?,
            failures: counter(
                "nanometrics_otlp_failures_total",
                "OTLP exports that failed.",
            )?,
            retries: counter(
                "nanometrics_otlp_retries_total",
                "OTLP requests sent again after a retryable answer.",
            )?,
            rejected_points: counter(
                "nanometrics_otlp_rejected_points_total",
                "Data points a receiver's partial success said it rejected.",
            )?,
            last_success: r
                .gauge_family(
                    "nanometrics_otlp_last_success_timestamp_seconds",
                    "Unix time of the last accepted OTLP export.",
                    &l,
                )
                .and_then(|f| f.with_labels(&[endpoint]))
                .ok()?,
        })
    }
}

impl OtlpBackend {
    /// A backend sending to `config`'s endpoint (the endpoint and headers
    /// are checked here).
    pub fn new(config: &OtlpConfig) -> Result<OtlpBackend, ConfigError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ConfigError(format!("cannot start the exporter's runtime: {e}")))?;
        // gRPC's channel is made inside the runtime it will run on.
        let transport = {
            let _in_runtime = runtime.enter();
            Transport::new(config)?
        };
        Ok(OtlpBackend {
            mapper: Mapper::new(&config.resource, config.temporality),
            transport,
            runtime,
            counts: None,
        })
    }

    /// The encoded request for `snapshot` as of `now` (`None`: nothing to
    /// send), without sending it (and without counting it as sent: the
    /// next delta is still from the last export, and series missing from
    /// `snapshot` keep their state). `&mut`: it caches each series'
    /// encoded attributes.
    pub fn encode(&mut self, snapshot: &Snapshot, now: SystemTime) -> Option<Vec<u8>> {
        self.mapper.request(snapshot, now).map(|(bytes, _)| bytes)
    }
}

impl PushBackend for OtlpBackend {
    fn export(&mut self, snapshot: &Snapshot) -> Result<(), BackendError> {
        let Some((request, pending)) = self.mapper.request(snapshot, SystemTime::now()) else {
            return Ok(());
        };
        let before = self.transport.retries;
        let rejected_before = self.transport.rejected_points;
        let result = self.runtime.block_on(self.transport.send(request));
        if result.is_ok() {
            // Only an accepted export moves the next delta's start.
            self.mapper.commit(pending);
        }
        if let Some(c) = &self.counts {
            c.retries.inc_by(self.transport.retries - before);
            c.rejected_points
                .inc_by(self.transport.rejected_points - rejected_before);
            match &result {
                Ok(()) => {
                    c.exports.inc();
                    let t = SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0.0, |d| d.as_secs_f64());
                    c.last_success.set(t);
                }
                Err(_) => c.failures.inc(),
            }
        }
        result
    }
}

/// An [`OtlpBackend`] driven every [`OtlpConfig::interval`] on its own
/// thread, with a final export at shutdown.
#[derive(Debug)]
pub struct OtlpExporter {
    push: PushExporter,
}

impl OtlpExporter {
    /// Starts exporting `registry` as `config` says; declares the
    /// self-metrics in `registry`.
    pub fn start(registry: Registry, config: OtlpConfig) -> Result<OtlpExporter, BackendError> {
        let mut backend = OtlpBackend::new(&config)?;
        backend.counts = SelfMetrics::declare(&registry, &config.endpoint);
        let push = PushExporter::start(registry, config.interval, backend)?;
        Ok(OtlpExporter { push })
    }

    /// The exporter the environment asks for: started when
    /// `OTEL_METRICS_EXPORTER` lists `otlp` (comma-separated, as the
    /// OpenTelemetry SDKs read it), configured by
    /// [`OtlpConfig::from_env`]; `None` when it does not (unset, `none`,
    /// or only `prometheus`, which is the pull server's business). Any
    /// other name, or a bad OTLP variable, is an error.
    ///
    /// ```
    /// let r = nanometrics::Registry::new();
    /// // With OTEL_METRICS_EXPORTER unset, nothing starts.
    /// # std::env::remove_var("OTEL_METRICS_EXPORTER");
    /// assert!(nanometrics_exporters::otlp::OtlpExporter::from_env(&r)?.is_none());
    /// # Ok::<(), nanometrics_exporters::push::BackendError>(())
    /// ```
    pub fn from_env(registry: &Registry) -> Result<Option<OtlpExporter>, BackendError> {
        let names = std::env::var("OTEL_METRICS_EXPORTER").unwrap_or_default();
        if !wants_otlp(&names)? {
            return Ok(None);
        }
        Ok(Some(OtlpExporter::start(
            registry.clone(),
            OtlpConfig::from_env()?,
        )?))
    }

    /// Exports now and waits for the outcome.
    pub fn export_now(&self) -> Result<(), BackendError> {
        self.push.export_now()
    }

    /// Exports, failures and the last success.
    pub fn stats(&self) -> PushStats {
        self.push.stats()
    }

    /// The final export, then stops; later calls (and drop) do nothing.
    pub fn shutdown(&self) -> Result<(), BackendError> {
        self.push.shutdown()
    }
}

/// Whether `OTEL_METRICS_EXPORTER`'s list (`names`) asks for OTLP; an
/// error for a name that is not an exporter here (`otlp`, `prometheus`,
/// `none`).
pub(crate) fn wants_otlp(names: &str) -> Result<bool, String> {
    let mut otlp = false;
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name {
            "otlp" => otlp = true,
            "none" | "prometheus" => {}
            other => {
                return Err(format!(
                    "OTEL_METRICS_EXPORTER={names:?}: {other:?} is not an exporter here (otlp, prometheus, none)"
                ))
            }
        }
    }
    Ok(otlp)
}
