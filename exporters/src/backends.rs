//! [`Backends`]: every backend a process runs for one registry, chosen at
//! start-up from one configuration: the pull server ([`MetricsServer`]),
//! OTLP push ([`OtlpExporter`](crate::otlp::OtlpExporter), feature
//! `otlp`) and any [`PushBackend`], several at once. Components declare
//! their metrics on the registry and never name a backend.
//!
//! ```no_run
//! use nanometrics_exporters::backends::Backends;
//! let registry = nanometrics::global();
//! // The environment decides: NANOMETRICS_ADDR or DYN_SYSTEM_HOST/PORT for
//! // the pull server (DYN_SYSTEM_PORT=-1: none), OTEL_METRICS_EXPORTER=otlp
//! // and the OTEL_EXPORTER_OTLP_* variables for OTLP push.
//! let backends = Backends::builder(registry.clone()).from_env().start()?;
//! // … the process runs …
//! backends.shutdown()?; // final pushes: nothing recorded before is lost
//! # Ok::<(), nanometrics_exporters::push::BackendError>(())
//! ```
//!
//! `OTEL_METRICS_EXPORTER` (a comma-separated list, as the OpenTelemetry
//! SDKs read it) chooses the push exporters: `otlp`, or `none`;
//! `prometheus` is accepted and means the pull server, which is chosen by
//! its own variables (on unless `DYN_SYSTEM_PORT=-1`), since a scrape
//! endpoint costs nothing until scraped. Any other name, or a bad value of
//! any variable, is an error naming it.

use std::time::Duration;

use nanometrics::Registry;

use crate::http::{MetricsServer, MetricsServerBuilder};
use crate::push::{BackendError, PushBackend, PushExporter};

/// The running backends; see the [module](self). Dropping them stops the
/// server and makes each push exporter's final export.
#[derive(Debug)]
pub struct Backends {
    server: Option<MetricsServer>,
    #[cfg(feature = "otlp")]
    otlp: Option<crate::otlp::OtlpExporter>,
    push: Vec<PushExporter>,
}

/// Chooses the backends; see [`Backends::builder`].
#[must_use = "a builder starts nothing until .start()"]
pub struct BackendsBuilder {
    registry: Registry,
    pull: Option<MetricsServerBuilder>,
    #[cfg(feature = "otlp")]
    otlp: Option<crate::otlp::OtlpConfig>,
    push: Vec<(Duration, Box<dyn PushBackend>)>,
    error: Option<String>,
}

impl std::fmt::Debug for BackendsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("BackendsBuilder");
        d.field("pull", &self.pull.is_some());
        #[cfg(feature = "otlp")]
        d.field("otlp", &self.otlp.as_ref().map(|c| &c.endpoint));
        d.field("push", &self.push.len())
            .field("error", &self.error)
            .finish()
    }
}

impl Backends {
    /// No backend yet for `registry`; add them, or take the environment's
    /// with [`from_env`](BackendsBuilder::from_env).
    pub fn builder(registry: Registry) -> BackendsBuilder {
        BackendsBuilder {
            registry,
            pull: None,
            #[cfg(feature = "otlp")]
            otlp: None,
            push: Vec::new(),
            error: None,
        }
    }

    /// The pull server, if one runs.
    pub fn server(&self) -> Option<&MetricsServer> {
        self.server.as_ref()
    }

    /// The OTLP exporter, if one runs.
    #[cfg(feature = "otlp")]
    pub fn otlp(&self) -> Option<&crate::otlp::OtlpExporter> {
        self.otlp.as_ref()
    }

    /// The other push exporters, in the order they were added.
    pub fn push(&self) -> &[PushExporter] {
        &self.push
    }

    /// Exports now on every push backend, and waits; the first error.
    pub fn export_now(&self) -> Result<(), BackendError> {
        let mut first = Ok(());
        #[cfg(feature = "otlp")]
        if let Some(o) = &self.otlp {
            first = first.and(o.export_now());
        }
        for p in &self.push {
            let r = p.export_now();
            first = first.and(r);
        }
        first
    }

    /// Final exports on every push backend (each is tried), then the
    /// server stops; the first error.
    pub fn shutdown(self) -> Result<(), BackendError> {
        let mut first = Ok(());
        #[cfg(feature = "otlp")]
        if let Some(o) = &self.otlp {
            first = first.and(o.shutdown());
        }
        for p in &self.push {
            let r = p.shutdown();
            first = first.and(r);
        }
        if let Some(s) = self.server {
            s.shutdown();
        }
        first
    }
}

impl BackendsBuilder {
    /// Serves `/metrics` (and `/health`, `/live`, `/metrics/stream`) on
    /// `addr`.
    pub fn pull(mut self, addr: impl Into<String>) -> Self {
        self.pull = Some(
            MetricsServer::builder()
                .bind(addr)
                .registry(self.registry.clone()),
        );
        self
    }

    /// The pull server as `server` configures it (its registry is this
    /// builder's).
    pub fn pull_with(mut self, server: MetricsServerBuilder) -> Self {
        self.pull = Some(server.registry(self.registry.clone()));
        self
    }

    /// No pull server.
    pub fn no_pull(mut self) -> Self {
        self.pull = None;
        self
    }

    /// OTLP push as `config` says.
    #[cfg(feature = "otlp")]
    pub fn otlp(mut self, config: crate::otlp::OtlpConfig) -> Self {
        self.otlp = Some(config);
        self
    }

    /// `backend` every `interval`.
    pub fn push(mut self, interval: Duration, backend: impl PushBackend) -> Self {
        self.push.push((interval, Box::new(backend)));
        self
    }

    /// The environment's choice, over what was set before: see the
    /// [module](self).
    pub fn from_env(self) -> Self {
        self.from_vars(|k| std::env::var(k).ok())
    }

    /// [`from_env`](Self::from_env) with the variables read from `var`.
    pub fn from_vars(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        let server = self
            .pull
            .take()
            .unwrap_or_else(|| MetricsServer::builder().registry(self.registry.clone()))
            .with_vars(&var);
        self.pull = server.is_enabled().then_some(server);
        let names = var("OTEL_METRICS_EXPORTER").unwrap_or_default();
        #[cfg(feature = "otlp")]
        match crate::otlp::wants_otlp(&names) {
            // Unset: what the builder had. Set without otlp: none.
            Ok(false) if names.trim().is_empty() => {}
            Ok(false) => self.otlp = None,
            Ok(true) => match crate::otlp::OtlpConfig::from_vars(&var) {
                Ok(c) => self.otlp = Some(c),
                Err(e) => {
                    self.error.get_or_insert(e.to_string());
                }
            },
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
        #[cfg(not(feature = "otlp"))]
        if names
            .split(',')
            .any(|n| !["", "none", "prometheus"].contains(&n.trim()))
        {
            self.error.get_or_insert(format!(
                "OTEL_METRICS_EXPORTER={names:?}: this build pushes nothing (OTLP is the otlp feature); prometheus or none"
            ));
        }
        self
    }

    /// Starts them all, or none: a configuration error, or a backend that
    /// cannot start (an address in use), stops those already started.
    pub fn start(self) -> Result<Backends, BackendError> {
        if let Some(e) = self.error {
            return Err(e.into());
        }
        let mut started = Backends {
            server: None,
            #[cfg(feature = "otlp")]
            otlp: None,
            push: Vec::new(),
        };
        if let Some(s) = self.pull {
            started.server = Some(s.start()?);
        }
        #[cfg(feature = "otlp")]
        if let Some(c) = self.otlp {
            started.otlp = Some(crate::otlp::OtlpExporter::start(self.registry.clone(), c)?);
        }
        for (interval, backend) in self.push {
            started.push.push(PushExporter::start(
                self.registry.clone(),
                interval,
                backend,
            )?);
        }
        Ok(started)
    }
}
