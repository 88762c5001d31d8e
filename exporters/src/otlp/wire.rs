//! Protobuf fields written straight into a byte buffer, and their sizes:
//! what [`mapping`](super::mapping) writes an OTLP request with, without
//! building `opentelemetry-proto`'s messages first (the same bytes prost
//! writes for them: defaults left out as proto3 does, a oneof or
//! `optional` field written even when zero; the tests decode every
//! request with `opentelemetry-proto`).
//!
//! Every tag of the OTLP metrics messages is below 16, so a field's key is
//! one byte; lengths are prost's varint (`encode_length_delimiter`).

/// Wire types.
const VARINT: u8 = 0;
const I64: u8 = 1;
const LEN: u8 = 2;

const fn key(tag: u8, wire: u8) -> u8 {
    assert!(tag < 16, "a one-byte key needs a tag below 16");
    (tag << 3) | wire
}

/// Bytes of the varint `len`.
#[inline]
pub(super) fn varint_len(len: usize) -> usize {
    if len < 0x80 {
        1
    } else {
        prost::length_delimiter_len(len)
    }
}

#[inline]
fn put_len(buf: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        // Most lengths (a label, a point) fit in one byte.
        buf.push(len as u8);
    } else {
        // A Vec grows: writing into it cannot fail.
        let _ = prost::encode_length_delimiter(len, buf);
    }
}

/// Size of a length-delimited field whose content is `len` bytes.
#[inline]
pub(super) fn len_field_size(len: usize) -> usize {
    1 + varint_len(len) + len
}

/// The key and length of a length-delimited field; its `len` bytes of
/// content follow.
#[inline]
pub(super) fn len_header(buf: &mut Vec<u8>, tag: u8, len: usize) {
    buf.push(key(tag, LEN));
    put_len(buf, len);
}

/// Size of a string field (proto3: an empty one is left out).
#[inline]
pub(super) fn string_size(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        len_field_size(s.len())
    }
}

/// A string field (left out when empty).
#[inline]
pub(super) fn string(buf: &mut Vec<u8>, tag: u8, s: &str) {
    if !s.is_empty() {
        len_header(buf, tag, s.len());
        buf.extend_from_slice(s.as_bytes());
    }
}

/// Size of a string field that is a oneof member (written even when
/// empty).
#[inline]
pub(super) fn string_member_size(s: &str) -> usize {
    len_field_size(s.len())
}

/// A string field that is a oneof member (written even when empty).
#[inline]
pub(super) fn string_member(buf: &mut Vec<u8>, tag: u8, s: &str) {
    len_header(buf, tag, s.len());
    buf.extend_from_slice(s.as_bytes());
}

/// Size of a `fixed64` field (left out when 0).
#[inline]
pub(super) fn fixed64_size(v: u64) -> usize {
    if v == 0 {
        0
    } else {
        9
    }
}

/// A `fixed64` field (left out when 0).
#[inline]
pub(super) fn fixed64(buf: &mut Vec<u8>, tag: u8, v: u64) {
    if v != 0 {
        buf.push(key(tag, I64));
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// Size of a `double`/`sfixed64` field written whatever its value (a oneof
/// member, an `optional`).
pub(super) const PRESENT_I64_SIZE: usize = 9;

/// A `double` field written whatever its value.
#[inline]
pub(super) fn double_present(buf: &mut Vec<u8>, tag: u8, v: f64) {
    buf.push(key(tag, I64));
    buf.extend_from_slice(&v.to_le_bytes());
}

/// Size of a `double` field (left out when zero, either sign, as prost
/// does).
#[inline]
pub(super) fn double_size(v: f64) -> usize {
    if v == 0.0 {
        0
    } else {
        9
    }
}

/// A `double` field (left out when zero).
#[inline]
pub(super) fn double(buf: &mut Vec<u8>, tag: u8, v: f64) {
    if v != 0.0 {
        double_present(buf, tag, v);
    }
}

/// An `sfixed64` field written whatever its value.
#[inline]
pub(super) fn sfixed64_present(buf: &mut Vec<u8>, tag: u8, v: i64) {
    buf.push(key(tag, I64));
    buf.extend_from_slice(&v.to_le_bytes());
}

/// Size of a varint field below 128 (an enum, a bool), left out when 0.
#[inline]
pub(super) fn small_varint_size(v: u8) -> usize {
    if v == 0 {
        0
    } else {
        2
    }
}

/// A varint field below 128 (an enum, a bool), left out when 0.
#[inline]
pub(super) fn small_varint(buf: &mut Vec<u8>, tag: u8, v: u8) {
    debug_assert!(v < 128);
    if v != 0 {
        buf.push(key(tag, VARINT));
        buf.push(v);
    }
}

/// Size of a packed repeated 8-byte field of `n` values (left out when
/// empty).
#[inline]
pub(super) fn packed8_size(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        len_field_size(8 * n)
    }
}

/// A packed repeated `fixed64` field.
#[inline]
pub(super) fn packed_fixed64(
    buf: &mut Vec<u8>,
    tag: u8,
    values: impl ExactSizeIterator<Item = u64>,
) {
    if values.len() > 0 {
        len_header(buf, tag, 8 * values.len());
        for v in values {
            buf.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// A packed repeated `double` field.
#[inline]
pub(super) fn packed_double(
    buf: &mut Vec<u8>,
    tag: u8,
    values: impl ExactSizeIterator<Item = f64>,
) {
    if values.len() > 0 {
        len_header(buf, tag, 8 * values.len());
        for v in values {
            buf.extend_from_slice(&v.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[derive(Clone, PartialEq, Message)]
    struct Probe {
        #[prost(string, tag = "1")]
        s: String,
        #[prost(fixed64, tag = "2")]
        f: u64,
        #[prost(double, tag = "3")]
        d: f64,
        #[prost(fixed64, repeated, tag = "4")]
        p: Vec<u64>,
        #[prost(int32, tag = "5")]
        e: i32,
        #[prost(double, optional, tag = "6")]
        o: Option<f64>,
    }

    #[test]
    fn fields_are_the_bytes_prost_writes() {
        for (s, f, d, p, e, o) in [
            ("", 0, 0.0, vec![], 0, None),
            ("x", 1, -0.0, vec![0, u64::MAX], 2, Some(0.0)),
            (
                &*"é".repeat(200),
                u64::MAX,
                f64::NAN,
                vec![7; 40],
                127,
                Some(-1.5),
            ),
        ] {
            let probe = Probe {
                s: s.to_string(),
                f,
                d,
                p: p.clone(),
                e,
                o,
            };
            let mut ours = Vec::new();
            string(&mut ours, 1, s);
            fixed64(&mut ours, 2, f);
            double(&mut ours, 3, d);
            packed_fixed64(&mut ours, 4, p.iter().copied());
            small_varint(&mut ours, 5, e as u8);
            if let Some(o) = o {
                double_present(&mut ours, 6, o);
            }
            assert_eq!(ours, probe.encode_to_vec(), "{s:?} {f} {d} {p:?} {e} {o:?}");
            let size = string_size(s)
                + fixed64_size(f)
                + double_size(d)
                + packed8_size(p.len())
                + small_varint_size(e as u8)
                + o.map_or(0, |_| PRESENT_I64_SIZE);
            assert_eq!(size, ours.len());
        }
    }
}
