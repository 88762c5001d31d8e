"""tools/conformance/check_exposition.py (prometheus_client's strict
parsers, the OpenMetrics ABNF, promtool, and the checker's own invariants) on
generate_latest() and on the served /metrics; the server answers scrapes while
Python holds the GIL."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from conftest import fetch, check_exposition

import nanometrics
import nanometrics.openmetrics.exposition as om
from test_compat import program


def hostile(reg: nanometrics.CollectorRegistry) -> None:
    program(nanometrics, reg)
    g = nanometrics.Gauge("values", "Odd values.", ["case"], registry=reg)
    for case, v in [("nan", float("nan")), ("ninf", float("-inf")), ("tiny", 5e-324), ("neg0", -0.0)]:
        g.labels(case).set(v)
    c = nanometrics.Counter("labels_hostile", "Label values.", ["v"], registry=reg)
    for v in ["", '"', "\\", "\n", "\\n", "{}=,", "tab\there"]:
        c.labels(v).inc()
    nanometrics.Histogram("negative_bounds", "Negative bounds.", buckets=(-1.0, 0.0, 1.0), registry=reg).observe(-5)


def test_generate_latest_passes_the_checker():
    reg = nanometrics.CollectorRegistry()
    hostile(reg)
    check_exposition(["--text"], nanometrics.generate_latest(reg))
    check_exposition(["--openmetrics"], om.generate_latest(reg))


def test_served_metrics_pass_the_checker_and_negotiate():
    reg = nanometrics.CollectorRegistry()
    hostile(reg)
    server, thread = nanometrics.start_http_server(0, registry=reg)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        check_exposition([url])
        with urllib.request.urlopen(url) as r:
            assert r.headers["Content-Type"] == nanometrics.CONTENT_TYPE_LATEST
            assert r.read() == nanometrics.generate_latest(reg)
        req = urllib.request.Request(url, headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        with urllib.request.urlopen(req) as r:
            assert r.headers["Content-Type"] == om.CONTENT_TYPE_LATEST
            assert r.read().endswith(b"# EOF\n")
    finally:
        server.shutdown()
    assert not thread.is_alive()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)


def test_a_raising_set_function_fails_that_scrape_with_500_only():
    reg = nanometrics.CollectorRegistry()
    g = nanometrics.Gauge("flaky", "Flaky.", registry=reg)
    calls = []

    def f() -> float:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("second call fails")
        return len(calls)

    g.set_function(f)
    server, _ = nanometrics.start_http_server(0, registry=reg)
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        assert b"flaky 1.0" in fetch(url)
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url)
        assert e.value.code == 500
        e.value.close()
        assert b"flaky 3.0" in fetch(url)
    finally:
        server.shutdown()


PROBE = r"""
import sys, time, urllib.request
url = sys.argv[1]
urllib.request.urlopen(url).read()
print("ready", flush=True)
end = time.time() + float(sys.argv[2])
while time.time() < end:
    try:
        urllib.request.urlopen(url, timeout=10).read()
        print(time.time(), flush=True)
    except Exception as e:
        print("error", e, flush=True)
    time.sleep(0.02)
"""


def scrapes_while_holding_the_gil(url: str, data: list) -> int:
    """Scrapes `url` from another process while this one holds the GIL in
    one long C call (sorting `data`); returns how many scrapes completed
    inside that call."""
    probe = subprocess.Popen([sys.executable, "-c", PROBE, url, "120"], stdout=subprocess.PIPE, text=True)
    assert probe.stdout is not None
    assert probe.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    t0 = time.time()
    sorted(data)  # one C call: the GIL is never released inside it
    t1 = time.time()
    time.sleep(0.2)
    probe.terminate()
    out, _ = probe.communicate(timeout=60)
    stamps = [float(line) for line in out.split() if line.replace(".", "").isdigit()]
    assert t1 - t0 > 0.5, "the GIL-holding call was too short to tell"
    inside = sum(1 for s in stamps if t0 + 0.1 < s < t1 - 0.1)
    print(f"{url}: held the GIL {t1 - t0:.2f} s, {inside} scrapes inside, {len(stamps)} in all")
    return inside


def test_scrapes_are_answered_while_python_holds_the_gil():
    import prometheus_client

    import random

    data = list(range(3_000_000))
    random.Random(1).shuffle(data)
    reg = nanometrics.CollectorRegistry()
    nanometrics.Counter("busy", "Busy.", registry=reg).inc()
    server, _ = nanometrics.start_http_server(0, registry=reg)
    try:
        ours = scrapes_while_holding_the_gil(f"http://127.0.0.1:{server.server_port}/metrics", data)
    finally:
        server.shutdown()
    # The control: prometheus_client's server needs the GIL for every scrape.
    pc_server, pc_thread = prometheus_client.start_http_server(0, addr="127.0.0.1", registry=prometheus_client.CollectorRegistry())
    try:
        theirs = scrapes_while_holding_the_gil(f"http://127.0.0.1:{pc_server.server_port}/metrics", data)
    finally:
        pc_server.shutdown()
        pc_server.server_close()
    assert theirs == 0, f"the control scraped {theirs} times while the GIL was held (ours: {ours}): the experiment proves nothing"
    assert ours >= 3, f"only {ours} scrapes completed while the GIL was held"


def test_a_server_whose_handle_is_dropped_keeps_serving(free_port):
    import gc

    reg = nanometrics.CollectorRegistry()
    nanometrics.Gauge("kept", "Kept.", registry=reg).set(1)
    nanometrics.start_http_server(free_port, registry=reg)  # the usual call: result ignored
    gc.collect()
    url = f"http://127.0.0.1:{free_port}/metrics"
    assert b"kept 1.0" in fetch(url, timeout=5)
    for s in list(nanometrics._RUNNING):
        if s.server_port == free_port:
            s.shutdown()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)
