"""The garbage-collector collector (``prometheus_client.gc_collector``):
``python_gc_objects_collected_total``, ``python_gc_objects_uncollectable_total``
and ``python_gc_collections_total``, by ``generation``, equal to
``gc.get_stats()``'s totals. ``GC_COLLECTOR`` is in ``REGISTRY`` from
import, as in prometheus_client (on CPython).

The counters start at ``gc.get_stats()``'s totals and follow each
collection through ``gc.callbacks`` (in the collecting thread, which holds
the GIL already), so a scrape still never takes the GIL.
"""

from __future__ import annotations

import gc
import platform
from typing import Any, Dict, List, Optional

from .metrics import Counter
from .registry import REGISTRY, CollectorRegistry

__all__ = ("GCCollector", "GC_COLLECTOR")


class GCCollector:
    """The three families in ``registry`` (nothing on an implementation
    without ``gc.get_stats``, as prometheus_client)."""

    def __init__(self, registry: Optional[CollectorRegistry] = REGISTRY) -> None:
        self._registry: Optional[CollectorRegistry] = None
        self._counters: List[Counter] = []
        if registry is None or not hasattr(gc, "get_stats") or platform.python_implementation() != "CPython":
            return
        self._registry = registry
        collected = Counter("python_gc_objects_collected", "Objects collected during gc", ["generation"], registry=registry)
        uncollectable = Counter(
            "python_gc_objects_uncollectable", "Uncollectable objects found during GC", ["generation"], registry=registry
        )
        collections = Counter(
            "python_gc_collections", "Number of times this generation was collected", ["generation"], registry=registry
        )
        self._counters = [collected, uncollectable, collections]
        stats = gc.get_stats()
        # Each generation's three children, resolved once.
        self._children: Dict[int, Any] = {}
        for gen, s in enumerate(stats):
            children = (collected.labels(str(gen)), uncollectable.labels(str(gen)), collections.labels(str(gen)))
            for child, key in zip(children, ("collected", "uncollectable", "collections")):
                if s[key]:
                    child.inc(s[key])
            self._children[gen] = children
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: Dict[str, int]) -> None:
        if phase != "stop":
            return
        children = self._children.get(info.get("generation", -1))
        if children is None:
            return
        collected, uncollectable, collections = children
        if info.get("collected"):
            collected.inc(info["collected"])
        if info.get("uncollectable"):
            uncollectable.inc(info["uncollectable"])
        collections.inc()

    def _unregister(self) -> None:
        if self._registry is None:
            raise KeyError(f"{self!r} is not registered")
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        for c in self._counters:
            self._registry.unregister(c)
        self._counters = []
        self._registry = None


GC_COLLECTOR = GCCollector()
