//! A series' exemplars as OTLP `Exemplar` messages inside its point: which
//! ones a point carries, their size and their bytes (written with
//! [`wire`](super::wire), fields in the order prost writes them).
//!
//! A `trace_id` label of 32 hex digits and a `span_id` of 16 become the
//! message's `trace_id` and `span_id` bytes; every other label is a
//! filtered attribute. The value is a double (a counter's increment, a
//! histogram's observation).

use std::time::{SystemTime, UNIX_EPOCH};

use nanometrics::ExemplarSnapshot;

use super::attributes::{attributes_size, write_attributes};
use super::wire;

// Field numbers of `Exemplar` (opentelemetry/proto/metrics/v1/metrics.proto).
const EXEMPLAR_TIME: u8 = 2;
const EXEMPLAR_AS_DOUBLE: u8 = 3;
const EXEMPLAR_SPAN_ID: u8 = 4;
const EXEMPLAR_TRACE_ID: u8 = 5;
const EXEMPLAR_FILTERED_ATTRIBUTES: u8 = 7;

/// An exemplar a point carries, with the bytes of its message.
pub(super) struct Planned<'s> {
    e: &'s ExemplarSnapshot,
    time: u64,
    pub(super) len: usize,
}

fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The labels that are attributes: all but a trace or span id sent as one.
fn attributes<'a>(e: &'a ExemplarSnapshot) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    let (trace, span) = (
        e.exemplar.trace_id().is_some(),
        e.exemplar.span_id().is_some(),
    );
    e.exemplar
        .labels()
        .filter(move |(k, _)| !(trace && *k == "trace_id" || span && *k == "span_id"))
}

/// The exemplars of `exemplars` (a series' slots) recorded at or after
/// `since` (a delta point's start: an older one belongs to an earlier
/// point), in slot order.
pub(super) fn plan(exemplars: &[Option<ExemplarSnapshot>], since: u64) -> Vec<Planned<'_>> {
    exemplars
        .iter()
        .flatten()
        .map(|e| (e, nanos(e.timestamp)))
        .filter(|(_, time)| *time >= since)
        .map(|(e, time)| {
            let ids = e
                .exemplar
                .trace_id()
                .map_or(0, |t| wire::len_field_size(t.len()))
                + e.exemplar
                    .span_id()
                    .map_or(0, |s| wire::len_field_size(s.len()));
            let len = wire::fixed64_size(time)
                + wire::PRESENT_I64_SIZE
                + ids
                + attributes_size(attributes(e));
            Planned { e, time, len }
        })
        .collect()
}

/// Bytes of the exemplar fields (tag `tag`) of `planned`.
pub(super) fn size(planned: &[Planned<'_>]) -> usize {
    planned.iter().map(|p| wire::len_field_size(p.len)).sum()
}

/// Writes `planned` as repeated fields `tag` (a point's `exemplars`).
pub(super) fn write(buf: &mut Vec<u8>, tag: u8, planned: &[Planned<'_>]) {
    for p in planned {
        wire::len_header(buf, tag, p.len);
        wire::fixed64(buf, EXEMPLAR_TIME, p.time);
        wire::double_present(buf, EXEMPLAR_AS_DOUBLE, p.e.value);
        if let Some(span) = p.e.exemplar.span_id() {
            wire::len_header(buf, EXEMPLAR_SPAN_ID, span.len());
            buf.extend_from_slice(&span);
        }
        if let Some(trace) = p.e.exemplar.trace_id() {
            wire::len_header(buf, EXEMPLAR_TRACE_ID, trace.len());
            buf.extend_from_slice(&trace);
        }
        write_attributes(buf, EXEMPLAR_FILTERED_ATTRIBUTES, attributes(p.e));
    }
}
