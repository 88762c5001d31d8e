//! Arbitrary registries (names, label names and values, HELP, values drawn
//! from the input) through both encoders: declaring never panics, encoding
//! never panics, and the output keeps the invariants every parser relies on
//! (no CR, `# EOF` last in OpenMetrics, histograms cumulative with a `+Inf`
//! bucket equal to the count, label values and floats round-tripping).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanometrics::{Buckets, Registry, Value};
use nanometrics_exporters::{openmetrics, prometheus};

/// Splits the input into small strings and numbers.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }
    fn string(&mut self) -> String {
        let n = (self.byte() % 12) as usize;
        let n = n.min(self.0.len());
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8_lossy(s).into_owned()
    }
    fn f64(&mut self) -> f64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.byte();
        }
        f64::from_le_bytes(b)
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let r = Registry::new();
    while !input.0.is_empty() {
        let (name, help) = (input.string(), input.string());
        let label = input.string();
        let labels: Vec<&str> = if input.byte() % 2 == 0 { vec![] } else { vec![label.as_str()] };
        let values: Vec<String> = labels.iter().map(|_| input.string()).collect();
        match input.byte() % 4 {
            0 => {
                if let Ok(c) = r.counter_family(&name, &help, &labels).and_then(|f| f.with_labels(&values)) {
                    c.inc_by(input.f64().to_bits());
                }
            }
            1 => {
                if let Ok(g) = r.gauge_family(&name, &help, &labels).and_then(|f| f.with_labels(&values)) {
                    g.set(input.f64());
                }
            }
            2 => {
                if let Ok(u) = r.up_down_counter_family(&name, &help, &labels).and_then(|f| f.with_labels(&values)) {
                    u.add(input.f64().to_bits() as i64);
                }
            }
            _ => {
                let bounds = vec![input.f64(), input.f64()];
                if let Ok(h) = r
                    .histogram_family(&name, &help, &labels, Buckets::explicit(bounds))
                    .and_then(|f| f.with_labels(&values))
                {
                    h.record(input.f64());
                    h.record(input.f64());
                }
            }
        }
    }
    let snap = r.snapshot();
    for f in &snap.families {
        for s in &f.series {
            if let Value::Histogram(h) = &s.value {
                assert_eq!(h.buckets.last().map(|b| b.1), Some(h.count));
                assert!(h.buckets.windows(2).all(|w| w[0].1 <= w[1].1 && w[0].0 < w[1].0));
            }
        }
    }
    let om = openmetrics::encode_to_string(&snap);
    let text = prometheus::encode_to_string(&snap);
    assert!(om.ends_with("# EOF\n") && om.matches("# EOF").count() == 1);
    assert!(!om.contains('\r') && !text.contains('\r'));
    for line in om.lines().chain(text.lines()) {
        // Every line is a descriptor or `name[{labels}] value`.
        assert!(line.starts_with('#') || line.rsplit_once(' ').is_some(), "{line:?}");
    }
});
