//! One line's tokens, for both formats: metric and label names, label
//! sets with their escapes, numbers and timestamps. Errors carry the
//! line and the column of the offending character.

use super::{ParseError, Timestamp};

/// Which format's rules a line follows where they differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    OpenMetrics,
    Text,
}

/// A cursor over one line (without its line feed).
pub(super) struct Line<'a> {
    pub(super) text: &'a str,
    pub(super) pos: usize,
    number: usize,
}

impl<'a> Line<'a> {
    pub(super) fn new(text: &'a str, number: usize) -> Line<'a> {
        Line {
            text,
            pos: 0,
            number,
        }
    }

    /// The line's 1-based number.
    pub(super) fn number(&self) -> usize {
        self.number
    }

    /// An error at byte `at` of the line.
    pub(super) fn error_at(&self, at: usize, message: impl Into<String>) -> ParseError {
        let at = at.min(self.text.len());
        ParseError {
            line: self.number,
            column: self.text[..at].chars().count() + 1,
            message: message.into(),
        }
    }

    /// An error at the cursor.
    pub(super) fn error(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.pos, message)
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    pub(super) fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    /// Consumes `c` if it is next.
    pub(super) fn eat(&mut self, c: u8) -> bool {
        let yes = self.peek() == Some(c);
        if yes {
            self.pos += 1;
        }
        yes
    }

    /// Consumes `c`, or fails saying what was expected.
    pub(super) fn expect(&mut self, c: u8, what: &str) -> Result<(), ParseError> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(self.error(format!("expected {what}, found {}", self.found())))
        }
    }

    /// The rest of the line, for a message.
    pub(super) fn rest_shown(&self) -> String {
        shown(self.rest())
    }

    /// What is at the cursor, for a message.
    pub(super) fn found(&self) -> String {
        match self.rest().chars().next() {
            None => "the end of the line".into(),
            Some(c) => format!("{c:?}"),
        }
    }

    /// Skips spaces and tabs (the text format's blanks); whether any were.
    pub(super) fn blanks(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// A metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    pub(super) fn metric_name(&mut self) -> Result<&'a str, ParseError> {
        self.name(true)
    }

    /// A label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
    pub(super) fn label_name(&mut self) -> Result<&'a str, ParseError> {
        self.name(false)
    }

    fn name(&mut self, metric: bool) -> Result<&'a str, ParseError> {
        let b = self.text.as_bytes();
        let start = self.pos;
        let first = |c: u8| c.is_ascii_alphabetic() || c == b'_' || (metric && c == b':');
        if !b.get(start).is_some_and(|&c| first(c)) {
            let what = if metric {
                "a metric name"
            } else {
                "a label name"
            };
            return Err(self.error(format!("expected {what}, found {}", self.found())));
        }
        let mut end = start + 1;
        while b.get(end).is_some_and(|&c| first(c) || c.is_ascii_digit()) {
            end += 1;
        }
        self.pos = end;
        Ok(&self.text[start..end])
    }

    /// A token up to the next space (or tab, in the text format), or the
    /// end of the line.
    pub(super) fn token(&mut self, fmt: Format) -> &'a str {
        let start = self.pos;
        let b = self.text.as_bytes();
        while let Some(&c) = b.get(self.pos) {
            if c == b' ' || (fmt == Format::Text && c == b'\t') {
                break;
            }
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    /// A label set `{name="value",...}`, the cursor on its `{`. Label names
    /// unique; OpenMetrics allows no trailing comma and no blanks, the
    /// text format both.
    pub(super) fn labels(&mut self, fmt: Format) -> Result<Vec<(String, String)>, ParseError> {
        self.expect(b'{', "'{'")?;
        let mut out: Vec<(String, String)> = Vec::new();
        // The names so far; and in a set, once there are enough of them to
        // make a scan slow (a line of many labels is not quadratic).
        let mut names: Vec<&'a str> = Vec::new();
        let mut seen: std::collections::HashSet<&'a str> = std::collections::HashSet::new();
        let text = fmt == Format::Text;
        loop {
            if text {
                self.blanks();
            }
            if self.eat(b'}') {
                return Ok(out);
            }
            let at = self.pos;
            let name = self.label_name()?;
            if text {
                self.blanks();
            }
            self.expect(b'=', "'=' after the label name")?;
            if text {
                self.blanks();
            }
            self.expect(b'"', "'\"' opening the label value")?;
            let value = self.quoted("label value")?;
            if name == "__name__" {
                return Err(self.error_at(at, "the metric name given again as __name__"));
            }
            let twice = if names.len() < 16 {
                names.contains(&name)
            } else {
                if seen.is_empty() {
                    seen.extend(names.iter().copied());
                }
                !seen.insert(name)
            };
            if twice {
                return Err(self.error_at(at, format!("label {name:?} given twice")));
            }
            names.push(name);
            out.push((name.to_string(), value));
            if text {
                self.blanks();
            }
            if self.eat(b',') {
                if fmt == Format::OpenMetrics && self.peek() == Some(b'}') {
                    return Err(self.error_at(self.pos - 1, "a trailing comma in labels"));
                }
                continue;
            }
            if self.peek() != Some(b'}') {
                return Err(self.error(format!(
                    "expected ',' or '}}' after a label, found {}",
                    self.found()
                )));
            }
        }
    }

    /// The rest of a quoted string, the cursor after its opening `"`;
    /// escapes as [`unescape`]'s.
    fn quoted(&mut self, what: &str) -> Result<String, ParseError> {
        let b = self.text.as_bytes();
        let start = self.pos;
        loop {
            match b.get(self.pos) {
                None => return Err(self.error(format!("the {what} is not closed with '\"'"))),
                Some(b'"') => break,
                Some(b'\\') if self.pos + 1 < b.len() => self.pos += 2,
                Some(_) => self.pos += 1,
            }
        }
        let raw = &self.text[start..self.pos];
        self.pos += 1;
        Ok(unescape(raw, true))
    }
}

/// A label value's or a HELP text's escapes undone: `\\` and `\n`, and
/// `\"` when `quote` (label values; HELP in OpenMetrics). Any other
/// backslash is kept with what follows it, as the OpenMetrics grammar
/// allows (`BS normal-char`) and prometheus_client reads it.
pub(super) fn unescape(text: &str, quote: bool) -> String {
    if !text.contains('\\') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quote => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// `text` quoted for a message, cut after 40 characters (input may be
/// long).
pub(super) fn shown(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{:?}…", &text[..i]),
        None => format!("{text:?}"),
    }
}

/// A number: OpenMetrics' `realnumber` (`[sign] digits [. digits] [e
/// [sign] digits]`, leading zeros allowed), or `[sign] inf`/`infinity`
/// and `nan` (any case).
pub(super) fn number(s: &str) -> Option<f64> {
    if real(s) {
        return s.parse().ok();
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    s.eq_ignore_ascii_case("nan").then_some(f64::NAN)
}

/// Whether `s` is a `realnumber`.
fn real(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let int = digits(&mut i);
    let mut frac = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac = digits(&mut i);
    }
    if int == 0 && frac == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// An OpenMetrics timestamp (seconds, a `realnumber`), exact to the
/// nanosecond when written without an exponent.
pub(super) fn om_timestamp(s: &str) -> Option<Timestamp> {
    if !real(s) {
        return None;
    }
    if !s.contains(['e', 'E']) {
        let (negative, digits) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let Ok(whole) = (if whole.is_empty() {
            Ok(0)
        } else {
            whole.parse::<i64>()
        }) else {
            // Beyond `i64` seconds: kept as the nearest `f64`.
            return float_timestamp(s);
        };
        let mut nsec = 0u32;
        for (k, d) in frac.bytes().take(9).enumerate() {
            nsec += u32::from(d - b'0') * 10u32.pow(8 - k as u32);
        }
        return Some(if negative && (whole, nsec) != (0, 0) {
            // -1.25 is -2 s + 0.75 s.
            if nsec == 0 {
                Timestamp {
                    sec: -whole,
                    nsec: 0,
                }
            } else {
                Timestamp {
                    sec: -whole - 1,
                    nsec: 1_000_000_000 - nsec,
                }
            }
        } else {
            Timestamp { sec: whole, nsec }
        });
    }
    float_timestamp(s)
}

/// A timestamp through the nearest `f64` (an exponent, or seconds beyond
/// `i64`; those saturate).
fn float_timestamp(s: &str) -> Option<Timestamp> {
    let x: f64 = s.parse().ok()?;
    if !x.is_finite() {
        return None;
    }
    let sec = x.floor();
    let nsec = ((x - sec) * 1e9).round() as u32;
    // Rounding up to a whole second carries.
    Some(if nsec >= 1_000_000_000 {
        Timestamp {
            sec: sec as i64 + 1,
            nsec: 0,
        }
    } else {
        Timestamp {
            sec: sec as i64,
            nsec,
        }
    })
}

/// A text-format timestamp: integer milliseconds, as seconds.
pub(super) fn text_timestamp(s: &str) -> Option<Timestamp> {
    let ms: i64 = s.parse().ok()?;
    Some(Timestamp {
        sec: ms.div_euclid(1000),
        nsec: (ms.rem_euclid(1000) as u32) * 1_000_000,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_grammar() {
        for (s, v) in [
            ("1", 1.0),
            ("-1.5", -1.5),
            ("+.5", 0.5),
            ("1.", 1.0),
            ("007", 7.0),
            ("1e3", 1000.0),
            ("1E-3", 0.001),
            ("+Inf", f64::INFINITY),
            ("-infinity", f64::NEG_INFINITY),
        ] {
            assert_eq!(number(s), Some(v), "{s}");
        }
        assert!(number("NaN").unwrap().is_nan());
        for bad in [
            "", "+", ".", "1e", "e1", "0x1", "1_000", "1.2.3", "-nan", " 1", "1 ", "Inf1",
        ] {
            assert_eq!(number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn timestamps_are_exact() {
        assert_eq!(
            om_timestamp("1.5"),
            Some(Timestamp {
                sec: 1,
                nsec: 500_000_000
            })
        );
        assert_eq!(
            om_timestamp("0.0000000010"),
            Some(Timestamp { sec: 0, nsec: 1 })
        );
        assert_eq!(
            om_timestamp("-1.25"),
            Some(Timestamp {
                sec: -2,
                nsec: 750_000_000
            })
        );
        assert_eq!(om_timestamp("1e3"), Some(Timestamp { sec: 1000, nsec: 0 }));
        assert_eq!(om_timestamp("Inf"), None);
        assert_eq!(
            text_timestamp("-1500"),
            Some(Timestamp {
                sec: -2,
                nsec: 500_000_000
            })
        );
        assert_eq!(text_timestamp("1.5"), None);
    }
}
