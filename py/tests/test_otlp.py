"""OTLP push from Python (nanometrics.otlp) to a receiver that decodes each
request with the opentelemetry-proto package (exporters/tests/otlp_receiver.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

from nanometrics import CollectorRegistry, Counter, Histogram, otlp

RECEIVER = Path(__file__).resolve().parents[2] / "exporters" / "tests" / "otlp_receiver.py"


@pytest.fixture
def receiver() -> Iterator[Tuple[int, "subprocess.Popen[str]"]]:
    p = subprocess.Popen([sys.executable, str(RECEIVER), "dump"], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    port = int(p.stdout.readline())
    yield port, p
    p.kill()
    p.wait()
    p.stdout.close()


def points(p: "subprocess.Popen[str]") -> Dict[str, str]:
    """One request's points, name{labels} -> value."""
    assert p.stdout is not None
    out: Dict[str, str] = {}
    for line in p.stdout:
        line = line.strip()
        if line == "end":
            break
        series, value = line.split(" ", 1)
        out[series] = value
    verdict = p.stdout.readline().strip()
    assert verdict == "ok 200", verdict
    return out


def test_start_export_and_final_export(receiver: Tuple[int, "subprocess.Popen[str]"], registry: CollectorRegistry) -> None:
    port, p = receiver
    c = Counter("jobs", "Jobs.", ["queue"], registry=registry)
    c.labels("fast").inc(3)
    h = Histogram("lat_seconds", "Latency.", registry=registry)
    h.observe(0.5)
    exporter = otlp.start(
        f"http://127.0.0.1:{port}/v1/metrics",
        headers={"authorization": "Bearer t0k"},
        interval=3600,
        resource={"service.name": "py-test"},
        registry=registry,
    )
    exporter.export_now()
    got = points(p)
    assert got["jobs{queue=fast}"] == "3"
    assert got["lat_seconds{}"] == "count=1 sum=0.5"
    c.labels("fast").inc(2)
    exporter.shutdown()  # the final export carries the last increments
    assert points(p)["jobs{queue=fast}"] == "5"
    assert exporter.stats() == {}  # shut down: nothing left to report
    exporter.shutdown()  # again: nothing


def test_failures_and_bad_settings(registry: CollectorRegistry) -> None:
    Counter("x", "X.", registry=registry).inc()
    with pytest.raises(ValueError, match="endpoint"):
        otlp.start("https://collector/v1/metrics", registry=registry)
    with pytest.raises(ValueError, match="interval"):
        otlp.start("http://127.0.0.1:9/v1/metrics", interval=0, registry=registry)
    with pytest.raises(ValueError, match="temporality"):
        otlp.start("http://127.0.0.1:9/v1/metrics", temporality="sometimes", registry=registry)
    e = otlp.start("http://127.0.0.1:9/v1/metrics", timeout=0.3, interval=3600, registry=registry)
    with pytest.raises(RuntimeError, match="OTLP export failed"):
        e.export_now()
    assert e.stats()["failures"] == 1
    with pytest.raises(RuntimeError, match="final OTLP export failed"):
        e.shutdown()


def test_start_from_env(monkeypatch: pytest.MonkeyPatch, receiver: Tuple[int, "subprocess.Popen[str]"], registry: CollectorRegistry) -> None:
    port, p = receiver
    Counter("envjobs", "Jobs.", registry=registry).inc(4)
    monkeypatch.delenv("OTEL_METRICS_EXPORTER", raising=False)
    assert otlp.start_from_env(registry) is None
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "console")
    with pytest.raises(ValueError, match="console"):
        otlp.start_from_env(registry)
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20t0k")
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "3600000")
    e = otlp.start_from_env(registry)
    assert e is not None
    e.export_now()
    assert points(p)["envjobs{}"] == "4"
    e.shutdown()
    points(p)
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "soon")
    with pytest.raises(ValueError, match="OTEL_METRIC_EXPORT_INTERVAL"):
        otlp.start_from_env(registry)


def test_stats_while_exporting_with_set_function_does_not_deadlock(
    receiver: Tuple[int, "subprocess.Popen[str]"], registry: CollectorRegistry
) -> None:
    import threading

    from nanometrics import Gauge

    port, p = receiver
    Gauge("computed", "Computed at collect.", registry=registry).set_function(lambda: 2.0)
    e = otlp.start(f"http://127.0.0.1:{port}/v1/metrics", headers={"authorization": "Bearer t0k"}, interval=3600, registry=registry)
    done = threading.Event()

    def export() -> None:
        for _ in range(5):
            e.export_now()  # its snapshot calls set_function: it needs the GIL
        done.set()

    t = threading.Thread(target=export)
    t.start()
    while not done.is_set():
        e.stats()  # takes the GIL, then the exporter's lock
    t.join(timeout=30)
    assert not t.is_alive()
    for _ in range(5):
        assert points(p)["computed{}"] == "2"
    e.shutdown()
    points(p)
