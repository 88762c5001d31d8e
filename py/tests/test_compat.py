"""The same program against prometheus_client and nanometrics: the parsed
families (names, types, labels, values; `_created` excluded) must match, in
both exposition formats, and the same mistakes must raise the same errors."""

from __future__ import annotations

from typing import Any, Callable, List, Tuple

import prometheus_client
import prometheus_client.openmetrics.exposition as pc_om
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om
from prometheus_client.parser import text_string_to_metric_families as parse_text

import nanometrics
import nanometrics.openmetrics.exposition as nm_om


def program(lib: Any, reg: Any) -> None:
    c = lib.Counter("requests", "Requests served.", ["method", "code"], registry=reg)
    c.labels("GET", "200").inc()
    c.labels(method="POST", code="500").inc(2.5)
    c.labels("GET", 200).inc(3)
    lib.Counter("jobs_total", "Jobs.", namespace="app", subsystem="worker", registry=reg).inc(7)
    g = lib.Gauge("temperature", "Temperature.", unit="celsius", registry=reg)
    g.set(21.5)
    g.inc()
    g.dec(0.25)
    q = lib.Gauge("queue_length", "Queued.", ["name"], registry=reg)
    q.labels("a").set_function(lambda: 42)
    q.labels("b").set(-1)
    busy = lib.Gauge("inprogress", "In progress.", registry=reg)
    with busy.track_inprogress():
        pass
    h = lib.Histogram("latency_seconds", "Latency.", ["route"], buckets=[0.01, 0.1, 1, 10], registry=reg)
    for v in (0.005, 0.05, 0.5, 5, 50, 0.1):
        h.labels("/a").observe(v)
    h.labels("/empty")
    lib.Histogram("default_seconds", "Default buckets.", registry=reg).observe(0.3)
    s = lib.Summary("size_bytes", "Sizes.", registry=reg)
    s.observe(10)
    s.observe(20.5)
    lib.Summary("by_route_bytes", "By route.", ["route"], registry=reg).labels("/x").observe(1)
    lib.Info("build", "Build.", registry=reg).info({"version": "1.0", "commit": "abc"})
    lib.Info("empty", "Nothing set.", registry=reg)
    e = lib.Enum("state", "State.", states=["a", "b", "c"], registry=reg)
    e.state("b")
    lib.Enum("idle", "Untouched.", states=["x", "y"], registry=reg)
    # (No ':' here: prometheus_client's OpenMetrics writer escapes ':' in
    # sample names but not in the family name, so its own output disagrees.)
    w = lib.Counter("my-app.ops", "Name outside the classic set.", ["http-verb"], registry=reg)
    w.labels("GET").inc()
    esc = lib.Gauge("escaped", 'Help with "quotes", back\\slash and\nnewline.', ["v"], registry=reg)
    esc.labels('q"uo\\te\nnl 🦀').set(1)
    r = lib.Counter("removed", "Removal.", ["k"], registry=reg)
    r.labels("x").inc()
    r.labels("y").inc()
    r.remove("x")
    cl = lib.Gauge("cleared", "Clear.", ["k"], registry=reg)
    cl.labels("x").set(1)
    cl.clear()
    big = lib.Counter("big", "Large values.", registry=reg)
    big.inc(2**60)
    lib.Gauge("special", "Special values.", ["v"], registry=reg).labels("inf").set(float("inf"))


def families(parse: Callable[[str], Any], body: bytes) -> List[Tuple[Any, ...]]:
    out = []
    for f in parse(body.decode("utf-8")):
        if f.name.endswith("_created"):
            continue  # prometheus_client's text format: _created as gauges
        samples = sorted(
            (s.name, tuple(sorted(s.labels.items())), s.value)
            for s in f.samples
            if not s.name.endswith("_created")
        )
        out.append((f.name, f.type, f.documentation, f.unit, tuple(samples)))
    return sorted(out)


@pytest.mark.parametrize("fmt", ["text", "openmetrics"])
def test_same_program_same_families(fmt):
    theirs, ours = prometheus_client.CollectorRegistry(), nanometrics.CollectorRegistry()
    program(prometheus_client, theirs)
    program(nanometrics, ours)
    if fmt == "text":
        a = families(parse_text, prometheus_client.generate_latest(theirs))
        b = families(parse_text, nanometrics.generate_latest(ours))
    else:
        a = families(parse_om, pc_om.generate_latest(theirs))
        b = families(parse_om, nm_om.generate_latest(ours))
    assert len(a) == 19
    for fa, fb in zip(a, b):
        assert fa == fb
    assert a == b


def test_collect_agrees_with_prometheus_client():
    theirs, ours = prometheus_client.CollectorRegistry(), nanometrics.CollectorRegistry()
    program(prometheus_client, theirs)
    program(nanometrics, ours)

    # collect() keeps prometheus_client's names as declared; nanometrics
    # escapes them at declaration (a documented difference), so compare
    # escaped names.
    esc = nanometrics._escape

    def shape(reg: Any) -> List[Tuple[Any, ...]]:
        return sorted(
            (
                esc(m.name, True),
                m.type,
                tuple(
                    sorted(
                        (esc(s.name, True), tuple(sorted((esc(k, False), v) for k, v in s.labels.items())), s.value)
                        for s in m.samples
                        if not s.name.endswith("_created")
                    )
                ),
            )
            for m in reg.collect()
        )

    assert shape(theirs) == shape(ours)
    for name, labels in [("requests_total", {"method": "GET", "code": "200"}), ("state", {"state": "b"}), ("latency_seconds_bucket", {"route": "/a", "le": "0.1"})]:
        assert theirs.get_sample_value(name, labels) == ours.get_sample_value(name, labels)


MISTAKES: List[Tuple[str, Callable[[Any, Any], Any]]] = [
    ("empty name", lambda lib, r: lib.Counter("", "x", registry=r)),
    ("duplicate name", lambda lib, r: (lib.Counter("d", "x", registry=r), lib.Counter("d", "x", registry=r))),
    ("duplicate across types", lambda lib, r: (lib.Counter("e", "x", registry=r), lib.Gauge("e_total", "x", registry=r))),
    ("label count", lambda lib, r: lib.Counter("f", "x", ["a", "b"], registry=r).labels("1")),
    ("label names", lambda lib, r: lib.Counter("g", "x", ["a"], registry=r).labels(b="1")),
    ("args and kwargs", lambda lib, r: lib.Counter("g2", "x", ["a", "b"], registry=r).labels("1", b="2")),
    ("labels on unlabeled", lambda lib, r: lib.Counter("h", "x", registry=r).labels("1")),
    ("missing label values", lambda lib, r: lib.Counter("i", "x", ["a"], registry=r).inc()),
    ("negative increment", lambda lib, r: lib.Counter("j", "x", registry=r).inc(-1)),
    ("unsorted buckets", lambda lib, r: lib.Histogram("k", "x", buckets=[2, 1], registry=r)),
    ("reserved le", lambda lib, r: lib.Histogram("l", "x", ["le"], registry=r)),
    ("reserved quantile", lambda lib, r: lib.Summary("m", "x", ["quantile"], registry=r)),
    ("reserved __ label", lambda lib, r: lib.Gauge("n", "x", ["__a"], registry=r)),
    ("no enum states", lambda lib, r: lib.Enum("o", "x", registry=r, states=[])),
    ("unknown enum state", lambda lib, r: lib.Enum("p", "x", registry=r, states=["a"]).state("b")),
    ("info overlap", lambda lib, r: lib.Info("q", "x", ["a"], registry=r).labels("1").info({"a": "2"})),
    ("unit on info", lambda lib, r: lib.Info("s", "x", unit="bytes", registry=r)),
    ("remove on unlabeled", lambda lib, r: lib.Counter("t", "x", registry=r).remove("a")),
    ("remove label count", lambda lib, r: lib.Counter("u", "x", ["a"], registry=r).remove("a", "b")),
]


@pytest.mark.parametrize("what,mistake", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_same_mistakes_same_errors(what, mistake):
    with pytest.raises(ValueError) as theirs:
        mistake(prometheus_client, prometheus_client.CollectorRegistry())
    with pytest.raises(ValueError) as ours:
        mistake(nanometrics, nanometrics.CollectorRegistry())
    # Our message starts with prometheus_client's rule wording.
    first_words = str(theirs.value).split(":")[0].split(" (")[0][:20]
    if what not in ("unknown enum state", "unsorted buckets"):
        assert first_words.lower()[:12] in str(ours.value).lower(), (str(theirs.value), str(ours.value))
