"""Real time: window statistics and watches, without waiting for a scrape.

A ticker in the Rust core reads the series someone windows or watches once
per tick (1 s unless :func:`set_tick_interval` says otherwise) and keeps a
ring of those reads; a window is the difference between two of them, so
``inc``/``observe`` cost exactly what they did.

Windows, on the metric objects::

    latency.stats(window=10)      # count, sum, min, max, mean, p50, p90, p99, rate, span
    requests.rate(window=60)      # increase per second

(the first call starts tracking the series and has nothing to compare with:
its window is empty, or its rate NaN).

Watches, on a registry's series::

    def on_frame(frame):          # called on the watch's thread, with the GIL
        for s in frame["series"]:
            print(s["labels"], s["window"]["quantiles"]["0.9"])

    w = watch("ttft_seconds", every=1, window=10, callback=on_frame)
    ...
    w.close()

or pulled: ``for frame in watch(...)`` (the GIL is released while waiting),
``async for frame in watch(...)``. A frame is the dict that
``/metrics/stream`` sends as JSON (see :mod:`nanometrics.stream`): ``seq``,
``time``, ``family``, ``type``, ``window``, ``span``, ``series`` (labels,
value, window statistics) and ``alerts``. With a :class:`Threshold`, only
the ticks at which a series' alert fires or resolves make a frame.

The selector is the family's name as the registry holds it (a counter's
with ``_total``), optionally with label matchers:
``ttft_seconds{model="llama",status!="error"}``.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import threading
import weakref
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Dict, Iterator, Optional, Sequence, Union

from . import _native
from .registry import REGISTRY, CollectorRegistry

__all__ = ["Threshold", "Watch", "watch", "set_tick_interval", "tick_interval"]

Frame = Dict[str, Any]


@dataclass(frozen=True)
class Threshold:
    """Fire when a window statistic crosses a level.

    ``stat`` is one of ``count``, ``rate``, ``sum``, ``mean``, ``min``,
    ``max`` (histograms), ``delta``, ``rate``, ``last`` (counters), ``min``,
    ``max``, ``mean``, ``last`` (gauges), or ``pNN`` for a histogram quantile
    (``p90``, ``p99.9``). Give ``above`` or ``below``: the alert fires when
    the statistic goes past it, and resolves when it comes back past
    ``exit`` (default: the same level; a lower one for ``above``, a higher
    one for ``below``, is hysteresis). With ``for_`` (seconds) the
    condition must hold that long first.
    """

    stat: str
    above: Optional[float] = None
    below: Optional[float] = None
    exit: Optional[float] = None
    for_: float = 0.0

    def _native_args(self) -> tuple[str, bool, float, Optional[float], float]:
        if (self.above is None) == (self.below is None):
            raise ValueError("a Threshold needs exactly one of above= and below=")
        level = self.above if self.above is not None else self.below
        assert level is not None
        return (self.stat, self.above is not None, float(level), self.exit, float(self.for_))


class _End:
    """What a watch's wait returns once the watch has ended."""


_END = _End()

_open: "weakref.WeakSet[Watch]" = weakref.WeakSet()
_open_lock = threading.Lock()


@atexit.register
def _close_all() -> None:
    # Callback threads must not call into an interpreter that is going away.
    with _open_lock:
        watches = list(_open)
    for w in watches:
        w.close()


class Watch:
    """A running watch; see the module docs. Iterate it (or ``async for``)
    when it was made without a callback; ``close()`` (or leaving a ``with``
    block) ends it."""

    def __init__(self, native: Any, pulled: bool) -> None:
        self._native = native
        self._pulled = pulled
        self._waiting: "Optional[asyncio.Future[Union[Frame, _End, None]]]" = None
        with _open_lock:
            _open.add(self)

    def next(self, timeout: Optional[float] = None) -> Optional[Frame]:
        """The next frame, waiting up to ``timeout`` seconds (forever if
        None); None on timeout. Raises ``StopIteration`` once ended."""
        if not self._pulled:
            raise ValueError("this watch delivers its frames to its callback")
        waited = 0.0
        while True:
            # Short waits, so that Ctrl-C is noticed between them.
            step = 0.25 if timeout is None else min(0.25, max(timeout - waited, 0.0))
            raw = self._native.next_json(step)
            if raw is not None:
                frame: Frame = json.loads(raw)
                return frame
            if self._native.closed():
                raise StopIteration
            waited += step
            if timeout is not None and waited >= timeout:
                return None

    def __iter__(self) -> Iterator[Frame]:
        return self

    def __next__(self) -> Frame:
        while True:
            frame = self.next(timeout=None)
            if frame is not None:
                return frame

    def __aiter__(self) -> AsyncIterator[Frame]:
        return self

    def _next_or_end(self, timeout: float) -> Union[Frame, _End, None]:
        # An executor's future cannot carry StopIteration: say it with a value.
        try:
            return self.next(timeout)
        except StopIteration:
            return _END

    async def __anext__(self) -> Frame:
        loop = asyncio.get_running_loop()
        while True:
            # A wait cancelled by the caller (a timeout around this call) is
            # picked up again by the next call, so its frame is not lost.
            if self._waiting is None or self._waiting.get_loop() is not loop:
                self._waiting = loop.run_in_executor(None, self._next_or_end, 1.0)
            got = await asyncio.shield(self._waiting)
            self._waiting = None
            if isinstance(got, _End):
                raise StopAsyncIteration
            if got is not None:
                return got

    def close(self) -> None:
        """Ends the watch (a callback running now finishes; no other starts;
        frames already queued for an iterator can still be taken)."""
        self._native.close()

    @property
    def closed(self) -> bool:
        """Whether the watch has ended (and, for an iterator, its last frame
        was taken)."""
        return bool(self._native.closed())

    def stats(self) -> Dict[str, int]:
        """``{delivered, dropped, errors}``: frames given to the callback,
        frames dropped because the consumer fell behind, callback calls that
        raised (each also reported to ``sys.unraisablehook``)."""
        stats: Dict[str, int] = self._native.stats()
        return stats

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def watch(
    selector: str,
    *,
    every: Optional[float] = None,
    window: Optional[float] = None,
    quantiles: Optional[Sequence[float]] = None,
    threshold: Optional[Threshold] = None,
    callback: Optional[Callable[[Frame], object]] = None,
    registry: CollectorRegistry = REGISTRY,
    queue: int = 16,
) -> Watch:
    """Follows the series ``selector`` names in ``registry``.

    ``every``: seconds between frames (default: every tick); ``window``:
    seconds the statistics cover (default: ``every``); ``quantiles``: those
    a histogram's window reports (default 0.5, 0.9, 0.99); ``threshold``:
    frames only when an alert changes; ``callback``: called with each frame
    on the watch's own thread (an exception is reported and counted, the
    next frame comes as usual), else iterate the returned watch; ``queue``:
    frames a slow consumer may fall behind by before the oldest are
    dropped (counted).
    """
    if queue < 1:
        raise ValueError(f"queue must be at least 1 (got {queue})")
    on_json: Optional[Callable[[str], None]] = None
    if callback is not None:
        cb = callback

        def on_json(raw: str) -> None:
            cb(json.loads(raw))

    native = registry._native.watch(
        selector,
        every=None if every is None else float(every),
        window=None if window is None else float(window),
        quantiles=None if quantiles is None else [float(q) for q in quantiles],
        threshold=None if threshold is None else threshold._native_args(),
        callback=on_json,
        queue=queue,
    )
    return Watch(native, pulled=callback is None)


def set_tick_interval(seconds: float) -> None:
    """Sets the period of the shared ticker behind windows and watches
    (default 1 s; at least 1 ms)."""
    _native.set_tick_interval(float(seconds))


def tick_interval() -> float:
    """The shared ticker's period, in seconds."""
    return float(_native.tick_interval())
