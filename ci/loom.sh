#!/usr/bin/env bash
# Runs the loom models in loom-tests/ (one file per concurrent primitive).
# Shared by developers and CI:  ci/loom.sh [extra cargo test args]
# LOOM_MAX_PREEMPTIONS bounds the search (default 2; raise it for a deeper run).
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="${RUSTFLAGS:-} --cfg nanometrics_loom -C debug-assertions=on"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
# A separate target dir: the cfg changes every crate's build.
export CARGO_TARGET_DIR="${LOOM_TARGET_DIR:-target/loom}"
exec cargo test --release -p nanometrics-loom-tests "$@"
