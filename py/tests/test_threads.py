"""Eight Python threads update one counter and one histogram while another
thread scrapes: exact totals at the end, every scrape consistent."""

from __future__ import annotations

import threading

import pytest

from prometheus_client.parser import text_string_to_metric_families

import nanometrics
from conftest import fetch

THREADS = 8
PER_THREAD = 20_000


def test_eight_writers_and_a_scraper():
    reg = nanometrics.CollectorRegistry()
    c = nanometrics.Counter("events", "Events.", registry=reg)
    lc = nanometrics.Counter("labeled_events", "Events by thread parity.", ["parity"], registry=reg)
    h = nanometrics.Histogram("work_seconds", "Work.", buckets=(0.001, 0.01, 0.1, 1.0), registry=reg)
    start = threading.Barrier(THREADS + 1)
    done = threading.Event()
    scrapes = []
    errors = []

    def writer(i: int) -> None:
        start.wait()
        child = lc.labels(str(i % 2))
        for k in range(PER_THREAD):
            c.inc()
            child.inc(0.5)
            h.observe((k % 4) * 0.005)  # 0, 0.005, 0.01, 0.015

    def scraper() -> None:
        last_count = last_total = -1.0
        try:
            while not done.is_set():
                fams = {f.name: f for f in text_string_to_metric_families(nanometrics.generate_latest(reg).decode())}
                total = fams["events"].samples[0].value
                hs = {(s.name, s.labels.get("le")): s.value for s in fams["work_seconds"].samples}
                count, inf = hs[("work_seconds_count", None)], hs[("work_seconds_bucket", "+Inf")]
                assert count == inf, f"+Inf bucket {inf} != count {count}"
                buckets = [hs[("work_seconds_bucket", le)] for le in ("0.001", "0.01", "0.1", "1.0", "+Inf")]
                assert buckets == sorted(buckets), f"buckets not cumulative: {buckets}"
                assert total >= last_total and count >= last_count, "went backwards"
                last_total, last_count = total, count
                scrapes.append(total)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    ws = [threading.Thread(target=writer, args=(i,)) for i in range(THREADS)]
    s = threading.Thread(target=scraper)
    for t in ws:
        t.start()
    s.start()
    start.wait()
    for t in ws:
        t.join()
    done.set()
    s.join()
    assert not errors, errors[0]
    assert len(scrapes) > 0
    n = THREADS * PER_THREAD
    assert reg.get_sample_value("events_total") == n
    assert reg.get_sample_value("labeled_events_total", {"parity": "0"}) == n / 4
    assert reg.get_sample_value("labeled_events_total", {"parity": "1"}) == n / 4
    assert reg.get_sample_value("work_seconds_count") == n
    # 0 and 0.005 fall in le=0.01 (0 also in le=0.001); 0.01 is at its bound.
    assert reg.get_sample_value("work_seconds_bucket", {"le": "0.001"}) == n / 4
    assert reg.get_sample_value("work_seconds_bucket", {"le": "0.01"}) == 3 * n / 4
    assert reg.get_sample_value("work_seconds_bucket", {"le": "0.1"}) == n
    assert h.stats()["sum"] == pytest.approx(0.03 * n / 4)


def test_set_function_churn_while_the_server_and_generate_latest_scrape():
    """Python threads add, replace and remove set_function callbacks while a
    Rust server thread and a Python thread scrape: no deadlock between the
    GIL and the callback table, every scrape well-formed, callbacks'
    values exposed."""
    import urllib.request

    reg = nanometrics.CollectorRegistry()
    g = nanometrics.Gauge("computed", "Computed at scrape.", ["k"], registry=reg)
    server, _ = nanometrics.start_http_server(0, registry=reg)
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    stop = threading.Event()
    errors = []
    served = []

    def churn(i: int) -> None:
        try:
            for n in range(300):
                child = g.labels(f"{i}-{n % 5}")
                child.set_function(lambda v=float(n): v)
                if n % 7 == 0:
                    g.remove(f"{i}-{n % 5}")
        except BaseException as e:
            errors.append(e)

    def scrape_http() -> None:
        try:
            while not stop.is_set():
                body = fetch(url, timeout=10).decode()
                list(text_string_to_metric_families(body))
                served.append(len(body))
        except BaseException as e:
            errors.append(e)

    def scrape_python() -> None:
        try:
            while not stop.is_set():
                list(text_string_to_metric_families(nanometrics.generate_latest(reg).decode()))
        except BaseException as e:
            errors.append(e)

    workers = [threading.Thread(target=churn, args=(i,)) for i in range(4)]
    scrapers = [threading.Thread(target=scrape_http), threading.Thread(target=scrape_python)]
    for t in workers + scrapers:
        t.start()
    for t in workers:
        t.join(timeout=120)
        assert not t.is_alive(), "a churn thread is stuck (deadlock?)"
    stop.set()
    for t in scrapers:
        t.join(timeout=60)
        assert not t.is_alive(), "a scraper is stuck (deadlock?)"
    server.shutdown()
    assert not errors, errors[0]
    assert served, "the server answered no scrape"
    # The last callback of each live child is what a scrape shows.
    final = {s.labels["k"]: s.value for m in reg.collect() for s in m.samples}
    for i in range(4):
        assert final[f"{i}-4"] == 299.0  # n = 299: 299 % 5 == 4, not removed
