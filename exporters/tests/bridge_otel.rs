//! A nanometrics registry observed through the OpenTelemetry metrics API:
//! an `SdkMeterProvider`'s own reader collects exactly the registry's
//! counters, up-down counters and gauges, with their labels as
//! attributes, fresh at every collection.
#![cfg(feature = "bridge-otel")]

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;

use nanometrics::{Buckets, Registry};
use nanometrics_exporters::bridge::otel::OtelBridge;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Temporality,
};

/// The test's handle on the provider's reader.
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

/// What a collection holds: `name{k=v,..}` → (kind, value).
type Collected = BTreeMap<String, (&'static str, f64)>;

fn collect(reader: &SharedReader) -> Collected {
    let mut rm = ResourceMetrics::default();
    reader.collect(&mut rm).unwrap();
    let mut out = BTreeMap::new();
    for scope in rm.scope_metrics() {
        for m in scope.metrics() {
            let mut put = |kind: &'static str, attrs: Vec<String>, v: f64| {
                out.insert(format!("{}{{{}}}", m.name(), attrs.join(",")), (kind, v));
            };
            let attrs = |it: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| {
                it.map(|kv| format!("{}={}", kv.key, kv.value))
                    .collect::<Vec<_>>()
            };
            match m.data() {
                AggregatedMetrics::F64(MetricData::Sum(s)) => {
                    let kind = if s.is_monotonic() {
                        "counter"
                    } else {
                        "updown"
                    };
                    for p in s.data_points() {
                        put(kind, attrs(&mut p.attributes()), p.value());
                    }
                }
                AggregatedMetrics::I64(MetricData::Sum(s)) => {
                    let kind = if s.is_monotonic() {
                        "counter"
                    } else {
                        "updown"
                    };
                    for p in s.data_points() {
                        put(kind, attrs(&mut p.attributes()), p.value() as f64);
                    }
                }
                AggregatedMetrics::F64(MetricData::Gauge(g)) => {
                    for p in g.data_points() {
                        put("gauge", attrs(&mut p.attributes()), p.value());
                    }
                }
                other => panic!("{}: unexpected {other:?}", m.name()),
            }
        }
    }
    out
}

fn setup() -> (Registry, SdkMeterProvider, SharedReader) {
    let reader = SharedReader(Arc::new(ManualReader::builder().build()));
    let provider = SdkMeterProvider::builder()
        .with_reader(reader.clone())
        .build();
    (Registry::new(), provider, reader)
}

#[test]
fn the_sdk_reader_sees_exactly_the_registry() {
    let (r, provider, reader) = setup();
    let req = r
        .counter_family("requests_total", "Requests.", &["code"])
        .unwrap();
    req.with_labels(&["200"]).unwrap().inc_by(40);
    req.with_labels(&["500"]).unwrap().inc_by(2);
    r.metric("cpu_seconds_total", "CPU.")
        .unit("seconds")
        .build::<nanometrics::FloatCounter>()
        .unwrap()
        .inc_by(1.5);
    let inflight = r.up_down_counter("inflight", "In flight.").unwrap();
    inflight.add(-3);
    let zone = r.sub_registry("pool", &[("zone", "eu")]).unwrap();
    let free = zone.gauge("free_blocks", "Free.").unwrap();
    free.set(7.25);
    r.histogram("ttft_seconds", "TTFT.", Buckets::default())
        .unwrap()
        .observe(0.1);
    r.metric("build_info", "Build.")
        .info_family(&["version"])
        .unwrap()
        .with_labels(&["1.2.3"])
        .unwrap()
        .set(1.0);

    let bridge = OtelBridge::register(&r, &provider.meter("nanometrics"));
    assert_eq!(bridge.skipped(), ["ttft_seconds"]);
    assert_eq!(bridge.observed().len(), 5);

    let expected: Collected = [
        ("requests{code=200}", ("counter", 40.0)),
        ("requests{code=500}", ("counter", 2.0)),
        ("cpu_seconds{}", ("counter", 1.5)),
        ("inflight{}", ("updown", -3.0)),
        ("pool_free_blocks{zone=eu}", ("gauge", 7.25)),
        ("build{version=1.2.3}", ("gauge", 1.0)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(collect(&reader), expected);

    // The next collection reads the registry again, at once.
    req.with_labels(&["200"]).unwrap().inc();
    inflight.add(5);
    free.set(0.5);
    let second = collect(&reader);
    assert_eq!(second["requests{code=200}"], ("counter", 41.0));
    assert_eq!(second["inflight{}"], ("updown", 2.0));
    assert_eq!(second["pool_free_blocks{zone=eu}"], ("gauge", 0.5));
}

#[test]
fn later_families_come_with_refresh_and_a_dropped_bridge_observes_nothing() {
    let (r, provider, reader) = setup();
    r.gauge("early", "E.").unwrap().set(1.0);
    let mut bridge = OtelBridge::register(&r, &provider.meter("nanometrics"));
    r.gauge("late", "L.").unwrap().set(2.0);
    assert!(!collect(&reader).contains_key("late{}"));
    assert_eq!(bridge.refresh(), 1);
    assert_eq!(bridge.refresh(), 0);
    let c = collect(&reader);
    assert_eq!(c["late{}"], ("gauge", 2.0));
    assert_eq!(c["early{}"], ("gauge", 1.0));
    drop(bridge);
    assert!(collect(&reader).is_empty());
}
