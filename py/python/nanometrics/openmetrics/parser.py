"""The OpenMetrics 1.0 parser (``prometheus_client.openmetrics.parser``),
strict and in Rust (it passes the OpenMetrics project's parser tests):
a line that breaks the format is a ``ValueError`` naming its line and
column."""

from __future__ import annotations

from typing import Iterator, TextIO

from .._parsing import families
from ..metrics_core import Metric

__all__ = ("text_fd_to_metric_families", "text_string_to_metric_families")


def text_string_to_metric_families(text: str) -> Iterator[Metric]:
    """The metric families of an OpenMetrics exposition.

    >>> [f.name for f in text_string_to_metric_families("# TYPE a counter\\na_total 1\\n# EOF\\n")]
    ['a']
    """
    yield from families(text, True)


def text_fd_to_metric_families(fd: TextIO) -> Iterator[Metric]:
    """The metric families of an OpenMetrics exposition read from ``fd``."""
    yield from families(fd.read(), True)
