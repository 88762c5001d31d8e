"""The prometheus_client surface: values, errors with their rules, decorators,
labels caching, removal, registries, and what nanometrics adds."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

import nanometrics
from conftest import fetch
from nanometrics import Counter, Enum, Gauge, Histogram, Info, Summary


def sample(r: nanometrics.CollectorRegistry, name: str, **labels: str) -> float | None:
    return r.get_sample_value(name, labels)


def test_counter_values_and_naming(registry):
    c = Counter("requests", "Requests.", registry=registry)
    c.inc()
    c.inc(2.5)
    assert sample(registry, "requests_total") == 3.5
    # A name already ending in _total is the same family name.
    d = Counter("jobs_total", "Jobs.", namespace="app", subsystem="q", registry=registry)
    d.inc(4)
    assert sample(registry, "app_q_jobs_total") == 4.0
    text = nanometrics.generate_latest(registry).decode()
    assert "# TYPE app_q_jobs_total counter\napp_q_jobs_total 4.0\n" in text
    assert str(d) == "counter:app_q_jobs"


def test_counter_refuses_negative_nan_and_infinite_increments(registry):
    c = Counter("x", "x", registry=registry)
    c.inc(1)
    for bad in (-1, -0.5, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="non-negative"):
            c.inc(bad)
    assert sample(registry, "x_total") == 1.0
    c.inc(1, exemplar=None)
    assert c.get() == 2.0
    c.reset()
    assert sample(registry, "x_total") == 0.0


def test_gauge_operations(registry):
    g = Gauge("temp_celsius", "T", registry=registry)
    g.set(10)
    g.inc()
    g.inc(2.5)
    g.dec(0.5)
    assert g.get() == 13.0
    before = time.time()
    g.set_to_current_time()
    assert before <= g.get() <= time.time()
    with pytest.raises(ValueError, match="Invalid multiprocess mode"):
        Gauge("g2", "g", registry=registry, multiprocess_mode="bogus")
    g.set(float("nan"))
    assert math.isnan(sample(registry, "temp_celsius"))


def test_gauge_track_inprogress_and_time(registry):
    g = Gauge("inflight", "In flight.", registry=registry)

    @g.track_inprogress()
    def work():
        return g.get()

    assert work() == 1.0
    assert g.get() == 0.0
    with g.track_inprogress():
        assert g.get() == 1.0
    t = Gauge("last_duration_seconds", "Last.", registry=registry)
    with t.time():
        time.sleep(0.01)
    assert 0.005 < t.get() < 5


def test_set_function_runs_at_scrape_and_errors_propagate(registry):
    g = Gauge("queue_length", "Q.", ["queue"], registry=registry)
    items = [1, 2, 3]
    g.labels("a").set_function(lambda: len(items))
    assert sample(registry, "queue_length", queue="a") == 3.0
    items.append(4)
    assert b'queue_length{queue="a"} 4.0' in nanometrics.generate_latest(registry)

    class Boom(Exception):
        pass

    def broken() -> float:
        raise Boom("collector failed")

    g.labels("b").set_function(broken)
    with pytest.raises(Boom, match="collector failed"):
        nanometrics.generate_latest(registry)
    # Replacing the function (or removing the child) repairs the scrape.
    g.labels("b").set_function(lambda: 7)
    assert sample(registry, "queue_length", queue="b") == 7.0
    g.labels("b").set_function(broken)
    g.remove("b")
    assert sample(registry, "queue_length", queue="a") == 4.0
    with pytest.raises(TypeError, match="callable"):
        g.labels("c").set_function(5)


def test_histogram_buckets_time_and_stats(registry):
    h = Histogram("latency_seconds", "L.", buckets=(0.1, 0.5, 1.0), registry=registry)
    for v in (0.05, 0.2, 0.2, 0.7, 3.0):
        h.observe(v)
    assert sample(registry, "latency_seconds_bucket", le="0.1") == 1.0
    assert sample(registry, "latency_seconds_bucket", le="0.5") == 3.0
    assert sample(registry, "latency_seconds_bucket", le="1.0") == 4.0
    assert sample(registry, "latency_seconds_bucket", le="+Inf") == 5.0
    assert sample(registry, "latency_seconds_count") == 5.0
    assert sample(registry, "latency_seconds_sum") == pytest.approx(4.15)
    st = h.stats()
    assert set(st) == {"count", "sum", "min", "max", "mean", "p50", "p90", "p99"}
    assert (st["count"], st["min"], st["max"]) == (5, 0.05, 3.0)
    assert st["mean"] == pytest.approx(0.83)
    assert st["p50"] == pytest.approx(0.2, rel=0.05)

    @h.time()
    def slow() -> str:
        time.sleep(0.01)
        return "done"

    assert slow() == "done"
    assert slow.__name__ == "slow"
    assert h.stats()["count"] == 6


def test_histogram_bucket_errors(registry):
    with pytest.raises(ValueError, match="sorted"):
        Histogram("h1", "h", buckets=(1.0, 0.5), registry=registry)
    with pytest.raises(ValueError, match="at least two"):
        Histogram("h2", "h", buckets=(), registry=registry)
    with pytest.raises(ValueError, match="strictly increasing"):
        Histogram("h3", "h", buckets=(1.0, 1.0, 2.0), registry=registry)
    with pytest.raises(ValueError, match="le"):
        Histogram("h4", "h", ["le"], registry=registry)
    # A failed declaration leaves the name free.
    Histogram("h1", "h", buckets=(0.5, 1.0), registry=registry)


def test_summary_count_sum_and_stats(registry):
    s = Summary("request_size_bytes", "Sizes.", ["route"], registry=registry)
    for v in range(1, 101):
        s.labels("/a").observe(v)
    assert sample(registry, "request_size_bytes_count", route="/a") == 100.0
    assert sample(registry, "request_size_bytes_sum", route="/a") == 5050.0
    st = s.labels("/a").stats()
    assert (st["min"], st["max"], st["mean"]) == (1.0, 100.0, 50.5)
    assert st["p90"] == pytest.approx(90, rel=0.05)
    with pytest.raises(ValueError, match="quantile"):
        Summary("s2", "s", ["quantile"], registry=registry)


def test_info_and_enum(registry):
    i = Info("build", "Build.", registry=registry)
    assert sample(registry, "build_info") == 1.0
    i.info({"version": "1.2.3", "commit": "abc"})
    assert sample(registry, "build_info", version="1.2.3", commit="abc") == 1.0
    i.info({"version": "1.2.4", "commit": "def"})
    assert sample(registry, "build_info", version="1.2.3", commit="abc") is None
    with pytest.raises(ValueError, match="Overlapping"):
        Info("svc", "S", ["version"], registry=registry).labels("x").info({"version": "1"})
    e = Enum("engine_state", "State.", states=["starting", "running", "stopped"], registry=registry)
    assert sample(registry, "engine_state", engine_state="starting") == 1.0
    e.state("running")
    assert sample(registry, "engine_state", engine_state="starting") == 0.0
    assert sample(registry, "engine_state", engine_state="running") == 1.0
    with pytest.raises(ValueError):
        e.state("exploded")
    with pytest.raises(ValueError, match="No states"):
        Enum("e2", "E", registry=registry, states=[])
    with pytest.raises(ValueError, match="Overlapping"):
        Enum("e3", "E", ["e3"], registry=registry, states=["a"])
    le = Enum("worker_state", "W.", ["worker"], states=["idle", "busy"], registry=registry)
    le.labels("w1").state("busy")
    assert sample(registry, "worker_state", worker="w1", worker_state="busy") == 1.0
    le.remove("w1")
    assert sample(registry, "worker_state", worker="w1", worker_state="busy") is None


def test_label_rules_and_messages(registry):
    c = Counter("hits", "Hits.", ["method", "code"], registry=registry)
    with pytest.raises(ValueError, match="Incorrect label count"):
        c.labels("GET")
    with pytest.raises(ValueError, match="Incorrect label names"):
        c.labels(method="GET", status="200")
    with pytest.raises(ValueError, match="Can't pass both"):
        c.labels("GET", code="200")
    with pytest.raises(ValueError, match="missing label values"):
        c.inc()
    u = Counter("plain", "Plain.", registry=registry)
    with pytest.raises(ValueError, match="No label names were set"):
        u.labels("x")
    with pytest.raises(ValueError, match="Reserved"):
        Counter("r", "r", ["__private"], registry=registry)
    with pytest.raises(ValueError, match="carriage return"):
        c.labels("GET\r", "200")
    # Non-str values are labelled by their str(), never confused by hash:
    # 1 == True, but "1" != "True".
    c.labels(1, 200).inc()
    c.labels(True, 200).inc(5)
    assert sample(registry, "hits_total", method="1", code="200") == 1.0
    assert sample(registry, "hits_total", method="True", code="200") == 5.0
    assert c.labels("1", "200") is c.labels(1, 200)


def test_labels_are_cached_and_keyword_equivalent(registry):
    c = Counter("req", "R.", ["method", "code"], registry=registry)
    a = c.labels("GET", "200")
    assert c.labels("GET", "200") is a
    assert c.labels(code="200", method="GET") is a
    a.inc()
    assert sample(registry, "req_total", method="GET", code="200") == 1.0


def test_remove_clear_and_restart_at_zero(registry):
    c = Counter("ops", "Ops.", ["kind"], registry=registry)
    c.labels("a").inc(3)
    c.labels("b").inc(4)
    c.remove("a")
    assert sample(registry, "ops_total", kind="a") is None
    assert sample(registry, "ops_total", kind="b") == 4.0
    assert c.labels("a").get() == 0.0
    with pytest.raises(ValueError, match="Incorrect label count"):
        c.remove("a", "b")
    c.remove_by_labels({"kind": "b"})
    assert sample(registry, "ops_total", kind="b") is None
    c.labels("c").inc()
    c.clear()
    assert list(registry.collect())[0].samples == []


def test_duplicate_and_empty_names(registry):
    Counter("dup", "x", registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Counter("dup", "x", registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Gauge("dup_total", "x", registry=registry)
    with pytest.raises(ValueError, match="should not be empty"):
        Gauge("", "x", registry=registry)
    # The same name in another registry is fine.
    Counter("dup", "x", registry=nanometrics.CollectorRegistry())


def test_names_outside_the_classic_set_are_escaped_like_prometheus_client(registry):
    c = Counter("my-app.requests", "R.", ["http-method"], registry=registry)
    c.labels("GET").inc()
    c.labels(**{"http-method": "PUT"}).inc(2)
    text = nanometrics.generate_latest(registry).decode()
    assert 'my_app_requests_total{http_method="GET"} 1.0' in text
    assert 'my_app_requests_total{http_method="PUT"} 2.0' in text


def test_unit_is_appended_and_shown_in_openmetrics(registry):
    from nanometrics.openmetrics.exposition import generate_latest as om

    Gauge("memory", "Memory.", unit="bytes", registry=registry).set(1024)
    body = om(registry).decode()
    assert "# UNIT memory_bytes bytes\n" in body
    assert body.endswith("# EOF\n")
    with pytest.raises(ValueError, match="cannot have a unit"):
        Info("x", "x", unit="bytes", registry=registry)


def test_count_exceptions_sync_and_async(registry):
    c = Counter("failures", "F.", registry=registry)

    @c.count_exceptions(ValueError)
    def f(x: int) -> int:
        if x < 0:
            raise ValueError("negative")
        return x

    assert f(1) == 1
    with pytest.raises(ValueError):
        f(-1)
    with pytest.raises(KeyError):
        with c.count_exceptions(ValueError):
            raise KeyError("not counted")

    @c.count_exceptions()
    async def g() -> None:
        raise RuntimeError("async")

    with pytest.raises(RuntimeError):
        asyncio.run(g())
    assert c.get() == 2.0


def test_unregister_drops_set_function_callbacks(registry):
    calls = []
    g = Gauge("computed", "C.", registry=registry)
    g.set_function(lambda: calls.append(1) or 1.0)
    lg = Gauge("computed_by", "C.", ["k"], registry=registry)
    lg.labels("a").set_function(lambda: calls.append(2) or 2.0)
    nanometrics.generate_latest(registry)
    assert sorted(calls) == [1, 2]
    registry.unregister(g)
    registry.unregister(lg)
    calls.clear()
    nanometrics.generate_latest(registry)
    assert calls == []


def test_unregister_and_registry_none(registry):
    c = Counter("gone", "G.", registry=registry)
    c.inc()
    registry.unregister(c)
    assert sample(registry, "gone_total") is None
    c.inc()  # the handle keeps working
    Counter("gone", "New.", registry=registry)  # and the name is free again
    with pytest.raises(KeyError):
        registry.unregister(c)
    lone = Counter("lone", "Not exposed.", registry=None)
    lone.inc(2)
    assert lone.get() == 2.0
    assert [m.name for m in lone.collect()] == ["lone"]
    with pytest.raises(TypeError, match="not a collector"):
        registry.register(object())


def test_cardinality_limit_folds_excess_label_sets(registry):
    c = Counter("by_user", "U.", ["user"], registry=registry, cardinality_limit=2)
    for u in ("a", "b", "c", "d"):
        c.labels(u).inc()
    assert sample(registry, "by_user_total", user="__overflow__") == 2.0


def test_python_and_rust_metrics_share_the_global_registry():
    c = Counter("py_side_events", "From Python.")
    try:
        c.inc(3)
        nanometrics._native.rust_side_increment("loader", 5)
        text = nanometrics.generate_latest().decode()
        assert "py_side_events_total 3.0" in text
        assert 'rust_side_events_total{source="loader"} 5' in text
        assert nanometrics.REGISTRY.get_sample_value("rust_side_events_total", {"source": "loader"}) == 5.0
        # One /metrics for both.
        import urllib.request

        server, _ = nanometrics.start_http_server(0)
        try:
            served = fetch(f"http://127.0.0.1:{server.server_port}/metrics").decode()
        finally:
            server.shutdown()
        assert "py_side_events_total 3.0" in served
        assert 'rust_side_events_total{source="loader"} 5' in served
    finally:
        nanometrics.REGISTRY.unregister(c)


def test_collect_shapes_match_prometheus_client(registry):
    Counter("c", "C.", ["l"], registry=registry).labels("x").inc()
    h = Histogram("h_seconds", "H.", buckets=(1.0,), registry=registry)
    h.observe(0.5)
    ms = {m.name: m for m in registry.collect()}
    assert ms["c"].type == "counter"
    assert ms["c"].samples[0] == nanometrics.Sample("c_total", {"l": "x"}, 1.0)
    assert [(s.name, s.labels) for s in ms["c"].samples[1:]] == [("c_created", {"l": "x"})]
    assert [(s.name, s.labels, s.value) for s in ms["h_seconds"].samples[:-1]] == [
        ("h_seconds_bucket", {"le": "1.0"}, 1.0),
        ("h_seconds_bucket", {"le": "+Inf"}, 1.0),
        ("h_seconds_count", {}, 1.0),
        ("h_seconds_sum", {}, 0.5),
    ]
    assert ms["h_seconds"].samples[-1].name == "h_seconds_created"


def test_write_to_textfile(registry, tmp_path):
    Gauge("up", "Up.", registry=registry).set(1)
    path = tmp_path / "metrics.prom"
    nanometrics.write_to_textfile(str(path), registry)
    assert path.read_bytes() == nanometrics.generate_latest(registry)
    assert list(tmp_path.iterdir()) == [path]


def test_wsgi_and_asgi_apps_negotiate(registry):
    Gauge("up", "Up.", registry=registry).set(1)
    app = nanometrics.make_wsgi_app(registry)
    seen = {}

    def start_response(status, headers):
        seen["status"], seen["headers"] = status, dict(headers)

    body = b"".join(app({"REQUEST_METHOD": "GET", "HTTP_ACCEPT": "application/openmetrics-text"}, start_response))
    assert seen["status"] == "200 OK"
    assert seen["headers"]["Content-Type"].startswith("application/openmetrics-text")
    assert body.endswith(b"# EOF\n")

    sent = []

    async def run() -> None:
        async def receive():
            return {"type": "http.request"}

        async def send(msg):
            sent.append(msg)

        await nanometrics.make_asgi_app(registry)({"type": "http", "method": "GET", "headers": []}, receive, send)

    asyncio.run(run())
    assert dict(sent[0]["headers"])[b"content-type"] == nanometrics.CONTENT_TYPE_LATEST.encode()
    assert sent[1]["body"] == nanometrics.generate_latest(registry)


def test_enum_with_a_colon_name_and_a_failed_enum_frees_its_name(registry):
    e = Enum("vllm:engine_state", "State.", states=["idle", "busy"], registry=registry)
    e.state("busy")
    assert sample(registry, "vllm:engine_state", vllm_engine_state="busy") == 1.0
    with pytest.raises(ValueError, match="carriage return"):
        Enum("broken", "B.", states=["a\rb"], registry=registry)
    Enum("broken", "B.", states=["a"], registry=registry)  # the name is free
    assert sample(registry, "broken", broken="a") == 1.0


def test_info_rekey_rules(registry):
    i = Info("build", "Build.", registry=registry)
    i.info({"version": "1"})
    with pytest.raises(ValueError, match="collide"):
        i.info({"a-b": "1", "a_b": "2"})
    # The refused call lost nothing.
    assert sample(registry, "build_info", version="1") == 1.0
    i.info({"version": "2"})
    assert sample(registry, "build_info", version="2") == 1.0
    assert sample(registry, "build_info", version="1") is None

    li = Info("svc", "Svc.", ["instance"], registry=registry)
    a, b = li.labels("a"), li.labels("b")
    a.info({"version": "1"})  # b has no information yet: its keys read empty
    assert sample(registry, "svc_info", instance="a", version="1") == 1.0
    assert sample(registry, "svc_info", instance="b", version="") == 1.0
    b.info({"version": "2"})
    assert sample(registry, "svc_info", instance="b", version="2") == 1.0
    with pytest.raises(ValueError, match="same keys"):
        b.info({"commit": "x"})
    li.remove_by_labels({"instance": "a"})
    assert sample(registry, "svc_info", instance="a", version="1") is None
    assert sample(registry, "svc_info", instance="b", version="2") == 1.0


def test_enum_remove_by_labels_then_labels_restarts_in_the_first_state(registry):
    e = Enum("job_state", "J.", ["job"], states=["queued", "running"], registry=registry)
    e.labels("x").state("running")
    e.remove_by_labels({"job": "x"})
    assert sample(registry, "job_state", job="x", job_state="running") is None
    e.labels("x")
    assert sample(registry, "job_state", job="x", job_state="queued") == 1.0


def test_a_python_counter_may_not_reuse_a_rust_counter_of_another_value_type():
    nanometrics._native.rust_side_increment("conflict-test", 1)
    with pytest.raises(ValueError, match="another value type"):
        Counter("rust_side_events", "Events counted by Rust code in the same process.", ["source"])
    # And the failed declaration left no name claimed.
    assert "rust_side_events" not in nanometrics.REGISTRY._names_to_collectors


def test_names_come_from_the_core_rules() -> None:
    # The Python layer declares through nanometrics::names::declared_name,
    # the inverse of the family name every exposition writes.
    from nanometrics import _native

    assert _native.declared_name("requests", "counter") == "requests_total"
    assert _native.declared_name("x_total", "counter") == "x_total_total"
    assert _native.declared_name("build", "info") == "build_info"
    assert _native.declared_name("temp", "gauge") == "temp"
    with pytest.raises(ValueError, match="unknown metric type"):
        _native.declared_name("x", "bogus")
    reg = nanometrics.CollectorRegistry()
    nanometrics.Counter("x_total_total", "x", registry=reg).inc()
    nanometrics.Info("build", "b", registry=reg).info({"v": "1"})
    samples = {(m.name, s.name) for m in reg.collect() for s in m.samples}
    assert ("x_total", "x_total_total") in samples
    assert ("build", "build_info") in samples
