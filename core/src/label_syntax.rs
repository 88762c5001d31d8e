//! The label-name syntax, `[a-zA-Z_][a-zA-Z0-9_]*`: what a series' label
//! names (`names.rs`, which adds the reserved names) and an exemplar's
//! (`exemplar.rs`) are made of. A leaf: it depends on nothing.

/// Whether `name` has the label-name syntax (reserved names aside).
pub(crate) fn is_label_name_syntax(name: &str) -> bool {
    let mut b = name.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}
