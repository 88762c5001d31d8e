"""nanometrics: ``prometheus_client``'s API on a Rust metrics core.

Switch by changing one import::

    import nanometrics as prometheus_client

Every update (``inc``, ``set``, ``observe``) is one call into Rust that
writes the calling thread's own slot: no lock, no allocation, no Python-side
dict lookup. ``labels(...)`` returns a cached child. Scrapes
(``generate_latest``, ``start_http_server``) read the registry without the
GIL, except to call ``Gauge.set_function`` callbacks.

Beyond prometheus_client: ``Histogram.stats()`` / ``Summary.stats()`` give
count, sum, min, max, mean, p50, p90 and p99 on demand (``stats(window=10)``:
over the last 10 s; ``Counter.rate(window=60)``: per second), ``watch()``
follows series in real time with callbacks, iterators and thresholds
(``realtime``), ``stream()`` reads another process's ``/metrics/stream``
(``stream``), and metrics declared
from Rust code linked into this process (``nanometrics::global()``) share
``REGISTRY`` and its ``/metrics``.

``REGISTRY`` holds prometheus_client's default collectors from import:
``PROCESS_COLLECTOR`` (``process_*``, read by Rust from ``/proc``, plus
``process_threads``), ``PLATFORM_COLLECTOR`` (``python_info``) and
``GC_COLLECTOR`` (``python_gc_*``, following ``gc.callbacks``); none of
them takes the GIL at a scrape. Custom collectors (``register(obj)``, an
object whose ``collect()`` yields ``nanometrics.core.GaugeMetricFamily``,
``CounterMetricFamily``, ...) are read at each scrape, with the GIL;
their summaries' quantiles and samples' timestamps are not exposed, and a
gauge histogram fails the scrape.

Differences from prometheus_client, each deliberate:

* counters refuse NaN and infinite increments as well as negative ones
  (``ValueError``), and label values may not contain a carriage return
  (no exposition format can carry one);
* ``le`` and ``quantile`` are reserved label names for every metric type;
* metric and label names outside the classic character set are escaped to
  underscores when declared (``a-b`` becomes ``a_b``), as prometheus_client
  escapes them when it writes them; two names that escape alike collide;
* multi-process mode is not supported (``multiprocess_mode`` is validated
  and ignored); exemplars (``inc(exemplar=...)``, ``observe(exemplar=...)``)
  are validated before the update, so a bad one raises and changes nothing
  (prometheus_client updates, then raises), their label names are escaped
  like every other name, and a custom collector's exemplars are not
  exposed;
* ``generate_latest`` writes the text format 0.0.4, so
  ``CONTENT_TYPE_LATEST`` names 0.0.4;
* ``start_http_server`` listens on 127.0.0.1 unless ``addr`` says otherwise
  (prometheus_client: 0.0.0.0), has no TLS, and returns ``(server,
  server)``;
* the children of a labelled ``Info`` share one set of keys.

The code lives in modules named as prometheus_client's: ``registry``
(``CollectorRegistry``, ``REGISTRY``), ``metrics`` (the metric types),
``metrics_core`` (``Metric``), ``samples`` (``Sample``),
``context_managers`` (timers, in-progress trackers, exception counters),
``exposition`` (text format, server, WSGI/ASGI apps, textfile),
``openmetrics.exposition``, ``core`` (the core types together),
``realtime`` (windows, watches), ``stream`` (the stream client) and
``group`` (``MetricGroup``: metrics declared together as a class). This
module re-exports their public names.
"""

from __future__ import annotations

from .exposition import (
    CONTENT_TYPE_LATEST,
    CONTENT_TYPE_PLAIN_0_0_4,
    MetricsServer,
    choose_encoder,
    generate_latest,
    make_asgi_app,
    make_wsgi_app,
    start_http_server,
    write_to_textfile,
)
from .gc_collector import GC_COLLECTOR, GCCollector
from .group import Declared, MetricGroup, declare
from .metrics import Counter, Enum, Gauge, Histogram, Info, Summary, disable_created_metrics, enable_created_metrics
from .metrics_core import Metric
from .platform_collector import PLATFORM_COLLECTOR, PlatformCollector
from .process_collector import PROCESS_COLLECTOR, ProcessCollector
from .realtime import Threshold, Watch, set_tick_interval, tick_interval, watch
from .registry import REGISTRY, CollectorRegistry
from .samples import Sample
from .stream import Stream, StreamError, stream

# Not in __all__, but reachable here since before the package was split into
# modules; kept so that code (and tests) using them go on working.
from timeit import default_timer as default_timer  # context_managers' clock

from . import _native as _native
from ._names import (
    _build_full_name as _build_full_name,
    _escape as _escape,
    _validate_labelnames as _validate_labelnames,
)
from .context_managers import (
    ExceptionCounter as ExceptionCounter,
    F as F,
    InprogressTracker as InprogressTracker,
    Timer as Timer,
    _decorate as _decorate,
)
from .exposition import _RUNNING as _RUNNING, _RUNNING_LOCK as _RUNNING_LOCK
from .metrics import (
    MetricWrapperBase as MetricWrapperBase,
    _CounterChild as _CounterChild,
    _CounterMethods as _CounterMethods,
    _EnumChild as _EnumChild,
    _GaugeChild as _GaugeChild,
    _GaugeMethods as _GaugeMethods,
    _HistogramChild as _HistogramChild,
    _InfoChild as _InfoChild,
    _ObserveMethods as _ObserveMethods,
    _SummaryChild as _SummaryChild,
)
from .metrics_core import _metrics_from as _metrics_from
from .utils import INF as INF, _float_to_go_string as _float_to_go_string

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
    "watch",
    "Watch",
    "Threshold",
    "set_tick_interval",
    "tick_interval",
    "stream",
    "Stream",
    "StreamError",
    "MetricGroup",
    "declare",
    "Declared",
    "ProcessCollector",
    "PROCESS_COLLECTOR",
    "PlatformCollector",
    "PLATFORM_COLLECTOR",
    "GCCollector",
    "GC_COLLECTOR",
    "disable_created_metrics",
    "enable_created_metrics",
)
