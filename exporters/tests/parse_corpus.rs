//! The OpenMetrics project's parser tests (`tests/data/openmetrics-parsers`,
//! its `tests/testdata/parsers`): every good case parses, every bad case is
//! an error.

use std::path::Path;

use nanometrics_exporters::parse;

#[test]
fn the_openmetrics_parser_tests_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/openmetrics-parsers");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() > 200,
        "the corpus is missing: {}",
        root.display()
    );
    let mut wrong = Vec::new();
    for case in &cases {
        let spec = std::fs::read_to_string(case.join("test.json")).unwrap();
        let good = spec.replace(' ', "").contains("\"shouldParse\":true");
        let body = std::fs::read(case.join("metrics")).unwrap();
        let result = std::str::from_utf8(&body)
            .map_err(|e| e.to_string())
            .and_then(|b| parse::openmetrics(b).map_err(|e| e.to_string()));
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        match (good, result) {
            (true, Err(e)) => wrong.push(format!("{name}: should parse, got {e}")),
            (false, Ok(_)) => wrong.push(format!("{name}: should not parse")),
            _ => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases wrong:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}
