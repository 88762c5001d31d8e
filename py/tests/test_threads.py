"""Eight Python threads update one counter and one histogram while another
thread scrapes: exact totals at the end, every scrape consistent."""

from __future__ import annotations

import threading

import pytest

from prometheus_client.parser import text_string_to_metric_families

import nanometrics

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
