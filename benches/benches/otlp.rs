//! Encoding 10,000 series as one OTLP request: what a push export costs
//! the exporter before the network.
//!
//! `otlp/encode_10k_series`: 9,000 counter series (two labels) and 1,000
//! histogram series (one label, 11 bounds, a few observations each), the
//! same data on each side, encoded to protobuf bytes per iteration:
//! - `nanometrics`: `Registry::snapshot()` + `OtlpBackend::encode` (the
//!   mapping to OTLP points, written straight as protobuf: what each
//!   export does);
//! - `opentelemetry_sdk`: what the `opentelemetry-otlp` exporter does with
//!   an `SdkMeterProvider`: its reader's `collect` into `ResourceMetrics`,
//!   `opentelemetry-proto`'s transform into the same
//!   `ExportMetricsServiceRequest`, and prost's encoding;
//! - `floor`: prost's encoding alone of the request nanometrics built (the
//!   serialization no exporter can skip).
//!
//! `otlp/encode_10k_counters`: the same with 10,000 counter series and no
//! histogram.
//!
//! `otlp/hot_path`: a counter increment on one thread, `idle` with nothing
//! else running, `nanometrics` while an `OtlpExporter` exports the same
//! registry (10,000 series) every 100 ms to a receiver on loopback that
//! answers 200 (the ratio is what a running exporter costs the hot path).

use std::hint::black_box;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, Criterion};
use nanometrics_benches::config;
use nanometrics_exporters::otlp::{OtlpBackend, OtlpConfig};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    Instrument, InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Stream, Temporality,
};
use prost::Message as _;

const COUNTERS: usize = 9_000;
const HISTOGRAMS: usize = 1_000;
const BOUNDS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn counter_labels(i: usize) -> [String; 2] {
    [
        format!("model-{}", i / 4),
        ["ok", "error", "timeout", "cancelled"][i % 4].to_string(),
    ]
}

fn observations(i: usize) -> [f64; 3] {
    let x = (i % 97) as f64 / 10.0;
    [x * 0.01, x * 0.1, x]
}

/// The bench's handle on the provider's reader (a `ManualReader` is moved
/// into the provider).
#[derive(Debug, Clone)]
struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline)
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

fn encode_10k(c: &mut Criterion) {
    bench_group(c, "otlp/encode_10k_series", COUNTERS, HISTOGRAMS);
    bench_group(c, "otlp/encode_10k_counters", COUNTERS + HISTOGRAMS, 0);
}

fn bench_group(c: &mut Criterion, group: &str, counters: usize, histograms: usize) {
    let mut g = c.benchmark_group(group);

    let registry = nanometrics::Registry::new();
    let requests = registry
        .metric("requests_total", "Requests by model and status.")
        .cardinality_limit(counters)
        .family::<nanometrics::Counter>(&["model", "status"])
        .unwrap();
    for i in 0..counters {
        requests
            .with_labels(&counter_labels(i))
            .unwrap()
            .inc_by(i as u64 * 7919);
    }
    let latency = registry
        .metric("latency_seconds", "Latency by model.")
        .buckets(nanometrics::Buckets::explicit(BOUNDS.to_vec()))
        .cardinality_limit(HISTOGRAMS)
        .family::<nanometrics::Histogram>(&["model"])
        .unwrap();
    for i in 0..histograms {
        let h = latency.with_labels(&[&format!("model-{i}")]).unwrap();
        for v in observations(i) {
            h.observe(v);
        }
    }
    let config = OtlpConfig::from_vars(|k| {
        (k == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| "http://127.0.0.1:4318".to_string())
    })
    .unwrap();
    let mut backend = OtlpBackend::new(&config).unwrap();
    let ours = backend
        .encode(&registry.snapshot(), SystemTime::now())
        .unwrap();
    g.bench_function(criterion::BenchmarkId::new("nanometrics", 10_000), |b| {
        b.iter(|| {
            let bytes = backend
                .encode(&registry.snapshot(), SystemTime::now())
                .unwrap();
            black_box(bytes.len())
        })
    });

    let request = ExportMetricsServiceRequest::decode(ours.as_slice()).unwrap();
    let mut buf = Vec::with_capacity(ours.len());
    g.bench_function(criterion::BenchmarkId::new("floor", 10_000), |b| {
        b.iter(|| {
            buf.clear();
            request.encode(&mut buf).unwrap();
            black_box(buf.len())
        })
    });

    let reader = SharedReader(Arc::new(ManualReader::builder().build()));
    let provider = SdkMeterProvider::builder()
        .with_reader(reader.clone())
        // The SDK's default limit is 2,000 series per instrument.
        .with_view(move |_: &Instrument| {
            Stream::builder()
                .with_cardinality_limit(counters + 1)
                .build()
                .ok()
        })
        .build();
    let meter = provider.meter("bench");
    let otel_requests = meter
        .u64_counter("requests")
        .with_description("Requests by model and status.")
        .build();
    for i in 0..counters {
        let [m, s] = counter_labels(i);
        otel_requests.add(
            i as u64 * 7919,
            &[KeyValue::new("model", m), KeyValue::new("status", s)],
        );
    }
    let otel_latency = meter
        .f64_histogram("latency_seconds")
        .with_description("Latency by model.")
        .with_boundaries(BOUNDS.to_vec())
        .build();
    for i in 0..histograms {
        let attrs = [KeyValue::new("model", format!("model-{i}"))];
        for v in observations(i) {
            otel_latency.record(v, &attrs);
        }
    }
    let sdk_encode = || {
        let mut rm = ResourceMetrics::default();
        reader.collect(&mut rm).unwrap();
        ExportMetricsServiceRequest::from(&rm).encode_to_vec()
    };
    let theirs = sdk_encode();
    let points = |r: &ExportMetricsServiceRequest| -> usize {
        use opentelemetry_proto::tonic::metrics::v1::metric::Data;
        r.resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|s| &s.metrics)
            .map(|m| match &m.data {
                Some(Data::Sum(s)) => s.data_points.len(),
                Some(Data::Histogram(h)) => h.data_points.len(),
                _ => 0,
            })
            .sum()
    };
    // The same data on both sides, or the comparison means nothing.
    let theirs_request = ExportMetricsServiceRequest::decode(theirs.as_slice()).unwrap();
    assert_eq!(points(&request), COUNTERS + HISTOGRAMS);
    assert_eq!(points(&theirs_request), COUNTERS + HISTOGRAMS);
    g.bench_function(
        criterion::BenchmarkId::new("opentelemetry_sdk", 10_000),
        |b| b.iter(|| black_box(sdk_encode().len())),
    );
    g.finish();
}

fn hot_path(c: &mut Criterion) {
    use nanometrics_benches::bench_uncontended;
    let mut g = c.benchmark_group("otlp/hot_path");
    let registry = nanometrics::Registry::new();
    let hot = registry.counter("hot_total", "Hot.").unwrap();
    let requests = registry
        .metric("requests_total", "Requests by model and status.")
        .cardinality_limit(COUNTERS + HISTOGRAMS)
        .family::<nanometrics::Counter>(&["model", "status"])
        .unwrap();
    for i in 0..COUNTERS + HISTOGRAMS {
        requests.with_labels(&counter_labels(i)).unwrap().inc();
    }
    bench_uncontended(&mut g, "idle", hot.clone(), |c, _, _| black_box(c).inc());

    let endpoint = receiver::start();
    let config = OtlpConfig::from_vars(|k| match k {
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" => Some(endpoint.clone()),
        "OTEL_METRIC_EXPORT_INTERVAL" => Some("100".into()),
        _ => None,
    })
    .unwrap();
    let exporter =
        nanometrics_exporters::otlp::OtlpExporter::start(registry.clone(), config).unwrap();
    // Under way before the measurement starts.
    exporter.export_now().unwrap();
    let t0 = std::time::Instant::now();
    bench_uncontended(&mut g, "nanometrics", hot, |c, _, _| black_box(c).inc());
    // Exports every 100 ms went on while it ran (unless a filter skipped it).
    let stats = exporter.stats();
    let ran = t0.elapsed() > std::time::Duration::from_millis(500);
    assert!(
        stats.failures == 0 && (!ran || stats.exports >= 2),
        "{stats:?}"
    );
    exporter.shutdown().unwrap();
    g.finish();
}

/// A receiver that reads each request whole and answers 200 with an empty
/// `ExportMetricsServiceResponse`, on a free loopback port.
mod receiver {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};

    /// Starts it; returns its `/v1/metrics` URL.
    pub fn start() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/metrics", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                std::thread::spawn(move || serve(conn));
            }
        });
        url
    }

    fn serve(conn: TcpStream) {
        let mut out = conn.try_clone().unwrap();
        let mut reader = BufReader::new(conn);
        let mut body = Vec::new();
        loop {
            let mut len = 0usize;
            let mut line = String::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                if line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            body.resize(len, 0);
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
            if out.write_all(answer.as_bytes()).is_err() {
                return;
            }
        }
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = encode_10k, hot_path
}
criterion_main!(benches);
