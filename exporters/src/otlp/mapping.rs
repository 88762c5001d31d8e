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

/// A series' value at the last successful export.
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

/// What the mapper remembers of a series between exports.
#[derive(Clone, Debug)]
struct Seen {
    /// The series' creation time (another one: another series).
    created: u64,
    /// When its cumulative values start: its creation, or the export
    /// before a reset (`FloatCounter::reset`) was seen.
    start: u64,
    value: Sent,
}

type SeriesKey = (String, Vec<(String, String)>);

/// What a request changes in the mapper, applied once it was accepted.
#[derive(Debug)]
pub(crate) struct Pending {
    seen: HashMap<SeriesKey, Seen>,
    now: u64,
}

/// Turns snapshots into requests; keeps what start times and delta
/// temporality need.
#[derive(Debug)]
pub(crate) struct Mapper {
    resource: Vec<KeyValue>,
    temporality: Temporality,
    /// Per (family, labels), as of the last accepted export.
    seen: HashMap<SeriesKey, Seen>,
    last_export: Option<u64>,
}

/// Whether a value is below the one before (a reset).
fn went_down(prev: &Sent, v: &Value) -> bool {
    match (prev, v) {
        (Sent::Int(p), Value::Counter(c)) => c < p,
        (Sent::Float(p), Value::FloatCounter(c)) => c < p,
        (Sent::Hist { count, .. }, Value::Histogram(h)) => h.count < *count,
        _ => false,
    }
}

impl Mapper {
    pub(crate) fn new(resource: &[(String, String)], temporality: Temporality) -> Mapper {
        Mapper {
            resource: resource.iter().map(|(k, v)| kv(k, v)).collect(),
            temporality,
            seen: HashMap::new(),
            last_export: None,
        }
    }

    /// Remembers what an accepted request sent (the next delta, and resets).
    pub(crate) fn commit(&mut self, p: Pending) {
        self.seen = p.seen;
        self.last_export = Some(p.now);
    }

    /// The request for `snapshot` taken at `now`, and what to [`commit`]
    /// once it is accepted; `None` when it holds no point (no empty
    /// requests).
    ///
    /// [`commit`]: Self::commit
    pub(crate) fn request(
        &self,
        snapshot: &Snapshot,
        now: SystemTime,
    ) -> Option<(ExportMetricsServiceRequest, Pending)> {
        let now = nanos(now);
        let delta = self.temporality == Temporality::Delta;
        let temporality = if delta {
            AggregationTemporality::Delta
        } else {
            AggregationTemporality::Cumulative
        } as i32;
        let mut seen = HashMap::with_capacity(self.seen.len());
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
                let key: SeriesKey = (
                    f.name.clone(),
                    s.labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                );
                let created = nanos(s.created);
                // The same series as at the last export, unless re-created.
                let before = self.seen.get(&key).filter(|p| p.created == created);
                let reset = before.is_some_and(|p| went_down(&p.value, &s.value));
                // Cumulative points start at the creation, or after a reset
                // at the last export (the reset happened since).
                let start = match (before, reset) {
                    (Some(_), true) => self.last_export.unwrap_or(created),
                    (Some(p), false) => p.start,
                    (None, _) => created,
                };
                // A delta point starts at the last export, unless the series
                // (or its values, after a reset) is newer.
                let prev = before.filter(|_| delta && !reset);
                let delta_start = match (prev, self.last_export) {
                    (Some(_), Some(t)) => t,
                    _ => start,
                };
                let point = |value, start| NumberDataPoint {
                    attributes: attributes(&s.labels),
                    start_time_unix_nano: start,
                    time_unix_nano: now,
                    value: Some(value),
                    ..Default::default()
                };
                let mut remember = |value| {
                    seen.insert(
                        key.clone(),
                        Seen {
                            created,
                            start,
                            value,
                        },
                    );
                };
                match &s.value {
                    Value::Counter(v) => {
                        let x = match prev.map(|p| &p.value) {
                            Some(Sent::Int(p)) => v - p,
                            _ => *v,
                        };
                        remember(Sent::Int(*v));
                        let (x, st) = if delta { (x, delta_start) } else { (*v, start) };
                        ints.push(point(
                            match i64::try_from(x) {
                                Ok(i) => number_data_point::Value::AsInt(i),
                                Err(_) => number_data_point::Value::AsDouble(x as f64),
                            },
                            st,
                        ));
                    }
                    Value::FloatCounter(v) => {
                        let x = match prev.map(|p| &p.value) {
                            Some(Sent::Float(p)) => v - p,
                            _ => *v,
                        };
                        remember(Sent::Float(*v));
                        let (x, st) = if delta { (x, delta_start) } else { (*v, start) };
                        ints.push(point(number_data_point::Value::AsDouble(x), st));
                    }
                    Value::UpDownCounter(v) => {
                        ints.push(point(number_data_point::Value::AsInt(*v), created));
                    }
                    Value::Gauge(v) => {
                        if matches!(f.kind, MetricKind::Info | MetricKind::StateSet) {
                            ints.push(point(number_data_point::Value::AsInt(*v as i64), created));
                        } else {
                            // A gauge has no start.
                            ints.push(point(number_data_point::Value::AsDouble(*v), 0));
                        }
                    }
                    Value::Histogram(h) => {
                        let pv = prev.map(|p| &p.value);
                        let st = if delta { delta_start } else { start };
                        let (point, now_sent) = histogram_point(s, h, st, now, pv);
                        remember(now_sent);
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
        if metrics.is_empty() {
            return None;
        }
        let request = ExportMetricsServiceRequest {
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
        };
        Some((request, Pending { seen, now }))
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
    // `prev` is only given for a delta of the same series since its last
    // export (no reset in between).
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
        // A collected histogram knows no extremes (NaN): left out.
        min: (h.count > 0 && !h.min.is_nan()).then_some(h.min),
        max: (h.count > 0 && !h.max.is_nan()).then_some(h.max),
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
    // A collected summary knows no extremes (NaN): no quantiles.
    let quantile_values = if h.count == 0 || h.min.is_nan() || h.max.is_nan() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sum_point(r: &ExportMetricsServiceRequest, name: &str) -> NumberDataPoint {
        let m = r.resource_metrics[0].scope_metrics[0]
            .metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap();
        match &m.data {
            Some(metric::Data::Sum(s)) => s.data_points[0].clone(),
            other => panic!("{other:?}"),
        }
    }

    fn value(p: &NumberDataPoint) -> f64 {
        match p.value {
            Some(number_data_point::Value::AsInt(i)) => i as f64,
            Some(number_data_point::Value::AsDouble(d)) => d,
            None => f64::NAN,
        }
    }

    #[test]
    fn a_delta_not_accepted_is_sent_again_with_the_next() {
        let r = nanometrics::Registry::new();
        let c = r.counter("jobs_total", "Jobs.").unwrap();
        let mut m = Mapper::new(&[], Temporality::Delta);
        let t0 = SystemTime::now();
        c.inc_by(10);
        let (first, p) = m.request(&r.snapshot(), t0).unwrap();
        assert_eq!(value(&sum_point(&first, "jobs")), 10.0);
        m.commit(p);
        c.inc_by(5);
        // Built, never accepted (the receiver was down): not committed.
        let (lost, _) = m
            .request(&r.snapshot(), t0 + Duration::from_secs(1))
            .unwrap();
        assert_eq!(value(&sum_point(&lost, "jobs")), 5.0);
        c.inc_by(3);
        let (next, _) = m
            .request(&r.snapshot(), t0 + Duration::from_secs(2))
            .unwrap();
        let p = sum_point(&next, "jobs");
        assert_eq!(value(&p), 8.0, "the lost delta is in the next one");
        assert_eq!(
            p.start_time_unix_nano,
            nanos(t0),
            "from the last accepted export"
        );
    }

    #[test]
    fn cumulative_kinds_start_at_creation_and_a_reset_starts_anew() {
        let r = nanometrics::Registry::new();
        let f = r.float_counter("cpu_seconds_total", "CPU.").unwrap();
        let u = r.up_down_counter("depth", "Depth.").unwrap();
        f.inc_by(4.0);
        u.add(2);
        let snap = r.snapshot();
        let created_of = |name: &str| nanos(snap.family(name).unwrap().series[0].created);
        let (f_created, u_created) = (created_of("cpu_seconds_total"), created_of("depth"));
        for temporality in [Temporality::Cumulative, Temporality::Delta] {
            let mut m = Mapper::new(&[], temporality);
            let t0 = SystemTime::now() + Duration::from_secs(10);
            let (a, p) = m.request(&r.snapshot(), t0).unwrap();
            m.commit(p);
            let (b, p) = m
                .request(&r.snapshot(), t0 + Duration::from_secs(1))
                .unwrap();
            m.commit(p);
            // An up-down counter is cumulative, from its creation, always.
            for req in [&a, &b] {
                assert_eq!(sum_point(req, "depth").start_time_unix_nano, u_created);
            }
            assert_eq!(sum_point(&a, "cpu_seconds").start_time_unix_nano, f_created);
            if temporality == Temporality::Cumulative {
                f.reset();
                f.inc_by(1.0);
                let (c, _) = m
                    .request(&r.snapshot(), t0 + Duration::from_secs(2))
                    .unwrap();
                let p = sum_point(&c, "cpu_seconds");
                assert_eq!(value(&p), 1.0);
                // The reset happened after the last export: a new start.
                assert_eq!(p.start_time_unix_nano, nanos(t0 + Duration::from_secs(1)));
                f.inc_by(3.0);
            }
        }
    }

    #[test]
    fn collected_histograms_and_summaries_carry_no_unknown_extremes() {
        use nanometrics::{CollectedValue, MetricKind};
        let r = nanometrics::Registry::new();
        r.metric("lat_seconds", "Latency.")
            .collected(MetricKind::Histogram, &[])
            .unwrap()
            .set([(
                vec![],
                CollectedValue::Histogram {
                    buckets: vec![(0.1, 1), (1.0, 3), (f64::INFINITY, 4)],
                    sum: 4.5,
                },
            )])
            .unwrap();
        r.metric("rpc_seconds", "RPC.")
            .collected(MetricKind::Summary, &[])
            .unwrap()
            .set([(vec![], CollectedValue::Summary { count: 2, sum: 0.5 })])
            .unwrap();
        let m = Mapper::new(&[], Temporality::Cumulative);
        let (req, _) = m.request(&r.snapshot(), SystemTime::now()).unwrap();
        let metrics = &req.resource_metrics[0].scope_metrics[0].metrics;
        let data = |name: &str| {
            metrics
                .iter()
                .find(|m| m.name == name)
                .unwrap()
                .data
                .clone()
        };
        match data("lat_seconds") {
            Some(metric::Data::Histogram(h)) => {
                let p = &h.data_points[0];
                assert_eq!((p.count, p.sum), (4, Some(4.5)));
                assert_eq!(p.bucket_counts, [1, 2, 1]);
                assert_eq!(p.explicit_bounds, [0.1, 1.0]);
                assert_eq!((p.min, p.max), (None, None));
            }
            other => panic!("{other:?}"),
        }
        match data("rpc_seconds") {
            Some(metric::Data::Summary(s)) => {
                let p = &s.data_points[0];
                assert_eq!((p.count, p.sum), (2, 0.5));
                assert!(p.quantile_values.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }
}
