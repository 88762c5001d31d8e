"""nanometrics.parser and nanometrics.openmetrics.parser return what
prometheus_client's parsers return (families, samples, timestamps,
exemplars) for the same input, and raise ValueError naming the line and
column where prometheus_client's raise."""

from __future__ import annotations

import io

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary
from prometheus_client import generate_latest as pc_text
from prometheus_client.openmetrics import parser as pc_om_parser
from prometheus_client.openmetrics.exposition import generate_latest as pc_om
from prometheus_client import parser as pc_parser

import nanometrics
from nanometrics import parser
from nanometrics.openmetrics import parser as om_parser
from nanometrics.samples import Timestamp


def as_data(families):
    """Comparable plain data: prometheus_client's and ours are different classes."""
    out = []
    for f in families:
        samples = []
        for s in f.samples:
            ex = None
            if s.exemplar is not None:
                ex = (s.exemplar.labels, repr(float(s.exemplar.value)), str(s.exemplar.timestamp))
            samples.append((s.name, s.labels, repr(float(s.value)), str(s.timestamp), ex))
        out.append((f.name, f.documentation, f.type, f.unit, samples))
    return out


def a_registry():
    r = CollectorRegistry()
    c = Counter("requests", "Requests \"served\"\\.", ["code"], registry=r)
    c.labels("200").inc(3, exemplar={"trace_id": "abc"})
    c.labels("new\nline").inc()
    Gauge("vllm:temp", "T.", registry=r).set(float("nan"))
    h = Histogram("lat_seconds", "L.", buckets=(0.1, 1.0), unit="seconds", registry=r)
    h.observe(0.05, exemplar={"trace_id": "t1"})
    h.observe(5)
    Summary("size", "S.", registry=r).observe(2.5)
    return r


BODIES = [
    "# HELP a A.\n# TYPE a counter\na_total{x=\"1\"} 3 # {trace_id=\"q\"} 1.0 1700000000.5\na_created 1.7e9\n# EOF\n",
    "# TYPE g gauge\ng{a=\"1\"} 1 1.25\ng{a=\"2\"} 2 -1.25\n# EOF\n",
    "# TYPE s stateset\ns{s=\"a\"} 1\ns{s=\"b\"} 0\n# TYPE i info\ni_info{v=\"1\"} 1\n# EOF\n",
    "# TYPE h gaugehistogram\nh_bucket{le=\"1.0\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_gcount 2\nh_gsum 3\n# EOF\n",
    "a 1\nb{c=\"\\\\q\"} NaN\n# EOF",
]


@pytest.mark.parametrize("body", BODIES)
def test_openmetrics_matches_prometheus_client(body):
    ours = as_data(om_parser.text_string_to_metric_families(body))
    theirs = as_data(pc_om_parser.text_string_to_metric_families(body))
    assert ours == theirs


def test_our_encoders_and_theirs_read_back_alike():
    r = a_registry()
    for body in (pc_om(r).decode(),):
        assert as_data(om_parser.text_string_to_metric_families(body)) == as_data(
            pc_om_parser.text_string_to_metric_families(body)
        )
    body = pc_text(r).decode()
    assert as_data(parser.text_string_to_metric_families(body)) == as_data(
        pc_parser.text_string_to_metric_families(body)
    )
    # And a nanometrics registry's output.
    ours = nanometrics.CollectorRegistry()
    nanometrics.Counter("jobs", "J.", ["q"], registry=ours).labels("a").inc(2, exemplar={"trace_id": "x"})
    for gen, ours_p, pc_p in (
        (nanometrics.openmetrics.exposition.generate_latest, om_parser, pc_om_parser),
        (nanometrics.generate_latest, parser, pc_parser),
    ):
        body = gen(ours).decode()
        assert as_data(ours_p.text_string_to_metric_families(body)) == as_data(pc_p.text_string_to_metric_families(body))


def test_text_format_cases_match():
    body = (
        "# HELP x_total X.\n# TYPE x_total counter\nx_total{a=\"b\",} 3 1500\n"
        "# a comment\n\nuntyped_thing 4\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 2\n"
    )
    ours = as_data(parser.text_string_to_metric_families(body))
    assert ours == as_data(pc_parser.text_string_to_metric_families(body))
    assert ours[0][4][0][3] == "1.5"  # milliseconds, as seconds


def test_timestamps_are_prometheus_client_timestamps():
    f = next(om_parser.text_string_to_metric_families("a 1 1.5\n# EOF\n"))
    assert f.samples[0].timestamp == Timestamp(1, 500000000)
    assert float(f.samples[0].timestamp) == 1.5


@pytest.mark.parametrize(
    "body, where",
    [
        ("a 1\n\n# EOF\n", "line 2, column 1"),
        ("a{b=\"c\" 1\n# EOF\n", "line 1, column 8"),
        ("# TYPE a counter\na_total -1\n# EOF\n", "line 2"),
        ("a 1\n", "missing \"# EOF\""),
    ],
)
def test_bad_openmetrics_raises_with_the_place(body, where):
    with pytest.raises(ValueError, match=where):
        list(om_parser.text_string_to_metric_families(body))
    with pytest.raises(ValueError):
        list(pc_om_parser.text_string_to_metric_families(body))


def test_errors_come_at_iteration_and_fd_variants_work():
    gen = om_parser.text_string_to_metric_families("bad line\n")
    with pytest.raises(ValueError):
        next(gen)
    fams = list(om_parser.text_fd_to_metric_families(io.StringIO("a 1\n# EOF\n")))
    assert [f.name for f in fams] == ["a"]
    assert [f.name for f in parser.text_fd_to_metric_families(io.StringIO("a 1\n"))] == ["a"]


@pytest.mark.parametrize("text, value", [("-0.5", -0.5), ("-1.25", -1.25), ("-5e-1", -0.5), ("1.5", 1.5)])
def test_negative_timestamps_keep_their_sign(text, value):
    f = next(om_parser.text_string_to_metric_families(f"a 1 {text}\n# EOF\n"))
    assert float(f.samples[0].timestamp) == value
