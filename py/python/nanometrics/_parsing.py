"""Families parsed by the Rust parsers (``nanometrics_exporters::parse``),
as prometheus_client's parsers return them."""

from __future__ import annotations

from typing import Iterator

from . import _native
from .metrics_core import Metric
from .samples import Exemplar, Sample, Timestamp


def families(text: str, openmetrics: bool) -> Iterator[Metric]:
    """The families of ``text``; a ``ValueError`` (with the line and column)
    when it does not parse, raised at the first ``next()``. Built in Rust
    (``_native.parse_families``) from the classes given."""
    yield from _native.parse_families(text, openmetrics, Metric, Sample, Exemplar, Timestamp)
