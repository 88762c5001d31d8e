"""The platform collector (``prometheus_client.platform_collector``):
``python_info{implementation, major, minor, patchlevel, version} 1``.
``PLATFORM_COLLECTOR`` is in ``REGISTRY`` from import, as in
prometheus_client."""

from __future__ import annotations

import platform as pf
from typing import Any, Optional

from .registry import REGISTRY, CollectorRegistry, _namespace_in

__all__ = ("PlatformCollector", "PLATFORM_COLLECTOR")


class PlatformCollector:
    """``python_info`` (and, on Jython, ``jvm_info``, which nanometrics
    does not build) in ``registry``."""

    def __init__(self, registry: Optional[CollectorRegistry] = REGISTRY, platform: Optional[Any] = None) -> None:
        self._platform = pf if platform is None else platform
        self._registry = registry
        if registry is None:
            return
        p = self._platform
        major, minor, patchlevel = p.python_version_tuple()
        labels = {
            "implementation": p.python_implementation(),
            "major": major,
            "minor": minor,
            "patchlevel": patchlevel,
            "version": p.python_version(),
        }
        self._name = _namespace_in(registry, "python_info")
        registry._claim(self, [self._name])
        try:
            self._family = registry._native.collected(
                "gauge", self._name, "Python platform information", list(labels)
            )
            self._family.set([(list(labels.values()), 1.0)])
        except BaseException:
            registry._release(self)
            raise

    def _unregister(self) -> None:
        if self._registry is None or not self._registry._native.unregister(self._name):
            raise KeyError(f"{self!r} is not registered")
        self._registry = None


PLATFORM_COLLECTOR = PlatformCollector()
