//! What both text formats share: names, escaping and numbers.
//!
//! - Floats are written like Python's `repr` (the shortest string that reads
//!   back as the same `f64`, from `ryu`): `0.25`, `1.0`, `1e-05`, `1e+16`, and
//!   `NaN`, `+Inf`, `-Inf`. Every parser of both formats reads them back
//!   bit-exactly.
//! - `le` bounds additionally switch to an exponent from 1e6 on, as Go and the
//!   Python client do: `0.005`, `1.0`, `1e+06`, `+Inf`.
//! - Integers (counter values, bucket counts) are written as integers
//!   (`itoa`), exact above 2^53.

/// Appends `x` as the shortest decimal that parses back to the same `f64`,
/// formatted like Python's `repr` (`NaN`, `+Inf` and `-Inf` for the
/// non-finite values).
///
/// ```
/// use nanometrics_exporters::format::write_f64;
/// let s = |x: f64| { let mut b = Vec::new(); write_f64(&mut b, x); String::from_utf8(b).unwrap() };
/// assert_eq!(s(1.0), "1.0");
/// assert_eq!(s(0.1), "0.1");
/// assert_eq!(s(1e-5), "1e-05");
/// assert_eq!(s(1.5e16), "1.5e+16");
/// assert_eq!(s(123456789.0), "123456789.0");
/// assert_eq!(s(-0.0), "-0.0");
/// assert_eq!(s(f64::NAN), "NaN");
/// assert_eq!(s(f64::NEG_INFINITY), "-Inf");
/// ```
pub fn write_f64(out: &mut Vec<u8>, x: f64) {
    if x.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"+Inf" } else { b"-Inf" });
    } else {
        let d = Decimal::of(x);
        if (-4..16).contains(&d.exp) {
            d.write_positional(out);
        } else {
            d.write_exponent(out);
        }
    }
}

/// Appends a histogram bound for the `le` label: like [`write_f64`], but
/// values of magnitude 1e6 and above use an exponent (`1e+06`, `-2.5e+07`),
/// as Go's `%g` (the OpenMetrics canonical form) writes them.
///
/// ```
/// use nanometrics_exporters::format::write_le;
/// let s = |x: f64| { let mut b = Vec::new(); write_le(&mut b, x); String::from_utf8(b).unwrap() };
/// assert_eq!(s(0.005), "0.005");
/// assert_eq!(s(1.0), "1.0");
/// assert_eq!(s(250000.0), "250000.0");
/// assert_eq!(s(1e6), "1e+06");
/// assert_eq!(s(2.5e7), "2.5e+07");
/// assert_eq!(s(-2.5e7), "-2.5e+07"); // Go's %g: by magnitude
/// assert_eq!(s(-250000.0), "-250000.0");
/// assert_eq!(s(f64::INFINITY), "+Inf");
/// ```
pub fn write_le(out: &mut Vec<u8>, x: f64) {
    if x.is_finite() && x.abs() >= 1e6 {
        Decimal::of(x).write_exponent(out);
    } else {
        write_f64(out, x);
    }
}

/// The shortest round-trip digits of a finite `f64`: `0.d1d2… × 10^(exp+1)`,
/// i.e. `d1.d2… × 10^exp`.
struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    exp: i32,
}

impl Decimal {
    fn of(x: f64) -> Decimal {
        let mut buf = ryu::Buffer::new();
        let s = buf.format_finite(x);
        let (negative, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (mantissa, e) = match s.split_once(['e', 'E']) {
            Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
            None => (s, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
        // Position of the decimal point relative to the first digit.
        let mut point = int.len() as i32 + e;
        let lead = digits.iter().take_while(|d| **d == b'0').count();
        if lead == digits.len() {
            return Decimal {
                negative,
                digits: vec![b'0'],
                exp: 0,
            };
        }
        digits.drain(..lead);
        point -= lead as i32;
        while digits.len() > 1 && digits.last() == Some(&b'0') {
            digits.pop();
        }
        Decimal {
            negative,
            digits,
            exp: point - 1,
        }
    }

    fn write_positional(&self, out: &mut Vec<u8>) {
        if self.negative {
            out.push(b'-');
        }
        let n = self.digits.len() as i32;
        if self.exp < 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-self.exp - 1) as usize));
            out.extend_from_slice(&self.digits);
        } else if self.exp + 1 >= n {
            out.extend_from_slice(&self.digits);
            out.extend(std::iter::repeat_n(b'0', (self.exp + 1 - n) as usize));
            out.extend_from_slice(b".0");
        } else {
            let (int, frac) = self.digits.split_at((self.exp + 1) as usize);
            out.extend_from_slice(int);
            out.push(b'.');
            out.extend_from_slice(frac);
        }
    }

    fn write_exponent(&self, out: &mut Vec<u8>) {
        if self.negative {
            out.push(b'-');
        }
        out.push(self.digits[0]);
        if self.digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&self.digits[1..]);
        }
        out.push(b'e');
        out.push(if self.exp < 0 { b'-' } else { b'+' });
        let e = self.exp.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        let mut buf = itoa::Buffer::new();
        out.extend_from_slice(buf.format(e).as_bytes());
    }
}

/// Appends an integer.
///
/// ```
/// let mut b = Vec::new();
/// nanometrics_exporters::format::write_u64(&mut b, u64::MAX);
/// assert_eq!(b, b"18446744073709551615");
/// ```
pub fn write_u64(out: &mut Vec<u8>, x: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(x).as_bytes());
}

/// Appends a signed integer.
///
/// ```
/// let mut b = Vec::new();
/// nanometrics_exporters::format::write_i64(&mut b, -3);
/// assert_eq!(b, b"-3");
/// ```
pub fn write_i64(out: &mut Vec<u8>, x: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(x).as_bytes());
}

/// Appends a label value with `\`, `"` and line feed escaped (both formats).
///
/// ```
/// let mut b = Vec::new();
/// nanometrics_exporters::format::write_label_value(&mut b, "a\"b\\c\nd");
/// assert_eq!(b, br#"a\"b\\c\nd"#);
/// ```
pub fn write_label_value(out: &mut Vec<u8>, v: &str) {
    escape(out, v, true);
}

/// Appends a HELP text: `\` and line feed escaped, and `"` too when
/// `quote` (OpenMetrics).
///
/// ```
/// let mut b = Vec::new();
/// nanometrics_exporters::format::write_help(&mut b, "say \"hi\"\\\n", false);
/// assert_eq!(b, br#"say "hi"\\\n"#);
/// ```
pub fn write_help(out: &mut Vec<u8>, help: &str, quote: bool) {
    escape(out, help, quote);
}

/// Whether `b` holds `\\`, a line feed, or (with `quote`) `"`: eight bytes
/// at a time (the "has a zero byte" bit trick on `word ^ broadcast(c)`).
fn needs_escape(b: &[u8], quote: bool) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has = |w: u64, c: u8| {
        let x = w ^ (LO * c as u64);
        x.wrapping_sub(LO) & !x & HI != 0
    };
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        if has(w, b'\\') || has(w, b'\n') || (quote && has(w, b'"')) {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&c| c == b'\\' || c == b'\n' || (quote && c == b'"'))
}

fn escape(out: &mut Vec<u8>, s: &str, quote: bool) {
    let bytes = s.as_bytes();
    // Most values need no escaping: one scan, one copy.
    if !needs_escape(bytes, quote) {
        out.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let rep: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'"' if quote => b"\\\"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(rep);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Appends `{k="v",…}` for the series' labels plus, for a histogram bucket,
/// `le` last; nothing when there are no labels at all.
pub(crate) fn write_labels<'a>(
    out: &mut Vec<u8>,
    labels: impl Iterator<Item = (&'a str, &'a str)>,
    le: Option<f64>,
) {
    let mut first = true;
    for (k, v) in labels {
        out.push(if first { b'{' } else { b',' });
        first = false;
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b"=\"");
        write_label_value(out, v);
        out.push(b'"');
    }
    if let Some(bound) = le {
        out.push(if first { b'{' } else { b',' });
        first = false;
        out.extend_from_slice(b"le=\"");
        write_le(out, bound);
        out.push(b'"');
    }
    if !first {
        out.push(b'}');
    }
}

/// The encoded bytes as a `String`: every piece written is UTF-8 (names are
/// ASCII, label values and HELP come from `&str`).
pub(crate) fn into_string(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn f(x: f64) -> String {
        let mut b = Vec::new();
        write_f64(&mut b, x);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn python_repr_cases() {
        for (x, s) in [
            (0.0, "0.0"),
            (100.0, "100.0"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345e-7, "1.2345e-07"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            (-2.5, "-2.5"),
            (9007199254740993.0, "9007199254740992.0"),
        ] {
            assert_eq!(f(x), s, "{x:e}");
        }
    }

    proptest! {
        #[test]
        fn needs_escape_matches_a_byte_scan(b in proptest::collection::vec(any::<u8>(), 0..40), quote in any::<bool>()) {
            let naive = b.iter().any(|&c| c == b'\\' || c == b'\n' || (quote && c == b'"'));
            prop_assert_eq!(needs_escape(&b, quote), naive);
        }

        #[test]
        fn floats_round_trip(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            let s = f(x);
            let back: f64 = match s.as_str() {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                _ => s.parse().unwrap(),
            };
            if x.is_nan() {
                prop_assert_eq!(s, "NaN");
            } else {
                prop_assert_eq!(back.to_bits(), x.to_bits(), "{}", s);
            }
            let mut le = Vec::new();
            write_le(&mut le, x);
            let le = String::from_utf8(le).unwrap();
            if !x.is_nan() && !x.is_infinite() {
                prop_assert_eq!(le.parse::<f64>().unwrap().to_bits(), x.to_bits());
            }
        }

        #[test]
        fn escaping_round_trips(s in any::<String>()) {
            let mut b = Vec::new();
            write_label_value(&mut b, &s);
            let e = String::from_utf8(b).unwrap();
            prop_assert!(!e.contains('\n'));
            let mut back = String::new();
            let mut it = e.chars();
            while let Some(c) = it.next() {
                if c == '\\' {
                    match it.next() {
                        Some('n') => back.push('\n'),
                        Some(c) => back.push(c),
                        None => prop_assert!(false, "dangling escape"),
                    }
                } else {
                    prop_assert!(c != '"', "unescaped quote");
                    back.push(c);
                }
            }
            prop_assert_eq!(back, s);
        }
    }
}
