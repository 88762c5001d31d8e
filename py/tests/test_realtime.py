"""Windows, watches and the stream client (nanometrics.realtime, .stream)."""

from __future__ import annotations

import asyncio
import math
import sys
import threading
import time
from typing import Any, Dict, Iterator, List

import pytest

import nanometrics
from nanometrics import CollectorRegistry, Counter, Gauge, Histogram, Threshold, watch


@pytest.fixture(autouse=True)
def fast_ticks() -> Iterator[None]:
    before = nanometrics.tick_interval()
    nanometrics.set_tick_interval(0.02)
    yield
    nanometrics.set_tick_interval(before)


def wait_for(cond: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_histogram_window_covers_only_recent_observations(registry: CollectorRegistry) -> None:
    h = Histogram("lat_seconds", "Latency.", registry=registry)
    h.observe(100.0)  # before the window starts: not in it
    first = h.stats(window=30)
    assert first["count"] == 0 and math.isnan(first["mean"])
    for v in (0.1, 0.2, 0.3):
        h.observe(v)
    st = h.stats(window=30)
    assert st["count"] == 3
    assert st["sum"] == pytest.approx(0.6)
    assert st["min"] <= 0.1 and st["max"] >= 0.3 and st["max"] < 100
    assert st["span"] >= 0 and st["rate"] > 0
    assert h.stats()["count"] == 4  # the lifetime stats are unchanged
    with pytest.raises(ValueError, match="positive"):
        h.stats(window=0)


def test_counter_rate(registry: CollectorRegistry) -> None:
    c = Counter("jobs", "Jobs.", registry=registry)
    assert math.isnan(c.rate(window=60))  # nothing to compare with yet
    c.inc(10)
    time.sleep(0.1)
    r = c.rate(window=60)
    assert 0 < r <= 10 / 0.1 * 1.5
    with pytest.raises(ValueError):
        c.rate(window=-1)


def test_watch_as_an_iterator_and_close(registry: CollectorRegistry) -> None:
    g = Gauge("queue_depth", "Queued.", ["worker"], registry=registry)
    g.labels("a").set(5)
    g.labels("b").set(7)
    w = watch('queue_depth{worker="a"}', registry=registry)
    frames = [next(w) for _ in range(3)]
    assert [f["seq"] for f in frames] == list(range(frames[0]["seq"], frames[0]["seq"] + 3))
    for f in frames:
        assert f["family"] == "queue_depth" and f["type"] == "gauge"
        assert f["series"] == [
            {"labels": {"worker": "a"}, "value": 5.0, "window": f["series"][0]["window"]}
        ]
    w.close()
    assert w.closed
    with pytest.raises(StopIteration):
        while True:
            next(w)


def test_callback_runs_on_another_thread_and_errors_are_counted(registry: CollectorRegistry, monkeypatch: Any) -> None:
    g = Gauge("g", "G.", registry=registry)
    g.set(1)
    reported: List[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_value))
    seen: List[Dict[str, Any]] = []
    threads = set()

    def on_frame(frame: Dict[str, Any]) -> None:
        threads.add(threading.get_ident())
        seen.append(frame)
        if len(seen) == 2:
            raise RuntimeError("a bug in the subscriber (expected by the test)")

    with watch("g", registry=registry, callback=on_frame) as w:
        wait_for(lambda: len(seen) >= 5)
        assert w.stats()["errors"] == 1
        assert not w.closed
    assert w.closed
    seqs = [f["seq"] for f in seen[:5]]
    assert seqs == list(range(seqs[0], seqs[0] + 5)), "frames kept coming after the exception"
    assert threading.get_ident() not in threads
    assert [str(e) for e in reported] == ["a bug in the subscriber (expected by the test)"]
    # Closed: no more calls.
    n = len(seen)
    time.sleep(0.1)
    assert len(seen) == n


def test_threshold_alerts_with_hysteresis(registry: CollectorRegistry) -> None:
    g = Gauge("kv_usage", "KV cache in use.", registry=registry)
    g.set(0.5)
    alerts: List[str] = []
    rule = Threshold("last", above=0.9, exit=0.7)
    with watch("kv_usage", threshold=rule, registry=registry, callback=lambda f: alerts.extend(a["state"] for a in f["alerts"])):
        time.sleep(0.1)
        assert alerts == []
        g.set(0.95)
        wait_for(lambda: alerts == ["fired"])
        g.set(0.8)  # between the levels: still firing
        time.sleep(0.1)
        assert alerts == ["fired"]
        g.set(0.6)
        wait_for(lambda: alerts == ["fired", "resolved"])


def test_async_iteration(registry: CollectorRegistry) -> None:
    c = Counter("tok", "Tokens.", registry=registry)
    c.inc(3)

    async def two() -> List[Dict[str, Any]]:
        out = []
        async for frame in watch("tok_total", registry=registry):
            out.append(frame)
            if len(out) == 2:
                break
        return out

    frames = asyncio.run(two())
    assert [f["series"][0]["value"] for f in frames] == [3.0, 3.0]
    assert frames[1]["seq"] == frames[0]["seq"] + 1


def test_bad_watches_raise_value_error(registry: CollectorRegistry) -> None:
    Histogram("h", "H.", registry=registry)
    with pytest.raises(ValueError, match="selector"):
        watch("0bad", registry=registry)
    with pytest.raises(ValueError, match="every"):
        watch("h", every=0, registry=registry)
    with pytest.raises(ValueError, match="exactly one"):
        watch("h", threshold=Threshold("p90"), registry=registry)
    with pytest.raises(ValueError, match="unknown statistic"):
        watch("h", threshold=Threshold("p900", above=1), registry=registry)
    with pytest.raises(ValueError, match="no window statistic"):
        watch("h", threshold=Threshold("delta", above=1), registry=registry)
    with pytest.raises(ValueError, match="queue"):
        watch("h", queue=0, registry=registry)


def test_stream_client_reads_the_server(registry: CollectorRegistry) -> None:
    g = Gauge("temp", "Temperature.", registry=registry)
    g.set(21.5)
    server, _ = nanometrics.start_http_server(0, registry=registry)
    try:
        s = nanometrics.stream(f"http://127.0.0.1:{server.server_port}", "temp", every=0.02, window=0.1)
        frames = [next(s) for _ in range(3)]
        s.close()
        assert [f["series"][0]["value"] for f in frames] == [21.5] * 3
        assert frames[2]["seq"] == frames[0]["seq"] + 2
        assert s.last_event_id == frames[2]["seq"]
        with pytest.raises(nanometrics.StreamError) as e:
            next(nanometrics.stream(f"http://127.0.0.1:{server.server_port}", "temp", every="soon"))
        assert e.value.status == 400 and "not a duration" in e.value.body
    finally:
        server.shutdown()


def test_a_slow_tick_does_not_end_iteration_early(registry: CollectorRegistry) -> None:
    """At a tick longer than the iterator's internal wait, iteration waits
    for the next frame instead of ending, and ends only once closed."""
    nanometrics.set_tick_interval(0.6)
    g = Gauge("slow", "Slow.", registry=registry)
    g.set(4)
    w = watch("slow", registry=registry)
    assert not w.closed
    assert w.next(timeout=0.05) is None  # nothing yet, and not the end
    frame = next(w)
    assert frame["series"][0]["value"] == 4.0
    assert not w.closed

    async def ends() -> List[Dict[str, Any]]:
        out = []
        async for f in w:
            out.append(f)
            w.close()  # the loop ends after what was queued
        return out

    assert len(asyncio.run(ends())) == 1
    assert w.closed


def test_stream_durations_are_written_as_the_server_reads_them(registry: CollectorRegistry) -> None:
    Gauge("tiny", "Tiny.", registry=registry).set(1)
    server, _ = nanometrics.start_http_server(0, registry=registry)
    try:
        s = nanometrics.stream(f"http://127.0.0.1:{server.server_port}", "tiny", every=1e-5, window=2.5e-5)
        assert next(s)["series"][0]["value"] == 1.0
        s.close()
    finally:
        server.shutdown()


def test_a_cancelled_async_wait_loses_no_frame(registry: CollectorRegistry) -> None:
    nanometrics.set_tick_interval(0.3)
    c = Counter("evt", "Events.", registry=registry)
    c.inc()
    w = watch("evt_total", registry=registry)

    async def run() -> List[int]:
        seqs = []
        for _ in range(6):
            try:
                f = await asyncio.wait_for(w.__anext__(), 0.05)  # mostly times out
                seqs.append(f["seq"])
            except asyncio.TimeoutError:
                pass
        while len(seqs) < 3:
            seqs.append((await w.__anext__())["seq"])
        return seqs

    seqs = asyncio.run(run())
    w.close()
    assert seqs == list(range(seqs[0], seqs[0] + 3)), seqs


def test_the_stream_client_reconnects_to_a_restarted_server(registry: CollectorRegistry) -> None:
    Gauge("up_since", "Restarts.", registry=registry).set(1)
    server, _ = nanometrics.start_http_server(0, registry=registry)
    port = server.server_port
    s = nanometrics.stream(f"http://127.0.0.1:{port}", "up_since", timeout=10)
    first = next(s)
    server.shutdown()
    server, _ = nanometrics.start_http_server(port, registry=registry)
    try:
        again = next(s)  # the old stream ended; a new connection, Last-Event-ID sent
        assert again["series"][0]["value"] == 1.0
        assert again["seq"] > first["seq"]
        assert s.reconnects >= 1
    finally:
        s.close()
        server.shutdown()
