"""OTLP push: the registry's metrics sent as OTLP/HTTP protobuf to a
collector, from a Rust thread (recording never waits for it; the GIL is
taken only to run ``Gauge.set_function`` callbacks, as for a scrape).

::

    from nanometrics import otlp

    exporter = otlp.start("http://collector:4318/v1/metrics", interval=15,
                          headers={"authorization": "Bearer ..."})
    ...
    exporter.shutdown()   # a final export: nothing recorded before it is lost

Every argument left out comes from the OpenTelemetry environment variables
(``OTEL_EXPORTER_OTLP_ENDPOINT``, ``..._HEADERS``, ``..._TIMEOUT``,
``..._COMPRESSION``, ``OTEL_METRIC_EXPORT_INTERVAL``, ``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``..._TEMPORALITY_PREFERENCE``), so a
component switches backends without code changes; :func:`start_from_env`
starts one only when ``OTEL_METRICS_EXPORTER`` lists ``otlp``. The mapping
of metric types to OTLP and the retry rules are those of the Rust crate
``nanometrics-exporters`` (module ``otlp``). A bad setting raises
``ValueError`` naming it.
"""

from __future__ import annotations

import atexit
import os
import weakref
from typing import Any, Dict, Mapping, Optional

from .registry import REGISTRY, CollectorRegistry

__all__ = ["OtlpExporter", "start", "start_from_env"]


class OtlpExporter:
    """A running exporter; see the module docs."""

    def __init__(self, native: Any) -> None:
        self._native = native

    def export_now(self) -> None:
        """Exports now and waits; raises ``RuntimeError`` if it failed."""
        self._native.export_now()

    def shutdown(self) -> None:
        """The final export, then stops (raises ``RuntimeError`` if that
        export failed); later calls do nothing."""
        self._native.shutdown()

    def stats(self) -> Dict[str, Any]:
        """``{exports, failures, last_error}`` so far."""
        stats: Dict[str, Any] = self._native.stats()
        return stats

    def __enter__(self) -> "OtlpExporter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def start(
    endpoint: Optional[str] = None,
    *,
    headers: Optional[Mapping[str, str]] = None,
    interval: Optional[float] = None,
    timeout: Optional[float] = None,
    gzip: Optional[bool] = None,
    resource: Optional[Mapping[str, str]] = None,
    temporality: Optional[str] = None,
    registry: CollectorRegistry = REGISTRY,
) -> OtlpExporter:
    """Starts exporting ``registry`` every ``interval`` seconds to
    ``endpoint`` (the full URL, ``http://host:4318/v1/metrics``).
    ``headers`` replace the environment's; ``resource`` attributes are
    added to (or override) the environment's; ``temporality`` is
    ``"cumulative"``, ``"delta"`` or ``"lowmemory"``. The exporter shuts
    down (with its final export) at interpreter exit if not before."""
    native = registry._native.otlp_start(
        endpoint=endpoint,
        headers=None if headers is None else list(headers.items()),
        interval=None if interval is None else float(interval),
        timeout=None if timeout is None else float(timeout),
        gzip=gzip,
        resource=None if resource is None else list(resource.items()),
        temporality=temporality,
    )
    exporter = OtlpExporter(native)
    ref = weakref.ref(exporter)

    def final_export() -> None:
        e = ref()
        if e is not None:
            try:
                e.shutdown()
            except RuntimeError:
                pass  # the receiver is gone: nothing more to do at exit

    atexit.register(final_export)
    return exporter


def start_from_env(registry: CollectorRegistry = REGISTRY) -> Optional[OtlpExporter]:
    """An exporter configured by the environment alone, started when
    ``OTEL_METRICS_EXPORTER`` lists ``otlp``; None when it does not (unset,
    ``none``, ``prometheus``). Another name raises ``ValueError``."""
    names = [n.strip() for n in os.environ.get("OTEL_METRICS_EXPORTER", "").split(",") if n.strip()]
    for n in names:
        if n not in ("otlp", "none", "prometheus"):
            raise ValueError(f"OTEL_METRICS_EXPORTER={','.join(names)!r}: {n!r} is not an exporter here (otlp, prometheus, none)")
    return start(registry=registry) if "otlp" in names else None
