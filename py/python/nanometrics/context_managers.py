"""The timers, in-progress trackers and exception counters behind
``time()``, ``track_inprogress()`` and ``count_exceptions()``
(``prometheus_client.context_managers``); each is also a decorator, of
plain and ``async`` functions alike."""

from __future__ import annotations

import functools
import inspect
from timeit import default_timer
from typing import Any, Callable, Literal, Optional, Tuple, Type, TypeVar, Union

__all__ = ("ExceptionCounter", "InprogressTracker", "Timer")

F = TypeVar("F", bound=Callable[..., Any])


def _decorate(f: F, cm: Callable[[], Any]) -> F:
    if inspect.iscoroutinefunction(f):

        @functools.wraps(f)
        async def awrapped(*args: Any, **kwargs: Any) -> Any:
            with cm():
                return await f(*args, **kwargs)

        return awrapped  # type: ignore[return-value]

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with cm():
            return f(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


class Timer:
    """Times a block or a function into ``observe`` (or ``set``)."""

    def __init__(self, metric: Any, callback_name: str) -> None:
        self._metric = metric
        self._callback_name = callback_name
        self.duration: Optional[float] = None

    def _new_timer(self) -> "Timer":
        return self.__class__(self._metric, self._callback_name)

    def __enter__(self) -> "Timer":
        self._start = default_timer()
        return self

    def __exit__(self, typ: Any, value: Any, traceback: Any) -> None:
        self.duration = max(default_timer() - self._start, 0)
        getattr(self._metric, self._callback_name)(self.duration)

    def labels(self, *args: Any, **kw: Any) -> None:
        self._metric = self._metric.labels(*args, **kw)

    def __call__(self, f: F) -> F:
        return _decorate(f, self._new_timer)


class ExceptionCounter:
    """Counts exceptions of a type that leave a block or a function."""

    def __init__(self, counter: Any, exception: Union[Type[BaseException], Tuple[Type[BaseException], ...]]) -> None:
        self._counter = counter
        self._exception = exception

    def __enter__(self) -> None:
        pass

    def __exit__(self, typ: Any, value: Any, traceback: Any) -> "Literal[False]":
        if isinstance(value, self._exception):
            self._counter.inc()
        return False

    def __call__(self, f: F) -> F:
        return _decorate(f, lambda: self)


class InprogressTracker:
    """Increments a gauge while a block or a function runs."""

    def __init__(self, gauge: Any) -> None:
        self._gauge = gauge

    def __enter__(self) -> None:
        self._gauge.inc()

    def __exit__(self, typ: Any, value: Any, traceback: Any) -> None:
        self._gauge.dec()

    def __call__(self, f: F) -> F:
        return _decorate(f, lambda: self)
