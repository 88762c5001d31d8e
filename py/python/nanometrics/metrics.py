"""The metric types (``prometheus_client.metrics``): ``Counter``, ``Gauge``,
``Histogram``, ``Summary``, ``Info`` and ``Enum``, their shared base
``MetricWrapperBase``, and the children ``labels(...)`` returns.

``Counter``, ``Gauge``, ``Histogram`` and ``Summary`` subclass the native
series types, so a metric without labels *is* its series and ``labels()``
is native; ``Info`` and ``Enum`` keep Python children over a gauge family.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Type, Union

from . import _created, _native
from ._names import _build_full_name, _escape, _validate_labelnames
from .context_managers import ExceptionCounter, InprogressTracker, Timer
from .metrics_core import Metric, _metrics_from
from .registry import REGISTRY, CollectorRegistry, _BoundCollector, _namespace_in
from .samples import Sample
from .utils import INF


def disable_created_metrics() -> None:
    """Stops writing ``_created`` samples (as prometheus_client's)."""
    _created.set_enabled(False)


def enable_created_metrics() -> None:
    """Writes ``_created`` samples again (as prometheus_client's)."""
    _created.set_enabled(True)

_PACKAGE = __name__.rpartition(".")[0]

__all__ = (
    "MetricWrapperBase",
    "Counter",
    "Gauge",
    "Histogram",
    "Summary",
    "Info",
    "Enum",
    "disable_created_metrics",
    "enable_created_metrics",
    # Also importable from prometheus_client.metrics:
    "CollectorRegistry",
    "REGISTRY",
    "Metric",
    "Sample",
)


# === the mixins that add time() & co. and the native children ===


def _raise_if_not_observable(metric: Any) -> None:
    """A metric with label names is observed through ``labels(...)``: as
    prometheus_client's, ``count_exceptions()`` and ``track_inprogress()``
    refuse it at once rather than at the first use (children have no
    ``_labelnames``)."""
    if getattr(metric, "_labelnames", ()):
        metric._raise_if_not_observable()


class _CounterMethods:
    __slots__ = ()

    def count_exceptions(self, exception: Union[Type[BaseException], Tuple[Type[BaseException], ...]] = Exception) -> ExceptionCounter:
        """Counts exceptions of ``exception`` type raised out of a block or function."""
        _raise_if_not_observable(self)
        return ExceptionCounter(self, exception)


class _GaugeMethods:
    __slots__ = ()

    def track_inprogress(self) -> InprogressTracker:
        """Counts the blocks or calls in progress."""
        _raise_if_not_observable(self)
        return InprogressTracker(self)

    def time(self) -> Timer:
        """Sets the gauge to the duration of a block or call, in seconds."""
        return Timer(self, "set")


class _ObserveMethods:
    __slots__ = ()

    def time(self) -> Timer:
        """Observes the duration of a block or call, in seconds."""
        return Timer(self, "observe")


class _CounterChild(_CounterMethods, _native.CounterChild):
    __slots__ = ()


class _GaugeChild(_GaugeMethods, _native.GaugeChild):
    __slots__ = ()


class _HistogramChild(_ObserveMethods, _native.HistogramChild):
    __slots__ = ()


class _SummaryChild(_ObserveMethods, _native.SummaryChild):
    __slots__ = ()


# === metrics ===


class MetricWrapperBase(_BoundCollector):
    """What every metric type shares: name building, registration, labels."""

    _type: str = ""
    _kind: str = ""
    _child_cls: Any = None
    _reserved_labelnames: Sequence[str] = ()
    _suffixes: Tuple[str, ...] = ()
    # False for Info and Enum, whose children are Python objects over a
    # gauge family: no native labels() and no series of their own.
    _native_series = True

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: Optional[CollectorRegistry] = REGISTRY,
        *,
        cardinality_limit: Optional[int] = None,
        _buckets: Optional[List[float]] = None,
        _extra_labels: Sequence[str] = (),
    ) -> None:
        if not isinstance(name, str):
            raise TypeError(f"metric name must be str, got {name!r}")
        namespace = _namespace_in(registry, namespace)
        self._name = _build_full_name(self._type, name, namespace, subsystem, unit)
        self._labelnames = _validate_labelnames(labelnames, self._reserved_labelnames)
        self._documentation = documentation
        self._unit = unit
        exposed = _escape(self._name, metric=True)
        self._core_name = _native.declared_name(exposed, self._type)
        self._registry = registry
        names = [exposed] + [exposed + s for s in self._suffixes]
        native = registry._native if registry is not None else _native.Registry()
        self._native_registry = native
        if registry is not None:
            registry._claim(self, names)
        try:
            core_labels = [_escape(n, metric=False) for n in self._labelnames + tuple(_extra_labels)]
            self._family = native.family(
                self._kind,
                self._core_name,
                documentation,
                core_labels,
                unit,
                _buckets,
                self._child_cls,
                cardinality_limit,
                list(self._labelnames + tuple(_extra_labels)),
            )
        except BaseException:
            if registry is not None:
                registry._release(self)
            raise
        self._exposed = registry is not None
        if self._labelnames and self._native_series:
            self.labels = self._family.labels  # type: ignore[method-assign]
        elif not self._labelnames and self._native_series:
            # A metric without labels is its own (only) series.
            self._bind(self._family, ())  # type: ignore[attr-defined]

    def __str__(self) -> str:
        return f"{self._type}:{self._name}"

    def __repr__(self) -> str:
        t = type(self)
        # nanometrics' own types keep the repr they had when they lived in
        # the package's __init__ ("nanometrics.Counter(name)").
        module = _PACKAGE if t.__module__ == __name__ else t.__module__
        return f"{module}.{t.__name__}({self._name})"

    def _raise_if_not_observable(self) -> None:
        if self._labelnames:
            raise ValueError(f"{self._type} metric is missing label values (call .labels(...) first)")

    def labels(self, *labelvalues: Any, **labelkwargs: Any) -> Any:
        """The child for these label values (cached)."""
        return self._family.labels(*labelvalues, **labelkwargs)

    def remove(self, *labelvalues: Any) -> None:
        """Removes one label set; a later ``labels(...)`` starts it at zero."""
        if not self._labelnames:
            raise ValueError("No label names were set when constructing %s" % self)
        if len(labelvalues) != len(self._labelnames):
            raise ValueError(
                "Incorrect label count (expected %d, got %s)" % (len(self._labelnames), labelvalues)
            )
        self._family.remove(*labelvalues)

    def _label_values(self, labelvalues: Tuple[Any, ...], labelkwargs: Dict[str, Any]) -> Tuple[str, ...]:
        """``labels(...)``'s arguments as a tuple of ``str``, with
        prometheus_client's rules (for the metrics whose children are
        Python objects; the others resolve natively)."""
        if not self._labelnames:
            raise ValueError("No label names were set when constructing %s" % self)
        if labelvalues and labelkwargs:
            raise ValueError("Can't pass both *args and **kwargs")
        if labelkwargs:
            if sorted(labelkwargs) != sorted(self._labelnames):
                raise ValueError("Incorrect label names")
            return tuple(str(labelkwargs[n]) for n in self._labelnames)
        if len(labelvalues) != len(self._labelnames):
            raise ValueError("Incorrect label count")
        return tuple(str(v) for v in labelvalues)

    def _check_remove_by_labels(self, labels: Dict[str, str]) -> None:
        if not self._labelnames:
            raise ValueError("No label names were set when constructing %s" % self)
        if not isinstance(labels, dict):
            raise TypeError("labels must be a dict of {label_name: label_value}")
        invalid = [k for k in labels if k not in self._labelnames]
        if invalid:
            raise ValueError("Unknown label names: %s; expected %s" % (invalid, self._labelnames))

    def _undo_registration(self) -> None:
        """Takes back a declaration whose construction failed half-way."""
        self._native_registry.unregister(self._core_name)
        if self._registry is not None:
            self._registry._release(self)

    def remove_by_labels(self, labels: Dict[str, str]) -> None:
        """Removes every label set that matches all of ``labels``."""
        self._check_remove_by_labels(labels)
        if not labels:
            return
        pos = {self._labelnames.index(k): str(v) for k, v in labels.items()}
        for key in self._family.keys():
            if all(key[i] == want for i, want in pos.items()):
                self._family.remove(*key)

    def clear(self) -> None:
        """Removes every label set."""
        if not self._labelnames:
            return
        self._family.clear()

    def collect(self) -> List[Metric]:
        """This metric's family alone, as prometheus_client's ``collect``."""
        name = _escape(self._name, True)
        return [m for m in _metrics_from(self._native_registry) if m.name == name]

    def describe(self) -> List[Metric]:
        return [Metric(self._name, self._documentation, self._type, self._unit)]


class Counter(_CounterMethods, MetricWrapperBase, _native.CounterChild):
    """A monotonic count (``prometheus_client.Counter``), exposed as
    ``<name>_total``; ``inc(amount)`` takes non-negative floats. Without
    label names the metric is its own series: ``inc`` is one call into
    Rust."""

    _type = "counter"
    _kind = "counter"
    _child_cls = _CounterChild
    _suffixes = ("_total", "_created")


class Gauge(_GaugeMethods, MetricWrapperBase, _native.GaugeChild):
    """A value that goes up and down (``prometheus_client.Gauge``)."""

    _type = "gauge"
    _kind = "gauge"
    _child_cls = _GaugeChild
    _MULTIPROC_MODES = frozenset(
        ("all", "liveall", "min", "livemin", "max", "livemax", "sum", "livesum", "mostrecent", "livemostrecent")
    )

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: Optional[CollectorRegistry] = REGISTRY,
        multiprocess_mode: str = "all",
        *,
        cardinality_limit: Optional[int] = None,
    ) -> None:
        if multiprocess_mode not in self._MULTIPROC_MODES:
            raise ValueError("Invalid multiprocess mode: " + multiprocess_mode)
        super().__init__(
            name, documentation, labelnames, namespace, subsystem, unit, registry,
            cardinality_limit=cardinality_limit,
        )


class Histogram(_ObserveMethods, MetricWrapperBase, _native.HistogramChild):
    """Observations counted into buckets (``prometheus_client.Histogram``);
    ``stats()`` adds min, max, mean and quantiles."""

    _type = "histogram"
    _kind = "histogram"
    _child_cls = _HistogramChild
    _reserved_labelnames = ("le",)
    _suffixes = ("_bucket", "_sum", "_count", "_created")
    DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, INF)

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: Optional[CollectorRegistry] = REGISTRY,
        buckets: Sequence[Union[float, str]] = DEFAULT_BUCKETS,
        *,
        cardinality_limit: Optional[int] = None,
    ) -> None:
        b = [float(x) for x in buckets]
        if b != sorted(b):
            raise ValueError("Buckets not in sorted order")
        if b and b[-1] != INF:
            b.append(INF)
        if len(b) < 2:
            raise ValueError("Must have at least two buckets")
        self._upper_bounds = b
        super().__init__(
            name, documentation, labelnames, namespace, subsystem, unit, registry,
            cardinality_limit=cardinality_limit, _buckets=b[:-1],
        )


class Summary(_ObserveMethods, MetricWrapperBase, _native.SummaryChild):
    """Observations exposed as ``_count`` and ``_sum``
    (``prometheus_client.Summary``); ``stats()`` adds min, max, mean and
    quantiles."""

    _type = "summary"
    _kind = "summary"
    _child_cls = _SummaryChild
    _reserved_labelnames = ("quantile",)
    _suffixes = ("_sum", "_count", "_created")


class _InfoChild:
    __slots__ = ("_parent", "_values", "_current", "_has_info")

    def __init__(self, parent: "Info", values: Tuple[str, ...]) -> None:
        self._parent = parent
        self._values = values
        # The label values of this child's series (its labels, then the keys').
        self._current: Tuple[str, ...] = values
        self._has_info = False

    def info(self, val: Dict[str, str]) -> None:
        """Sets the information (a dict of label names to values)."""
        self._parent._set(self, val)


class Info(MetricWrapperBase):
    """Key-value information exposed as ``<name>_info{...} 1``
    (``prometheus_client.Info``). The keys become label names, so every
    child of a labelled Info uses the same keys (the core's families have
    fixed label names); a child without information yet shows the keys'
    labels empty, which Prometheus reads as absent."""

    _type = "info"
    _kind = "info"
    _child_cls = _GaugeChild
    _suffixes = ("_info",)
    _native_series = False

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Iterable[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: Optional[CollectorRegistry] = REGISTRY,
    ) -> None:
        super().__init__(name, documentation, labelnames, namespace, subsystem, unit, registry)
        self._keys: Tuple[str, ...] = ()
        self._children: Dict[Tuple[str, ...], _InfoChild] = {}
        self._info_lock = threading.Lock()
        if not self._labelnames:
            self._solo = _InfoChild(self, ())
            self._series(()).set(1.0)

    def _series(self, values: Tuple[str, ...]) -> Any:
        if not values:
            child = _GaugeChild()
            child._bind(self._family, ())
            return child
        return self._family.labels(*values)

    def labels(self, *labelvalues: Any, **labelkwargs: Any) -> _InfoChild:
        values = self._label_values(labelvalues, labelkwargs)
        with self._info_lock:
            child = self._children.get(values)
            if child is None:
                child = _InfoChild(self, values)
                child._current = values + ("",) * len(self._keys)
                self._series(child._current).set(1.0)
                self._children[values] = child
            return child

    def info(self, val: Dict[str, str]) -> None:
        """Sets the information (a dict of label names to values)."""
        self._raise_if_not_observable()
        self._set(self._solo, val)

    def remove(self, *labelvalues: Any) -> None:
        if not self._labelnames:
            raise ValueError("No label names were set when constructing %s" % self)
        if len(labelvalues) != len(self._labelnames):
            raise ValueError(
                "Incorrect label count (expected %d, got %s)" % (len(self._labelnames), labelvalues)
            )
        with self._info_lock:
            child = self._children.pop(tuple(str(v) for v in labelvalues), None)
            if child is not None:
                self._family.remove(*child._current)

    def remove_by_labels(self, labels: Dict[str, str]) -> None:
        self._check_remove_by_labels(labels)
        pos = {self._labelnames.index(k): str(v) for k, v in labels.items()}
        for key in list(self._children):
            if all(key[i] == want for i, want in pos.items()):
                self.remove(*key)

    def clear(self) -> None:
        if not self._labelnames:
            return
        with self._info_lock:
            self._children.clear()
            self._family.clear()

    def _set(self, child: _InfoChild, val: Dict[str, str]) -> None:
        if set(self._labelnames).intersection(val.keys()):
            raise ValueError(
                "Overlapping labels for Info metric, metric: {} child: {}".format(self._labelnames, val)
            )
        if any(v is None for v in val.values()):
            raise ValueError("Label value cannot be None")
        keys = tuple(val.keys())
        _validate_labelnames(keys, ())
        escaped = [_escape(n, metric=False) for n in self._labelnames + keys]
        if "" in escaped or len(set(escaped)) != len(escaped):
            raise ValueError(
                f"Info {self._name}: label names {list(self._labelnames + keys)} are empty "
                f"or collide once escaped ({escaped})"
            )
        with self._info_lock:
            if keys != self._keys:
                children = [self._solo] if not self._labelnames else list(self._children.values())
                if any(c._has_info for c in children if c is not child):
                    raise ValueError(
                        f"every child of Info {self._name} must use the same keys: "
                        f"{list(self._keys)} already, now {list(keys)}"
                    )
                try:
                    self._redeclare(keys)
                except BaseException:
                    for c in children:  # the old declaration is back, empty
                        self._series(c._current).set(1.0)
                    raise
                for c in children:
                    c._current = c._values + ("",) * len(keys)
                    c._has_info = False
                    if c is not child:
                        self._series(c._current).set(1.0)
            values = child._values + tuple(str(val[k]) for k in keys)
            if child._current != values:
                self._family.remove(*child._current)
            self._series(values).set(1.0)
            child._current = values
            child._has_info = True

    def _redeclare(self, keys: Tuple[str, ...]) -> None:
        """Declares the family again with label names for ``keys`` (the old
        declaration if that fails)."""

        def declare(k: Tuple[str, ...]) -> Any:
            return self._native_registry.family(
                "info",
                self._core_name,
                self._documentation,
                [_escape(n, metric=False) for n in self._labelnames + k],
                "",
                None,
                _GaugeChild,
            )

        if self._exposed:
            self._native_registry.unregister(self._core_name)
        else:
            # Unregistered: keep working out of sight, as other metrics do.
            self._native_registry = _native.Registry()
        try:
            self._family = declare(keys)
        except BaseException:
            self._family = declare(self._keys)
            raise
        self._keys = keys


class _EnumChild:
    __slots__ = ("_parent", "_values")

    def __init__(self, parent: "Enum", values: Tuple[str, ...]) -> None:
        self._parent = parent
        self._values = values

    def state(self, state: str) -> None:
        """Sets the current state."""
        self._parent._state(self._values, state)


class Enum(MetricWrapperBase):
    """One of a fixed set of states (``prometheus_client.Enum``), exposed as
    one sample per state, 1 for the current one."""

    _type = "stateset"
    _kind = "stateset"
    _child_cls = _GaugeChild
    _native_series = False

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        namespace: str = "",
        subsystem: str = "",
        unit: str = "",
        registry: Optional[CollectorRegistry] = REGISTRY,
        states: Optional[Sequence[str]] = None,
    ) -> None:
        full = _build_full_name(self._type, name, _namespace_in(registry, namespace), subsystem, unit)
        if full in labelnames:
            raise ValueError(f"Overlapping labels for Enum metric: {full}")
        if not states:
            raise ValueError(f"No states provided for Enum metric: {full}")
        self._states = [str(s) for s in states]
        super().__init__(
            name, documentation, labelnames, namespace, subsystem, unit, registry,
            _extra_labels=(full,),
        )
        self._enum_children: Dict[Tuple[str, ...], _EnumChild] = {}
        self._enum_lock = threading.Lock()
        if not self._labelnames:
            try:
                self._state((), self._states[0])
            except BaseException:
                self._undo_registration()
                raise

    def labels(self, *labelvalues: Any, **labelkwargs: Any) -> _EnumChild:
        values = self._label_values(labelvalues, labelkwargs)
        with self._enum_lock:
            child = self._enum_children.get(values)
            if child is None:
                child = self._enum_children[values] = _EnumChild(self, values)
                self._state(values, self._states[0])
            return child

    def state(self, state: str) -> None:
        """Sets the current state."""
        self._raise_if_not_observable()
        self._state((), state)

    def _state(self, values: Tuple[str, ...], state: str) -> None:
        idx = self._states.index(state)  # ValueError for an unknown state
        for i, s in enumerate(self._states):
            self._family.labels(*values, s).set(1.0 if i == idx else 0.0)

    def remove(self, *labelvalues: Any) -> None:
        if not self._labelnames:
            raise ValueError("No label names were set when constructing %s" % self)
        if len(labelvalues) != len(self._labelnames):
            raise ValueError(
                "Incorrect label count (expected %d, got %s)" % (len(self._labelnames), labelvalues)
            )
        values = tuple(str(v) for v in labelvalues)
        with self._enum_lock:
            self._enum_children.pop(values, None)
        for s in self._states:
            self._family.remove(*values, s)

    def remove_by_labels(self, labels: Dict[str, str]) -> None:
        self._check_remove_by_labels(labels)
        pos = {self._labelnames.index(k): str(v) for k, v in labels.items()}
        for key in list(self._enum_children):
            if all(key[i] == want for i, want in pos.items()):
                self.remove(*key)

    def clear(self) -> None:
        with self._enum_lock:
            self._enum_children.clear()
        super().clear()

