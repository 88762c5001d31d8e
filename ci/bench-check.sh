#!/usr/bin/env bash
# Runs the criterion benches in a short mode and checks the performance
# budgets of DESIGN.md as ratios between implementations measured in the
# same run (absolute times drift between machines; ratios much less).
#
# Usage:
#   ci/bench-check.sh [criterion args...]   # e.g. a filter: ci/bench-check.sh counter/
#
# Environment:
#   BENCH_CHECK_SKIP_RUN=1   only re-read the results already in target/criterion
#   BENCH_CHECK_RUNS=<n>     run the benches n times (default 1); each budget is
#                            judged on the median of its n same-run ratios, and
#                            the tables show each implementation's median time.
#                            Some benches (labels) are bimodal from one process
#                            to the next; n = 3 or 5 gives steadier verdicts.
#   BENCH_WARM_UP=<s>        warm-up time per bench (default 0.5)
#   BENCH_MEASURE=<s>        measurement time per bench (default 1)
#
#   BENCH_CHECK_MEMORY=0     skip the memory harness (it runs when no filter is
#                            given; `ci/bench-check.sh memory` runs it alone)
#
# stdout: the budget table, then markdown tables for docs/benchmarks.md
# (both computed by ci/bench_table.py, which also collects the results),
# then the memory table and its budgets (benches/src/bin/memory.rs: resident
# memory per series, each case in its own process, ratios to prometheus).
# The benches' own output goes to stderr. Exits 1 if a budget fails, 2 if a
# result is missing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

warm_up=${BENCH_WARM_UP:-0.5}
measure=${BENCH_MEASURE:-1}
command="cargo bench -p nanometrics-benches --features otlp,tracing --bench counter --bench histogram --bench labels --bench encode --bench facade --bench parse --bench otlp --bench tracing -- --warm-up-time $warm_up --measurement-time $measure --noplot"

runs=${BENCH_CHECK_RUNS:-1}
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
    echo "BENCH_CHECK_RUNS must be a positive integer, not '$runs'" >&2
    exit 2
fi
# `ci/bench-check.sh memory`: the memory harness alone.
if [[ "$*" == memory ]]; then
    echo "+ cargo run --release -p nanometrics-benches --bin memory" >&2
    exec cargo run --release --quiet -p nanometrics-benches --bin memory
fi

store="$target_dir/bench-check"
rm -rf "$store"
mkdir -p "$store"

# Saves the medians criterion left in target/criterion as one run's results,
# keeping only those written since epoch second $2 (ci/bench_table.py).
collect() {
    python3 ci/bench_table.py collect "$target_dir/criterion" "$1" "$2"
}

if [[ "${BENCH_CHECK_SKIP_RUN:-0}" == 1 ]]; then
    runs=1
    collect "$store/run-1.json" 0
else
    for ((k = 1; k <= runs; k++)); do
        start=$(date +%s)
        # The [[bench]] targets are named explicitly so that the criterion
        # flags never reach a libtest harness (which rejects them).
        echo "+ [run $k/$runs] $command $*" >&2
        # shellcheck disable=SC2086 # $command is split on purpose.
        $command "$@" >&2
        collect "$store/run-$k.json" "$start"
    done
fi

# Memory: its own harness (one process per case), unless a criterion
# filter was given.
memory_status=0
if [[ "${BENCH_CHECK_MEMORY:-1}" != 0 && $# == 0 ]]; then
    echo "+ cargo run --release -p nanometrics-benches --bin memory" >&2
    memory_out=$(cargo run --release --quiet -p nanometrics-benches --bin memory) || memory_status=$?
fi

# The budget table and the markdown tables (ci/bench_table.py); its exit
# status (1: a budget failed, 2: a result is missing) is the script's, or the
# memory harness' when that is worse.
table_status=0
BENCH_COMMAND="$command" RUSTC_VERSION="$(rustc --version)" BENCH_RUNS="$runs" BENCH_FILTERED="$#" \
    python3 ci/bench_table.py table "$store" || table_status=$?
if [[ -n "${memory_out:-}" ]]; then
    printf '\n== memory (benches/src/bin/memory.rs) ==\n\n%s\n' "$memory_out"
fi
exit $((table_status > memory_status ? table_status : memory_status))
