"""Name rules shared by the metric types: prometheus_client's escaping,
full-name building and label-name checks."""

from __future__ import annotations

from typing import Iterable, Sequence, Tuple


def _escape(s: str, metric: bool) -> str:
    """prometheus_client's "underscores" escaping: every character outside
    the classic set becomes ``_`` (digits may not lead)."""

    def ok(c: str, i: int) -> bool:
        return (
            ("a" <= c <= "z")
            or ("A" <= c <= "Z")
            or c == "_"
            or (metric and c == ":")
            or ("0" <= c <= "9" and i > 0)
        )

    return "".join(c if ok(c, i) else "_" for i, c in enumerate(s))


def _build_full_name(metric_type: str, name: str, namespace: str, subsystem: str, unit: str) -> str:
    if not name:
        raise ValueError("Metric name should not be empty")
    full_name = ""
    if namespace:
        full_name += namespace + "_"
    if subsystem:
        full_name += subsystem + "_"
    full_name += name
    if metric_type == "counter" and full_name.endswith("_total"):
        full_name = full_name[:-6]  # the family name; samples add _total
    if unit and not full_name.endswith("_" + unit):
        full_name += "_" + unit
    if unit and metric_type in ("info", "stateset"):
        raise ValueError("Metric name is of a type that cannot have a unit: " + full_name)
    return full_name


def _validate_labelnames(labelnames: Iterable[str], reserved: Sequence[str]) -> Tuple[str, ...]:
    names = tuple(labelnames)
    for n in names:
        if not isinstance(n, str):
            raise TypeError(f"label names must be str, got {n!r}")
        if n.startswith("__"):
            raise ValueError("Reserved label metric name: " + n + " (names starting with __ are reserved)")
        if n in reserved or n in ("le", "quantile"):
            raise ValueError("Reserved label metric name: " + n + " (le and quantile are reserved)")
    return names
