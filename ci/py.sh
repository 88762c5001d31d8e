#!/usr/bin/env bash
# Builds the Python extension (py/) into .venv with maturin and runs its
# tests (pytest: API, prometheus_client compatibility, threads, conformance,
# stubs). Shared by developers and CI:  ci/py.sh [pytest args]
# PY_PROFILE=optimized builds with fat LTO (what py/benches/bench.py
# wants); PY_PROFILE=release without LTO.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/maturin ] || ci/setup.sh >/dev/null
export VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH"
# One target dir for everything (maturin would otherwise pick its own).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
profile=(--profile "${PY_PROFILE:-dev}")
maturin develop --locked "${profile[@]}" -m py/Cargo.toml
.venv/bin/python -c 'import nanometrics._native' # fails loudly if the build did not land
exec .venv/bin/python -m pytest -q -p no:cacheprovider py/tests "$@"
