//! [`NatsSink`]: watch frames published to a NATS subject, the runtime's
//! event plane (feature `nats`).
//!
//! ```no_run
//! use std::time::Duration;
//! use nanometrics_exporters::nats::NatsSink;
//! let registry = nanometrics::Registry::new();
//! let sink = NatsSink::connect("nats://127.0.0.1:4222", "metrics.worker-1.ttft")?;
//! let stats = sink.stats();
//! let _watch = registry
//!     .watch("ttft_seconds")?
//!     .every(Duration::from_secs(1))
//!     .window(Duration::from_secs(10))
//!     .sink(sink)?;
//! // … later: how many frames went out, and how many were dropped.
//! println!("{:?}", stats.get());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Each frame is published as its JSON ([`frame_json`](crate::frame_json)).
//! Delivery is at most once, like the runtime's own events: while the
//! client is disconnected (the server restarted, the network dropped) a
//! frame is dropped and counted, never queued, so nothing stale piles up
//! and the watch never waits; the client reconnects on its own (every
//! second at most, forever) and publishing resumes. A receiver sees the
//! loss as a gap in `seq`.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use async_nats::connection::State;
use nanometrics::realtime::{Frame, FrameSink, SinkError};
use tokio::sync::oneshot;

use crate::frame_json::write_frame;

/// How long a publish may wait for the client's queue.
const PUBLISH_TIMEOUT: Duration = Duration::from_millis(100);

/// Publishes frames to a subject; see the [module docs](self).
#[derive(Debug)]
pub struct NatsSink {
    client: async_nats::Client,
    subject: String,
    runtime: tokio::runtime::Handle,
    counts: Arc<Counts>,
    buf: Vec<u8>,
    // Declared last: dropped after the client, it stops the runtime.
    _driver: Driver,
}

#[derive(Debug, Default)]
struct Counts {
    published: AtomicU64,
    dropped: AtomicU64,
}

/// The thread that drives the client's connection.
#[derive(Debug)]
struct Driver {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a [`NatsSink`] has done; shared with the sink, read any time.
#[derive(Clone, Debug)]
pub struct NatsStats(Arc<Counts>);

impl NatsStats {
    /// `(published, dropped)`: frames handed to the server's connection,
    /// and frames dropped because the client was not connected (or its
    /// queue stayed full).
    pub fn get(&self) -> (u64, u64) {
        // Relaxed: counts read on their own.
        (
            self.0.published.load(Ordering::Relaxed),
            self.0.dropped.load(Ordering::Relaxed),
        )
    }
}

impl NatsSink {
    /// A sink publishing to `subject` on the server at `url`
    /// (`nats://host:port`). Returns at once: the client connects (and
    /// reconnects) in the background, and frames sent before it is
    /// connected are dropped and counted. An invalid URL or subject is an
    /// error here. It may be called from async code; the sink runs its own
    /// runtime on a thread (`nanometrics-nats`).
    pub fn connect(url: &str, subject: impl Into<String>) -> io::Result<NatsSink> {
        let subject = subject.into();
        let bad = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
        if subject.is_empty()
            || subject.contains(|c: char| c.is_whitespace() || c == '*' || c == '>')
        {
            return Err(bad(format!(
                "NATS subject {subject:?}: a publish subject is non-empty tokens separated by dots, without spaces or wildcards"
            )));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("nanometrics-nats".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                })
            })?;
        let driver = Driver {
            stop: Some(stop),
            thread: Some(thread),
        };
        let options = async_nats::ConnectOptions::new()
            .name("nanometrics")
            .retry_on_initial_connect()
            .max_reconnects(None)
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis((attempts as u64 * 100).clamp(100, 1000))
            });
        // Connected on the driver's runtime, waited for here: this works
        // from plain threads and from inside another runtime's tasks alike
        // (the connection is made in the background, so this is quick).
        let url = url.to_string();
        let (tx, rx) = std::sync::mpsc::channel();
        handle.spawn(async move {
            let _ = tx.send(options.connect(url.as_str()).await);
        });
        let client = rx
            .recv()
            .map_err(|_| bad("the NATS client's runtime stopped".into()))?
            .map_err(|e| bad(format!("NATS server address: {e}")))?;
        Ok(NatsSink {
            client,
            subject,
            runtime: handle,
            counts: Arc::new(Counts::default()),
            buf: Vec::with_capacity(4096),
            _driver: driver,
        })
    }

    /// Its counts, readable after the sink moved into a watch.
    pub fn stats(&self) -> NatsStats {
        NatsStats(self.counts.clone())
    }

    /// Whether the client is connected now.
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }
}

impl FrameSink for NatsSink {
    fn send(&mut self, frame: &Frame) -> Result<(), SinkError> {
        if !self.is_connected() {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
            return Err("not connected to the NATS server: frame dropped".into());
        }
        self.buf.clear();
        write_frame(&mut self.buf, frame);
        let payload = self.buf.clone();
        let client = self.client.clone();
        let subject = self.subject.clone();
        let sent = self.runtime.block_on(async move {
            tokio::time::timeout(PUBLISH_TIMEOUT, client.publish(subject, payload.into())).await
        });
        match sent {
            Ok(Ok(())) => {
                self.counts.published.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Ok(Err(e)) => {
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
                Err(Box::new(e))
            }
            Err(_) => {
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
                Err("the NATS client's queue stayed full: frame dropped".into())
            }
        }
    }
}
