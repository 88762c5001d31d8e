"""Families parsed by the Rust parsers (``nanometrics_exporters::parse``),
as prometheus_client's parsers return them."""

from __future__ import annotations

from typing import Iterator, Optional, Tuple, Union

from . import _native
from .metrics_core import Metric
from .samples import Exemplar, Sample, Timestamp


def _timestamp(t: Optional[Tuple[int, int]], openmetrics: bool) -> Union[None, float, Timestamp]:
    if t is None:
        return None
    sec, nsec = t
    if openmetrics:
        ts = Timestamp(0, 0)
        # Set as prometheus_client keeps a negative time (seconds toward
        # zero, nanoseconds with the sign): its constructor cannot make
        # one between -1 and 0.
        ts.sec, ts.nsec = sec, nsec
        return ts
    # The text format's milliseconds, as seconds: ms / 1000, as
    # prometheus_client computes them.
    return (sec * 1000 + nsec // 1_000_000) / 1000


def families(text: str, openmetrics: bool) -> Iterator[Metric]:
    """The families of ``text``; a ``ValueError`` (with the line and column)
    when it does not parse, raised at the first ``next()``."""
    for name, help_, typ, unit, samples in _native.parse_exposition(text, openmetrics):
        m = Metric(name, help_, typ, unit)
        for sname, labels, value, ts, ex in samples:
            exemplar = None
            if ex is not None:
                ex_labels, ex_value, ex_ts = ex
                ex_time = _timestamp(ex_ts, openmetrics)
                exemplar = Exemplar(dict(ex_labels), ex_value, ex_time)
            m.samples.append(Sample(sname, dict(labels), value, _timestamp(ts, openmetrics), exemplar))
        yield m
