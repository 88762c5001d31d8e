//! # `quickstart`: the smallest useful nanometrics program
//!
//! ```text
//! cargo run --example quickstart -p nanometrics
//! ```
//!
//! Declares a struct of metrics once, updates it in a short loop, and prints
//! what a Prometheus scrape of `/metrics` would read.

use nanometrics::{Buckets, Counter, Family, Gauge, Histogram, Registry};

/// Every metric the service records, declared together.
#[derive(Clone, Debug)]
struct Metrics {
    /// `requests_total{model, status}`
    requests: Family<Counter>,
    /// `request_duration_seconds`, 1 ms to about 16 s
    latency: Histogram,
    /// `queue_depth`
    queue_depth: Gauge,
}

impl Metrics {
    fn new(registry: &Registry) -> Result<Metrics, nanometrics::Error> {
        Ok(Metrics {
            requests: registry.counter_family(
                "requests_total",
                "Requests finished, by model and status.",
                &["model", "status"],
            )?,
            latency: registry.histogram(
                "request_duration_seconds",
                "Time to serve one request.",
                Buckets::exponential(0.001, 2.0, 15),
            )?,
            queue_depth: registry.gauge("queue_depth", "Requests waiting to be served.")?,
        })
    }
}

fn main() -> Result<(), nanometrics::Error> {
    let registry = Registry::new();
    let metrics = Metrics::new(&registry)?;

    // Resolve the labelled series once; updating a handle is the fast path.
    let ok = metrics.requests.with_labels(&["llama", "ok"])?;
    let failed = metrics
        .requests
        .with(&[("model", "llama"), ("status", "error")])?;

    for i in 0..10u32 {
        metrics.queue_depth.set(f64::from(10 - i)); // the queue drains
        metrics.latency.observe(0.002 * f64::from(i + 1));
        if i % 5 == 4 {
            failed.inc();
        } else {
            ok.inc();
        }
    }

    print!(
        "{}",
        nanometrics_exporters::prometheus::encode_to_string(&registry.snapshot())
    );
    Ok(())
}
