"""The sample type (``prometheus_client.samples``)."""

from __future__ import annotations

from typing import Any, Dict, NamedTuple, Optional

__all__ = ("Sample",)


class Sample(NamedTuple):
    """One sample, as ``prometheus_client.samples.Sample``."""

    name: str
    labels: Dict[str, str]
    value: float
    timestamp: Optional[float] = None
    exemplar: Optional[Any] = None
    native_histogram: Optional[Any] = None
