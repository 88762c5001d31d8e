"""Metric families as prometheus_client returns them from ``collect()``
(``prometheus_client.metrics_core``), read from the native registry."""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from . import _created
from .samples import Exemplar, Sample
from .utils import _float_to_go_string

__all__ = (
    "Metric",
    "Sample",
    "UnknownMetricFamily",
    "CounterMetricFamily",
    "GaugeMetricFamily",
    "SummaryMetricFamily",
    "HistogramMetricFamily",
    "GaugeHistogramMetricFamily",
    "InfoMetricFamily",
    "StateSetMetricFamily",
)


class Metric:
    """A family of samples, as ``prometheus_client.metrics_core.Metric``."""

    def __init__(self, name: str, documentation: str, typ: str, unit: str = "") -> None:
        # As prometheus_client: the unit ends the name.
        if unit and not name.endswith("_" + unit):
            name += "_" + unit
        self.name = name
        self.documentation = documentation
        self.type = typ
        self.unit = unit
        self.samples: List[Sample] = []

    def add_sample(
        self,
        name: str,
        labels: Dict[str, str],
        value: float,
        timestamp: Optional[float] = None,
        exemplar: Any = None,
    ) -> None:
        """Adds a sample (as prometheus_client). Its timestamp and exemplar
        are kept on the sample; a custom collector's are not exposed
        (nanometrics exposes the exemplars of its own counters and
        histograms)."""
        self.samples.append(Sample(name, labels, value, timestamp, exemplar))

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


def _label_values(labelnames: Sequence[str], labels: Sequence[str]) -> Dict[str, str]:
    if len(labels) != len(labelnames):
        raise ValueError(f"expected {len(labelnames)} label values, got {len(labels)}")
    return dict(zip(labelnames, labels))


class _Family(Metric):
    """What the families below share: label names given once, and a value
    passed to the constructor meaning one series without labels."""

    def __init__(self, name: str, documentation: str, typ: str, labels: Optional[Sequence[str]], unit: str) -> None:
        super().__init__(name, documentation, typ, unit)
        self._labelnames: Tuple[str, ...] = tuple(labels or ())

    def _check_value_and_labels(self, value: Any, labels: Optional[Sequence[str]]) -> None:
        if labels is not None and value is not None:
            raise ValueError("Can only specify at most one of value and labels.")


class UnknownMetricFamily(_Family):
    """An untyped family (``prometheus_client.core.UnknownMetricFamily``)."""

    def __init__(self, name: str, documentation: str, value: Optional[float] = None,
                 labels: Optional[Sequence[str]] = None, unit: str = "") -> None:
        super().__init__(name, documentation, "unknown", labels, unit)
        self._check_value_and_labels(value, labels)
        if value is not None:
            self.add_metric([], value)

    def add_metric(self, labels: Sequence[str], value: float, timestamp: Optional[float] = None) -> None:
        self.add_sample(self.name, _label_values(self._labelnames, labels), value, timestamp)


class CounterMetricFamily(_Family):
    """A counter family (``prometheus_client.core.CounterMetricFamily``):
    the name without ``_total``, samples with it."""

    def __init__(self, name: str, documentation: str, value: Optional[float] = None,
                 labels: Optional[Sequence[str]] = None, created: Optional[float] = None,
                 unit: str = "", exemplar: Any = None) -> None:
        if name.endswith("_total"):
            name = name[:-6]
        super().__init__(name, documentation, "counter", labels, unit)
        self._check_value_and_labels(value, labels)
        if value is not None:
            self.add_metric([], value, created)

    def add_metric(self, labels: Sequence[str], value: float, created: Optional[float] = None,
                   timestamp: Optional[float] = None, exemplar: Any = None) -> None:
        self.add_sample(self.name + "_total", _label_values(self._labelnames, labels), value, timestamp)


class GaugeMetricFamily(_Family):
    """A gauge family (``prometheus_client.core.GaugeMetricFamily``)."""

    def __init__(self, name: str, documentation: str, value: Optional[float] = None,
                 labels: Optional[Sequence[str]] = None, unit: str = "") -> None:
        super().__init__(name, documentation, "gauge", labels, unit)
        self._check_value_and_labels(value, labels)
        if value is not None:
            self.add_metric([], value)

    def add_metric(self, labels: Sequence[str], value: float, timestamp: Optional[float] = None) -> None:
        self.add_sample(self.name, _label_values(self._labelnames, labels), value, timestamp)


class SummaryMetricFamily(_Family):
    """A summary family of counts and sums
    (``prometheus_client.core.SummaryMetricFamily``)."""

    def __init__(self, name: str, documentation: str, count_value: Optional[int] = None,
                 sum_value: Optional[float] = None, labels: Optional[Sequence[str]] = None,
                 unit: str = "") -> None:
        super().__init__(name, documentation, "summary", labels, unit)
        if (sum_value is None) != (count_value is None):
            raise ValueError("count_value and sum_value must be provided together.")
        self._check_value_and_labels(count_value, labels)
        if count_value is not None and sum_value is not None:
            self.add_metric([], count_value, sum_value)

    def add_metric(self, labels: Sequence[str], count_value: int, sum_value: float,
                   timestamp: Optional[float] = None) -> None:
        lab = _label_values(self._labelnames, labels)
        self.add_sample(self.name + "_count", lab, count_value, timestamp)
        self.add_sample(self.name + "_sum", lab, sum_value, timestamp)


class HistogramMetricFamily(_Family):
    """A histogram family (``prometheus_client.core.HistogramMetricFamily``):
    ``buckets`` as ``[(le, cumulative count), ...]``, the last ``+Inf``."""

    def __init__(self, name: str, documentation: str, buckets: Optional[Sequence[Tuple[str, float]]] = None,
                 sum_value: Optional[float] = None, labels: Optional[Sequence[str]] = None,
                 unit: str = "") -> None:
        super().__init__(name, documentation, "histogram", labels, unit)
        if sum_value is not None and buckets is None:
            raise ValueError("sum value cannot be provided without buckets.")
        self._check_value_and_labels(buckets, labels)
        if buckets is not None:
            self.add_metric([], buckets, sum_value)

    def add_metric(self, labels: Sequence[str], buckets: Sequence[Tuple[str, float]],
                   sum_value: Optional[float], timestamp: Optional[float] = None) -> None:
        lab = _label_values(self._labelnames, labels)
        # (le, count) or prometheus_client's (le, count, exemplar).
        for b in buckets:
            self.add_sample(self.name + "_bucket", {**lab, "le": b[0]}, b[1], timestamp)
        if sum_value is not None:
            self.add_sample(self.name + "_count", lab, buckets[-1][1], timestamp)
            self.add_sample(self.name + "_sum", lab, sum_value, timestamp)


class GaugeHistogramMetricFamily(_Family):
    """A gauge histogram family
    (``prometheus_client.core.GaugeHistogramMetricFamily``). nanometrics
    has no gauge histogram: a collector that yields one fails its scrape."""

    def __init__(self, name: str, documentation: str, buckets: Optional[Sequence[Tuple[str, float]]] = None,
                 gsum_value: Optional[float] = None, labels: Optional[Sequence[str]] = None,
                 unit: str = "") -> None:
        super().__init__(name, documentation, "gaugehistogram", labels, unit)
        self._check_value_and_labels(buckets, labels)
        if buckets is not None:
            self.add_metric([], buckets, gsum_value)

    def add_metric(self, labels: Sequence[str], buckets: Sequence[Tuple[str, float]],
                   gsum_value: Optional[float], timestamp: Optional[float] = None) -> None:
        lab = _label_values(self._labelnames, labels)
        for le, count in buckets:
            self.add_sample(self.name + "_bucket", {**lab, "le": le}, count, timestamp)
        self.add_sample(self.name + "_gcount", lab, buckets[-1][1], timestamp)
        if gsum_value is not None:
            self.add_sample(self.name + "_gsum", lab, gsum_value, timestamp)


class InfoMetricFamily(_Family):
    """An info family (``prometheus_client.core.InfoMetricFamily``)."""

    def __init__(self, name: str, documentation: str, value: Optional[Dict[str, str]] = None,
                 labels: Optional[Sequence[str]] = None) -> None:
        super().__init__(name, documentation, "info", labels, "")
        self._check_value_and_labels(value, labels)
        if value is not None:
            self.add_metric([], value)

    def add_metric(self, labels: Sequence[str], value: Dict[str, str], timestamp: Optional[float] = None) -> None:
        self.add_sample(self.name + "_info", {**_label_values(self._labelnames, labels), **value}, 1, timestamp)


class StateSetMetricFamily(_Family):
    """A state set family (``prometheus_client.core.StateSetMetricFamily``)."""

    def __init__(self, name: str, documentation: str, value: Optional[Dict[str, bool]] = None,
                 labels: Optional[Sequence[str]] = None) -> None:
        super().__init__(name, documentation, "stateset", labels, "")
        self._check_value_and_labels(value, labels)
        if value is not None:
            self.add_metric([], value)

    def add_metric(self, labels: Sequence[str], value: Dict[str, bool], timestamp: Optional[float] = None) -> None:
        lab = _label_values(self._labelnames, labels)
        for state, enabled in sorted(value.items()):
            self.add_sample(self.name, {**lab, self.name: state}, 1 if enabled else 0, timestamp)


def _exemplar(exemplars: Sequence[Any], i: int) -> Optional[Exemplar]:
    """Entry ``i`` of a series' exemplars from the native collect()."""
    if i >= len(exemplars) or exemplars[i] is None:
        return None
    labels, value, timestamp = exemplars[i]
    return Exemplar(dict(labels), value, timestamp)


def _metrics_from(native: Any) -> Iterator[Metric]:
    # Family and sample names come from the core's naming rules
    # (nanometrics::names), as in every exposition.
    for name, sample, help_, unit, kind, series in native.collect():
        created = _created.enabled
        if kind == "counter":
            m = Metric(name, help_, "counter", unit)
            for labels, v, exemplars, at in series:
                m.add_sample(sample, dict(labels), v, exemplar=_exemplar(exemplars, 0))
                if created and at is not None:
                    m.add_sample(name + "_created", dict(labels), at)
        elif kind == "histogram":
            m = Metric(name, help_, "histogram", unit)
            for labels, (count, total, buckets), exemplars, at in series:
                lab = dict(labels)
                for i, (le, c) in enumerate(buckets):
                    m.add_sample(
                        name + "_bucket",
                        {**lab, "le": _float_to_go_string(le)},
                        float(c),
                        exemplar=_exemplar(exemplars, i),
                    )
                m.add_sample(name + "_count", lab, float(count))
                m.add_sample(name + "_sum", lab, total)
                if created and at is not None:
                    m.add_sample(name + "_created", lab, at)
        elif kind == "summary":
            m = Metric(name, help_, "summary", unit)
            for labels, (count, total), _, at in series:
                lab = dict(labels)
                m.add_sample(name + "_count", lab, float(count))
                m.add_sample(name + "_sum", lab, total)
                if created and at is not None:
                    m.add_sample(name + "_created", lab, at)
        elif kind == "info":
            m = Metric(name, help_, "info", unit)
            for labels, v, _, _ in series:
                m.add_sample(sample, dict(labels), v)
        else:
            typ = "stateset" if kind == "stateset" else "gauge"
            m = Metric(name, help_, typ, unit)
            for labels, v, _, _ in series:
                m.add_sample(name, dict(labels), v)
        yield m
