//! `#[derive(Metrics)]` refuses at compile time, with a span on the field
//! at fault: a metric without a doc comment, a field type that is not a
//! metric, a family without labels, labels or buckets where they do not
//! belong, unknown keys, and what is not a struct with named fields. The
//! expected messages are the `.stderr` files beside each case.
#![cfg(feature = "derive")]

#[test]
fn compile_errors_point_at_the_field() {
    trybuild::TestCases::new().compile_fail("tests/derive_errors/*.rs");
}
