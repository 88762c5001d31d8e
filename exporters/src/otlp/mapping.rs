//! A [`Snapshot`] as an OTLP `ExportMetricsServiceRequest`.
//!
//! The table is in `mapping.md`, shown on `OtlpBackend`.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use nanometrics::names::family_name;
use nanometrics::{HistogramSnapshot, LabelSet, MetricKind, SeriesSnapshot, Snapshot, Value};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, summary_data_point::ValueAtQuantile, AggregationTemporality, Gauge,
    Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::config::Temporality;

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.to_string())),
        }),
        ..Default::default()
    }
}

fn attributes(labels: &LabelSet) -> Vec<KeyValue> {
    labels.iter().map(|(k, v)| kv(k, v)).collect()
}

/// What a series sent last time (delta temporality).
#[derive(Clone, Debug)]
enum Sent {
    Int(u64),
    Float(f64),
    Hist {
        count: u64,
        sum: f64,
        buckets: Vec<u64>,
    },
}

/// Turns snapshots into requests; keeps what delta temporality needs.
#[derive(Debug)]
pub(crate) struct Mapper {
    resource: Vec<KeyValue>,
    temporality: Temporality,
    /// Per (family, labels): the values and the time of the last export.
    sent: HashMap<(String, Vec<(String, String)>), Sent>,
    last_export: Option<u64>,
}

impl Mapper {
    pub(crate) fn new(resource: &[(String, String)], temporality: Temporality) -> Mapper {
        Mapper {
            resource: resource.iter().map(|(k, v)| kv(k, v)).collect(),
            temporality,
            sent: HashMap::new(),
            last_export: None,
        }
    }

    /// The request for `snapshot` taken at `now`; `None` when it holds no
    /// point (no empty requests).
    pub(crate) fn request(
        &mut self,
        snapshot: &Snapshot,
        now: SystemTime,
    ) -> Option<ExportMetricsServiceRequest> {
        let now = nanos(now);
        let delta = self.temporality == Temporality::Delta;
        let temporality = if delta {
            AggregationTemporality::Delta
        } else {
            AggregationTemporality::Cumulative
        } as i32;
        let mut sent = HashMap::with_capacity(self.sent.len());
        let mut metrics = Vec::with_capacity(snapshot.families.len());
        for f in &snapshot.families {
            if f.series.is_empty() {
                continue;
            }
            let mut m = Metric {
                name: family_name(&f.name, f.kind).to_string(),
                description: f.help.clone(),
                unit: f.unit.clone().unwrap_or_default(),
                ..Default::default()
            };
            let mut ints = Vec::new();
            let mut hists = Vec::new();
            let mut summaries = Vec::new();
            for s in &f.series {
                let key = (
                    f.name.clone(),
                    s.labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect::<Vec<_>>(),
                );
                let created = nanos(s.created);
                // Delta: from the previous export, unless the series is newer.
                let start = match self.last_export {
                    Some(t) if delta && t > created => t,
                    _ => created,
                };
                let point = |value| NumberDataPoint {
                    attributes: attributes(&s.labels),
                    start_time_unix_nano: start,
                    time_unix_nano: now,
                    value: Some(value),
                    ..Default::default()
                };
                let prev = if delta && start != created {
                    self.sent.get(&key)
                } else {
                    None
                };
                match &s.value {
                    Value::Counter(v) => {
                        let d = match prev {
                            Some(Sent::Int(p)) if v >= p => v - p,
                            _ => *v,
                        };
                        sent.insert(key, Sent::Int(*v));
                        let x = if delta { d } else { *v };
                        ints.push(point(match i64::try_from(x) {
                            Ok(i) => number_data_point::Value::AsInt(i),
                            Err(_) => number_data_point::Value::AsDouble(x as f64),
                        }));
                    }
                    Value::FloatCounter(v) => {
                        let d = match prev {
                            Some(Sent::Float(p)) if v >= p => v - p,
                            _ => *v,
                        };
                        sent.insert(key, Sent::Float(*v));
                        ints.push(point(number_data_point::Value::AsDouble(if delta {
                            d
                        } else {
                            *v
                        })));
                    }
                    Value::UpDownCounter(v) => {
                        ints.push(point(number_data_point::Value::AsInt(*v)));
                    }
                    Value::Gauge(v) => {
                        let value = if matches!(f.kind, MetricKind::Info | MetricKind::StateSet) {
                            number_data_point::Value::AsInt(*v as i64)
                        } else {
                            number_data_point::Value::AsDouble(*v)
                        };
                        let mut p = point(value);
                        if f.kind == MetricKind::Gauge {
                            // A gauge has no start.
                            p.start_time_unix_nano = 0;
                        }
                        ints.push(p);
                    }
                    Value::Histogram(h) => {
                        let (point, now_sent) = histogram_point(s, h, start, now, prev);
                        sent.insert(key, now_sent);
                        hists.push(point);
                    }
                    Value::Summary(h) => summaries.push(summary_point(s, h, created, now)),
                }
            }
            m.data = Some(match f.kind {
                MetricKind::Counter => metric::Data::Sum(Sum {
                    data_points: ints,
                    aggregation_temporality: temporality,
                    is_monotonic: true,
                }),
                MetricKind::UpDownCounter | MetricKind::Info | MetricKind::StateSet => {
                    metric::Data::Sum(Sum {
                        data_points: ints,
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        is_monotonic: false,
                    })
                }
                MetricKind::Gauge => metric::Data::Gauge(Gauge { data_points: ints }),
                MetricKind::Histogram => metric::Data::Histogram(Histogram {
                    data_points: hists,
                    aggregation_temporality: temporality,
                }),
                MetricKind::Summary => metric::Data::Summary(Summary {
                    data_points: summaries,
                }),
            });
            metrics.push(m);
        }
        self.sent = sent;
        self.last_export = Some(now);
        if metrics.is_empty() {
            return None;
        }
        Some(ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: self.resource.clone(),
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "nanometrics".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        ..Default::default()
                    }),
                    metrics,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        })
    }
}

/// A histogram point, and what to remember of it for the next delta.
fn histogram_point(
    s: &SeriesSnapshot,
    h: &HistogramSnapshot,
    start: u64,
    now: u64,
    prev: Option<&Sent>,
) -> (HistogramDataPoint, Sent) {
    let bounds: Vec<f64> = h
        .buckets
        .iter()
        .map(|(b, _)| *b)
        .filter(|b| b.is_finite())
        .collect();
    let mut per_bucket = Vec::with_capacity(h.buckets.len());
    let mut below = 0u64;
    for (_, cum) in &h.buckets {
        per_bucket.push(cum.saturating_sub(below));
        below = *cum;
    }
    let now_sent = Sent::Hist {
        count: h.count,
        sum: h.sum,
        buckets: per_bucket.clone(),
    };
    let negative = h.min < 0.0;
    let mut point = HistogramDataPoint {
        attributes: attributes(&s.labels),
        start_time_unix_nano: start,
        time_unix_nano: now,
        count: h.count,
        sum: (!negative).then_some(h.sum),
        bucket_counts: per_bucket,
        explicit_bounds: bounds,
        min: (h.count > 0).then_some(h.min),
        max: (h.count > 0).then_some(h.max),
        ..Default::default()
    };
    if let Some(Sent::Hist {
        count,
        sum,
        buckets,
    }) = prev
    {
        let grew = h.count >= *count
            && buckets.len() == point.bucket_counts.len()
            && point.bucket_counts.iter().zip(buckets).all(|(c, p)| c >= p);
        if grew {
            point.count = h.count - count;
            for (c, p) in point.bucket_counts.iter_mut().zip(buckets) {
                *c -= p;
            }
            point.sum = point.sum.map(|x| x - sum);
            // A delta's extremes are not known from two totals.
            point.min = None;
            point.max = None;
        }
    }
    (point, now_sent)
}

fn summary_point(
    s: &SeriesSnapshot,
    h: &HistogramSnapshot,
    start: u64,
    now: u64,
) -> SummaryDataPoint {
    let quantile_values = if h.count == 0 {
        Vec::new()
    } else {
        vec![
            ValueAtQuantile {
                quantile: 0.0,
                value: h.min,
            },
            ValueAtQuantile {
                quantile: 1.0,
                value: h.max,
            },
        ]
    };
    SummaryDataPoint {
        attributes: attributes(&s.labels),
        start_time_unix_nano: start,
        time_unix_nano: now,
        count: h.count,
        sum: h.sum,
        quantile_values,
        ..Default::default()
    }
}
