"""Metric families as prometheus_client returns them from ``collect()``
(``prometheus_client.metrics_core``), read from the native registry."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List

from .samples import Sample
from .utils import _float_to_go_string

__all__ = ("Metric", "Sample")


class Metric:
    """A family of samples, as ``prometheus_client.metrics_core.Metric``."""

    def __init__(self, name: str, documentation: str, typ: str, unit: str = "") -> None:
        self.name = name
        self.documentation = documentation
        self.type = typ
        self.unit = unit
        self.samples: List[Sample] = []

    def add_sample(self, name: str, labels: Dict[str, str], value: float) -> None:
        self.samples.append(Sample(name, labels, value))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Metric)
            and self.name == other.name
            and self.documentation == other.documentation
            and self.type == other.type
            and self.unit == other.unit
            and self.samples == other.samples
        )

    def __repr__(self) -> str:
        return f"Metric({self.name!r}, {self.documentation!r}, {self.type!r}, {self.unit!r}, {self.samples!r})"


def _metrics_from(native: Any) -> Iterator[Metric]:
    # Family and sample names come from the core's naming rules
    # (nanometrics::names), as in every exposition.
    for name, sample, help_, unit, kind, series in native.collect():
        if kind == "counter":
            m = Metric(name, help_, "counter", unit)
            for labels, v in series:
                m.add_sample(sample, dict(labels), v)
        elif kind == "histogram":
            m = Metric(name, help_, "histogram", unit)
            for labels, (count, total, buckets) in series:
                lab = dict(labels)
                for le, c in buckets:
                    m.add_sample(name + "_bucket", {**lab, "le": _float_to_go_string(le)}, float(c))
                m.add_sample(name + "_count", lab, float(count))
                m.add_sample(name + "_sum", lab, total)
        elif kind == "summary":
            m = Metric(name, help_, "summary", unit)
            for labels, (count, total) in series:
                lab = dict(labels)
                m.add_sample(name + "_count", lab, float(count))
                m.add_sample(name + "_sum", lab, total)
        elif kind == "info":
            m = Metric(name, help_, "info", unit)
            for labels, v in series:
                m.add_sample(sample, dict(labels), v)
        else:
            typ = "stateset" if kind == "stateset" else "gauge"
            m = Metric(name, help_, typ, unit)
            for labels, v in series:
                m.add_sample(name, dict(labels), v)
        yield m
