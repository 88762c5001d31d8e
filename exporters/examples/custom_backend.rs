//! A custom push backend in a few lines: every period, each series'
//! value as one line of `name{labels} value` on stdout (a stand-in for a
//! company's own metrics bus). `cargo run --example custom_backend -p nanometrics-exporters`
use std::time::Duration;

use nanometrics::{Registry, Snapshot, Value};
use nanometrics_exporters::push::{BackendError, PushBackend, PushExporter};

struct LineBackend;

impl PushBackend for LineBackend {
    fn export(&mut self, snapshot: &Snapshot) -> Result<(), BackendError> {
        for family in &snapshot.families {
            for series in &family.series {
                let labels: Vec<String> = series
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect();
                let value = match &series.value {
                    Value::Histogram(h) | Value::Summary(h) => {
                        format!("count={} sum={}", h.count, h.sum)
                    }
                    v => format!("{}", v.as_f64().unwrap_or(f64::NAN)),
                };
                println!("{}{{{}}} {value}", family.name, labels.join(","));
            }
        }
        Ok(())
    }
}

fn main() -> Result<(), BackendError> {
    // The component declares against a registry and never names a backend.
    let registry = Registry::new();
    let jobs = registry.counter_family("jobs_total", "Jobs done.", &["queue"])?;
    let exporter = PushExporter::start(registry.clone(), Duration::from_millis(200), LineBackend)?;
    for i in 0..5 {
        jobs.with_labels(&[if i % 2 == 0 { "fast" } else { "slow" }])?
            .inc();
        std::thread::sleep(Duration::from_millis(100));
    }
    exporter.shutdown()?; // the final export carries every increment
    Ok(())
}
