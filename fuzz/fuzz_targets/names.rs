//! Name and label validation: never panics, and accepts exactly the
//! documented grammars (`[a-zA-Z_:][a-zA-Z0-9_:]*` for metric names,
//! `[a-zA-Z_][a-zA-Z0-9_]*` minus reserved ones for label names).
#![no_main]

use libfuzzer_sys::fuzz_target;

fn metric_grammar(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || c == b':')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    assert_eq!(nanometrics::names::is_valid_metric_name(&s), metric_grammar(&s));
    let label_ok = nanometrics::names::validate_label_name(&s).is_ok();
    let expected = metric_grammar(&s) && !s.contains(':') && !s.starts_with("__") && s != "le" && s != "quantile";
    assert_eq!(label_ok, expected, "{s:?}");
    let r = nanometrics::Registry::new();
    let _ = r.counter(&s, &s);
    let _ = r.counter_family("x_total", "x", &[&s]).and_then(|f| f.with_labels(&[&*s]));
    let _ = r.sub_registry(&s, &[(&*s, &*s)]);
});
