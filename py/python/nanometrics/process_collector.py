"""The process collector (``prometheus_client.process_collector``): CPU
time, memory, file descriptors and start time of this process, read by
Rust from ``/proc/self`` at each scrape (Linux; elsewhere it exposes
nothing, as prometheus_client's does where ``/proc`` is missing).

``PROCESS_COLLECTOR`` is in ``REGISTRY`` from import, as in
prometheus_client; ``REGISTRY.unregister(PROCESS_COLLECTOR)`` removes it.
Beside prometheus_client's six families it exposes ``process_threads``
(as the Rust ``prometheus`` crate does).
"""

from __future__ import annotations

import sys
from typing import Callable, List, Optional, Union

from .registry import REGISTRY, CollectorRegistry, _namespace_in

__all__ = ("ProcessCollector", "PROCESS_COLLECTOR")

_NAMES = (
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_start_time_seconds",
    "process_open_fds",
    "process_max_fds",
    "process_threads",
)


class ProcessCollector:
    """This process's figures in ``registry``; ``namespace`` goes in front
    of every name. Only this process (``pid`` returning ``"self"``) and
    ``/proc`` are supported: the figures are read by the Rust core."""

    def __init__(
        self,
        namespace: str = "",
        pid: Callable[[], Union[int, str]] = lambda: "self",
        proc: str = "/proc",
        registry: Optional[CollectorRegistry] = REGISTRY,
    ) -> None:
        if pid() != "self" or proc != "/proc":
            raise ValueError("nanometrics' ProcessCollector reads this process's /proc/self only")
        self._registry = registry
        prefix = _namespace_in(registry, namespace)
        self._names: List[str] = [f"{prefix}_{n}" if prefix else n for n in _NAMES]
        self._handle: object = None
        # Nothing where there is no /proc (as prometheus_client: no names).
        if registry is None or not sys.platform.startswith("linux"):
            return
        # The core declares the families; the prefix is its prefix there.
        self._native = registry._native.sub_registry(prefix, []) if prefix else registry._native
        claimed = self._names + [n[: -len("_total")] for n in self._names if n.endswith("_total")]
        registry._claim(self, claimed)
        try:
            self._handle = self._native.process_collector()
        except BaseException:
            registry._release(self)
            raise

    def _unregister(self) -> None:
        """Stops the updates and removes the families (``unregister``)."""
        if self._handle is None:
            raise KeyError(f"{self!r} is not registered")
        self._handle = None
        for n in _NAMES:
            self._native.unregister(n)


PROCESS_COLLECTOR = ProcessCollector()
