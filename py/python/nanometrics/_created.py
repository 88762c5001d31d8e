"""Whether ``_created`` samples are written, as in prometheus_client: on,
unless ``PROMETHEUS_DISABLE_CREATED_SERIES`` is ``true``/``1``/``t`` (any
case) when the package is imported, or ``disable_created_metrics()`` was
called (``enable_created_metrics()`` turns them back on). Read at each
``generate_latest`` and ``collect()``, and by the servers at each scrape
(``set_enabled`` tells them)."""

from __future__ import annotations

import os

from . import _native


def _from_env() -> bool:
    return os.environ.get("PROMETHEUS_DISABLE_CREATED_SERIES", "False").lower() not in ("true", "1", "t")


enabled: bool = _from_env()
_native.set_created_series(enabled)


def set_enabled(on: bool) -> None:
    """Turns ``_created`` samples on or off everywhere (servers included)."""
    global enabled
    enabled = on
    _native.set_created_series(on)
