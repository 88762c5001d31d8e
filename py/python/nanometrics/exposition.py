"""Exposition (``prometheus_client.exposition``): the text format,
content negotiation, the ``/metrics`` server, WSGI and ASGI apps and the
textfile writer. Scrapes read the registry without the GIL."""

from __future__ import annotations

import gzip
import threading
import time as _time
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _created, _native
from .openmetrics import exposition as om
from .registry import REGISTRY, CollectorRegistry

__all__ = (
    "CONTENT_TYPE_LATEST",
    "CONTENT_TYPE_PLAIN_0_0_4",
    "generate_latest",
    "choose_encoder",
    "start_http_server",
    "MetricsServer",
    "make_wsgi_app",
    "make_asgi_app",
    "write_to_textfile",
    # Also importable from prometheus_client.exposition:
    "REGISTRY",
)

CONTENT_TYPE_PLAIN_0_0_4: str = _native.TEXT_CONTENT_TYPE
CONTENT_TYPE_LATEST: str = CONTENT_TYPE_PLAIN_0_0_4


def generate_latest(registry: CollectorRegistry = REGISTRY) -> bytes:
    """The registry in the Prometheus text format 0.0.4 (read without the GIL)."""
    return registry._native.encode(False, _created.enabled)


def choose_encoder(accept_header: str) -> Tuple[Callable[[CollectorRegistry], bytes], str]:
    """``(encoder, content type)`` for an ``Accept`` header: OpenMetrics when
    the client prefers it, else the text format."""
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


def _gzip_accepted(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header takes gzip (as the Rust
    server decides: q-values honoured)."""
    return bool(_native.accepts_gzip(accept_encoding))


def make_wsgi_app(registry: CollectorRegistry = REGISTRY, disable_compression: bool = False) -> Callable[..., Any]:
    """A WSGI app that serves the registry (content negotiation included)."""

    def app(environ: Dict[str, Any], start_response: Callable[..., Any]) -> List[bytes]:
        encoder, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
        body = encoder(registry)
        # The body depends on both headers (as the Rust server says).
        headers = [("Content-Type", content_type), ("Vary", "Accept, Accept-Encoding")]
        if not disable_compression and _gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING", "")):
            body = gzip.compress(body)
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        start_response("200 OK", headers)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return [b""]
        return [body]

    return app


def make_asgi_app(registry: CollectorRegistry = REGISTRY, disable_compression: bool = False) -> Callable[..., Any]:
    """An ASGI app that serves the registry (content negotiation included)."""

    async def app(scope: Dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        assert scope["type"] == "http"
        accept = ""
        encodings = []
        for k, v in scope.get("headers", []):
            key = k.decode("latin-1").lower()
            if key == "accept":
                accept = v.decode("latin-1")
            elif key == "accept-encoding":
                encodings.append(v.decode("latin-1"))
        accept_encoding = ",".join(encodings)
        encoder, content_type = choose_encoder(accept)
        body = encoder(registry)
        headers = [(b"content-type", content_type.encode()), (b"vary", b"Accept, Accept-Encoding")]
        if not disable_compression and _gzip_accepted(accept_encoding):
            body = gzip.compress(body)
            headers.append((b"content-encoding", b"gzip"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope.get("method") == "HEAD" else body})

    return app
