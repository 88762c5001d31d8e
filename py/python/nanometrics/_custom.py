"""Custom collectors (``registry.register(obj)`` for any object with
``collect()``): at each read of the registry, the object's families are
set into collected families of the core (with the GIL, as any Python
callback; a registry with no custom collector is read without it)."""

from __future__ import annotations

import math
import threading
from typing import Any, Dict, List, Optional, Tuple

from .metrics_core import Metric

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "info": ("_info",),
}


def names_of(families: List[Metric], prefix: str = "") -> List[str]:
    """The sample names a collector's families take (prometheus_client's
    rule for duplicates), under a sub-registry's prefix."""
    names: List[str] = []
    for f in families:
        base = f"{prefix}_{f.name}" if prefix else f.name
        names.append(base)
        names.extend(base + s for s in _SUFFIXES.get(f.type, ()))
    return names


def _le(text: str) -> float:
    return math.inf if text in ("+Inf", "Inf", "inf") else float(text)


class CustomCollector:
    """One registered object and the core families its families became."""

    def __init__(self, registry: Any, collector: Any, prefix: str) -> None:
        self.registry = registry
        self.collector = collector
        self.prefix = prefix
        # (name, kind) -> (label names, native collected family)
        self.families: Dict[Tuple[str, str], Tuple[Tuple[str, ...], Any]] = {}
        # Two scrapes at once, or a scrape and unregister, take turns.
        self.lock = threading.Lock()
        self.closed = False

    def _full(self, name: str) -> str:
        return f"{self.prefix}_{name}" if self.prefix else name

    def _family(self, name: str, kind: str, doc: str, labelnames: Tuple[str, ...], unit: str = "") -> Any:
        known = self.families.get((name, kind))
        if known is not None and known[0] == labelnames:
            return known[1]
        if known is not None:
            # Other label names than before: the family is declared anew.
            self.registry._native.unregister(self._full(name))
        fam = self.registry._native.collected(kind, self._full(name), doc, list(labelnames), unit)
        self.families[(name, kind)] = (labelnames, fam)
        return fam

    def run(self) -> None:
        with self.lock:
            if self.closed:
                return
            # Families of one name yielded more than once are one family.
            merged: Dict[Tuple[str, str], Metric] = {}
            for m in self.collector.collect():
                key = (m.name, m.type)
                if key in merged:
                    merged[key].samples.extend(m.samples)
                else:
                    copy = Metric(m.name, m.documentation, m.type, m.unit)
                    copy.samples = list(m.samples)
                    merged[key] = copy
            seen: set[Tuple[str, str]] = set()
            for m in merged.values():
                done = self._set(m)
                if done is not None:
                    seen.add(done)
            for key, (_, fam) in self.families.items():
                if key not in seen:
                    if key[1] == "histogram":
                        fam.set_histograms([])
                    elif key[1] == "summary":
                        fam.set_summaries([])
                    else:
                        fam.set([])

    def _labelnames(self, m: Metric, skip: Tuple[str, ...]) -> Tuple[str, ...]:
        """Every label name of the family's samples, in order of first
        appearance (a series without one has it empty: no label, to
        Prometheus)."""
        names: Dict[str, None] = {}
        for s in m.samples:
            for k in s.labels:
                if k not in skip:
                    names.setdefault(k, None)
        return tuple(names)

    def _set(self, m: Metric) -> Optional[Tuple[str, str]]:
        if not m.samples:
            return None
        typ = m.type
        if typ == "gaugehistogram":
            raise ValueError(f"{m.name}: nanometrics has no gauge histogram")
        if typ in ("histogram", "summary"):
            labelnames = self._labelnames(m, ("le", "quantile"))
            series: Dict[Tuple[str, ...], Dict[str, Any]] = {}
            for s in m.samples:
                values = tuple(str(s.labels.get(k, "")) for k in labelnames)
                d = series.setdefault(values, {"buckets": [], "sum": 0.0, "count": 0})
                if s.name == m.name + "_bucket":
                    d["buckets"].append((_le(s.labels["le"]), int(s.value)))
                elif s.name == m.name + "_sum":
                    d["sum"] = float(s.value)
                elif s.name == m.name + "_count":
                    d["count"] = int(s.value)
            fam = self._family(m.name, typ, m.documentation, labelnames, m.unit)
            if typ == "histogram":
                fam.set_histograms([(list(v), sorted(d["buckets"]), d["sum"]) for v, d in series.items()])
            else:
                fam.set_summaries([(list(v), d["count"], d["sum"]) for v, d in series.items()])
            return (m.name, typ)
        kind = {"counter": "counter", "info": "info", "stateset": "stateset"}.get(typ, "gauge")
        name = m.name + "_info" if typ == "info" else m.name
        labelnames = self._labelnames(m, ())
        label_keys = labelnames
        if kind == "stateset" and self.prefix:
            # A state set's state label is named like the family, prefix
            # included.
            labelnames = tuple(self._full(m.name) if k == m.name else k for k in labelnames)
        fam = self._family(name, kind, m.documentation, labelnames, "" if kind in ("info", "stateset") else m.unit)
        fam.set([([str(s.labels.get(k, "")) for k in label_keys], float(s.value)) for s in m.samples])
        return (name, kind)

    def unregister(self) -> None:
        with self.lock:
            self.closed = True
            for (name, _) in list(self.families):
                self.registry._native.unregister(self._full(name))
            self.families.clear()
