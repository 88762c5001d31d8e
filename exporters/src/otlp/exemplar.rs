//! A series' exemplars as OTLP `Exemplar` messages inside its point: which
//! ones a point carries, their size and their bytes (written with
//! [`wire`](super::wire), fields in the order prost writes them).
//!
//! A `trace_id` label of 32 hex digits and a `span_id` of 16, given
//! together (and not all zeros), become the message's `trace_id` and
//! `span_id` bytes; every other label is a filtered attribute. The value is a double (a counter's increment, a
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

/// The trace and span ids sent as such: both given, neither all zeros
/// (an invalid W3C id); otherwise they stay attributes.
fn ids(e: &ExemplarSnapshot) -> Option<([u8; 16], [u8; 8])> {
    e.exemplar.trace_id().zip(e.exemplar.span_id())
}

/// The labels that are attributes: all but the ids sent as such.
fn attributes<'a>(e: &'a ExemplarSnapshot) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    let as_ids = ids(e).is_some();
    e.exemplar
        .labels()
        .filter(move |(k, _)| !(as_ids && (*k == "trace_id" || *k == "span_id")))
}

impl Planned<'_> {
    /// When it was recorded, in nanoseconds since the epoch.
    pub(super) fn time(&self) -> u64 {
        self.time
    }
}

/// The exemplars of `exemplars` (a series' slots) whose recording time
/// `keep` accepts, in slot order.
pub(super) fn plan(
    exemplars: &[Option<ExemplarSnapshot>],
    keep: impl Fn(u64) -> bool,
) -> Vec<Planned<'_>> {
    exemplars
        .iter()
        .flatten()
        .map(|e| (e, nanos(e.timestamp)))
        .filter(|(_, time)| keep(*time))
        .map(|(e, time)| {
            let ids = ids(e).map_or(0, |(t, s)| {
                wire::len_field_size(t.len()) + wire::len_field_size(s.len())
            });
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
        if let Some((trace, span)) = ids(p.e) {
            wire::len_header(buf, EXEMPLAR_SPAN_ID, span.len());
            buf.extend_from_slice(&span);
            wire::len_header(buf, EXEMPLAR_TRACE_ID, trace.len());
            buf.extend_from_slice(&trace);
        }
        write_attributes(buf, EXEMPLAR_FILTERED_ATTRIBUTES, attributes(p.e));
    }
}
