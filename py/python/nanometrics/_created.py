"""Whether ``_created`` samples are written, as in prometheus_client: on,
unless ``PROMETHEUS_DISABLE_CREATED_SERIES`` is ``true``/``1``/``t`` (any
case) when the package is imported, or ``disable_created_metrics()`` was
called (``enable_created_metrics()`` turns them back on). Read at each
``generate_latest`` and ``collect()``; a server started by
``start_http_server`` keeps the setting it started with."""

from __future__ import annotations

import os


def _from_env() -> bool:
    return os.environ.get("PROMETHEUS_DISABLE_CREATED_SERIES", "False").lower() not in ("true", "1", "t")


enabled: bool = _from_env()
