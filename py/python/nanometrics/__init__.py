"""nanometrics: ``prometheus_client``'s API on a Rust metrics core.

Switch by changing one import::

    import nanometrics as prometheus_client

Every update (``inc``, ``set``, ``observe``) is one call into Rust that
writes the calling thread's own slot: no lock, no allocation, no Python-side
dict lookup. ``labels(...)`` returns a cached child. Scrapes
(``generate_latest``, ``start_http_server``) read the registry without the
GIL, except to call ``Gauge.set_function`` callbacks.

Beyond prometheus_client: ``Histogram.stats()`` / ``Summary.stats()`` give
count, sum, min, max, mean, p50, p90 and p99 on demand, and metrics declared
from Rust code linked into this process (``nanometrics::global()``) share
``REGISTRY`` and its ``/metrics``.

Differences from prometheus_client, each deliberate:

* no ``_created`` samples; counters exposed in the text format only as
  ``_total``;
* counters refuse NaN and infinite increments as well as negative ones
  (``ValueError``), and label values may not contain a carriage return
  (no exposition format can carry one);
* ``le`` and ``quantile`` are reserved label names for every metric type;
* metric and label names outside the classic character set are escaped to
  underscores when declared (``a-b`` becomes ``a_b``), as prometheus_client
  escapes them when it writes them; two names that escape alike collide;
* exemplars and multi-process mode are not supported (passing an exemplar
  raises ``ValueError``; ``multiprocess_mode`` is validated and ignored);
* ``generate_latest`` writes the text format 0.0.4, so
  ``CONTENT_TYPE_LATEST`` names 0.0.4;
* ``start_http_server`` listens on 127.0.0.1 unless ``addr`` says otherwise
  (prometheus_client: 0.0.0.0), has no TLS, and returns ``(server,
  server)``; custom collectors (``register(obj)``) are not supported;
* the children of a labelled ``Info`` share one set of keys.
"""

from __future__ import annotations

import functools
import inspect
import math
import threading
import time as _time
from timeit import default_timer
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Literal,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    Union,
)

from . import _native

__all__ = (
    "CollectorRegistry",
    "REGISTRY",
    "Metric",
    "Sample",
    "Counter",
    "Gauge",
    "Summary",
    "Histogram",
    "Info",
    "Enum",
    "CONTENT_TYPE_LATEST",
    "CONTENT_TYPE_PLAIN_0_0_4",
    "generate_latest",
    "choose_encoder",
    "start_http_server",
    "MetricsServer",
    "make_wsgi_app",
    "make_asgi_app",
    "write_to_textfile",
)

CONTENT_TYPE_PLAIN_0_0_4: str = _native.TEXT_CONTENT_TYPE
CONTENT_TYPE_LATEST: str = CONTENT_TYPE_PLAIN_0_0_4

INF = float("inf")
F = TypeVar("F", bound=Callable[..., Any])


# === names ===


def _escape(s: str, metric: bool) -> str:
    """prometheus_client's "underscores" escaping: every character outside
    the classic set becomes ``_`` (digits may not lead)."""

    def ok(c: str, i: int) -> bool:
        return (
            ("a" <= c <= "z")
            or ("A" <= c <= "Z")
            or c == "_"
            or (metric and c == ":")
            or ("0" <= c <= "9" and i > 0)
        )

    return "".join(c if ok(c, i) else "_" for i, c in enumerate(s))


def _build_full_name(metric_type: str, name: str, namespace: str, subsystem: str, unit: str) -> str:
    if not name:
        raise ValueError("Metric name should not be empty")
    full_name = ""
    if namespace:
        full_name += namespace + "_"
    if subsystem:
        full_name += subsystem + "_"
    full_name += name
    if metric_type == "counter" and full_name.endswith("_total"):
        full_name = full_name[:-6]  # the family name; samples add _total
    if unit and not full_name.endswith("_" + unit):
        full_name += "_" + unit
    if unit and metric_type in ("info", "stateset"):
        raise ValueError("Metric name is of a type that cannot have a unit: " + full_name)
    return full_name


def _validate_labelnames(labelnames: Iterable[str], reserved: Sequence[str]) -> Tuple[str, ...]:
    names = tuple(labelnames)
    for n in names:
        if not isinstance(n, str):
            raise TypeError(f"label names must be str, got {n!r}")
        if n.startswith("__"):
            raise ValueError("Reserved label metric name: " + n + " (names starting with __ are reserved)")
        if n in reserved or n in ("le", "quantile"):
            raise ValueError("Reserved label metric name: " + n + " (le and quantile are reserved)")
    return names


# === exposition-side objects (as prometheus_client's) ===


class Sample(NamedTuple):
    """One sample, as ``prometheus_client.samples.Sample``."""

    name: str
    labels: Dict[str, str]
    value: float
    timestamp: Optional[float] = None
    exemplar: Optional[Any] = None
    native_histogram: Optional[Any] = None


class Metric:
    """A family of samples, as ``prometheus_client.metrics_core.Metric``."""

    def __init__(self, name: str, documentation: str, typ: str, unit: str = "") -> None:
        self.name = name
        self.documentation = documentation
        self.type = typ
        self.unit = unit
        self.samples: List[Sample] = []

    def add_sample(self, name: str, labels: Dict[str, str], value: float) -> None:
        self.samples.append(Sample(name, labels, value))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Metric)
            and self.name == other.name
            and self.documentation == other.documentation
            and self.type == other.type
            and self.unit == other.unit
            and self.samples == other.samples
        )

    def __repr__(self) -> str:
        return f"Metric({self.name!r}, {self.documentation!r}, {self.type!r}, {self.unit!r}, {self.samples!r})"


def _float_to_go_string(d: float) -> str:
    """How prometheus_client writes an ``le`` bound."""
    d = float(d)
    if d == INF:
        return "+Inf"
    if d == -INF:
        return "-Inf"
    if math.isnan(d):
        return "NaN"
    s = repr(d)
    dot = s.find(".")
    if d > 0 and dot > 6:
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1:]}".rstrip("0.")
        return f"{mantissa}e+0{dot - 1}"
    return s


def _metrics_from(native: Any) -> Iterator[Metric]:
    for name, help_, unit, kind, series in native.collect():
        if kind == "counter":
            base = name[:-6] if name.endswith("_total") else name
            m = Metric(base, help_, "counter", unit)
            for labels, v in series:
                m.add_sample(base + "_total", dict(labels), v)
        elif kind == "histogram":
            m = Metric(name, help_, "histogram", unit)
            for labels, (count, total, buckets) in series:
                lab = dict(labels)
                for le, c in buckets:
                    m.add_sample(name + "_bucket", {**lab, "le": _float_to_go_string(le)}, float(c))
                m.add_sample(name + "_count", lab, float(count))
                m.add_sample(name + "_sum", lab, total)
        elif kind == "summary":
            m = Metric(name, help_, "summary", unit)
            for labels, (count, total) in series:
                lab = dict(labels)
                m.add_sample(name + "_count", lab, float(count))
                m.add_sample(name + "_sum", lab, total)
        elif kind == "info":
            base = name[:-5] if name.endswith("_info") else name
            m = Metric(base, help_, "info", unit)
            for labels, v in series:
                m.add_sample(name, dict(labels), v)
        else:
            typ = "stateset" if kind == "stateset" else "gauge"
            m = Metric(name, help_, typ, unit)
            for labels, v in series:
                m.add_sample(name, dict(labels), v)
        yield m


# === registry ===


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
        self._lock = threading.Lock()
        self._names_to_collectors: Dict[str, Any] = {}
        self._collector_to_names: Dict[Any, List[str]] = {}

    def _claim(self, collector: Any, names: List[str]) -> None:
        with self._lock:
            duplicates = set(self._names_to_collectors).intersection(names)
            if duplicates:
                raise ValueError(
                    "Duplicated timeseries in CollectorRegistry: {} (a name may be declared once per registry)".format(duplicates)
                )
            for n in names:
                self._names_to_collectors[n] = collector
            self._collector_to_names[collector] = names

    def _release(self, collector: Any) -> None:
        with self._lock:
            for n in self._collector_to_names.pop(collector, []):
                self._names_to_collectors.pop(n, None)

    def register(self, collector: Any) -> None:
        """Registers a metric. nanometrics metrics register themselves at
        construction; registering one again raises ``ValueError`` (duplicate),
        as prometheus_client does."""
        if collector in self._collector_to_names:
            raise ValueError(
                "Duplicated timeseries in CollectorRegistry: {}".format(set(self._collector_to_names[collector]))
            )
        if isinstance(collector, MetricWrapperBase):
            raise ValueError(
                "nanometrics metrics are bound to the registry they were declared with; "
                "pass registry= at construction instead of register()"
            )
        raise TypeError(
            "custom collectors are not supported by nanometrics: declare Counter/Gauge/... "
            "(Gauge.set_function computes a value at scrape time)"
        )

    def unregister(self, collector: Any) -> None:
        """Removes a metric from the registry; its handles keep working but are
        no longer exposed."""
        with self._lock:
            if collector not in self._collector_to_names:
                raise KeyError(f"{collector!r} is not registered")
        self._native.unregister(collector._core_name)
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


REGISTRY = CollectorRegistry(_native_registry=_native.Registry.default())


# === context managers and decorators ===


def _decorate(f: F, cm: Callable[[], Any]) -> F:
    if inspect.iscoroutinefunction(f):

        @functools.wraps(f)
        async def awrapped(*args: Any, **kwargs: Any) -> Any:
            with cm():
                return await f(*args, **kwargs)

        return awrapped  # type: ignore[return-value]

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with cm():
            return f(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


class Timer:
    """Times a block or a function into ``observe`` (or ``set``)."""

    def __init__(self, metric: Any, callback_name: str) -> None:
        self._metric = metric
        self._callback_name = callback_name
        self.duration: Optional[float] = None

    def _new_timer(self) -> "Timer":
        return self.__class__(self._metric, self._callback_name)

    def __enter__(self) -> "Timer":
        self._start = default_timer()
        return self

    def __exit__(self, typ: Any, value: Any, traceback: Any) -> None:
        self.duration = max(default_timer() - self._start, 0)
        getattr(self._metric, self._callback_name)(self.duration)

    def labels(self, *args: Any, **kw: Any) -> None:
        self._metric = self._metric.labels(*args, **kw)

    def __call__(self, f: F) -> F:
        return _decorate(f, self._new_timer)


class ExceptionCounter:
    """Counts exceptions of a type that leave a block or a function."""

    def __init__(self, counter: Any, exception: Union[Type[BaseException], Tuple[Type[BaseException], ...]]) -> None:
        self._counter = counter
        self._exception = exception

    def __enter__(self) -> None:
        pass

    def __exit__(self, typ: Any, value: Any, traceback: Any) -> "Literal[False]":
        if isinstance(value, self._exception):
            self._counter.inc()
        return False

    def __call__(self, f: F) -> F:
        return _decorate(f, lambda: self)


class InprogressTracker:
    """Increments a gauge while a block or a function runs."""

    def __init__(self, gauge: Any) -> None:
        self._gauge = gauge

    def __enter__(self) -> None:
        self._gauge.inc()

    def __exit__(self, typ: Any, value: Any, traceback: Any) -> None:
        self._gauge.dec()

    def __call__(self, f: F) -> F:
        return _decorate(f, lambda: self)


class _CounterMethods:
    __slots__ = ()

    def count_exceptions(self, exception: Union[Type[BaseException], Tuple[Type[BaseException], ...]] = Exception) -> ExceptionCounter:
        """Counts exceptions of ``exception`` type raised out of a block or function."""
        return ExceptionCounter(self, exception)


class _GaugeMethods:
    __slots__ = ()

    def track_inprogress(self) -> InprogressTracker:
        """Counts the blocks or calls in progress."""
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


class MetricWrapperBase:
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
        self._name = _build_full_name(self._type, name, namespace, subsystem, unit)
        self._labelnames = _validate_labelnames(labelnames, self._reserved_labelnames)
        self._documentation = documentation
        self._unit = unit
        exposed = _escape(self._name, metric=True)
        self._core_name = exposed + "_total" if self._type == "counter" else exposed
        if self._type == "info":
            self._core_name = exposed + "_info"
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
        return f"{t.__module__}.{t.__name__}({self._name})"

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
        full = _build_full_name(self._type, name, namespace, subsystem, unit)
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


# === exposition ===


def generate_latest(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The registry in the Prometheus text format 0.0.4 (read without the GIL)."""
    return registry._native.encode(False)


def choose_encoder(accept_header: str) -> Tuple[Callable[[CollectorRegistry], bytes], str]:
    """``(encoder, content type)`` for an ``Accept`` header: OpenMetrics when
    the client prefers it, else the text format."""
    from .openmetrics import exposition as om

    if _native.wants_openmetrics(accept_header or ""):
        return om.generate_latest, om.CONTENT_TYPE_LATEST
    return generate_latest, CONTENT_TYPE_LATEST


def write_to_textfile(path: str, registry: CollectorRegistry = REGISTRY) -> None:
    """Writes the text format to ``path`` atomically (for the node exporter's
    textfile collector)."""
    import os

    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}"
    try:
        with open(tmp, "wb") as f:
            f.write(generate_latest(registry))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


_RUNNING: "set[MetricsServer]" = set()
_RUNNING_LOCK = threading.Lock()


class MetricsServer:
    """A running ``/metrics`` server, served from Rust threads. It keeps
    serving until ``shutdown()`` (or the process exits), whether or not the
    caller keeps this object: ``start_http_server(8000)`` alone is enough."""

    def __init__(self, native: Any) -> None:
        self._native = native
        with _RUNNING_LOCK:
            _RUNNING.add(self)

    @property
    def server_address(self) -> Tuple[str, int]:
        return (self._native.host, self._native.port)

    @property
    def server_port(self) -> int:
        return int(self._native.port)

    def shutdown(self) -> None:
        """Stops serving and frees the port (in-flight scrapes finish)."""
        self._native.shutdown()
        with _RUNNING_LOCK:
            _RUNNING.discard(self)

    def server_close(self) -> None:
        self.shutdown()

    def is_alive(self) -> bool:
        return bool(self._native.is_alive())

    def join(self, timeout: Optional[float] = None) -> None:
        """Waits until the server is shut down (or ``timeout`` seconds)."""
        deadline = None if timeout is None else _time.monotonic() + timeout
        while self.is_alive() and (deadline is None or _time.monotonic() < deadline):
            _time.sleep(0.05)


def start_http_server(
    port: int,
    addr: str = "127.0.0.1",
    registry: CollectorRegistry = REGISTRY,
    certfile: Optional[str] = None,
    keyfile: Optional[str] = None,
) -> Tuple[MetricsServer, MetricsServer]:
    """Serves ``/metrics`` (text 0.0.4, or OpenMetrics when asked; gzip when
    accepted), ``/health`` and ``/live`` on ``addr:port`` from Rust threads.
    Port 0 picks a free port (see ``server.server_port``). Returns
    ``(server, server)``, the shape of prometheus_client's ``(server,
    thread)``: both have ``shutdown()``-able/``join()``-able handles."""
    if certfile is not None or keyfile is not None:
        raise ValueError("TLS is not supported by nanometrics' server; terminate TLS in front of it")
    srv = MetricsServer(registry._native.serve(int(port), addr))
    return srv, srv


def make_wsgi_app(registry: CollectorRegistry = REGISTRY, disable_compression: bool = False) -> Callable[..., Any]:
    """A WSGI app that serves the registry (content negotiation included)."""

    def app(environ: Dict[str, Any], start_response: Callable[..., Any]) -> List[bytes]:
        encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
        body = encoder(registry)
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        if environ.get("REQUEST_METHOD") == "HEAD":
            return [b""]
        return [body]

    return app


def make_asgi_app(registry: CollectorRegistry = REGISTRY, disable_compression: bool = False) -> Callable[..., Any]:
    """An ASGI app that serves the registry (content negotiation included)."""

    async def app(scope: Dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        assert scope["type"] == "http"
        accept = ""
        for k, v in scope.get("headers", []):
            if k.decode("latin-1").lower() == "accept":
                accept = v.decode("latin-1")
        encoder, content_type = choose_encoder(accept)
        body = encoder(registry)
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())],
        })
        await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})

    return app
