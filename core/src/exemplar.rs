//! [`Exemplar`]: a small label set (a trace id, a span id) that links one
//! recorded value to where it came from; and [`ExemplarSnapshot`], the
//! latest exemplar of a counter or of a histogram bucket as a read sees it.
//!
//! Where they are kept (one slot per bucket, written wait-free) is
//! `shard::exemplar_slots`.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::error::Error;

/// The most characters (code points) an exemplar's label names and values
/// may hold together: OpenMetrics' limit.
pub const EXEMPLAR_MAX_CHARS: usize = 128;

/// A small label set attached to a recorded value: OpenMetrics exemplars,
/// OTLP exemplars. Cheap to clone (one reference count); build it once per
/// request or span and pass it to
/// [`Histogram::observe_with_exemplar`](crate::Histogram::observe_with_exemplar)
/// or [`Counter::inc_by_with_exemplar`](crate::Counter::inc_by_with_exemplar).
///
/// The label names follow the label-name rule (`[a-zA-Z_][a-zA-Z0-9_]*`, not
/// starting with `__`); names and values together hold at most
/// [`EXEMPLAR_MAX_CHARS`] characters. A `trace_id` of 32 hex digits and a
/// `span_id` of 16 (W3C trace context; not all zeros), given together,
/// are exported as OTLP's trace and span ids.
///
/// ```
/// use nanometrics::Exemplar;
/// let e = Exemplar::new([("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")])?;
/// assert_eq!(e.labels().collect::<Vec<_>>(), [("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")]);
/// assert_eq!(e.trace_id().map(|t| t[0]), Some(0x4b));
/// let long = "x".repeat(130);
/// assert!(Exemplar::new([("id", long.as_str())]).is_err());
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Exemplar(Arc<Labels>);

#[derive(PartialEq, Eq)]
struct Labels {
    /// Sorted by name, names unique.
    pairs: Box<[(Box<str>, Box<str>)]>,
    /// The pairs as one run of bytes (each name and value a `u16` length,
    /// then its bytes): what a recording copies into its slot's record, so
    /// that recording touches no reference count.
    packed: Box<[u8]>,
    trace_id: Option<[u8; 16]>,
    span_id: Option<[u8; 8]>,
}

impl Labels {
    /// Labels already valid (sorted, unique, within the limits).
    fn of(pairs: Vec<(Box<str>, Box<str>)>) -> Labels {
        let mut packed = Vec::new();
        for (k, v) in &pairs {
            for part in [k, v] {
                // At most 128 characters of at most 4 bytes each.
                packed.extend_from_slice(&(part.len() as u16).to_le_bytes());
                packed.extend_from_slice(part.as_bytes());
            }
        }
        let find = |name: &str| pairs.iter().find(|(k, _)| &**k == name).map(|(_, v)| &**v);
        let trace_id = find("trace_id").and_then(hex::<16>);
        let span_id = find("span_id").and_then(hex::<8>);
        Labels {
            pairs: pairs.into_boxed_slice(),
            packed: packed.into_boxed_slice(),
            trace_id,
            span_id,
        }
    }
}

impl fmt::Debug for Exemplar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.labels()).finish()
    }
}

impl Exemplar {
    /// An exemplar with these labels, sorted by name.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidExemplar`] for an invalid or repeated label name, a
    /// value holding a carriage return, or more than [`EXEMPLAR_MAX_CHARS`]
    /// characters in all.
    ///
    /// ```
    /// use nanometrics::{Error, Exemplar};
    /// let e = Exemplar::new([("span_id", "00f067aa0ba902b7"), ("trace_id", "abc")])?;
    /// assert_eq!(e.labels().map(|(k, _)| k).collect::<Vec<_>>(), ["span_id", "trace_id"]);
    /// assert!(matches!(Exemplar::new([("__x", "1")]), Err(Error::InvalidExemplar(_))));
    /// assert!(Exemplar::new([("a", "1"), ("a", "2")]).is_err());
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn new<K, V>(labels: impl IntoIterator<Item = (K, V)>) -> Result<Exemplar, Error>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut pairs: Vec<(Box<str>, Box<str>)> = Vec::new();
        let mut chars = 0;
        for (k, v) in labels {
            let (k, v) = (k.as_ref(), v.as_ref());
            check_name(k)?;
            if v.contains('\r') {
                return Err(Error::InvalidExemplar(format!(
                    "the value of {k:?} contains a carriage return, which no exposition format can carry"
                )));
            }
            chars += k.chars().count() + v.chars().count();
            pairs.push((k.into(), v.into()));
        }
        if chars > EXEMPLAR_MAX_CHARS {
            return Err(Error::InvalidExemplar(format!(
                "Exemplar labels have {chars} UTF-8 characters, exceeding the limit of {EXEMPLAR_MAX_CHARS}"
            )));
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::InvalidExemplar(format!(
                "label {:?} is given twice",
                w[0].0
            )));
        }
        Ok(Exemplar(Arc::new(Labels::of(pairs))))
    }

    /// The labels as one run of bytes (see `Labels::packed`).
    pub(crate) fn packed(&self) -> &[u8] {
        &self.0.packed
    }

    /// The exemplar whose [`packed`](Self::packed) bytes these are.
    pub(crate) fn unpack(mut b: &[u8]) -> Exemplar {
        fn part(b: &mut &[u8]) -> Box<str> {
            let n = usize::from(u16::from_le_bytes([b[0], b[1]]));
            let s = String::from_utf8_lossy(&b[2..2 + n]).into_owned();
            *b = &b[2 + n..];
            s.into_boxed_str()
        }
        let mut pairs = Vec::new();
        while !b.is_empty() {
            let k = part(&mut b);
            pairs.push((k, part(&mut b)));
        }
        Exemplar(Arc::new(Labels::of(pairs)))
    }

    /// The W3C trace context of a span: `trace_id` (32 lower-case hex
    /// digits) and `span_id` (16), the labels OpenMetrics consumers and
    /// Prometheus' exemplar storage look for.
    ///
    /// ```
    /// let e = nanometrics::Exemplar::for_trace([0xab; 16], [1; 8]);
    /// assert_eq!(
    ///     e.labels().collect::<Vec<_>>(),
    ///     [("span_id", "0101010101010101"), ("trace_id", "abababababababababababababababab")]
    /// );
    /// ```
    pub fn for_trace(trace_id: [u8; 16], span_id: [u8; 8]) -> Exemplar {
        Exemplar(Arc::new(Labels::of(vec![
            (Box::from("span_id"), to_hex(&span_id).into()),
            (Box::from("trace_id"), to_hex(&trace_id).into()),
        ])))
    }

    /// The labels, sorted by name.
    ///
    /// ```
    /// let e = nanometrics::Exemplar::new([("b", "2"), ("a", "1")])?;
    /// assert_eq!(e.labels().collect::<Vec<_>>(), [("a", "1"), ("b", "2")]);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn labels(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.0.pairs.iter().map(|(k, v)| (&**k, &**v))
    }

    /// The `trace_id` label as 16 bytes, when it is 32 hex digits, not all
    /// zeros (W3C: an invalid id).
    ///
    /// ```
    /// let e = nanometrics::Exemplar::new([("trace_id", "not hex")])?;
    /// assert_eq!(e.trace_id(), None);
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn trace_id(&self) -> Option<[u8; 16]> {
        self.0.trace_id
    }

    /// The `span_id` label as 8 bytes, when it is 16 hex digits, not all
    /// zeros.
    ///
    /// ```
    /// let e = nanometrics::Exemplar::new([("span_id", "00f067aa0ba902b7")])?;
    /// assert_eq!(e.span_id(), Some([0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]));
    /// # Ok::<(), nanometrics::Error>(())
    /// ```
    pub fn span_id(&self) -> Option<[u8; 8]> {
        self.0.span_id
    }
}

/// An exemplar label name: the label-name syntax, not starting with `__`
/// (`le` and `quantile` are fine here: an exemplar is not a series).
fn check_name(k: &str) -> Result<(), Error> {
    // The messages start as prometheus_client's do.
    if !crate::label_syntax::is_label_name_syntax(k) {
        return Err(Error::InvalidExemplar(format!(
            "Invalid label metric name: {k} (exemplar label names must match [a-zA-Z_][a-zA-Z0-9_]*)"
        )));
    }
    if k.starts_with("__") {
        return Err(Error::InvalidExemplar(format!(
            "Reserved label metric name: {k} (names starting with \"__\" are reserved)"
        )));
    }
    Ok(())
}

fn hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != 2 * N {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = digit(b[2 * i])? << 4 | digit(b[2 * i + 1])?;
    }
    (out != [0u8; N]).then_some(out)
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 * bytes.len());
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// The latest exemplar of a counter series or of one histogram bucket, as a
/// read found it: its labels, the value recorded with it (a counter's
/// increment, a histogram's observation) and when.
///
/// ```
/// use nanometrics::{Buckets, Exemplar, Registry};
/// let r = Registry::new();
/// let h = r.histogram("latency_seconds", "Latency.", Buckets::explicit(vec![0.1, 1.0]))?;
/// h.observe_with_exemplar(0.25, &Exemplar::new([("trace_id", "abc")])?);
/// let s = &r.snapshot().families[0].series[0];
/// // One entry per bucket of `buckets`: the 0.25 landed in `le="1.0"`.
/// assert!(s.exemplars[0].is_none());
/// let e = s.exemplars[1].as_ref().unwrap();
/// assert_eq!((e.value, e.exemplar.labels().next()), (0.25, Some(("trace_id", "abc"))));
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ExemplarSnapshot {
    /// Its labels.
    pub exemplar: Exemplar,
    /// The value recorded with it.
    pub value: f64,
    /// When it was recorded.
    pub timestamp: SystemTime,
}
