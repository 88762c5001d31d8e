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
# stdout: the budget table, then markdown tables for docs/benchmarks.md.
# The benches' own output goes to stderr. Exits 1 if a budget fails, 2 if a
# result is missing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

warm_up=${BENCH_WARM_UP:-0.5}
measure=${BENCH_MEASURE:-1}
command="cargo bench -p nanometrics-benches --bench counter --bench histogram --bench labels --bench encode -- --warm-up-time $warm_up --measurement-time $measure --noplot"

runs=${BENCH_CHECK_RUNS:-1}
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
    echo "BENCH_CHECK_RUNS must be a positive integer, not '$runs'" >&2
    exit 2
fi
store="$target_dir/bench-check"
rm -rf "$store"
mkdir -p "$store"

# Saves the medians criterion left in target/criterion as one run's results,
# {"group\timpl": ns}, keeping only those written since epoch second $2 (so
# a filtered run does not pick up older runs' results). Found through
# benchmark.json rather than by rebuilding directory names: criterion
# rewrites '/' (and more) in them.
collect() {
    python3 - "$target_dir/criterion" "$1" "$2" <<'PY'
import json
import sys
from pathlib import Path

root, out, since = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
results = {}
if root.is_dir():
    for bj in root.glob("**/new/benchmark.json"):
        try:
            meta = json.loads(bj.read_text())
            est_path = bj.parent / "estimates.json"
            if est_path.stat().st_mtime < since:
                continue
            est = json.loads(est_path.read_text())
        except (OSError, ValueError):
            continue
        results[meta["group_id"] + "\t" + meta["function_id"]] = est["median"]["point_estimate"]
out.write_text(json.dumps(results))
PY
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

BENCH_COMMAND="$command" RUSTC_VERSION="$(rustc --version)" BENCH_RUNS="$runs" BENCH_FILTERED="$#" \
    python3 - "$store" <<'PY'
import json
import os
import statistics
import sys
from pathlib import Path

store = Path(sys.argv[1])
nruns = int(os.environ.get("BENCH_RUNS", "1"))
# Criterion arguments (a filter) were given: checks of groups that did not
# run are shown as such, not failed as missing.
filtered = os.environ.get("BENCH_FILTERED", "0") != "0"

# (group, impls in display order). Impls found on disk but not listed here
# are shown after these, sorted.
GROUPS = [
    ("counter/uncontended", "1 thread",
     ["nanometrics", "plain_store", "shared_fetch_add", "prometheus",
      "prometheus_client", "metrics", "opentelemetry"]),
    ("counter/contended_2t", "2 threads on one series, per op per thread",
     ["nanometrics", "plain_store", "shared_fetch_add", "prometheus",
      "prometheus_client", "metrics", "opentelemetry"]),
    ("histogram/uncontended", "1 thread, 14 default buckets",
     ["nanometrics", "plain_store", "prometheus", "prometheus_client", "opentelemetry"]),
    ("histogram/contended_2t", "2 threads on one series, per op per thread",
     ["nanometrics", "prometheus", "prometheus_client", "opentelemetry"]),
    ("labels/lookup_inc_2", "lookup of 2 label values per call, then inc",
     ["nanometrics", "prometheus", "prometheus_client", "opentelemetry"]),
    ("labels/lookup_inc_2_contended_2t", "the same on 2 threads, one series, per op per thread",
     ["nanometrics", "prometheus"]),
    ("counter/while_scraping", "1 thread, while another thread scrapes 1,000 series in a loop",
     ["nanometrics", "prometheus"]),
    ("encode/10k_series", "render 10,000 counter series as text, per render",
     ["nanometrics", "nanometrics_snapshot", "prometheus_client", "prometheus"]),
]

# (group, peer, minimum peer_ns / nanometrics_ns), from DESIGN.md.
BUDGETS = [
    ("counter/uncontended", "prometheus", 4.0),
    ("counter/contended_2t", "prometheus", 8.0),
    ("histogram/uncontended", "prometheus_client", 4.0),
    ("histogram/uncontended", "prometheus", 6.0),
    ("labels/lookup_inc_2", "prometheus", 2.0),
    ("encode/10k_series", "prometheus_client", 2.0),
    ("encode/10k_series", "prometheus", 4.0),
]

STAT = "median"  # of criterion's per-iteration time, in ns

# One dict per run: (group, impl) -> ns/op.
per_run = []
for k in range(1, nruns + 1):
    raw = json.loads((store / f"run-{k}.json").read_text())
    per_run.append({tuple(key.split("\t", 1)): ns for key, ns in raw.items()})
# (group, impl) -> median ns/op over the runs that measured it.
keys = {key for run in per_run for key in run}
results = {key: statistics.median(run[key] for run in per_run if key in run)
           for key in keys}


def fmt_ns(ns):
    return f"{ns:.2f}" if ns < 100 else f"{ns:.0f}"


missing = []
failed = 0
rows = []
for group, peer, budget in BUDGETS:
    nm = results.get((group, "nanometrics"))
    other = results.get((group, peer))
    # A ratio is only ever taken within one run.
    ratios = [run[(group, peer)] / run[(group, "nanometrics")] for run in per_run
              if (group, peer) in run and (group, "nanometrics") in run]
    if nm is None or other is None or not ratios:
        if filtered and nm is None and other is None:
            rows.append((group, "-", peer, "-", "-", "-", "-", f">= {budget:g}x", "not run"))
            continue
        missing += [f"{group}/{i}" for i, v in (("nanometrics", nm), (peer, other))
                    if v is None and f"{group}/{i}" not in missing]
        rows.append((group, "-", peer, "-", "-", "-", "-", f">= {budget:g}x", "MISSING"))
        continue
    ratio = statistics.median(ratios)
    ok = ratio >= budget
    failed += not ok
    spread = f"{min(ratios):.2f}-{max(ratios):.2f}x" if len(ratios) > 1 else "-"
    # The ratio no implementation can beat in this harness: the peer over
    # the group's `plain_store` floor (a bare store), where there is one.
    ceilings = [run[(group, peer)] / run[(group, "plain_store")] for run in per_run
                if (group, peer) in run and (group, "plain_store") in run]
    ceiling = f"{statistics.median(ceilings):.2f}x" if ceilings else "-"
    rows.append((group, fmt_ns(nm), peer, fmt_ns(other), f"{ratio:.2f}x", spread, ceiling,
                 f">= {budget:g}x", "PASS" if ok else "FAIL"))

head = ("check", "nanometrics ns", "peer", "peer ns", "ratio", "range", "ceiling", "budget",
        "result")
widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
if nruns == 1:
    print(f"== budgets: peer / nanometrics, {STAT} ns per op, same run ==")
else:
    print(f"== budgets: median over {nruns} runs of the same-run ratio peer / nanometrics "
          f"({STAT} ns per op); range = lowest-highest run ==")
print("(ceiling: peer / plain_store, the ratio a bare store to an owned slot would reach"
      " in the same harness; '-' where the group has no such floor)")
for r in [head] + rows:
    print("  ".join(str(c).ljust(w) if i in (0, 2, 8) else str(c).rjust(w)
                    for i, (c, w) in enumerate(zip(r, widths))).rstrip())
print()

print("== markdown for docs/benchmarks.md ==")
print()
cpu = "unknown CPU"
try:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
except OSError:
    pass
runs_note = "" if nruns == 1 else f", median over {nruns} runs"
print(f"{STAT.capitalize()} time per operation (ns{runs_note}), criterion, "
      f"`{os.environ.get('BENCH_COMMAND', '')}`; "
      f"{os.cpu_count()} CPUs ({cpu}), {os.environ.get('RUSTC_VERSION', 'rustc ?')}. "
      "\"× nanometrics\" is the implementation's time over nanometrics' time"
      + (" in the same run." if nruns == 1 else " (of the medians)."))
for group, what, order in GROUPS:
    found = sorted(i for (g, i) in results if g == group)
    impls = [i for i in order if i in found] + [i for i in found if i not in order]
    print()
    print(f"### `{group}` ({what})")
    print()
    if not impls:
        print("_no results_")
        continue
    nm = results.get((group, "nanometrics"))
    print("| implementation | ns/op | × nanometrics |")
    print("|---|---:|---:|")
    for i in impls:
        ns = results[(group, i)]
        rel = f"{ns / nm:.2f}×" if nm else "-"
        name = f"**{i}**" if i == "nanometrics" else i
        print(f"| {name} | {fmt_ns(ns)} | {rel} |")

if missing:
    print(f"\nmissing results: {', '.join(missing)} (under {store})", file=sys.stderr)
    sys.exit(2)
if failed:
    print(f"\n{failed} budget(s) failed", file=sys.stderr)
    sys.exit(1)
PY
