"""Custom collectors (``registry.register(obj)`` for any object with
``collect()``): at each read of the registry, the object's families are
set into collected families of the core (with the GIL, as any Python
callback; a registry with no custom collector is read without it)."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

from .metrics_core import Metric

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "summary": ("_sum", "_count", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "info": ("_info",),
}


def names_of(families: List[Metric]) -> List[str]:
    """The sample names a collector's families take (prometheus_client's
    rule for duplicates)."""
    names: List[str] = []
    for f in families:
        names.append(f.name)
        names.extend(f.name + s for s in _SUFFIXES.get(f.type, ()))
    return names


def _le(text: str) -> float:
    return math.inf if text in ("+Inf", "Inf", "inf") else float(text)


class CustomCollector:
    """One registered object and the core families its families became."""

    def __init__(self, registry: Any, collector: Any, prefix: str) -> None:
        self.registry = registry
        self.collector = collector
        self.prefix = prefix
        # (name, kind, label names) -> native collected family
        self.families: Dict[Tuple[str, str, Tuple[str, ...]], Any] = {}

    def _family(self, name: str, kind: str, doc: str, labelnames: List[str]) -> Any:
        key = (name, kind, tuple(labelnames))
        fam = self.families.get(key)
        if fam is None:
            full = f"{self.prefix}_{name}" if self.prefix else name
            fam = self.registry._native.collected(kind, full, doc, labelnames)
            self.families[key] = fam
        return fam

    def run(self) -> None:
        seen = set()
        for m in self.collector.collect():
            key = self._set(m)
            if key is not None:
                seen.add(key)
        for key, fam in self.families.items():
            if key not in seen:
                if key[1] == "histogram":
                    fam.set_histograms([])
                elif key[1] == "summary":
                    fam.set_summaries([])
                else:
                    fam.set([])

    def _set(self, m: Metric) -> Optional[Tuple[str, str, Tuple[str, ...]]]:
        if not m.samples:
            return None
        typ = m.type
        if typ == "gaugehistogram":
            raise ValueError(f"{m.name}: nanometrics has no gauge histogram")
        if typ in ("histogram", "summary"):
            series: Dict[Tuple[Tuple[str, str], ...], Dict[str, Any]] = {}
            for s in m.samples:
                labels = tuple((k, v) for k, v in s.labels.items() if k not in ("le", "quantile"))
                d = series.setdefault(labels, {"buckets": [], "sum": 0.0, "count": 0})
                if s.name == m.name + "_bucket":
                    d["buckets"].append((_le(s.labels["le"]), int(s.value)))
                elif s.name == m.name + "_sum":
                    d["sum"] = float(s.value)
                elif s.name == m.name + "_count":
                    d["count"] = int(s.value)
            labelnames = [k for k, _ in next(iter(series))]
            fam = self._family(m.name, typ, m.documentation, labelnames)
            if typ == "histogram":
                fam.set_histograms([([v for _, v in lab], d["buckets"], d["sum"]) for lab, d in series.items()])
            else:
                fam.set_summaries([([v for _, v in lab], d["count"], d["sum"]) for lab, d in series.items()])
            return (m.name, typ, tuple(labelnames))
        kind = {"counter": "counter", "info": "info", "stateset": "stateset"}.get(typ, "gauge")
        name = m.name + "_info" if typ == "info" else m.name
        labelnames = list(m.samples[0].labels)
        fam = self._family(name, kind, m.documentation, labelnames)
        fam.set([([str(s.labels.get(k, "")) for k in labelnames], float(s.value)) for s in m.samples])
        return (name, kind, tuple(labelnames))

    def unregister(self) -> None:
        for (name, _, _) in self.families:
            full = f"{self.prefix}_{name}" if self.prefix else name
            self.registry._native.unregister(full)
        self.families.clear()
