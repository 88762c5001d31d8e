//! Percent-decoding, shared by the stream's query string and the OTLP
//! environment variables (`%XX` escapes; `+` as a space only where HTML
//! forms write it).

/// `s` with its `%XX` escapes decoded (and `+` as a space when
/// `plus_is_space`); the result must be UTF-8. The error names the rule.
pub(crate) fn decode(s: &str, plus_is_space: bool) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("{s:?}: a % must be followed by two hex digits"))?;
                out.push(hex);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} does not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn escapes_and_plus() {
        assert_eq!(decode("a%20b+c", true).unwrap(), "a b c");
        assert_eq!(decode("a%20b+c", false).unwrap(), "a b+c");
        for bad in ["%", "%z1", "%+f", "%FF"] {
            assert!(decode(bad, false).is_err(), "{bad}");
        }
    }
}
