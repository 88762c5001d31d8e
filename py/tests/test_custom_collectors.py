"""Custom collectors, as prometheus_client's: an object with collect()
yielding metric families is exposed at each scrape (text and
OpenMetrics, get_sample_value), with its values of the moment; a name
twice is refused; a collector that raises fails that scrape only; it can
be unregistered; the exposition passes the conformance checker."""

from __future__ import annotations

from typing import Iterator, List

import pytest

from nanometrics import CollectorRegistry, Counter, generate_latest
from nanometrics.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
    StateSetMetricFamily,
    SummaryMetricFamily,
    UnknownMetricFamily,
)
from nanometrics.openmetrics.exposition import generate_latest as om_latest


class Queue:
    def __init__(self) -> None:
        self.depth = 3.0
        self.served = 10.0
        self.fail = False

    def collect(self) -> Iterator[Metric]:
        if self.fail:
            raise RuntimeError("queue down")
        yield GaugeMetricFamily("queue_depth", "Queued.", value=self.depth)
        c = CounterMetricFamily("jobs_total", "Jobs.", labels=["queue"])
        c.add_metric(["fast"], self.served)
        c.add_metric(["slow"], 1)
        yield c
        h = HistogramMetricFamily("wait_seconds", "Wait.", labels=["queue"])
        h.add_metric(["fast"], [("0.1", 2), ("1.0", 5), ("+Inf", 6)], 3.5)
        yield h
        yield SummaryMetricFamily("size_bytes", "Sizes.", count_value=4, sum_value=100.0)
        yield InfoMetricFamily("build", "Build.", value={"version": "1.2"})
        yield StateSetMetricFamily("mode", "Mode.", value={"on": True, "off": False})
        yield UnknownMetricFamily("legacy", "Legacy.", value=7)


def test_a_collector_is_read_at_each_scrape() -> None:
    reg = CollectorRegistry()
    q = Queue()
    reg.register(q)
    v = reg.get_sample_value
    assert v("queue_depth") == 3.0
    assert v("jobs_total", {"queue": "fast"}) == 10.0
    assert v("wait_seconds_bucket", {"queue": "fast", "le": "1.0"}) == 5.0
    assert v("wait_seconds_count", {"queue": "fast"}) == 6.0
    assert v("wait_seconds_sum", {"queue": "fast"}) == 3.5
    assert v("size_bytes_count") == 4.0
    assert v("build_info", {"version": "1.2"}) == 1.0
    assert v("mode", {"mode": "on"}) == 1.0 and v("mode", {"mode": "off"}) == 0.0
    assert v("legacy") == 7.0
    q.depth, q.served = 5.0, 11.0
    assert v("queue_depth") == 5.0
    assert v("jobs_total", {"queue": "fast"}) == 11.0
    text = generate_latest(reg).decode()
    assert "# TYPE jobs_total counter" in text and 'jobs_total{queue="slow"} 1.0' in text
    om = om_latest(reg).decode()
    assert "# TYPE build info" in om and "# TYPE mode stateset" in om


def test_the_exposition_passes_the_conformance_checker(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys
    from pathlib import Path

    reg = CollectorRegistry()
    reg.register(Queue())
    checker = Path(__file__).resolve().parents[2] / "tools/conformance/check_exposition.py"
    for flag, body in (("--text", generate_latest(reg)), ("--openmetrics", om_latest(reg))):
        f = tmp_path / f"x{flag}.txt"
        f.write_bytes(body)
        out = subprocess.run([sys.executable, str(checker), flag, str(f)], capture_output=True, text=True)
        assert out.returncode == 0 and "all checks passed" in out.stdout, out.stdout + out.stderr


def test_duplicates_failures_and_unregister() -> None:
    reg = CollectorRegistry(auto_describe=True)
    q = Queue()
    reg.register(q)
    with pytest.raises(ValueError, match="Duplicated"):
        Counter("jobs", "Mine.", registry=reg)
    with pytest.raises(ValueError, match="Duplicated"):
        reg.register(Queue())
    q.fail = True
    with pytest.raises(RuntimeError, match="queue down"):
        generate_latest(reg)
    q.fail = False
    assert b"queue_depth 3.0" in generate_latest(reg)
    reg.unregister(q)
    assert b"queue_depth" not in generate_latest(reg)
    with pytest.raises(KeyError):
        reg.unregister(q)
    with pytest.raises(TypeError, match="collect"):
        reg.register(object())


class WithDescribe:
    def describe(self) -> List[Metric]:
        return [GaugeMetricFamily("described", "Described.")]

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("described", "Described.", value=1)


def test_describe_names_the_families_and_a_gauge_histogram_fails_the_scrape() -> None:
    reg = CollectorRegistry()
    reg.register(WithDescribe())
    assert reg.get_sample_value("described") == 1.0

    class GH:
        def collect(self) -> Iterator[Metric]:
            yield GaugeHistogramMetricFamily("gh", "GH.", buckets=[("+Inf", 1)], gsum_value=1)

    reg2 = CollectorRegistry()
    reg2.register(GH())
    with pytest.raises(ValueError, match="gauge histogram"):
        generate_latest(reg2)


def test_family_constructors_follow_prometheus_client() -> None:
    with pytest.raises(ValueError):
        GaugeMetricFamily("g", "G.", value=1, labels=["a"])
    with pytest.raises(ValueError):
        SummaryMetricFamily("s", "S.", count_value=1)
    c = CounterMetricFamily("c_total", "C.", value=2)
    assert c.name == "c" and c.samples[0].name == "c_total"
    h = HistogramMetricFamily("h", "H.", buckets=[("1.0", 1), ("+Inf", 2)], sum_value=3)
    assert [s.name for s in h.samples] == ["h_bucket", "h_bucket", "h_count", "h_sum"]


class Shifting:
    """Label names that differ between samples and between scrapes, one
    name yielded twice, a state set, under a sub-registry."""

    def __init__(self) -> None:
        self.round = 0

    def collect(self) -> Iterator[Metric]:
        self.round += 1
        info = InfoMetricFamily("build", "Build.", labels=["svc"])
        info.add_metric(["a"], {"v": "1"})
        info.add_metric(["b"], {"v": "2", "commit": "x"})
        yield info
        odd = self.round % 2 == 1
        g = GaugeMetricFamily("temp", "Temp.", labels=["room"] if odd else ["room", "floor"])
        g.add_metric(["k"] if odd else ["k", "2"], 20.0 + self.round)
        yield g
        yield GaugeMetricFamily("twice", "Twice.", value=1)
        again = GaugeMetricFamily("twice", "Twice.", labels=["x"])
        again.add_metric(["y"], 2)
        yield again
        yield StateSetMetricFamily("mode", "Mode.", value={"on": True})


def test_labels_that_differ_names_twice_and_a_sub_registry() -> None:
    reg = CollectorRegistry(auto_describe=True)
    child = reg.sub_registry("app")
    child.register(Shifting())
    text = generate_latest(reg).decode()
    assert 'app_build_info{svc="b",v="2",commit="x"} 1.0' in text, text
    assert 'app_build_info{svc="a",v="1",commit=""} 1.0' in text, text
    assert 'app_temp{room="k",floor="2"} 22.0' in text, text
    assert 'app_twice{x=""} 1.0' in text and 'app_twice{x="y"} 2.0' in text
    assert 'app_mode{app_mode="on"} 1.0' in text
    # Next scrape: other label names for temp, declared anew.
    text = generate_latest(reg).decode()
    assert 'app_temp{room="k"} 23.0' in text, text
    with pytest.raises(ValueError, match="Duplicated"):
        child.register(Shifting())
    # A unit ends the name, as prometheus_client has it.
    assert GaugeMetricFamily("t", "T.", unit="celsius").name == "t_celsius"


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def collect(self) -> Iterator[Metric]:
        self.calls += 1
        yield GaugeMetricFamily("room_temperature", "Temp.", value=21, unit="celsius")


def test_auto_describe_units_and_unregister_across_the_tree() -> None:
    # A registry that does not auto-describe does not call collect() to
    # register (prometheus_client's rule); REGISTRY does.
    reg = CollectorRegistry()
    c = Counting()
    reg.register(c)
    assert c.calls == 0
    om = om_latest(reg).decode()
    assert "# UNIT room_temperature_celsius celsius" in om, om
    assert "room_temperature_celsius 21.0" in om
    reg.unregister(c)
    d = Counting()
    nanometrics_registry = __import__("nanometrics").REGISTRY
    nanometrics_registry.register(d)
    try:
        assert d.calls == 1
    finally:
        nanometrics_registry.unregister(d)
    # Registered through a sub-registry, unregistered through its parent.
    parent = CollectorRegistry()
    e = Counting()
    parent.sub_registry("x").register(e)
    assert b"x_room_temperature_celsius" in generate_latest(parent)
    parent.unregister(e)
    assert b"room_temperature" not in generate_latest(parent)
