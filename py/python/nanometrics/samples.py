"""The sample types (``prometheus_client.samples``)."""

from __future__ import annotations

from typing import Any, Dict, NamedTuple, Optional, Union

__all__ = ("Exemplar", "Sample", "Timestamp")


class Timestamp:
    """A nanosecond-resolution timestamp, as ``prometheus_client.samples.Timestamp``."""

    def __init__(self, sec: float, nsec: float) -> None:
        if nsec < 0 or nsec >= 1e9:
            raise ValueError(f"Invalid value for nanoseconds in Timestamp: {nsec}")
        if sec < 0:
            nsec = -nsec
        self.sec: int = int(sec)
        self.nsec: int = int(nsec)

    def __str__(self) -> str:
        return f"{self.sec}.{self.nsec:09d}"

    def __repr__(self) -> str:
        return f"Timestamp({self.sec}, {self.nsec})"

    def __float__(self) -> float:
        return float(self.sec) + float(self.nsec) / 1e9

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timestamp) and self.sec == other.sec and self.nsec == other.nsec

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __gt__(self, other: "Timestamp") -> bool:
        return self.nsec > other.nsec if self.sec == other.sec else self.sec > other.sec

    def __lt__(self, other: "Timestamp") -> bool:
        return self.nsec < other.nsec if self.sec == other.sec else self.sec < other.sec

    __hash__ = None  # type: ignore[assignment]


class Exemplar(NamedTuple):
    """An exemplar of a sample, as ``prometheus_client.samples.Exemplar``:
    its labels (a trace id, ...), the value recorded with them and when
    (seconds since the epoch)."""

    labels: Dict[str, str]
    value: float
    timestamp: Optional[Any] = None


class Sample(NamedTuple):
    """One sample, as ``prometheus_client.samples.Sample``."""

    name: str
    labels: Dict[str, str]
    value: float
    timestamp: Optional[Union[float, "Timestamp"]] = None
    exemplar: Optional[Exemplar] = None
    native_histogram: Optional[Any] = None
