"""The WSGI and ASGI apps compress with gzip when the client accepts it
(unless ``disable_compression``), as prometheus_client's do; a labelled
metric's ``count_exceptions()`` and ``track_inprogress()`` refuse it at
once without ``labels(...)``, and its ``time()`` takes the labels on the
timer, as prometheus_client's do."""

from __future__ import annotations

import asyncio
import gzip

import pytest

import nanometrics
from nanometrics import Counter, Gauge, Histogram


def wsgi(app, **environ):
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app({"REQUEST_METHOD": "GET", **environ}, start_response))
    return seen["headers"], body


def asgi(app, headers):
    sent = []

    async def receive():
        return {"type": "http.request"}

    async def send(message):
        sent.append(message)

    asyncio.run(app({"type": "http", "method": "GET", "headers": headers}, receive, send))
    return dict(sent[0]["headers"]), sent[1]["body"]


def test_wsgi_gzip(registry):
    Gauge("up", "Up.", registry=registry).set(1)
    plain = nanometrics.generate_latest(registry)
    headers, body = wsgi(nanometrics.make_wsgi_app(registry), HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == plain
    assert headers["Content-Length"] == str(len(body))
    assert headers["Vary"] == "Accept, Accept-Encoding"
    headers, body = wsgi(nanometrics.make_wsgi_app(registry), HTTP_ACCEPT_ENCODING="gzip;q=0")
    assert "Content-Encoding" not in headers and body == plain
    headers, body = wsgi(
        nanometrics.make_wsgi_app(registry, disable_compression=True), HTTP_ACCEPT_ENCODING="gzip"
    )
    assert "Content-Encoding" not in headers and body == plain


def test_asgi_gzip(registry):
    Gauge("up", "Up.", registry=registry).set(1)
    plain = nanometrics.generate_latest(registry)
    headers, body = asgi(nanometrics.make_asgi_app(registry), [(b"accept-encoding", b"gzip")])
    assert headers[b"content-encoding"] == b"gzip"
    assert gzip.decompress(body) == plain
    # Several Accept-Encoding headers are one list.
    headers, body = asgi(
        nanometrics.make_asgi_app(registry), [(b"accept-encoding", b"br"), (b"accept-encoding", b"gzip")]
    )
    assert headers[b"content-encoding"] == b"gzip"
    headers, body = asgi(nanometrics.make_asgi_app(registry, disable_compression=True), [(b"accept-encoding", b"gzip")])
    assert b"content-encoding" not in headers and body == plain


@pytest.mark.parametrize(
    "make, use",
    [
        (lambda r: Counter("c", "C.", ["l"], registry=r), lambda m: m.count_exceptions()),
        (lambda r: Gauge("g", "G.", ["l"], registry=r), lambda m: m.track_inprogress()),
    ],
)
def test_labelled_metrics_refuse_decorators_without_labels(registry, make, use):
    m = make(registry)
    with pytest.raises(ValueError, match="metric is missing label values"):
        use(m)
    use(m.labels("x"))  # a child is fine


def test_a_labelled_timer_takes_its_labels_inside_the_block(registry):
    h = Histogram("h", "H.", ["l"], registry=registry)
    with h.time() as t:
        t.labels("x")
    assert registry.get_sample_value("h_count", {"l": "x"}) == 1.0
