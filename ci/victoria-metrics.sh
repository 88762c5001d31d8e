#!/usr/bin/env bash
# Fetches (once) a real OTLP receiver for the tests: VictoriaMetrics from
# Debian trixie's `victoria-metrics` package, downloaded with apt using a
# private state directory (the system's apt sources stay as they are) and
# extracted into .cache/victoria-metrics (installing it with dpkg would
# want a newer libzstd; the binary is static). Prints the binary's path.
# Safe to run again: an existing binary is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

dir="$PWD/.cache/victoria-metrics"
bin="$dir/x/usr/bin/victoria-metrics"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
rm -rf "$dir"
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
touch "$dir/status"
sources=/etc/apt/sources.list.d/debian.sources
if [ ! -f "$sources" ]; then
  echo "victoria-metrics.sh: $sources not found (a Debian deb822 sources file is needed to reach trixie)" >&2
  exit 1
fi
# The first stanza (the main archive), with trixie as its suite.
sed -e 's/^Suites:.*/Suites: trixie/' -e '/^$/q' "$sources" >"$dir/trixie.sources"
opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$dir"
  -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o "Dir::State::Status=$dir/status")
apt-get "${opts[@]}" update -qq >&2
(cd "$dir" && apt-get "${opts[@]}" download -qq victoria-metrics >&2 && dpkg-deb -x victoria-metrics_*_amd64.deb x)
rm -rf "$dir/lists" "$dir/cache"
test -x "$bin"
echo "$bin"
