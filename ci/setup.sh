#!/usr/bin/env bash
# Installs (idempotently) what the test run needs. Today: the Rust toolchain's
# rustfmt and clippy, and python3 for the summary. Later issues add the Python
# packages, maturin and Debian's prometheus here.
set -euo pipefail
need() { command -v "$1" >/dev/null 2>&1; }
if ! need cargo; then
  echo "cargo not found: install Rust (https://rustup.rs) first" >&2
  exit 1
fi
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi
if ! need python3; then
  apt-get update -qq && apt-get install -y -qq python3
fi
cargo --version
