//! Attributes (`KeyValue`s with string values) as protobuf fields: a
//! series' labels, the resource's attributes, an exemplar's filtered
//! attributes.

use super::wire;

// Field numbers of `KeyValue` and `AnyValue`
// (opentelemetry/proto/common/v1/common.proto).
const KEY_VALUE_KEY: u8 = 1;
const KEY_VALUE_VALUE: u8 = 2;
const ANY_VALUE_STRING: u8 = 1;

/// Bytes of the `AnyValue` of a string, and of the `KeyValue` of a pair.
fn any_len(v: &str) -> usize {
    wire::string_member_size(v)
}

fn key_value_len(k: &str, v: &str) -> usize {
    wire::string_size(k) + wire::len_field_size(any_len(v))
}

pub(super) fn attributes_size<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> usize {
    pairs
        .map(|(k, v)| wire::len_field_size(key_value_len(k, v)))
        .sum()
}

pub(super) fn write_attributes<'a>(
    buf: &mut Vec<u8>,
    tag: u8,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) {
    for (k, v) in pairs {
        wire::len_header(buf, tag, key_value_len(k, v));
        wire::string(buf, KEY_VALUE_KEY, k);
        wire::len_header(buf, KEY_VALUE_VALUE, any_len(v));
        wire::string_member(buf, ANY_VALUE_STRING, v);
    }
}
