//! [`Selector`]: which series a watch follows, written like a PromQL
//! instant-vector selector: a family name, then optionally label matchers
//! in braces, `ttft_seconds{model="llama",status!="error"}`.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;
use crate::names::is_valid_metric_name;
use crate::snapshot::LabelSet;

/// A family and label matchers (`=` and `!=`; a label the series lacks
/// has the empty value, as in PromQL).
///
/// ```
/// use nanometrics::realtime::Selector;
/// let s: Selector = r#"ttft_seconds{model="llama", status!="error"}"#.parse()?;
/// assert_eq!(s.family(), "ttft_seconds");
/// assert_eq!(s.to_string(), r#"ttft_seconds{model="llama",status!="error"}"#);
/// assert!("ttft_seconds{model=~\"l.*\"}".parse::<Selector>().is_err());
/// # Ok::<(), nanometrics::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selector {
    family: String,
    matchers: Vec<Matcher>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Matcher {
    name: String,
    value: String,
    equal: bool,
}

impl Selector {
    /// The family's name as registered, registry prefixes included (the
    /// name a [`Snapshot`](crate::Snapshot) lists it under).
    pub fn family(&self) -> &str {
        &self.family
    }

    /// The same matchers on the family `name`.
    pub(crate) fn with_family(mut self, name: String) -> Selector {
        self.family = name;
        self
    }

    /// Whether a series with `labels` is selected.
    pub(crate) fn matches(&self, labels: &LabelSet) -> bool {
        self.matchers.iter().all(|m| {
            let v = labels.get(&m.name).unwrap_or("");
            (v == m.value) == m.equal
        })
    }
}

fn invalid(s: &str, why: &str) -> Error {
    Error::InvalidWatch(format!(
        "selector {s:?}: {why} (expected name{{label=\"value\",label!=\"value\"}})"
    ))
}

impl FromStr for Selector {
    type Err = Error;

    fn from_str(s: &str) -> Result<Selector, Error> {
        let t = s.trim();
        let (name, rest) = match t.find('{') {
            Some(i) => (t[..i].trim(), Some(&t[i + 1..])),
            None => (t, None),
        };
        if !is_valid_metric_name(name) {
            return Err(invalid(s, "the family name is not a valid metric name"));
        }
        let mut matchers = Vec::new();
        if let Some(mut rest) = rest {
            loop {
                rest = rest.trim_start();
                if let Some(after) = rest.strip_prefix('}') {
                    if !after.trim().is_empty() {
                        return Err(invalid(s, "text after the closing brace"));
                    }
                    break;
                }
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .ok_or_else(|| invalid(s, "unclosed brace"))?;
                let label = &rest[..end];
                if label.is_empty() || label.starts_with(|c: char| c.is_ascii_digit()) {
                    return Err(invalid(s, "a matcher must start with a label name"));
                }
                rest = rest[end..].trim_start();
                let equal = if let Some(r) = rest.strip_prefix("!=") {
                    rest = r;
                    false
                } else if rest.starts_with("=~") || rest.starts_with("!~") {
                    return Err(invalid(
                        s,
                        "regular-expression matchers (=~, !~) are not supported",
                    ));
                } else if let Some(r) = rest.strip_prefix('=') {
                    rest = r;
                    true
                } else {
                    return Err(invalid(s, "a label name must be followed by = or !="));
                };
                let (value, r) = quoted(rest.trim_start()).ok_or_else(|| {
                    invalid(s, "a matcher's value must be a double-quoted string")
                })?;
                matchers.push(Matcher {
                    name: label.to_string(),
                    value,
                    equal,
                });
                rest = r.trim_start();
                if rest.is_empty() {
                    return Err(invalid(s, "unclosed brace"));
                }
                if let Some(r) = rest.strip_prefix(',') {
                    rest = r;
                } else if !rest.starts_with('}') {
                    return Err(invalid(s, "matchers are separated by commas"));
                }
            }
        }
        Ok(Selector {
            family: name.to_string(),
            matchers,
        })
    }
}

/// A double-quoted string with `\\`, `\"` and `\n` escapes at the start of
/// `s`: its value and the rest of `s`.
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('"')?.char_indices();
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 2..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                c @ ('\\' | '"') => out.push(c),
                _ => return None,
            },
            c => out.push(c),
        }
    }
    None
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.family)?;
        if self.matchers.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, m) in self.matchers.iter().enumerate() {
            let v = m
                .value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            let op = if m.equal { "=" } else { "!=" };
            write!(f, "{}{}{op}\"{v}\"", if i > 0 { "," } else { "" }, m.name)?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_back() {
        for s in [
            "a",
            "a{}",
            r#"a_b:c{x="1"}"#,
            r#"a{ x = "q\"u\\o\nte" , y != "" }"#,
        ] {
            let sel: Selector = s.parse().unwrap();
            let again: Selector = sel.to_string().parse().unwrap();
            assert_eq!(sel, again, "{s}");
        }
        let sel: Selector = r#"a{ x = "q\"u\\o\nte" }"#.parse().unwrap();
        assert_eq!(sel.matchers[0].value, "q\"u\\o\nte");
    }

    #[test]
    fn rejects_with_the_rule() {
        for (s, why) in [
            ("", "not a valid metric name"),
            ("0a", "not a valid metric name"),
            ("a{x=\"1\"", "unclosed"),
            ("a{x=1}", "double-quoted"),
            ("a{x~\"1\"}", "followed by = or !="),
            ("a{x=~\"1\"}", "not supported"),
            ("a{x=\"1\" y=\"2\"}", "commas"),
            ("a{x=\"1\"} b", "after the closing brace"),
            ("a{=\"1\"}", "label name"),
            ("a{x=\"\\q\"}", "double-quoted"),
        ] {
            let e = s.parse::<Selector>().unwrap_err().to_string();
            assert!(e.contains(why), "{s}: {e}");
        }
    }
}
