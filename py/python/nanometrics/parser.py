"""The Prometheus text format 0.0.4 parser (``prometheus_client.parser``),
strict and in Rust: a line that does not parse is a ``ValueError`` naming
its line and column."""

from __future__ import annotations

from typing import Iterator, TextIO

from ._parsing import families
from .metrics_core import Metric

__all__ = ("text_fd_to_metric_families", "text_string_to_metric_families")


def text_string_to_metric_families(text: str) -> Iterator[Metric]:
    """The metric families of a text-format exposition.

    >>> [f.name for f in text_string_to_metric_families("# TYPE a_total counter\\na_total 1\\n")]
    ['a']
    """
    yield from families(text, False)


def text_fd_to_metric_families(fd: TextIO) -> Iterator[Metric]:
    """The metric families of a text-format exposition read from ``fd``."""
    yield from families(fd.read(), False)
