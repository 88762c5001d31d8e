"""nanometrics vs prometheus_client, in one process, same machine, same run.

    .venv/bin/python py/benches/bench.py [--quick] [--markdown]

Each case is timed with ``timeit`` (best of ``--repeat`` rounds, each round
long enough to take ~0.2 s), alternating the two libraries round by round so
that machine noise hits both alike. The report is per-call time for each
library and the ratio prometheus_client / nanometrics (higher is better for
nanometrics), checked against the budgets of the Python bindings issue.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from typing import Dict, List, Tuple

import prometheus_client as pc

import nanometrics as nm

BUDGETS = {
    "Counter.inc()": 5.0,
    'labels("a").inc()': 5.0,
    "Histogram.observe()": 8.0,
    "generate_latest() 10k series": 20.0,
    "text parser, 10k series": 20.0,
    "OpenMetrics parser, 10k series": 20.0,
}


def bodies() -> Tuple[str, str]:
    """10,000 series as prometheus_client writes them (text, OpenMetrics):
    the one input both libraries' parsers read."""
    from prometheus_client.openmetrics.exposition import generate_latest as om

    big = pc.CollectorRegistry()
    for i in range(96):
        f = pc.Counter(f"big_{i}", "Big.", ["shard"], registry=big)
        for j in range(100):
            f.labels(str(j)).inc(j)
    for i in range(4):
        h = pc.Histogram(f"big_h_{i}_seconds", "Big hist.", ["shard"], registry=big)
        for j in range(100):
            h.labels(str(j)).observe(j / 100)
    return pc.generate_latest(big).decode(), om(big).decode()


TEXT_BODY, OM_BODY = bodies()


def cases(lib: object) -> Dict[str, Tuple[timeit.Timer, int]]:
    """The workloads for one library: name -> (timer, calls per timeit run).
    Each statement runs inline in timeit's loop (no wrapper function)."""
    reg = lib.CollectorRegistry()  # type: ignore[attr-defined]
    c = lib.Counter("bench_requests", "Requests.", registry=reg)  # type: ignore[attr-defined]
    fam = lib.Counter("bench_labeled", "Labeled.", ["route"], registry=reg)  # type: ignore[attr-defined]
    h = lib.Histogram("bench_latency_seconds", "Latency.", registry=reg)  # type: ignore[attr-defined]
    g = lib.Gauge("bench_inflight", "In flight.", registry=reg)  # type: ignore[attr-defined]
    # 10,000 series: 100 families x 100 label values, 4 of them histograms.
    big = lib.CollectorRegistry()  # type: ignore[attr-defined]
    for i in range(96):
        f = lib.Counter(f"big_{i}", "Big.", ["shard"], registry=big)  # type: ignore[attr-defined]
        for j in range(100):
            f.labels(str(j)).inc(j)
    for i in range(4):
        f = lib.Histogram(f"big_h_{i}_seconds", "Big hist.", ["shard"], registry=big)  # type: ignore[attr-defined]
        for j in range(100):
            f.labels(str(j)).observe(j / 100)
    if lib is nm:
        from nanometrics import parser as text_parser
        from nanometrics.openmetrics import parser as om_parser
    else:
        from prometheus_client import parser as text_parser  # type: ignore[no-redef]
        from prometheus_client.openmetrics import parser as om_parser  # type: ignore[no-redef]
    env = {
        "c": c, "fam": fam, "h": h, "g": g, "big": big, "generate_latest": lib.generate_latest,  # type: ignore[attr-defined]
        "text_parser": text_parser, "om_parser": om_parser, "TEXT_BODY": TEXT_BODY, "OM_BODY": OM_BODY,
    }
    t = lambda stmt: timeit.Timer(stmt, globals=env)  # noqa: E731
    return {
        "Counter.inc()": (t("c.inc()"), 100_000),
        "Counter.inc(2.5)": (t("c.inc(2.5)"), 100_000),
        'labels("a").inc()': (t('fam.labels("a").inc()'), 50_000),
        "Gauge.set()": (t("g.set(3.0)"), 100_000),
        "Histogram.observe()": (t("h.observe(0.042)"), 100_000),
        "generate_latest() 10k series": (t("generate_latest(big)"), 3),
        "text parser, 10k series": (t("list(text_parser.text_string_to_metric_families(TEXT_BODY))"), 1),
        "OpenMetrics parser, 10k series": (t("list(om_parser.text_string_to_metric_families(OM_BODY))"), 1),
    }


def measure(repeat: int, quick: bool) -> List[Tuple[str, float, float]]:
    ours, theirs = cases(nm), cases(pc)
    rows = []
    for name in ours:
        (to, n), (tt, _) = ours[name], theirs[name]
        if quick:
            n = max(1, n // 10)
        best_o = best_t = float("inf")
        for _ in range(repeat):
            best_o = min(best_o, to.timeit(number=n) / n)
            best_t = min(best_t, tt.timeit(number=n) / n)
        rows.append((name, best_o, best_t))
    return rows


def fmt_time(s: float) -> str:
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    return f"{s * 1e3:.1f} ms"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--quick", action="store_true", help="fewer calls (smoke run)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    rows = measure(args.repeat, args.quick)
    from importlib.metadata import version

    print(f"python {sys.version.split()[0]}, prometheus_client {version('prometheus_client')}")
    print("(best of --repeat rounds, libraries alternating; timeit's loop cost is in both)")
    if args.markdown:
        print("| operation | nanometrics | prometheus_client | ratio | budget |")
        print("|---|---:|---:|---:|---|")
    failed = False
    for name, o, t in rows:
        ratio = t / o
        budget = BUDGETS.get(name)
        verdict = "" if budget is None else ("met" if ratio >= budget else "MISSED") + f" (≥ {budget:g}×)"
        failed |= budget is not None and ratio < budget
        if args.markdown:
            print(f"| `{name}` | {fmt_time(o)} | {fmt_time(t)} | {ratio:.1f}× | {verdict} |")
        else:
            print(f"{name:32} nanometrics {fmt_time(o):>9}  prometheus_client {fmt_time(t):>9}  {ratio:6.1f}x  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
