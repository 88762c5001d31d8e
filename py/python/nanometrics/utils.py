"""Small helpers shared by the exposition side (``prometheus_client.utils``)."""

from __future__ import annotations

import math

__all__ = ("INF",)

INF = float("inf")


def _float_to_go_string(d: float) -> str:
    """How prometheus_client writes an ``le`` bound."""
    d = float(d)
    if d == INF:
        return "+Inf"
    if d == -INF:
        return "-Inf"
    if math.isnan(d):
        return "NaN"
    s = repr(d)
    dot = s.find(".")
    if d > 0 and dot > 6:
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1:]}".rstrip("0.")
        return f"{mantissa}e+0{dot - 1}"
    return s
