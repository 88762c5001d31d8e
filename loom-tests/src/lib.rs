//! loom models of nanometrics primitives live in `tests/`; run them with `ci/loom.sh`.
