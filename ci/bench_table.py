"""The Python half of ci/bench-check.sh: collects criterion's results and
judges the performance budgets as ratios between implementations measured
in the same run.

    python3 ci/bench_table.py collect CRITERION_DIR OUT_JSON SINCE_EPOCH_S
    python3 ci/bench_table.py table STORE_DIR

`collect` saves the medians criterion left under CRITERION_DIR
(target/criterion) as one run's results, {"group\\timpl": ns}, keeping only
those written since epoch second SINCE_EPOCH_S (so a filtered run does not
pick up older runs' results). They are found through benchmark.json rather
than by rebuilding directory names: criterion rewrites '/' (and more) in
them.

`table` reads STORE_DIR/run-1.json ... run-<n>.json and prints the budget
table, then markdown tables for docs/benchmarks.md. Environment (set by
ci/bench-check.sh): BENCH_RUNS (n, default 1), BENCH_FILTERED (the number of
criterion arguments given; not "0" means a filter ran, and checks of groups
that did not run are shown as such, not failed as missing), BENCH_COMMAND,
RUSTC_VERSION (both only quoted in the markdown). Exits 1 if a budget fails,
2 if a result is missing.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

# (group, impl); a tuple of the key's parts, split once on the tab.
Key = Tuple[str, ...]
Row = Tuple[str, str, str, str, str, str, str, str, str]

# (group, description, impls in display order). Impls found on disk but not
# listed here are shown after these, sorted.
GROUPS: List[Tuple[str, str, List[str]]] = [
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
    ("histogram/with_exemplar", "1 thread, each record with an exemplar (one of 16 trace ids)",
     ["nanometrics", "nanometrics_without", "plain_store", "prometheus_client"]),
    ("labels/lookup_inc_2", "lookup of 2 label values per call, then inc",
     ["nanometrics", "prometheus", "prometheus_client", "opentelemetry"]),
    ("labels/lookup_inc_2_contended_2t", "the same on 2 threads, one series, per op per thread",
     ["nanometrics", "prometheus"]),
    ("counter/while_scraping", "1 thread, while another thread scrapes 1,000 series in a loop",
     ["nanometrics", "prometheus"]),
    ("facade/handle_inc", "`metrics` facade: increment on a kept handle",
     ["nanometrics", "metrics_exporter_prometheus"]),
    ("facade/macro_labels", "`metrics` facade: `counter!` with 2 labels each call",
     ["nanometrics", "floor", "metrics_exporter_prometheus"]),
    ("encode/10k_series", "render 10,000 counter series as text, per render",
     ["nanometrics", "nanometrics_snapshot", "prometheus_client", "prometheus"]),
    ("otlp/encode_10k_counters", "10,000 counter series as one OTLP request (snapshot + encode), per request",
     ["nanometrics", "floor", "opentelemetry_sdk"]),
    ("otlp/encode_10k_series", "the same, 1,000 of the series histograms",
     ["nanometrics", "floor", "opentelemetry_sdk"]),
    ("otlp/hot_path", "1 thread's increment: idle, and while an OTLP exporter pushes 10,000 series every 100 ms",
     ["nanometrics", "idle"]),
    ("parse/text_10k_series", "parse 10,000 series in the text format (16,400 lines), per body",
     ["nanometrics", "floor", "prometheus_parse"]),
    ("parse/openmetrics_10k_series", "the same in OpenMetrics, every rule checked",
     ["nanometrics", "floor"]),
    ("tracing/span", "a span created, entered and closed: no layer, the MetricsLayer timing it, the layer not timing it",
     ["nanometrics", "no_layer", "not_selected"]),
    ("tracing/span_traced", "the same with a `traceparent` field: the layer with exemplars, without, no layer",
     ["nanometrics", "no_exemplars", "no_layer"]),
]

# (group, peer, minimum peer_ns / nanometrics_ns), from DESIGN.md.
BUDGETS: List[Tuple[str, str, float]] = [
    ("counter/uncontended", "prometheus", 4.0),
    ("counter/contended_2t", "prometheus", 8.0),
    ("histogram/uncontended", "prometheus_client", 4.0),
    ("histogram/uncontended", "prometheus", 6.0),
    ("labels/lookup_inc_2", "prometheus", 2.0),
    ("encode/10k_series", "prometheus_client", 2.0),
    ("encode/10k_series", "prometheus", 4.0),
    ("facade/handle_inc", "metrics_exporter_prometheus", 3.0),
    ("facade/macro_labels", "metrics_exporter_prometheus", 2.0),
    ("otlp/encode_10k_counters", "opentelemetry_sdk", 5.0),
    # The hot path unchanged (within 10 %) while an exporter runs.
    ("otlp/hot_path", "idle", 0.9),
]

STAT = "median"  # of criterion's per-iteration time, in ns


def collect(root: Path, out: Path, since: float) -> None:
    """Writes {"group\\timpl": median ns} for every result under `root`
    whose estimates.json is no older than epoch second `since`."""
    # Values are written back exactly as criterion stored them.
    results: Dict[str, Any] = {}
    if root.is_dir():
        for bj in root.glob("**/new/benchmark.json"):
            try:
                meta: Any = json.loads(bj.read_text())
                est_path = bj.parent / "estimates.json"
                if est_path.stat().st_mtime < since:
                    continue
                est: Any = json.loads(est_path.read_text())
            except (OSError, ValueError):
                continue
            results[meta["group_id"] + "\t" + meta["function_id"]] = est["median"]["point_estimate"]
    out.write_text(json.dumps(results))


def fmt_ns(ns: float) -> str:
    return f"{ns:.2f}" if ns < 100 else f"{ns:.0f}"


def table(store: Path) -> int:
    """Prints the budget table and the markdown tables; returns the exit
    status (0, 1 if a budget failed, 2 if a result is missing)."""
    nruns = int(os.environ.get("BENCH_RUNS", "1"))
    # Criterion arguments (a filter) were given: checks of groups that did
    # not run are shown as such, not failed as missing.
    filtered = os.environ.get("BENCH_FILTERED", "0") != "0"

    # One dict per run: (group, impl) -> ns/op.
    per_run: List[Dict[Key, float]] = []
    for k in range(1, nruns + 1):
        raw: Dict[str, float] = json.loads((store / f"run-{k}.json").read_text())
        per_run.append({tuple(key.split("\t", 1)): ns for key, ns in raw.items()})
    # (group, impl) -> median ns/op over the runs that measured it.
    keys = {key for run in per_run for key in run}
    results: Dict[Key, float] = {
        key: statistics.median(run[key] for run in per_run if key in run) for key in keys
    }

    missing: List[str] = []
    failed = 0
    rows: List[Row] = []
    for group, peer, budget in BUDGETS:
        nm: Optional[float] = results.get((group, "nanometrics"))
        other: Optional[float] = results.get((group, peer))
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

    head: Row = ("check", "nanometrics ns", "peer", "peer ns", "ratio", "range", "ceiling",
                 "budget", "result")
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
        return 2
    if failed:
        print(f"\n{failed} budget(s) failed", file=sys.stderr)
        return 1
    return 0


def main(argv: List[str]) -> int:
    if len(argv) == 5 and argv[1] == "collect":
        collect(Path(argv[2]), Path(argv[3]), float(argv[4]))
        return 0
    if len(argv) == 3 and argv[1] == "table":
        return table(Path(argv[2]))
    print("usage: bench_table.py collect CRITERION_DIR OUT_JSON SINCE_EPOCH_S\n"
          "       bench_table.py table STORE_DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
