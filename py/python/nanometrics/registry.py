"""The registry (``prometheus_client.registry``): ``CollectorRegistry`` and
the default ``REGISTRY``, which Rust code in this process shares."""

from __future__ import annotations

import threading
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from . import _custom, _native
from .metrics_core import Metric, _metrics_from

__all__ = ("CollectorRegistry", "REGISTRY", "Metric")


class _BoundCollector:
    """The base of ``metrics.MetricWrapperBase``: a metric that registered
    itself at construction (defined here so that ``register`` can tell one
    apart without importing ``metrics``, which imports this module)."""

    __slots__ = ()


class CollectorRegistry:
    """A set of metrics read together (``prometheus_client.CollectorRegistry``).

    Metrics register themselves at construction (``registry=`` argument).
    Two metrics whose exposed names overlap in one registry raise
    ``ValueError``, as in prometheus_client.
    """

    def __init__(self, auto_describe: bool = False, target_info: Optional[Dict[str, str]] = None, *, _native_registry: Any = None) -> None:
        if target_info is not None:
            raise ValueError("target_info is not supported by nanometrics; declare an Info metric instead")
        self._native = _native_registry if _native_registry is not None else _native.Registry()
        # Whether register() may call collect() to learn a collector's names
        # (prometheus_client: True for REGISTRY only).
        self._auto_describe = auto_describe
        # Shared by a registry and its sub-registries (one tree, one table):
        # a name is claimed once per set of constant labels.
        self._lock = threading.Lock()
        self._names_to_collectors: Dict[Tuple[Tuple[Tuple[str, str], ...], str], Any] = {}
        self._collector_to_names: Dict[Any, List[Tuple[Tuple[Tuple[str, str], ...], str]]] = {}
        # What a sub-registry adds: a name prefix (applied here, before the
        # name reaches the core) and constant labels (the core's).
        self._prefix = ""
        self._labels: Tuple[Tuple[str, str], ...] = ()
        self._children: Dict[Tuple[str, Tuple[Tuple[str, str], ...]], "CollectorRegistry"] = {}
        # MetricGroup registrations made on this registry (group.py).
        self._groups: Dict[Any, Dict[str, Any]] = {}
        # Custom collectors registered here (_custom.py), by object.
        self._custom: Dict[Any, Any] = {}

    def _claim(self, collector: Any, names: List[str]) -> None:
        keys = [(self._labels, n) for n in names]
        with self._lock:
            duplicates = {n for labels, n in keys if (labels, n) in self._names_to_collectors}
            if duplicates:
                raise ValueError(
                    "Duplicated timeseries in CollectorRegistry: {} (a name may be declared once per registry)".format(duplicates)
                )
            for k in keys:
                self._names_to_collectors[k] = collector
            self._collector_to_names[collector] = keys

    def _release(self, collector: Any) -> None:
        with self._lock:
            for k in self._collector_to_names.pop(collector, []):
                self._names_to_collectors.pop(k, None)

    def register(self, collector: Any) -> None:
        """Registers a metric. nanometrics metrics register themselves at
        construction; registering one again raises ``ValueError`` (duplicate),
        as prometheus_client does."""
        if collector in self._collector_to_names:
            raise ValueError(
                "Duplicated timeseries in CollectorRegistry: {}".format(set(self._collector_to_names[collector]))
            )
        if isinstance(collector, _BoundCollector):
            raise ValueError(
                "nanometrics metrics are bound to the registry they were declared with; "
                "pass registry= at construction instead of register()"
            )
        collect = getattr(collector, "collect", None)
        if not callable(collect):
            raise TypeError(f"{collector!r} is not a collector: it has no collect()")
        # Its names, as prometheus_client learns them: from describe() when
        # it has one, else from collect() if the registry auto-describes
        # (REGISTRY does), else none (nothing to refuse as a duplicate).
        describe = getattr(collector, "describe", None)
        if callable(describe):
            families = list(describe())
        elif self._auto_describe:
            families = list(collect())
        else:
            families = []
        self._claim(collector, _custom.names_of(families, self._prefix))
        bridge = _custom.CustomCollector(self, collector, self._prefix)
        self._custom[collector] = bridge
        self._native.on_collect(id(bridge), bridge.run)

    def sub_registry(self, prefix: str = "", const_labels: Optional[Mapping[str, str]] = None) -> "CollectorRegistry":
        """A child registry (nanometrics only): metric names declared with it
        get ``prefix_`` in front and every series the ``const_labels``; its
        metrics are exposed with this registry's (and its ancestors').
        Asking again for the same prefix and labels gives the same child
        (the same object). A registry and its sub-registries claim names
        together: a name twice with the same constant labels raises
        ``ValueError``, as prometheus_client does. A label name already
        constant here raises ``ValueError``."""
        labels = tuple((str(k), str(v)) for k, v in (const_labels or {}).items())
        with self._lock:
            child = self._children.get((prefix, labels))
            if child is None:
                child = CollectorRegistry(_native_registry=self._native.sub_registry("", list(labels)))
                child._lock = self._lock
                child._names_to_collectors = self._names_to_collectors
                child._collector_to_names = self._collector_to_names
                child._custom = self._custom
                child._auto_describe = self._auto_describe
                child._prefix = "_".join(p for p in (self._prefix, prefix) if p)
                child._labels = self._labels + labels
                self._children[(prefix, labels)] = child
            return child

    def unregister(self, collector: Any) -> None:
        """Removes a metric from the registry; its handles keep working but are
        no longer exposed."""
        with self._lock:
            claimed = collector in self._collector_to_names
        # A default collector is unregistered from the registry it is in.
        if not claimed or (hasattr(collector, "_unregister") and collector._registry is not self):
            raise KeyError(f"{collector!r} is not registered")
        bridge = self._custom.pop(collector, None)
        if bridge is not None:
            bridge.registry._native.on_collect(id(bridge), None)
            bridge.unregister()
            self._release(collector)
            return
        if hasattr(collector, "_unregister"):
            # A default collector (process, platform, gc): it removes what
            # it registered.
            collector._unregister()
            self._release(collector)
            return
        collector._native_registry.unregister(collector._core_name)
        collector._family.drop_functions(collector)
        collector._exposed = False
        self._release(collector)

    def collect(self) -> Iterator[Metric]:
        """Yields every metric family, Rust-declared ones included."""
        yield from _metrics_from(self._native)

    def get_sample_value(self, name: str, labels: Optional[Dict[str, str]] = None) -> Optional[float]:
        """The value of one sample, or ``None`` (for tests)."""
        if labels is None:
            labels = {}
        for metric in self.collect():
            for s in metric.samples:
                if s.name == name and s.labels == labels:
                    return s.value
        return None


REGISTRY = CollectorRegistry(auto_describe=True, _native_registry=_native.Registry.default())


def _namespace_in(registry: Optional[CollectorRegistry], namespace: str) -> str:
    """``namespace`` under ``registry``'s prefix (a sub-registry's)."""
    prefix = registry._prefix if registry is not None else ""
    return "_".join(p for p in (prefix, namespace) if p)
