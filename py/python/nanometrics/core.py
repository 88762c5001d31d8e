"""The core types in one place, as ``prometheus_client.core`` gathers
them (of its names, those nanometrics has), custom collectors' metric families
among them."""

from __future__ import annotations

from .metrics import Counter, Enum, Gauge, Histogram, Info, Summary
from .metrics_core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
    StateSetMetricFamily,
    SummaryMetricFamily,
    UnknownMetricFamily,
)
from .registry import REGISTRY, CollectorRegistry
from .samples import Sample

__all__ = (
    "CollectorRegistry",
    "Counter",
    "Enum",
    "Gauge",
    "Histogram",
    "Info",
    "Metric",
    "REGISTRY",
    "Sample",
    "Summary",
    "CounterMetricFamily",
    "GaugeMetricFamily",
    "SummaryMetricFamily",
    "HistogramMetricFamily",
    "GaugeHistogramMetricFamily",
    "InfoMetricFamily",
    "StateSetMetricFamily",
    "UnknownMetricFamily",
)
