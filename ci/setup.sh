#!/usr/bin/env bash
# Installs (idempotently) what the test run needs:
#  - rustfmt and clippy;
#  - a virtual environment .venv with the Python tools pinned in
#    ci/requirements.txt: prometheus_client and abnf for the conformance
#    checker tools/conformance/check_exposition.py and the exporter tests
#    (they find it at .venv/bin/python, or via NANOMETRICS_PYTHON), maturin,
#    pytest and mypy for the Python package in py/. They are installed again
#    whenever ci/requirements.txt changes (its hash is kept in .venv);
#  - promtool, from Debian's prometheus package;
#  - nats-server, from Debian's package (the NATS sink's tests start one);
#  - VictoriaMetrics, a real OTLP receiver, into .cache/ (ci/victoria-metrics.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  if [ ! -f /tmp/.nanometrics-apt-updated ]; then
    as_root apt-get update -qq && touch /tmp/.nanometrics-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! need cargo; then
  echo "cargo not found: install Rust (https://rustup.rs) first" >&2
  exit 1
fi
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

if ! need python3; then
  apt_install python3 python3-venv
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv || { apt_install python3-venv && python3 -m venv .venv; }
fi
requirements_hash=$(sha256sum ci/requirements.txt | cut -d' ' -f1)
stamp=.venv/.ci-requirements.sha256
if [ "$(cat "$stamp" 2>/dev/null)" != "$requirements_hash" ] \
  || ! .venv/bin/python -c 'import prometheus_client, abnf, pytest, mypy, opentelemetry.proto, grpc' >/dev/null 2>&1 \
  || [ ! -x .venv/bin/maturin ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -r ci/requirements.txt
  echo "$requirements_hash" >"$stamp"
fi

if ! need promtool; then
  apt_install prometheus
fi
if ! need nats-server; then
  apt_install nats-server
fi
vm=$(ci/victoria-metrics.sh)

cargo --version
.venv/bin/python -c 'import prometheus_client; print("prometheus_client", prometheus_client.__file__)'
.venv/bin/maturin --version
promtool --version 2>&1 | head -n 1
nats-server --version
"$vm" -version
