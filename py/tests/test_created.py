"""``_created`` samples as prometheus_client writes them: counters,
histograms and summaries, in both formats, in ``collect()`` and from the
server; off with ``disable_created_metrics()`` or
``PROMETHEUS_DISABLE_CREATED_SERIES``."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import prometheus_client
from prometheus_client.openmetrics.exposition import generate_latest as pc_om
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

import nanometrics
from conftest import check_exposition, fetch
from nanometrics.openmetrics.exposition import generate_latest as om


def program(lib, registry):
    c = lib.Counter("jobs", "Jobs.", ["queue"], registry=registry)
    c.labels("a").inc()
    lib.Histogram("lat_seconds", "Latency.", buckets=(1.0,), registry=registry).observe(0.5)
    lib.Summary("size_bytes", "Sizes.", registry=registry).observe(3)
    lib.Gauge("temp", "T.", registry=registry).set(1)


def names(families):
    return sorted((s.name, tuple(sorted(s.labels.items()))) for f in families for s in f.samples)


def test_the_same_samples_as_prometheus_client_in_both_formats():
    before = time.time()
    ours, theirs = nanometrics.CollectorRegistry(), prometheus_client.CollectorRegistry()
    program(nanometrics, ours)
    program(prometheus_client, theirs)
    assert names(parse_text(nanometrics.generate_latest(ours).decode())) == names(
        parse_text(prometheus_client.generate_latest(theirs).decode())
    )
    assert names(parse_om(om(ours).decode())) == names(parse_om(pc_om(theirs).decode()))
    created = {s.name: s.value for f in parse_om(om(ours).decode()) for s in f.samples if s.name.endswith("_created")}
    assert set(created) == {"jobs_created", "lat_seconds_created", "size_bytes_created"}
    assert all(before - 1 <= v <= time.time() + 1 for v in created.values())
    check_exposition(["--openmetrics"], om(ours))
    check_exposition(["--text"], nanometrics.generate_latest(ours))
    # collect() and get_sample_value, as prometheus_client.
    assert before - 1 <= ours.get_sample_value("jobs_created", {"queue": "a"}) <= time.time() + 1
    assert names(ours.collect()) == names(theirs.collect())


def test_disable_and_enable(registry):
    program(nanometrics, registry)
    nanometrics.disable_created_metrics()
    try:
        assert b"_created" not in nanometrics.generate_latest(registry)
        assert b"_created" not in om(registry)
        assert registry.get_sample_value("jobs_created", {"queue": "a"}) is None
    finally:
        nanometrics.enable_created_metrics()
    assert b"jobs_created" in nanometrics.generate_latest(registry)


def test_the_server_writes_them_and_follows_the_switch(registry):
    program(nanometrics, registry)
    server, _ = nanometrics.start_http_server(0, registry=registry)
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    try:
        assert b"# TYPE jobs_created gauge" in fetch(url)
        # Read at each scrape, as prometheus_client's flag is.
        nanometrics.disable_created_metrics()
        assert b"_created" not in fetch(url)
        nanometrics.enable_created_metrics()
        assert b"jobs_created" in fetch(url)
    finally:
        nanometrics.enable_created_metrics()
        server.shutdown()


def test_the_environment_variable_turns_them_off():
    code = (
        "import nanometrics as n\n"
        "r = n.CollectorRegistry()\n"
        "n.Counter('jobs', 'J.', registry=r).inc()\n"
        "print(b'_created' in n.generate_latest(r))\n"
    )
    for value, expected in (("True", "False"), ("1", "False"), ("false", "True")):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PROMETHEUS_DISABLE_CREATED_SERIES": value},
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == expected, (value, out)


def test_collected_families_have_none_as_in_prometheus_client():
    # The default collectors (process, GC) are collected families: their
    # counters start before nanometrics saw them, and prometheus_client's
    # write no `_created` either.
    text = nanometrics.generate_latest(nanometrics.REGISTRY).decode()
    assert "process_cpu_seconds_created" not in text
    assert "python_gc_collections_created" not in text
    theirs = prometheus_client.generate_latest(prometheus_client.REGISTRY).decode()
    assert "process_cpu_seconds_created" not in theirs
