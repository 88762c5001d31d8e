"""The garbage-collector collector (``prometheus_client.gc_collector``):
``python_gc_objects_collected_total``, ``python_gc_objects_uncollectable_total``
and ``python_gc_collections_total``, by ``generation``: ``gc.get_stats()``'s
totals. ``GC_COLLECTOR`` is in ``REGISTRY`` from import, as in
prometheus_client (on CPython).

The families are set from ``gc.get_stats()`` when made and after each
collection (a ``gc.callbacks`` entry, in the collecting thread, which holds
the GIL already), so they equal its totals and a scrape never takes the
GIL.
"""

from __future__ import annotations

import gc
import platform
import weakref
from typing import Any, Callable, Dict, List, Optional

from .registry import REGISTRY, CollectorRegistry, _namespace_in

__all__ = ("GCCollector", "GC_COLLECTOR")

_FAMILIES = (
    ("python_gc_objects_collected_total", "Objects collected during gc", "collected"),
    ("python_gc_objects_uncollectable_total", "Uncollectable objects found during GC", "uncollectable"),
    ("python_gc_collections_total", "Number of times this generation was collected", "collections"),
)


class GCCollector:
    """The three families in ``registry`` (nothing on an implementation
    without ``gc.get_stats``, as prometheus_client)."""

    def __init__(self, registry: Optional[CollectorRegistry] = REGISTRY) -> None:
        self._registry: Optional[CollectorRegistry] = None
        self._families: List[Any] = []
        self._callback: Optional[Callable[[str, Dict[str, int]], None]] = None
        if registry is None or not hasattr(gc, "get_stats") or platform.python_implementation() != "CPython":
            return
        self._names = [_namespace_in(registry, name) for name, _, _ in _FAMILIES]
        registry._claim(self, self._names + [n[: -len("_total")] for n in self._names])
        try:
            for name, (_, help, _) in zip(self._names, _FAMILIES):
                self._families.append(registry._native.collected("counter", name, help, ["generation"]))
        except BaseException:
            for name in self._names[: len(self._families)]:
                registry._native.unregister(name)
            registry._release(self)
            raise
        self._registry = registry
        self._update()
        # Weak: a collector dropped with its registry leaves no callback
        # that keeps it alive.
        ref = weakref.WeakMethod(self._on_gc)

        def callback(phase: str, info: Dict[str, int]) -> None:
            method = ref()
            if method is not None:
                method(phase, info)

        self._callback = callback
        gc.callbacks.append(callback)
        weakref.finalize(self, _remove_callback, callback)

    def _update(self) -> None:
        stats = gc.get_stats()
        for family, (_, _, key) in zip(self._families, _FAMILIES):
            family.set([([str(gen)], float(s[key])) for gen, s in enumerate(stats)])

    def _on_gc(self, phase: str, info: Dict[str, int]) -> None:
        if phase == "stop":
            self._update()

    def _unregister(self) -> None:
        if self._registry is None:
            raise KeyError(f"{self!r} is not registered")
        if self._callback is not None:
            _remove_callback(self._callback)
        for name in self._names:
            self._registry._native.unregister(name)
        self._registry = None


def _remove_callback(callback: Callable[[str, Dict[str, int]], None]) -> None:
    if callback in gc.callbacks:
        gc.callbacks.remove(callback)


GC_COLLECTOR = GCCollector()
