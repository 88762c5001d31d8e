#!/usr/bin/env bash
# The one test command (README, .ci/run): formatting, lints, every test, and a
# quick loom run. Installs what it needs; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT

step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
ci/setup.sh

step "conformance checker: its own tests, mypy --strict"
.venv/bin/python -m pytest -q -p no:cacheprovider -W error tools/conformance 2>&1 | tee -a "$log"
.venv/bin/python -m mypy --strict tools/conformance 2>&1 | tee -a "$log"

step "cargo fmt --check"
cargo fmt --all -- --check

step "no import cycles among the files of core/src and exporters/src"
python3 ci/module_cycles.py core/src
python3 ci/module_cycles.py exporters/src

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p nanometrics-exporters -p nanometrics-benches --all-targets --features nats,otlp,tracing --locked -- -D warnings
cargo clippy -p nanometrics-exporters --all-targets --features otlp-grpc,bridge-metrics,bridge-prometheus,bridge-otel,tracing-opentelemetry --locked -- -D warnings

step "fuzz targets (their own workspace): clippy -D warnings"
cargo clippy --manifest-path fuzz/Cargo.toml --all-targets --locked -- -D warnings

step "cargo doc -D warnings (broken links, private links)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet
RUSTDOCFLAGS="-D warnings" cargo doc -p nanometrics-exporters --features nats,otlp-grpc,bridge-metrics,bridge-prometheus,bridge-otel,tracing-opentelemetry --no-deps --locked --quiet

step "cargo test (unit, integration, stress, property, doc)"
cargo test --workspace --locked 2>&1 | tee -a "$log"

step "NATS sink against a real nats-server (feature nats)"
cargo test -p nanometrics-exporters --features nats --locked --test nats_sink 2>&1 | tee -a "$log"

step "OTLP exporter (HTTP and gRPC) against a decoding receiver; the bridges (features otlp-grpc, bridge-*)"
features=otlp-grpc,bridge-metrics,bridge-prometheus,bridge-otel,tracing-opentelemetry
cargo test -p nanometrics-exporters --features $features --locked --test otlp_exporter --test backend_switching --test bridge_metrics --test bridge_prometheus --test bridge_otel --test bridge_tracing --lib 2>&1 | tee -a "$log"
cargo test -p nanometrics-exporters --features $features --locked --doc 2>&1 | tee -a "$log"
# The tracing layer without tracing-opentelemetry (its own code path).
cargo test -p nanometrics-exporters --features tracing --locked --test bridge_tracing 2>&1 | tee -a "$log"

step "Python package: build the extension into .venv (maturin), then pytest"
ci/py.sh 2>&1 | tee -a "$log"

# Depth 3 takes seconds here; ci/loom.sh alone defaults to 2.
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
step "loom models (LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS)"
ci/loom.sh --locked --tests 2>&1 | tee -a "$log"

# One closing line over every runner above.
python3 - "$log" <<'PY'
import re, sys
passed = failed = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.search(r"test result: \w+\. (\d+) passed; (\d+) failed", line)
    if m:
        passed += int(m.group(1)); failed += int(m.group(2))
    # pytest's closing line: "3 failed, 48 passed in 20.1s" (-q), or the same
    # between "=" rules; either count may be absent.
    elif re.search(r"^=*\s*(\d+ (passed|failed|errors?)(, )?)+.* in [\d.]+s\b", line):
        m = re.search(r"(\d+) passed", line); passed += int(m.group(1)) if m else 0
        m = re.search(r"(\d+) failed", line); failed += int(m.group(1)) if m else 0
        m = re.search(r"(\d+) errors?", line); failed += int(m.group(1)) if m else 0
print(f"\nsummary: {passed} passed, {failed} failed")
sys.exit(1 if failed or passed == 0 else 0)
PY
