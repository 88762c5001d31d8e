"""The sample types (``prometheus_client.samples``)."""

from __future__ import annotations

from typing import Any, Dict, NamedTuple, Optional

__all__ = ("Exemplar", "Sample")


class Exemplar(NamedTuple):
    """An exemplar of a sample, as ``prometheus_client.samples.Exemplar``:
    its labels (a trace id, ...), the value recorded with them and when
    (seconds since the epoch)."""

    labels: Dict[str, str]
    value: float
    timestamp: Optional[Any] = None


class Sample(NamedTuple):
    """One sample, as ``prometheus_client.samples.Sample``."""

    name: str
    labels: Dict[str, str]
    value: float
    timestamp: Optional[float] = None
    exemplar: Optional[Exemplar] = None
    native_histogram: Optional[Any] = None
