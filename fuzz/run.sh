#!/usr/bin/env bash
# Builds and runs the fuzz targets with libFuzzer on *stable* Rust: the
# coverage instrumentation cargo-fuzz adds (`-Cpasses=sancov-module` and the
# sanitizer-coverage LLVM options) is stable; only AddressSanitizer needs
# nightly, and safe Rust does not need it to find panics.
#   fuzz/run.sh [TARGET] [SECONDS]     (default: every target, 60 s each)
# With a nightly toolchain, `cargo +nightly fuzz run encode` works as usual.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${2:-60}"
targets="${1:-encode names}"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks --cfg fuzzing"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
# An explicit --target keeps RUSTFLAGS off build scripts (as cargo-fuzz does).
host=$(rustc -vV | sed -n 's/^host: //p')
for t in $targets; do
  cargo build --release --target "$host" --bin "$t"
  mkdir -p "corpus/$t" "artifacts/$t"
  "$CARGO_TARGET_DIR/$host/release/$t" -max_total_time="$seconds" -artifact_prefix="artifacts/$t/" "corpus/$t"
done
