"""OpenMetrics 1.0 exposition (``prometheus_client.openmetrics.exposition``)."""

from __future__ import annotations

from .. import _created, _native
from ..registry import REGISTRY, CollectorRegistry

CONTENT_TYPE_LATEST: str = _native.OPENMETRICS_CONTENT_TYPE

__all__ = ("CONTENT_TYPE_LATEST", "generate_latest")


def generate_latest(registry: "CollectorRegistry | None" = None) -> bytes:
    """The registry in OpenMetrics 1.0, ``# EOF`` included (read without the GIL)."""
    if registry is None:
        registry = REGISTRY
    return registry._native.encode(True, _created.enabled)
