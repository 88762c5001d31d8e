"""Metrics declared together, as a class (nanometrics only)::

    import nanometrics
    from nanometrics import Counter, Histogram, MetricGroup, declare

    class EngineMetrics(MetricGroup, prefix="engine"):
        requests = declare(Counter, "requests", "Requests finished.", ["model", "status"])
        ttft = declare(Histogram, "time_to_first_token_seconds", "TTFT.",
                       buckets=(0.01, 0.1, 1.0))

    m = EngineMetrics(registry=nanometrics.REGISTRY, const_labels={"worker": "w1"})
    m.requests.labels("llama", "ok").inc()      # a Counter, as typed

``declare(cls, *args, **kwargs)`` records a metric without registering it;
instantiating the group registers every declaration of the class (and of
its bases) on a sub-registry of ``registry`` with the class's ``prefix``
and the ``const_labels`` given, all or none, and binds the metrics to the
instance's attributes. Two instances with the same registry, prefix and
labels share one registration: the second gets the same series (as a Rust
``#[derive(Metrics)]`` registered twice does).
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Dict, Generic, Mapping, Optional, Tuple, Type, TypeVar, overload

from .registry import REGISTRY, CollectorRegistry

T = TypeVar("T")
_lock = threading.Lock()

__all__ = ["MetricGroup", "declare", "Declared"]


class Declared(Generic[T]):
    """A metric of a ``MetricGroup``, declared but not registered: on an
    instance of the group, the registered metric (``T``)."""

    def __init__(self, cls: Type[T], args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
        if "registry" in kwargs:
            raise TypeError("a declared metric takes its registry from the group it is in")
        self.cls = cls
        self.args = args
        self.kwargs = kwargs
        self.attr = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr = name

    @overload
    def __get__(self, obj: None, owner: type) -> "Declared[T]": ...

    @overload
    def __get__(self, obj: object, owner: type) -> T: ...

    def __get__(self, obj: Optional[object], owner: type) -> Any:
        if obj is None:
            return self
        try:
            return obj.__dict__[self.attr]
        except KeyError:
            raise AttributeError(f"{self.attr!r} is not registered: instantiate the group first") from None

    def register(self, registry: CollectorRegistry) -> T:
        """The metric, registered on ``registry``."""
        make: Any = self.cls  # every metric type takes registry=
        result: T = make(*self.args, registry=registry, **self.kwargs)
        return result


def declare(cls: Type[T], *args: Any, **kwargs: Any) -> Declared[T]:
    """``cls(*args, **kwargs)`` as a member of a ``MetricGroup``: registered
    when the group is instantiated, on the group's registry."""
    return Declared(cls, args, kwargs)


class MetricGroup:
    """A class of declared metrics; see the module. ``prefix`` (a class
    keyword; a subclass without one keeps its base's) goes in front of
    every name; subclasses inherit declarations, and a subclass's
    attribute of the same name replaces the base's (``None`` removes it)."""

    _prefix: ClassVar[str] = ""

    def __init_subclass__(cls, prefix: Optional[str] = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if prefix is not None:
            cls._prefix = prefix

    @classmethod
    def _declarations(cls) -> Dict[str, Declared[Any]]:
        """The declarations in force: the most derived class's of each name."""
        found: Dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            for name, member in vars(klass).items():
                if not name.startswith("__"):
                    found[name] = member
        return {name: m for name, m in found.items() if isinstance(m, Declared)}

    def __init__(
        self,
        registry: CollectorRegistry = REGISTRY,
        const_labels: Optional[Mapping[str, str]] = None,
    ) -> None:
        if not isinstance(registry, CollectorRegistry):
            raise TypeError(f"registry must be a CollectorRegistry, not {registry!r}")
        labels = tuple(sorted((str(k), str(v)) for k, v in (const_labels or {}).items()))
        child = registry.sub_registry(self._prefix, dict(labels)) if (self._prefix or labels) else registry
        # One registration per group class and registry: what a second
        # instance gets (kept on the registry, dropped with it).
        with _lock:
            metrics = child._groups.get(type(self))
            if metrics is None:
                metrics = {}
                try:
                    for name, member in self._declarations().items():
                        metrics[name] = member.register(child)
                except BaseException:
                    # All or nothing: what was registered goes again.
                    for m in metrics.values():
                        try:
                            child.unregister(m)
                        except KeyError:
                            pass
                    raise
                child._groups[type(self)] = metrics
        self.__dict__.update(metrics)
