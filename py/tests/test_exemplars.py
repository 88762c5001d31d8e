"""Exemplars as prometheus_client takes them: ``inc(exemplar=...)`` and
``observe(exemplar=...)``, its validation (its messages, with the count
filled in; names escaped to underscores as nanometrics escapes every name),
the latest per counter and per bucket in OpenMetrics (read back by
prometheus_client's own parser) and in ``collect()``; never in the text
format."""

from __future__ import annotations

import time

import prometheus_client
import pytest
from prometheus_client.openmetrics.exposition import generate_latest as pc_openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families

import nanometrics
from conftest import check_exposition
from nanometrics import Counter, Histogram
from nanometrics.openmetrics.exposition import generate_latest as openmetrics
from nanometrics.samples import Exemplar


def exemplars_of(body: bytes) -> dict:
    """{(sample name, labels): (exemplar labels, value)} as prometheus_client parses them."""
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if s.exemplar is not None:
                key = (s.name, tuple(sorted(s.labels.items())))
                out[key] = (s.exemplar.labels, s.exemplar.value)
    return out


def record(module, registry) -> None:
    """The same program for prometheus_client and nanometrics."""
    c = module.Counter("requests", "Requests.", ["code"], registry=registry)
    c.labels("200").inc(2, exemplar={"trace_id": "abc", "span_id": "01"})
    c.labels("200").inc(1, exemplar={"trace_id": "def"})
    c.labels("500").inc()
    h = module.Histogram("latency_seconds", "Latency.", buckets=(0.1, 1.0), registry=registry)
    h.observe(0.05, exemplar={"trace_id": "t1"})
    h.observe(0.5, {"trace_id": "t2"})
    h.observe(0.7, exemplar={"trace_id": "t3", "user": "é \\ \n"})
    h.observe(5.0)
    h.observe(0.01, exemplar={})  # an empty exemplar is none
    un = module.Counter("unlabelled", "U.", registry=registry)
    un.inc(0.5, exemplar={"trace_id": "u"})


def test_openmetrics_carries_the_same_exemplars_as_prometheus_client():
    ours, theirs = nanometrics.CollectorRegistry(), prometheus_client.CollectorRegistry()
    record(nanometrics, ours)
    record(prometheus_client, theirs)
    got = exemplars_of(openmetrics(ours))
    want = exemplars_of(pc_openmetrics(theirs))
    assert got == want
    assert got[("latency_seconds_bucket", (("le", "1.0"),))] == ({"trace_id": "t3", "user": "é \\ \n"}, 0.7)
    assert got[("requests_total", (("code", "200"),))] == ({"trace_id": "def"}, 1.0)
    assert len(got) == 4


def test_exemplars_pass_the_conformance_checker_and_stay_out_of_the_text_format(registry):
    before = time.time()
    record(nanometrics, registry)
    body = openmetrics(registry)
    check_exposition(["--openmetrics"], body)
    assert b" # {" not in nanometrics.generate_latest(registry)
    # Timestamps are when the exemplar was recorded.
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if s.exemplar is not None:
                assert before - 1 <= float(s.exemplar.timestamp) <= time.time() + 1


def test_collect_returns_exemplars_as_prometheus_client_does(registry):
    record(nanometrics, registry)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s for m in registry.collect() for s in m.samples}
    e = samples[("latency_seconds_bucket", (("le", "0.1"),))].exemplar
    assert isinstance(e, Exemplar)
    assert (e.labels, e.value) == ({"trace_id": "t1"}, 0.05)
    assert e.timestamp is not None and e.timestamp > 1e9
    assert samples[("latency_seconds_bucket", (("le", "+Inf"),))].exemplar is None
    assert samples[("requests_total", (("code", "500"),))].exemplar is None
    assert samples[("latency_seconds_count", ())].exemplar is None


@pytest.mark.parametrize(
    "exemplar, error, match",
    [
        ({"trace_id": "x" * 121}, ValueError, "Exemplar labels have 129 UTF-8 characters, exceeding the limit of 128"),
        ({"x" + "é" * 63: "é" * 65}, ValueError, "129 UTF-8 characters"),
        ({"id": "é" * 127}, ValueError, "129 UTF-8 characters"),
        ({"__x": "1"}, ValueError, "Reserved label metric name: __x"),
        ({"": "1"}, ValueError, "Invalid label metric name"),
        ({"id": "a\rb"}, ValueError, "carriage return"),
        ({"id": 1}, TypeError, "dict of str label names to str values"),
        ({1: "a"}, TypeError, "dict of str label names to str values"),
        (["trace_id"], TypeError, "got list"),
    ],
)
def test_bad_exemplars_raise_and_change_nothing(registry, exemplar, error, match):
    c = Counter("c", "C.", registry=registry)
    h = Histogram("h", "H.", registry=registry)
    with pytest.raises(error, match=match):
        c.inc(1, exemplar=exemplar)
    with pytest.raises(error, match=match):
        h.observe(1, exemplar=exemplar)
    assert registry.get_sample_value("c_total") == 0.0
    assert registry.get_sample_value("h_count") == 0.0


def test_names_outside_the_classic_set_are_escaped_as_other_names_are(registry):
    # prometheus_client 0.26 keeps UTF-8 names; nanometrics escapes every
    # name to underscores (see the package docstring).
    c = Counter("c", "C.", registry=registry)
    c.inc(exemplar={"trace.id": "a", "0id": "b"})
    got = exemplars_of(openmetrics(registry))
    assert got == {("c_total", ()): ({"trace_id": "a", "_id": "b"}, 1.0)}


def test_nan_observations_ignore_their_exemplar(registry):
    h = Histogram("h", "H.", registry=registry)
    h.observe(float("nan"), exemplar={"__bad": "x"})
    assert registry.get_sample_value("h_count") == 0.0


def test_exactly_128_characters_is_fine(registry):
    c = Counter("c", "C.", registry=registry)
    c.inc(exemplar={"trace_id": "x" * 120})
    c.inc(exemplar={"id": "é" * 126})
    assert registry.get_sample_value("c_total") == 2.0


def test_a_negative_increment_with_an_exemplar_raises_for_the_increment(registry):
    c = Counter("c", "C.", registry=registry)
    with pytest.raises(ValueError, match="non-negative"):
        c.inc(-1, exemplar={"trace_id": "x"})
    assert exemplars_of(openmetrics(registry)) == {}
