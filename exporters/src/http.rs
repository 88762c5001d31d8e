//! The `/metrics`, `/health` and `/live` HTTP server (hyper 1 + tokio).
//!
//! ```no_run
//! use nanometrics_exporters::http::MetricsServer;
//! let registry = nanometrics::Registry::new();
//! let server = MetricsServer::builder()
//!     .bind("127.0.0.1:9464")      // the default address; port 0 picks a free port
//!     .registry(registry.clone())  // default: nanometrics::global()
//!     .start()?;                   // its own thread and runtime
//! println!("serving on http://{}/metrics", server.local_addr());
//! server.health().set_ready(false); // /health answers 503 until set_ready(true)
//! server.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! - `GET /metrics`: content negotiation on `Accept` (q-values honoured):
//!   OpenMetrics 1.0 only when asked for, Prometheus text 0.0.4 for anything
//!   else, garbage included (never a 4xx); gzip when `Accept-Encoding` allows.
//!   The snapshot and the encoding run on tokio's blocking pool; a scrape that
//!   panics answers 500 and the next scrape works.
//! - `GET /metrics/stream?family=…&every=…&window=…`: frames of a watch as
//!   server-sent events ([`sse`](crate::sse)), for components that must
//!   react now.
//! - `GET /health`, `GET /live`: `{"status":"ready"|"notready","uptime_seconds":…}`
//!   with 200 or 503, from a [`Health`] the application controls.
//! - `HEAD` works wherever `GET` does; other methods get 405, other paths 404.
//! - Robustness: the HTTP/1 header read timeout is armed (hyper needs a timer
//!   for it; a client that trickles its request is cut off), request heads are
//!   bounded (431 past the limit), at most `max_concurrent_scrapes` scrapes
//!   run at once (the excess gets an immediate 503), request bodies are never
//!   read, and shutdown is graceful.
//! - Configuration from the environment ([`MetricsServerBuilder::from_env`]):
//!   `NANOMETRICS_ADDR` (`host:port`), and for the Dynamo runtime
//!   `DYN_SYSTEM_HOST` / `DYN_SYSTEM_PORT` (`-1` disables the server, `0`
//!   picks a free port).

use std::convert::Infallible;
use std::future::Future;
use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http_body_util::{Either, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    HeaderValue, ACCEPT, ACCEPT_ENCODING, ALLOW, CACHE_CONTROL, CONNECTION, CONTENT_ENCODING,
    CONTENT_TYPE, VARY,
};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use nanometrics::Registry;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify, Semaphore};

use crate::sse::{SseBody, StreamConfig, StreamHub};
use crate::{openmetrics, prometheus, EncodeOptions};

/// The default listen address: loopback only, the OpenTelemetry Prometheus
/// exporter's port.
///
/// ```
/// assert_eq!(nanometrics_exporters::http::DEFAULT_ADDR, "127.0.0.1:9464");
/// ```
pub const DEFAULT_ADDR: &str = "127.0.0.1:9464";

// === impl Health ===

/// Readiness and liveness that the application sets and `/health` and
/// `/live` report. Cheap to clone; all clones share the state.
///
/// ```
/// let health = nanometrics_exporters::http::Health::new();
/// assert!(health.is_ready() && health.is_live());
/// health.set_ready(false);
/// assert!(!health.is_ready());
/// ```
#[derive(Clone, Debug)]
pub struct Health {
    ready: Arc<AtomicBool>,
    live: Arc<AtomicBool>,
    started: Instant,
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

impl Health {
    /// Ready and live, uptime counted from now.
    ///
    /// ```
    /// let h = nanometrics_exporters::http::Health::new();
    /// assert!(h.is_ready());
    /// ```
    pub fn new() -> Health {
        Health {
            ready: Arc::new(AtomicBool::new(true)),
            live: Arc::new(AtomicBool::new(true)),
            started: Instant::now(),
        }
    }

    /// Sets what `/health` reports (503 while not ready).
    ///
    /// ```
    /// let h = nanometrics_exporters::http::Health::new();
    /// h.set_ready(false);
    /// assert!(!h.is_ready());
    /// ```
    pub fn set_ready(&self, ready: bool) {
        // Relaxed: a flag read on its own; nothing is published with it.
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Sets what `/live` reports (503 while not live).
    ///
    /// ```
    /// let h = nanometrics_exporters::http::Health::new();
    /// h.set_live(false);
    /// assert!(!h.is_live());
    /// ```
    pub fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::Relaxed);
    }

    /// Whether `/health` answers 200.
    ///
    /// ```
    /// assert!(nanometrics_exporters::http::Health::new().is_ready());
    /// ```
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Whether `/live` answers 200.
    ///
    /// ```
    /// assert!(nanometrics_exporters::http::Health::new().is_live());
    /// ```
    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Relaxed)
    }

    fn json(&self, ok: bool) -> String {
        format!(
            "{{\"status\":\"{}\",\"uptime_seconds\":{:.3}}}\n",
            if ok { "ready" } else { "notready" },
            self.started.elapsed().as_secs_f64()
        )
    }
}

// === impl MetricsServerBuilder ===

/// Configures a [`MetricsServer`]; see [`MetricsServer::builder`].
#[derive(Debug)]
#[must_use = "nothing is served until .start() or .serve()"]
///
/// ```
/// # use nanometrics_exporters::http::MetricsServer;
/// # let registry = nanometrics::Registry::new();
/// let server = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).start()?;
/// assert_ne!(server.local_addr().port(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct MetricsServerBuilder {
    addr: String,
    registry: Option<Registry>,
    metrics_path: String,
    health_path: String,
    live_path: String,
    stream_path: String,
    stream: StreamConfig,
    max_concurrent_scrapes: usize,
    header_read_timeout: Duration,
    max_header_bytes: usize,
    health: Health,
    encode: EncodeOptions,
    created_switch: Option<Arc<AtomicBool>>,
    enabled: bool,
    env_error: Option<String>,
}

impl Default for MetricsServerBuilder {
    fn default() -> Self {
        MetricsServerBuilder {
            addr: DEFAULT_ADDR.to_string(),
            registry: None,
            metrics_path: "/metrics".into(),
            health_path: "/health".into(),
            live_path: "/live".into(),
            stream_path: "/metrics/stream".into(),
            stream: StreamConfig::default(),
            max_concurrent_scrapes: 4,
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            health: Health::new(),
            encode: EncodeOptions::default(),
            created_switch: None,
            enabled: true,
            env_error: None,
        }
    }
}

impl MetricsServerBuilder {
    /// The address to listen on, `host:port` (default [`DEFAULT_ADDR`]);
    /// port 0 picks a free port.
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).start()?;
    /// assert!(s.local_addr().ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind(mut self, addr: impl Into<String>) -> Self {
        self.addr = addr.into();
        self
    }

    /// The registry to serve (default: [`nanometrics::global()`]).
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry.clone()).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Path of the metrics endpoint (default `/metrics`).
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).metrics_path("/stats").start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn metrics_path(mut self, path: impl Into<String>) -> Self {
        self.metrics_path = path.into();
        self
    }

    /// Path of the readiness endpoint (default `/health`).
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).health_path("/ready").start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn health_path(mut self, path: impl Into<String>) -> Self {
        self.health_path = path.into();
        self
    }

    /// Path of the liveness endpoint (default `/live`).
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).live_path("/alive").start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn live_path(mut self, path: impl Into<String>) -> Self {
        self.live_path = path.into();
        self
    }

    /// Path of the server-sent event stream ([`sse`](crate::sse);
    /// default `/metrics/stream`).
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).stream_path("/events").start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stream_path(mut self, path: impl Into<String>) -> Self {
        self.stream_path = path.into();
        self
    }

    /// The ticker whose ticks the streams follow (default: the shared
    /// [`nanometrics::realtime::ticker()`], 1 s).
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let ticker = nanometrics::realtime::Ticker::new(std::time::Duration::from_millis(100));
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).ticker(ticker).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ticker(mut self, ticker: nanometrics::realtime::Ticker) -> Self {
        self.stream.ticker = Some(ticker);
        self
    }

    /// At most `n` streams at once (default 16); past that, 503.
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).max_streams(2).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn max_streams(mut self, n: usize) -> Self {
        self.stream.max_streams = n;
        self
    }

    /// How many events a stream client may fall behind by before it is
    /// dropped (default 64).
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).stream_queue(8).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stream_queue(mut self, n: usize) -> Self {
        self.stream.queue = n;
        self
    }

    /// The longest `window` (and `every`) a stream may ask for (default
    /// 1 h): the ticker keeps that much of each watched series.
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).max_stream_window(std::time::Duration::from_secs(600)).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn max_stream_window(mut self, d: Duration) -> Self {
        self.stream.max_window = d;
        self
    }

    /// At most this many scrapes run at once (default 4); the excess gets 503.
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).max_concurrent_scrapes(2).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn max_concurrent_scrapes(mut self, n: usize) -> Self {
        self.max_concurrent_scrapes = n.max(1);
        self
    }

    /// Time a client has to send a request head (default 10 s).
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let s = MetricsServer::builder()
    ///     .bind("127.0.0.1:0")
    ///     .registry(registry)
    ///     .header_read_timeout(std::time::Duration::from_secs(2))
    ///     .start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// Largest request head accepted (default 16 KiB; at least 8 KiB);
    /// larger heads get 431.
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).max_header_bytes(32 * 1024).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn max_header_bytes(mut self, n: usize) -> Self {
        self.max_header_bytes = n.max(8192);
        self
    }

    /// Shares an existing [`Health`] (e.g. created before the server).
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let health = nanometrics_exporters::http::Health::new();
    /// health.set_ready(false); // not ready until warmed up
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).health(health.clone()).start()?;
    /// assert!(!s.health().is_ready());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn health(mut self, health: Health) -> Self {
        self.health = health;
        self
    }

    /// Writes `_created` samples (counters, histograms, summaries: their
    /// series' creation time), as prometheus_client does; off by default
    /// (see [`EncodeOptions`]).
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").created_series(true).start()?;
    /// s.shutdown();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn created_series(mut self, on: bool) -> Self {
        self.encode = self.encode.created(on);
        self
    }

    /// Writes `_created` samples while `switch` is on, read at each scrape
    /// (a language binding's process-wide setting, such as
    /// prometheus_client's `disable_created_metrics()`); it replaces
    /// [`created_series`](Self::created_series).
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// use std::sync::{atomic::AtomicBool, Arc};
    /// let on = Arc::new(AtomicBool::new(true));
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").created_series_switch(on.clone()).start()?;
    /// s.shutdown();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn created_series_switch(mut self, switch: Arc<AtomicBool>) -> Self {
        self.created_switch = Some(switch);
        self
    }

    /// Reads the environment: `NANOMETRICS_ADDR` (`host:port`) replaces the
    /// address; otherwise `DYN_SYSTEM_HOST` and `DYN_SYSTEM_PORT` set it
    /// (host default `127.0.0.1`; port `-1` disables the server, `0` picks a
    /// free one). An unparsable value makes [`start`](Self::start) fail with
    /// a message naming the variable.
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// // With DYN_SYSTEM_PORT=-1 in the environment, the server is off:
    /// let b = MetricsServer::builder().registry(registry).from_env();
    /// if b.is_enabled() {
    ///     let _s = b.bind("127.0.0.1:0").start()?;
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_env(self) -> Self {
        self.with_vars(|k| std::env::var(k).ok())
    }

    pub(crate) fn with_vars(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        if let Some(addr) = var("NANOMETRICS_ADDR").filter(|a| !a.is_empty()) {
            self.addr = addr;
            return self;
        }
        let host = var("DYN_SYSTEM_HOST").filter(|h| !h.is_empty());
        match var("DYN_SYSTEM_PORT").filter(|p| !p.is_empty()) {
            Some(p) => match p.trim().parse::<i32>() {
                Ok(-1) => self.enabled = false,
                Ok(port) if (0..=65535).contains(&port) => {
                    self.addr = format!("{}:{port}", host.as_deref().unwrap_or("127.0.0.1"));
                }
                _ => {
                    self.env_error = Some(format!(
                        "DYN_SYSTEM_PORT={p:?} is not a port (0..=65535, or -1 to disable)"
                    ))
                }
            },
            None => {
                if let Some(h) = host {
                    let port = self
                        .addr
                        .rsplit_once(':')
                        .map_or("9464", |(_, p)| p)
                        .to_string();
                    self.addr = format!("{h}:{port}");
                }
            }
        }
        self
    }

    /// Whether the configuration enables the server (`DYN_SYSTEM_PORT=-1`
    /// disables it).
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// assert!(MetricsServer::builder().registry(registry).is_enabled());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    fn resolve(&self) -> io::Result<SocketAddr> {
        if let Some(e) = &self.env_error {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, e.clone()));
        }
        if !self.enabled {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the metrics server is disabled (DYN_SYSTEM_PORT=-1)",
            ));
        }
        let bad = |why: String| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad listen address {:?}: {why}", self.addr),
            )
        };
        self.addr
            .to_socket_addrs()
            .map_err(|e| bad(e.to_string()))?
            .next()
            .ok_or_else(|| bad("resolves to nothing".into()))
    }

    fn into_state(self) -> Arc<State> {
        let registry = self
            .registry
            .unwrap_or_else(|| nanometrics::global().clone());
        Arc::new(State {
            streams: Arc::new(StreamHub::new(registry.clone(), self.stream)),
            stream_path: self.stream_path,
            registry,
            metrics_path: self.metrics_path,
            health_path: self.health_path,
            live_path: self.live_path,
            scrapes: Arc::new(Semaphore::new(self.max_concurrent_scrapes)),
            header_read_timeout: self.header_read_timeout,
            max_header_bytes: self.max_header_bytes,
            health: self.health,
            encode: self.encode,
            created_switch: self.created_switch,
        })
    }

    /// Binds and serves on a thread of its own, with its own tokio runtime.
    /// Binding errors (address in use, bad address) are returned here.
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).start()?;
    /// s.shutdown();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start(self) -> io::Result<MetricsServer> {
        let addr = self.resolve()?;
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let state = self.into_state();
        let health = state.health.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("nanometrics-http".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(l) => {
                            run(l, state, async {
                                let _ = rx.await;
                            })
                            .await
                        }
                        Err(e) => eprintln!("nanometrics-http: {e}"),
                    }
                })
            })?;
        Ok(MetricsServer {
            addr: local,
            health,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// Binds and serves inside the caller's tokio runtime until `shutdown`
    /// completes, then finishes in-flight requests and returns.
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    /// rt.block_on(async {
    ///     let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    ///     let serve = MetricsServer::builder()
    ///         .bind("127.0.0.1:0")
    ///         .registry(nanometrics::Registry::new())
    ///         .serve_with_shutdown(async { let _ = rx.await; });
    ///     tx.send(()).unwrap(); // stop at once: this only shows the shape
    ///     serve.await
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub async fn serve_with_shutdown(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let addr = self.resolve()?;
        let listener = TcpListener::bind(addr).await?;
        run(listener, self.into_state(), shutdown).await;
        Ok(())
    }
}

// === impl MetricsServer ===

/// A running server; see the [module docs](self). Dropping it shuts it down.
#[derive(Debug)]
///
/// ```
/// # use nanometrics_exporters::http::MetricsServer;
/// # let registry = nanometrics::Registry::new();
/// let server = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).start()?;
/// drop(server); // shuts down
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct MetricsServer {
    addr: SocketAddr,
    health: Health,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// A builder with the defaults (127.0.0.1:9464, the global registry).
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).start()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> MetricsServerBuilder {
        MetricsServerBuilder::default()
    }

    /// The address actually bound (with the real port when 0 was asked for).
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).start()?;
    /// println!("http://{}/metrics", s.local_addr());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The readiness and liveness this server reports.
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).start()?;
    /// s.health().set_ready(false);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Stops accepting, lets in-flight requests finish, and joins the thread.
    ///
    /// ```
    /// # use nanometrics_exporters::http::MetricsServer;
    /// # let registry = nanometrics::Registry::new();
    /// let s = MetricsServer::builder().bind("127.0.0.1:0").registry(registry).start()?;
    /// let addr = s.local_addr();
    /// s.shutdown();
    /// assert!(std::net::TcpStream::connect(addr).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

// === serving ===

struct State {
    registry: Registry,
    metrics_path: String,
    stream_path: String,
    streams: Arc<StreamHub>,
    health_path: String,
    live_path: String,
    scrapes: Arc<Semaphore>,
    header_read_timeout: Duration,
    max_header_bytes: usize,
    health: Health,
    encode: EncodeOptions,
    created_switch: Option<Arc<AtomicBool>>,
}

/// How long in-flight requests may take to finish after shutdown.
const GRACE: Duration = Duration::from_secs(5);

async fn run(listener: TcpListener, state: Arc<State>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(state.header_read_timeout)
        .max_buf_size(state.max_header_bytes);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else {
                    // Out of file descriptors and the like: back off briefly.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let st = state.clone();
                // Closes the connection of a stream client that fell behind.
                let kill = Arc::new(Notify::new());
                let k = kill.clone();
                let conn = http.serve_connection(
                    TokioIo::new(stream),
                    service_fn(move |req| handle(req, st.clone(), k.clone())),
                );
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    // Client resets and timeouts end here; nothing to report.
                    tokio::select! {
                        _ = conn => {}
                        _ = kill.notified() => {}
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    state.streams.close_all();
    let _ = tokio::time::timeout(GRACE, graceful.shutdown()).await;
}

type Resp = Response<Either<Full<Bytes>, SseBody>>;

fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Either::Left(Full::new(body.into())));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

async fn handle(
    req: Request<Incoming>,
    st: Arc<State>,
    kill: Arc<Notify>,
) -> Result<Resp, Infallible> {
    let path = req.uri().path();
    let known = [
        &st.metrics_path,
        &st.health_path,
        &st.live_path,
        &st.stream_path,
    ]
    .iter()
    .any(|p| p.as_str() == path);
    if !known {
        return Ok(respond(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found\n",
        ));
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "method not allowed\n",
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(r);
    }
    if path == st.health_path || path == st.live_path {
        let ok = if path == st.health_path {
            st.health.is_ready()
        } else {
            st.health.is_live()
        };
        let status = if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        return Ok(respond(status, "application/json", st.health.json(ok)));
    }
    if path == st.stream_path {
        return Ok(stream(&req, &st, kill));
    }
    Ok(scrape(&req, &st).await)
}

/// `GET /metrics/stream` ([`sse`](crate::sse)).
fn stream(req: &Request<Incoming>, st: &State, kill: Arc<Notify>) -> Resp {
    let last_id = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if req.method() == Method::HEAD {
        // The same verdict on the parameters as a GET, no stream.
        return match st.streams.check(req.uri().query().unwrap_or("")) {
            Ok(_) => respond(StatusCode::OK, "text/event-stream", Bytes::new()),
            Err((_, e)) => respond(StatusCode::BAD_REQUEST, "text/plain; charset=utf-8", e),
        };
    }
    match st
        .streams
        .open(req.uri().query().unwrap_or(""), last_id, kill)
    {
        Ok(body) => {
            let mut r = Response::new(Either::Right(body));
            let h = r.headers_mut();
            h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
            h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            h.insert("x-accel-buffering", HeaderValue::from_static("no"));
            // A stream ends only when it is dropped or the server stops:
            // the connection ends with it.
            h.insert(CONNECTION, HeaderValue::from_static("close"));
            r
        }
        Err((code, body)) => respond(
            StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
            "text/plain; charset=utf-8",
            body,
        ),
    }
}

async fn scrape(req: &Request<Incoming>, st: &State) -> Resp {
    let Ok(permit) = st.scrapes.clone().try_acquire_owned() else {
        return respond(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            "too many concurrent scrapes\n",
        );
    };
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or("")
    };
    let om = wants_openmetrics(header(ACCEPT));
    let gzip = accepts_gzip(header(ACCEPT_ENCODING));
    let registry = st.registry.clone();
    // Relaxed: a setting, read once per scrape, ordered with nothing.
    let options = match &st.created_switch {
        Some(on) => st.encode.created(on.load(Ordering::Relaxed)),
        None => st.encode,
    };
    let work = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut body = Vec::with_capacity(64 * 1024);
        if om {
            openmetrics::encode_registry_with(&registry, &mut body, options);
        } else {
            prometheus::encode_registry_with(&registry, &mut body, options);
        }
        if gzip {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 4),
                flate2::Compression::fast(),
            );
            enc.write_all(&body)?;
            body = enc.finish()?;
        }
        Ok::<_, io::Error>(body)
    });
    match work.await {
        Ok(Ok(body)) => {
            let ct = if om {
                openmetrics::CONTENT_TYPE
            } else {
                prometheus::CONTENT_TYPE
            };
            let mut r = respond(StatusCode::OK, ct, body);
            if gzip {
                r.headers_mut()
                    .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            r.headers_mut()
                .insert(VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
            r
        }
        Ok(Err(e)) => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            format!("scrape failed: {e}\n"),
        ),
        Err(e) => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            if e.is_panic() {
                "scrape failed: a collector panicked\n".to_string()
            } else {
                format!("scrape failed: {e}\n")
            },
        ),
    }
}

/// `(media type, q)` for each entry of an `Accept`-style header; entries
/// that do not parse are skipped.
fn media_ranges(header: &str) -> impl Iterator<Item = (String, f32)> + '_ {
    header.split(',').filter_map(|part| {
        let mut it = part.split(';');
        let media = it.next()?.trim().to_ascii_lowercase();
        if media.is_empty() {
            return None;
        }
        let mut q = 1.0f32;
        for p in it {
            if let Some((k, v)) = p.split_once('=') {
                if k.trim().eq_ignore_ascii_case("q") {
                    q = v
                        .trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|q| q.is_finite())
                        .unwrap_or(0.0)
                        .clamp(0.0, 1.0);
                }
            }
        }
        Some((media, q))
    })
}

/// Whether an `Accept` header prefers OpenMetrics: it must be listed with a
/// q-value above 0 and at least that of the best text/plain match. Anything
/// else, garbage included, gets the 0.0.4 text format.
///
/// ```
/// use nanometrics_exporters::http::wants_openmetrics;
/// // What Prometheus sends:
/// assert!(wants_openmetrics("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"));
/// assert!(!wants_openmetrics("text/plain;version=0.0.4"));
/// assert!(!wants_openmetrics("application/openmetrics-text;q=0.2, text/plain"));
/// assert!(!wants_openmetrics("application/openmetrics-text;q=0"));
/// assert!(!wants_openmetrics("\u{1}garbage;;;q=x"));
/// assert!(!wants_openmetrics(""));
/// ```
pub fn wants_openmetrics(accept: &str) -> bool {
    let (mut om, mut text) = (0.0f32, 0.0f32);
    for (media, q) in media_ranges(accept) {
        match media.as_str() {
            "application/openmetrics-text" => om = om.max(q),
            "text/plain" | "text/*" | "*/*" => text = text.max(q),
            _ => {}
        }
    }
    om > 0.0 && om >= text
}

/// Whether an `Accept-Encoding` header allows gzip (`gzip`, `x-gzip` or `*`
/// with a q-value above 0).
///
/// ```
/// use nanometrics_exporters::http::accepts_gzip;
/// assert!(accepts_gzip("gzip, deflate, br"));
/// assert!(!accepts_gzip("gzip;q=0, identity"));
/// assert!(!accepts_gzip(""));
/// ```
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    media_ranges(accept_encoding)
        .any(|(coding, q)| q > 0.0 && matches!(coding.as_str(), "gzip" | "x-gzip" | "*"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_vars::vars;

    #[test]
    fn environment_configuration() {
        let b = MetricsServerBuilder::default()
            .with_vars(vars(&[("NANOMETRICS_ADDR", "127.0.0.1:1234")]));
        assert_eq!(b.addr, "127.0.0.1:1234");
        let b = MetricsServerBuilder::default().with_vars(vars(&[("DYN_SYSTEM_PORT", "0")]));
        assert_eq!(b.addr, "127.0.0.1:0");
        let b = MetricsServerBuilder::default().with_vars(vars(&[
            ("DYN_SYSTEM_HOST", "0.0.0.0"),
            ("DYN_SYSTEM_PORT", "8081"),
        ]));
        assert_eq!(b.addr, "0.0.0.0:8081");
        let b = MetricsServerBuilder::default().with_vars(vars(&[("DYN_SYSTEM_PORT", "-1")]));
        assert!(!b.is_enabled());
        assert_eq!(b.start().unwrap_err().kind(), io::ErrorKind::Unsupported);
        let b = MetricsServerBuilder::default().with_vars(vars(&[("DYN_SYSTEM_PORT", "http")]));
        let e = b.start().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("DYN_SYSTEM_PORT"), "{e}");
        let e = MetricsServer::builder()
            .bind("not an address")
            .start()
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
