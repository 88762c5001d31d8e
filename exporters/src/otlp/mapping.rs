//! A [`Snapshot`] as the bytes of an OTLP `ExportMetricsServiceRequest`.
//!
//! The table is in `mapping.md`, shown on `OtlpBackend`. A request is
//! planned first (every point's value and start time, and its size), then
//! written once, front to back, with [`wire`](super::wire): no message is
//! built and no byte is moved after it is written.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use nanometrics::names::family_name;
use nanometrics::{
    FamilySnapshot, HistogramSnapshot, LabelSet, MetricKind, SeriesId, SeriesSnapshot, Snapshot,
    Value,
};

use super::attributes::{attributes_size, write_attributes};
use super::config::Temporality;
use super::exemplar;
use super::wire;

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A series' value at the last successful export.
#[derive(Clone, Debug)]
enum Sent {
    Int(u64),
    Float(f64),
    /// Per-bucket counts are kept for delta temporality only.
    Hist {
        count: u64,
        sum: f64,
        buckets: Vec<u64>,
    },
}

/// A series' state as of one export: where its cumulative values start,
/// and what was sent.
#[derive(Clone, Debug)]
struct State {
    /// When its cumulative values start: its creation, or the export
    /// before a reset (`FloatCounter::reset`) was seen.
    start: u64,
    value: Sent,
    /// The time of the newest exemplar sent (0: none): a delta point
    /// carries only newer ones.
    exemplars_upto: u64,
}

/// What the mapper keeps of a series while it exists.
#[derive(Debug)]
struct Seen {
    /// Held so that the series' [`SeriesId`] is not reused meanwhile.
    _labels: LabelSet,
    /// The series' attributes, encoded once (`KeyValue` fields of its
    /// point's message).
    attrs: Box<[u8]>,
    /// As of the last accepted export.
    committed: Option<State>,
    /// As of the last request built, applied if it is accepted.
    proposed: Option<State>,
    /// The last request that held the series.
    generation: u64,
}

/// Hashes a [`SeriesId`] (two addresses) by multiplying its words: ids are
/// never chosen by an adversary, and this is on every series of every
/// export.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(23) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type SeenMap = HashMap<SeriesId, Seen, BuildHasherDefault<IdHasher>>;

/// Which request to apply once it was accepted.
#[derive(Debug)]
pub(crate) struct Pending {
    generation: u64,
    now: u64,
}

/// Turns snapshots into requests; keeps what start times and delta
/// temporality need, and each series' encoded attributes, for as long as
/// the series exists (a series gone from a snapshot is gone for good: a
/// new one has another [`SeriesId`]).
#[derive(Debug)]
pub(crate) struct Mapper {
    resource: Vec<(String, String)>,
    temporality: Temporality,
    seen: SeenMap,
    generation: u64,
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

/// One point's content, decided before anything is written.
enum Point<'s> {
    Int(i64),
    Double(f64),
    Hist {
        h: &'s HistogramSnapshot,
        count: u64,
        sum: Option<f64>,
        per_bucket: Vec<u64>,
        extremes: Option<(f64, f64)>,
    },
    Summary {
        h: &'s HistogramSnapshot,
        /// Quantiles 0 and 1 (the min and max), when known.
        extremes: Option<(f64, f64)>,
    },
}

struct PlannedPoint<'s> {
    id: SeriesId,
    start: u64,
    point: Point<'s>,
    exemplars: Vec<exemplar::Planned<'s>>,
    /// Bytes of the point's message.
    len: usize,
}

struct PlannedMetric<'s> {
    family: &'s FamilySnapshot,
    name: &'s str,
    points: Vec<PlannedPoint<'s>>,
    /// The data message (`Sum`, `Gauge`, ...): its field number, and its
    /// bytes.
    data_tag: u8,
    data_len: usize,
    temporality: u8,
    monotonic: bool,
    /// Bytes of the `Metric` message.
    len: usize,
}

// Field numbers (opentelemetry/proto/metrics/v1/metrics.proto and the
// collector, common and resource protos).
const REQUEST_RESOURCE_METRICS: u8 = 1;
const RESOURCE_METRICS_RESOURCE: u8 = 1;
const RESOURCE_METRICS_SCOPE_METRICS: u8 = 2;
const RESOURCE_ATTRIBUTES: u8 = 1;
const SCOPE_METRICS_SCOPE: u8 = 1;
const SCOPE_METRICS_METRICS: u8 = 2;
const SCOPE_NAME: u8 = 1;
const SCOPE_VERSION: u8 = 2;
const METRIC_NAME: u8 = 1;
const METRIC_DESCRIPTION: u8 = 2;
const METRIC_UNIT: u8 = 3;
const METRIC_GAUGE: u8 = 5;
const METRIC_SUM: u8 = 7;
const METRIC_HISTOGRAM: u8 = 9;
const METRIC_SUMMARY: u8 = 11;
const DATA_POINTS: u8 = 1;
const DATA_TEMPORALITY: u8 = 2;
const SUM_MONOTONIC: u8 = 3;
const NUMBER_ATTRIBUTES: u8 = 7;
const HISTOGRAM_ATTRIBUTES: u8 = 9;
const SUMMARY_ATTRIBUTES: u8 = 7;
const POINT_START: u8 = 2;
const POINT_TIME: u8 = 3;
const NUMBER_AS_DOUBLE: u8 = 4;
const NUMBER_AS_INT: u8 = 6;
const NUMBER_EXEMPLARS: u8 = 5;
const HISTOGRAM_EXEMPLARS: u8 = 8;
const HISTOGRAM_COUNT: u8 = 4;
const HISTOGRAM_SUM: u8 = 5;
const HISTOGRAM_BUCKET_COUNTS: u8 = 6;
const HISTOGRAM_BOUNDS: u8 = 7;
const HISTOGRAM_MIN: u8 = 11;
const HISTOGRAM_MAX: u8 = 12;
const SUMMARY_COUNT: u8 = 4;
const SUMMARY_SUM: u8 = 5;
const SUMMARY_QUANTILES: u8 = 6;
const QUANTILE_QUANTILE: u8 = 1;
const QUANTILE_VALUE: u8 = 2;

/// `AggregationTemporality`.
const CUMULATIVE: u8 = 2;
const DELTA: u8 = 1;

fn quantile_len(q: f64, v: f64) -> usize {
    wire::double_size(q) + wire::double_size(v)
}

impl Mapper {
    pub(crate) fn new(resource: &[(String, String)], temporality: Temporality) -> Mapper {
        Mapper {
            resource: resource.to_vec(),
            temporality,
            seen: SeenMap::default(),
            generation: 0,
            last_export: None,
        }
    }

    /// Remembers what an accepted request sent (the next delta, and
    /// resets), and forgets the series it did not hold (gone for good); a
    /// request older than the last one built changes nothing.
    pub(crate) fn commit(&mut self, p: Pending) {
        if p.generation != self.generation {
            return;
        }
        self.seen.retain(|_, s| s.generation == p.generation);
        for s in self.seen.values_mut() {
            s.committed = s.proposed.take();
        }
        self.last_export = Some(p.now);
    }

    /// The encoded request for `snapshot` taken at `now`, and what to
    /// [`commit`] once it is accepted; `None` when it holds no point (no
    /// empty requests).
    ///
    /// [`commit`]: Self::commit
    pub(crate) fn request(
        &mut self,
        snapshot: &Snapshot,
        now: SystemTime,
    ) -> Option<(Vec<u8>, Pending)> {
        let now = nanos(now);
        self.generation += 1;
        let metrics: Vec<PlannedMetric<'_>> = snapshot
            .families
            .iter()
            .filter(|f| !f.series.is_empty())
            .map(|f| self.plan_metric(f, now))
            .collect();
        // Series gone are forgotten when a request without them is
        // accepted (`commit`); a request that is not (a receiver down while
        // series come and go) forgets them here once they outnumber the
        // live ones, so memory stays bounded. A partial snapshot (`encode`
        // of a sub-registry) keeps the others' state.
        let generation = self.generation;
        let live: usize = snapshot.families.iter().map(|f| f.series.len()).sum();
        if self.seen.len() > 2 * live + 1024 {
            self.seen.retain(|_, s| s.generation == generation);
        }
        if metrics.is_empty() {
            return None;
        }
        Some((self.write(&metrics, now), Pending { generation, now }))
    }

    fn plan_metric<'s>(&mut self, f: &'s FamilySnapshot, now: u64) -> PlannedMetric<'s> {
        let delta = self.temporality == Temporality::Delta;
        let temporality = if delta { DELTA } else { CUMULATIVE };
        let (data_tag, temporality, monotonic) = match f.kind {
            MetricKind::Counter => (METRIC_SUM, temporality, true),
            MetricKind::UpDownCounter | MetricKind::Info | MetricKind::StateSet => {
                (METRIC_SUM, CUMULATIVE, false)
            }
            MetricKind::Gauge => (METRIC_GAUGE, 0, false),
            MetricKind::Histogram => (METRIC_HISTOGRAM, temporality, false),
            MetricKind::Summary => (METRIC_SUMMARY, 0, false),
        };
        let points: Vec<PlannedPoint<'s>> = f
            .series
            .iter()
            .map(|s| self.plan_point(f.kind, s, now))
            .collect();
        let data_len = points
            .iter()
            .map(|p| wire::len_field_size(p.len))
            .sum::<usize>()
            + wire::small_varint_size(temporality)
            + wire::small_varint_size(u8::from(monotonic));
        let name = family_name(&f.name, f.kind);
        let unit = f.unit.as_deref().unwrap_or_default();
        let len = wire::string_size(name)
            + wire::string_size(&f.help)
            + wire::string_size(unit)
            + wire::len_field_size(data_len);
        PlannedMetric {
            family: f,
            name,
            points,
            data_tag,
            data_len,
            temporality,
            monotonic,
            len,
        }
    }

    /// One series' point: its value and start time (see `mapping.md`), and
    /// what to remember of it.
    fn plan_point<'s>(
        &mut self,
        kind: MetricKind,
        s: &'s SeriesSnapshot,
        now: u64,
    ) -> PlannedPoint<'s> {
        let delta = self.temporality == Temporality::Delta;
        let last_export = self.last_export;
        let id = s.labels.series_id();
        let created = nanos(s.created);
        let seen = self.seen.entry(id).or_insert_with(|| Seen {
            _labels: s.labels.clone(),
            attrs: encode_attributes(kind, &s.labels),
            committed: None,
            proposed: None,
            generation: 0,
        });
        seen.generation = self.generation;
        let before = seen.committed.as_ref();
        let reset = before.is_some_and(|p| went_down(&p.value, &s.value));
        // Cumulative points start at the creation, or after a reset at the
        // last export (the reset happened since).
        let start = match (before, reset) {
            (Some(_), true) => last_export.unwrap_or(created),
            (Some(p), false) => p.start,
            (None, _) => created,
        };
        // A delta point starts at the last export, unless the series (or
        // its values, after a reset) is newer.
        let prev = before.filter(|_| delta && !reset).map(|p| &p.value);
        let delta_start = match (prev, last_export) {
            (Some(_), Some(t)) => t,
            _ => start,
        };
        let mut sent = None;
        let (point, point_start) = match &s.value {
            Value::Counter(v) => {
                sent = Some(Sent::Int(*v));
                let (x, st) = match prev {
                    Some(Sent::Int(p)) => (v - p, delta_start),
                    _ if delta => (*v, delta_start),
                    _ => (*v, start),
                };
                // A total above `i64::MAX` is sent as a double, not wrapped.
                let point = match i64::try_from(x) {
                    Ok(i) => Point::Int(i),
                    Err(_) => Point::Double(x as f64),
                };
                (point, st)
            }
            Value::FloatCounter(v) => {
                sent = Some(Sent::Float(*v));
                match prev {
                    Some(Sent::Float(p)) => (Point::Double(v - p), delta_start),
                    _ if delta => (Point::Double(*v), delta_start),
                    _ => (Point::Double(*v), start),
                }
            }
            Value::UpDownCounter(v) => (Point::Int(*v), created),
            Value::Gauge(v) if matches!(kind, MetricKind::Info | MetricKind::StateSet) => {
                (Point::Int(*v as i64), created)
            }
            // A gauge has no start.
            Value::Gauge(v) => (Point::Double(*v), 0),
            Value::Histogram(h) => {
                let point = histogram_point(h, prev);
                sent = Some(Sent::Hist {
                    count: h.count,
                    sum: h.sum,
                    buckets: if delta { per_bucket(h) } else { Vec::new() },
                });
                (point, if delta { delta_start } else { start })
            }
            Value::Summary(h) => {
                let extremes =
                    (h.count > 0 && !h.min.is_nan() && !h.max.is_nan()).then_some((h.min, h.max));
                (Point::Summary { h, extremes }, created)
            }
        };
        // A delta point carries the exemplars not sent in an accepted
        // request yet; a cumulative one each bucket's latest recorded since
        // its start (a reset starts it anew).
        let sent_upto = before.map_or(0, |p| p.exemplars_upto);
        let exemplars = if delta {
            exemplar::plan(&s.exemplars, |t| t > sent_upto)
        } else {
            exemplar::plan(&s.exemplars, |t| t >= point_start)
        };
        let exemplars_upto = exemplars
            .iter()
            .map(exemplar::Planned::time)
            .fold(sent_upto, u64::max);
        seen.proposed = sent.map(|value| State {
            start,
            value,
            exemplars_upto,
        });
        let len =
            point_len(seen.attrs.len(), point_start, now, &point) + exemplar::size(&exemplars);
        PlannedPoint {
            id,
            start: point_start,
            point,
            exemplars,
            len,
        }
    }

    fn write(&self, metrics: &[PlannedMetric<'_>], now: u64) -> Vec<u8> {
        let version = env!("CARGO_PKG_VERSION");
        let scope_len = wire::string_size("nanometrics") + wire::string_size(version);
        let resource_len =
            attributes_size(self.resource.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let scope_metrics_len = wire::len_field_size(scope_len)
            + metrics
                .iter()
                .map(|m| wire::len_field_size(m.len))
                .sum::<usize>();
        let resource_metrics_len =
            wire::len_field_size(resource_len) + wire::len_field_size(scope_metrics_len);
        let total = wire::len_field_size(resource_metrics_len);
        let mut buf = Vec::with_capacity(total);
        wire::len_header(&mut buf, REQUEST_RESOURCE_METRICS, resource_metrics_len);
        wire::len_header(&mut buf, RESOURCE_METRICS_RESOURCE, resource_len);
        write_attributes(
            &mut buf,
            RESOURCE_ATTRIBUTES,
            self.resource.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        );
        wire::len_header(&mut buf, RESOURCE_METRICS_SCOPE_METRICS, scope_metrics_len);
        wire::len_header(&mut buf, SCOPE_METRICS_SCOPE, scope_len);
        wire::string(&mut buf, SCOPE_NAME, "nanometrics");
        wire::string(&mut buf, SCOPE_VERSION, version);
        for m in metrics {
            wire::len_header(&mut buf, SCOPE_METRICS_METRICS, m.len);
            wire::string(&mut buf, METRIC_NAME, m.name);
            wire::string(&mut buf, METRIC_DESCRIPTION, &m.family.help);
            wire::string(
                &mut buf,
                METRIC_UNIT,
                m.family.unit.as_deref().unwrap_or_default(),
            );
            wire::len_header(&mut buf, m.data_tag, m.data_len);
            for p in &m.points {
                wire::len_header(&mut buf, DATA_POINTS, p.len);
                write_point(&mut buf, p, &self.seen[&p.id].attrs, now);
            }
            wire::small_varint(&mut buf, DATA_TEMPORALITY, m.temporality);
            wire::small_varint(&mut buf, SUM_MONOTONIC, u8::from(m.monotonic));
        }
        debug_assert_eq!(buf.len(), total);
        buf
    }
}

/// Per-bucket counts (`len(bounds) + 1`) of a cumulative histogram.
fn per_bucket(h: &HistogramSnapshot) -> Vec<u64> {
    let mut below = 0u64;
    h.buckets
        .iter()
        .map(|(_, cum)| {
            let c = cum.saturating_sub(below);
            below = *cum;
            c
        })
        .collect()
}

/// A histogram's point; `prev` is only given for a delta of the same
/// series since its last export (no reset in between).
fn histogram_point<'s>(h: &'s HistogramSnapshot, prev: Option<&Sent>) -> Point<'s> {
    let mut per_bucket = per_bucket(h);
    let negative = h.min < 0.0;
    let mut count = h.count;
    let mut sum = (!negative).then_some(h.sum);
    // A collected histogram knows no extremes (NaN): left out.
    let mut extremes =
        (h.count > 0 && !h.min.is_nan() && !h.max.is_nan()).then_some((h.min, h.max));
    if let Some(Sent::Hist {
        count: p_count,
        sum: p_sum,
        buckets,
    }) = prev
    {
        let grew = h.count >= *p_count
            && buckets.len() == per_bucket.len()
            && per_bucket.iter().zip(buckets).all(|(c, p)| c >= p);
        if grew {
            count = h.count - p_count;
            for (c, p) in per_bucket.iter_mut().zip(buckets) {
                *c -= p;
            }
            sum = sum.map(|x| x - p_sum);
            // A delta's extremes are not known from two totals.
            extremes = None;
        }
    }
    Point::Hist {
        h,
        count,
        sum,
        per_bucket,
        extremes,
    }
}

fn finite_bounds(h: &HistogramSnapshot) -> impl ExactSizeIterator<Item = f64> + '_ {
    let n = h.buckets.iter().filter(|(b, _)| b.is_finite()).count();
    h.buckets[..n].iter().map(|(b, _)| *b)
}

fn point_len(attrs: usize, start: u64, now: u64, point: &Point<'_>) -> usize {
    let times = wire::fixed64_size(start) + wire::fixed64_size(now);
    times
        + attrs
        + match point {
            Point::Int(_) | Point::Double(_) => wire::PRESENT_I64_SIZE,
            Point::Hist {
                h,
                count,
                sum,
                per_bucket,
                extremes,
            } => {
                wire::fixed64_size(*count)
                    + sum.map_or(0, |_| wire::PRESENT_I64_SIZE)
                    + wire::packed8_size(per_bucket.len())
                    + wire::packed8_size(finite_bounds(h).len())
                    + extremes.map_or(0, |_| 2 * wire::PRESENT_I64_SIZE)
            }
            Point::Summary { h, extremes } => {
                wire::fixed64_size(h.count)
                    + wire::double_size(h.sum)
                    + extremes.map_or(0, |(min, max)| {
                        wire::len_field_size(quantile_len(0.0, min))
                            + wire::len_field_size(quantile_len(1.0, max))
                    })
            }
        }
}

/// A series' attributes as the fields of its point's message.
fn encode_attributes(kind: MetricKind, labels: &LabelSet) -> Box<[u8]> {
    let tag = match kind {
        MetricKind::Histogram => HISTOGRAM_ATTRIBUTES,
        MetricKind::Summary => SUMMARY_ATTRIBUTES,
        _ => NUMBER_ATTRIBUTES,
    };
    let mut buf = Vec::with_capacity(attributes_size(labels.iter()));
    write_attributes(&mut buf, tag, labels.iter());
    buf.into_boxed_slice()
}

fn write_point(buf: &mut Vec<u8>, p: &PlannedPoint<'_>, attrs: &[u8], now: u64) {
    match &p.point {
        // Fields in tag order (a oneof at its lowest tag), as prost writes
        // them.
        Point::Int(i) => {
            wire::fixed64(buf, POINT_START, p.start);
            wire::fixed64(buf, POINT_TIME, now);
            wire::sfixed64_present(buf, NUMBER_AS_INT, *i);
            exemplar::write(buf, NUMBER_EXEMPLARS, &p.exemplars);
            buf.extend_from_slice(attrs);
        }
        Point::Double(x) => {
            wire::fixed64(buf, POINT_START, p.start);
            wire::fixed64(buf, POINT_TIME, now);
            wire::double_present(buf, NUMBER_AS_DOUBLE, *x);
            exemplar::write(buf, NUMBER_EXEMPLARS, &p.exemplars);
            buf.extend_from_slice(attrs);
        }
        Point::Hist {
            h,
            count,
            sum,
            per_bucket,
            extremes,
        } => {
            wire::fixed64(buf, POINT_START, p.start);
            wire::fixed64(buf, POINT_TIME, now);
            wire::fixed64(buf, HISTOGRAM_COUNT, *count);
            if let Some(sum) = sum {
                wire::double_present(buf, HISTOGRAM_SUM, *sum);
            }
            wire::packed_fixed64(buf, HISTOGRAM_BUCKET_COUNTS, per_bucket.iter().copied());
            wire::packed_double(buf, HISTOGRAM_BOUNDS, finite_bounds(h));
            exemplar::write(buf, HISTOGRAM_EXEMPLARS, &p.exemplars);
            buf.extend_from_slice(attrs);
            if let Some((min, max)) = extremes {
                wire::double_present(buf, HISTOGRAM_MIN, *min);
                wire::double_present(buf, HISTOGRAM_MAX, *max);
            }
        }
        Point::Summary { h, extremes } => {
            wire::fixed64(buf, POINT_START, p.start);
            wire::fixed64(buf, POINT_TIME, now);
            wire::fixed64(buf, SUMMARY_COUNT, h.count);
            wire::double(buf, SUMMARY_SUM, h.sum);
            if let Some((min, max)) = extremes {
                for (q, v) in [(0.0, *min), (1.0, *max)] {
                    wire::len_header(buf, SUMMARY_QUANTILES, quantile_len(q, v));
                    wire::double(buf, QUANTILE_QUANTILE, q);
                    wire::double(buf, QUANTILE_VALUE, v);
                }
            }
            buf.extend_from_slice(attrs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, NumberDataPoint};
    use prost::Message;
    use std::time::Duration;

    /// The test's view of `Mapper`: requests decoded with
    /// `opentelemetry-proto`, and checked to be the bytes prost writes for
    /// what they decode to.
    trait Decoded {
        fn request(
            &mut self,
            snap: &Snapshot,
            now: SystemTime,
        ) -> Option<(ExportMetricsServiceRequest, Pending)>;
    }

    impl Decoded for Mapper {
        fn request(
            &mut self,
            snap: &Snapshot,
            now: SystemTime,
        ) -> Option<(ExportMetricsServiceRequest, Pending)> {
            let (bytes, pending) = Mapper::request(self, snap, now)?;
            let decoded = ExportMetricsServiceRequest::decode(bytes.as_slice()).unwrap();
            assert_eq!(decoded.encode_to_vec(), bytes, "not the bytes prost writes");
            Some((decoded, pending))
        }
    }

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
        let (first, p) = Decoded::request(&mut m, &r.snapshot(), t0).unwrap();
        assert_eq!(value(&sum_point(&first, "jobs")), 10.0);
        m.commit(p);
        c.inc_by(5);
        // Built, never accepted (the receiver was down): not committed.
        let (lost, _) =
            Decoded::request(&mut m, &r.snapshot(), t0 + Duration::from_secs(1)).unwrap();
        assert_eq!(value(&sum_point(&lost, "jobs")), 5.0);
        c.inc_by(3);
        let (next, _) =
            Decoded::request(&mut m, &r.snapshot(), t0 + Duration::from_secs(2)).unwrap();
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
            let (a, p) = Decoded::request(&mut m, &r.snapshot(), t0).unwrap();
            m.commit(p);
            let (b, p) =
                Decoded::request(&mut m, &r.snapshot(), t0 + Duration::from_secs(1)).unwrap();
            m.commit(p);
            // An up-down counter is cumulative, from its creation, always.
            for req in [&a, &b] {
                assert_eq!(sum_point(req, "depth").start_time_unix_nano, u_created);
            }
            assert_eq!(sum_point(&a, "cpu_seconds").start_time_unix_nano, f_created);
            if temporality == Temporality::Cumulative {
                f.reset();
                f.inc_by(1.0);
                let (c, _) =
                    Decoded::request(&mut m, &r.snapshot(), t0 + Duration::from_secs(2)).unwrap();
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
        let mut m = Mapper::new(&[], Temporality::Cumulative);
        let (req, _) = Decoded::request(&mut m, &r.snapshot(), SystemTime::now()).unwrap();
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

    #[test]
    fn every_kind_in_both_temporalities_is_the_bytes_prost_writes() {
        use nanometrics::Buckets;
        let r = nanometrics::Registry::new();
        let sub = r.sub_registry("pool", &[("zone", "é\"\n")]).unwrap();
        let c = sub
            .counter_family("jobs_total", "Jobs.", &["queue"])
            .unwrap();
        c.with_labels(&[""]).unwrap().inc_by(u64::MAX);
        c.with_labels(&["fast"]).unwrap().inc_by(3);
        r.float_counter("cpu_seconds_total", "")
            .unwrap()
            .inc_by(0.0);
        r.up_down_counter("depth", "D.").unwrap().add(-5);
        r.gauge("temp", "T.").unwrap().set(-0.0);
        let h = r
            .histogram("lat_seconds", "L.", Buckets::explicit(vec![0.1, 1.0]))
            .unwrap();
        h.observe(-1.0);
        h.observe(0.5);
        let ex = nanometrics::Exemplar::new([
            ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
            ("user", "é"),
        ])
        .unwrap();
        h.observe_with_exemplar(0.7, &ex);
        h.observe_with_exemplar(
            f64::INFINITY,
            &nanometrics::Exemplar::new(Vec::<(&str, &str)>::new()).unwrap(),
        );
        c.with_labels(&["fast"])
            .unwrap()
            .inc_by_with_exemplar(1, &nanometrics::Exemplar::for_trace([7; 16], [8; 8]));
        r.histogram("idle_seconds", "I.", Buckets::default())
            .unwrap();
        let s = r.summary("size_bytes", "S.").unwrap();
        s.observe(3.0);
        r.metric("build_info", "B.")
            .info_family(&["v"])
            .unwrap()
            .with_labels(&["1"])
            .unwrap()
            .set(1.0);
        for temporality in [Temporality::Cumulative, Temporality::Delta] {
            let mut m = Mapper::new(
                &[("service.name".into(), "x".into()), ("k".into(), "".into())],
                temporality,
            );
            let t0 = SystemTime::now();
            for i in 0..3 {
                h.observe(i as f64);
                let (req, p) =
                    Decoded::request(&mut m, &r.snapshot(), t0 + Duration::from_secs(i)).unwrap();
                let metrics = &req.resource_metrics[0].scope_metrics[0].metrics;
                assert_eq!(metrics.len(), 8);
                m.commit(p);
            }
        }
    }

    #[test]
    fn exemplars_carry_trace_ids_and_deltas_only_new_ones() {
        use nanometrics::{Buckets, Exemplar};
        use opentelemetry_proto::tonic::metrics::v1::exemplar;
        let r = nanometrics::Registry::new();
        let h = r
            .histogram("lat_seconds", "L.", Buckets::explicit(vec![0.1, 1.0]))
            .unwrap();
        let c = r.counter("jobs_total", "J.").unwrap();
        let traced = Exemplar::for_trace([0xab; 16], [0xcd; 8]);
        h.observe_with_exemplar(0.05, &traced);
        h.observe_with_exemplar(
            0.5,
            &Exemplar::new([("trace_id", "short"), ("k", "v")]).unwrap(),
        );
        c.inc_by_with_exemplar(2, &traced);
        let hist_exemplars = |req: &ExportMetricsServiceRequest| {
            let m = req.resource_metrics[0].scope_metrics[0]
                .metrics
                .iter()
                .find(|m| m.name == "lat_seconds")
                .unwrap();
            match &m.data {
                Some(metric::Data::Histogram(h)) => h.data_points[0].exemplars.clone(),
                other => panic!("{other:?}"),
            }
        };
        for temporality in [Temporality::Cumulative, Temporality::Delta] {
            let mut m = Mapper::new(&[], temporality);
            let t0 = SystemTime::now() + Duration::from_secs(1);
            let (req, p) = Decoded::request(&mut m, &r.snapshot(), t0).unwrap();
            m.commit(p);
            let ex = hist_exemplars(&req);
            assert_eq!(ex.len(), 2);
            assert_eq!(ex[0].trace_id, vec![0xab; 16]);
            assert_eq!(ex[0].span_id, vec![0xcd; 8]);
            assert!(
                ex[0].filtered_attributes.is_empty(),
                "ids are not attributes"
            );
            assert_eq!(ex[0].value, Some(exemplar::Value::AsDouble(0.05)));
            assert!(ex[0].time_unix_nano > 0);
            // Not 32 hex digits: an attribute, like any other label.
            assert!(ex[1].trace_id.is_empty());
            let keys: Vec<_> = ex[1]
                .filtered_attributes
                .iter()
                .map(|kv| kv.key.as_str())
                .collect();
            assert_eq!(keys, ["k", "trace_id"]);
            let counter = sum_point(&req, "jobs");
            assert_eq!(counter.exemplars.len(), 1);
            assert_eq!(
                counter.exemplars[0].value,
                Some(exemplar::Value::AsDouble(2.0))
            );
            // The next export: cumulative points carry the latest again; a
            // delta point only those recorded since the last export (none).
            let (req, _) =
                Decoded::request(&mut m, &r.snapshot(), t0 + Duration::from_secs(1)).unwrap();
            let again = hist_exemplars(&req).len();
            match temporality {
                Temporality::Cumulative => assert_eq!(again, 2),
                Temporality::Delta => assert_eq!(again, 0),
            }
        }
        // Delta: an exemplar in a request that was not accepted is sent
        // again with the next; once accepted, not again.
        let mut m = Mapper::new(&[], Temporality::Delta);
        let t0 = SystemTime::now() + Duration::from_secs(10);
        let (_, p) = Decoded::request(&mut m, &r.snapshot(), t0).unwrap();
        m.commit(p);
        h.observe_with_exemplar(0.06, &traced);
        let (lost, _) =
            Decoded::request(&mut m, &r.snapshot(), t0 + Duration::from_secs(1)).unwrap();
        assert_eq!(hist_exemplars(&lost).len(), 1);
        let (req, p) =
            Decoded::request(&mut m, &r.snapshot(), t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(hist_exemplars(&req).len(), 1, "sent again");
        m.commit(p);
        let (req, _) =
            Decoded::request(&mut m, &r.snapshot(), t0 + Duration::from_secs(3)).unwrap();
        assert_eq!(hist_exemplars(&req).len(), 0);
        // A span id without a trace id (or an all-zero one) stays an
        // attribute.
        let c2 = r.counter("lone_total", "L.").unwrap();
        c2.inc_by_with_exemplar(
            1,
            &Exemplar::new([("span_id", "00f067aa0ba902b7")]).unwrap(),
        );
        let mut m = Mapper::new(&[], Temporality::Cumulative);
        let (req, _) = Decoded::request(
            &mut m,
            &r.snapshot(),
            SystemTime::now() + Duration::from_secs(1),
        )
        .unwrap();
        let e = &sum_point(&req, "lone").exemplars[0];
        assert!(e.span_id.is_empty() && e.trace_id.is_empty());
        assert_eq!(e.filtered_attributes[0].key, "span_id");
    }

    #[test]
    fn state_follows_the_series_and_a_stale_commit_changes_nothing() {
        let r = nanometrics::Registry::new();
        let f = r.counter_family("jobs_total", "Jobs.", &["i"]).unwrap();
        let mut m = Mapper::new(&[], Temporality::Delta);
        let t0 = SystemTime::now();
        for round in 0..5u64 {
            // Each round's series replace the last round's.
            for i in 0..100 {
                f.with_labels(&[format!("{round}-{i}")]).unwrap().inc();
            }
            for i in 0..100 {
                if round > 0 {
                    f.remove(&[format!("{}-{i}", round - 1)]);
                }
            }
            let (_, p) =
                Decoded::request(&mut m, &r.snapshot(), t0 + Duration::from_secs(round)).unwrap();
            m.commit(p);
            assert_eq!(m.seen.len(), 100, "only the series that exist");
        }
        let c = r.counter("one_total", "One.").unwrap();
        c.inc_by(10);
        let (_, stale) =
            Decoded::request(&mut m, &r.snapshot(), t0 + Duration::from_secs(10)).unwrap();
        let (_, fresh) =
            Decoded::request(&mut m, &r.snapshot(), t0 + Duration::from_secs(11)).unwrap();
        m.commit(stale);
        assert_eq!(
            m.last_export,
            Some(nanos(t0 + Duration::from_secs(4))),
            "older than the last built"
        );
        m.commit(fresh);
        c.inc_by(1);
        let (next, _) =
            Decoded::request(&mut m, &r.snapshot(), t0 + Duration::from_secs(12)).unwrap();
        assert_eq!(value(&sum_point(&next, "one")), 1.0);
    }

    #[test]
    fn a_request_not_sent_keeps_the_state_of_series_it_lacks() {
        let root = nanometrics::Registry::new();
        let a = root.sub_registry("a", &[]).unwrap();
        let b = root.sub_registry("b", &[]).unwrap();
        let ca = a.counter("jobs_total", "Jobs.").unwrap();
        let cb = b.counter("jobs_total", "Jobs.").unwrap();
        ca.inc_by(5);
        cb.inc_by(7);
        let mut m = Mapper::new(&[], Temporality::Delta);
        let t0 = SystemTime::now();
        let (_, p) = Decoded::request(&mut m, &root.snapshot(), t0).unwrap();
        m.commit(p);
        // A preview of one sub-registry only (OtlpBackend::encode).
        Decoded::request(&mut m, &a.snapshot(), t0 + Duration::from_secs(1)).unwrap();
        cb.inc_by(1);
        let (next, _) =
            Decoded::request(&mut m, &root.snapshot(), t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(
            value(&sum_point(&next, "b_jobs")),
            1.0,
            "a delta, not the total"
        );
    }
}
