"""A client for the ``/metrics/stream`` server-sent event stream, standard
library only: frames of a watch on another process's metrics, as dicts.

::

    from nanometrics.stream import stream

    for frame in stream("http://127.0.0.1:9464", "ttft_seconds", every="1s", window="10s"):
        for s in frame["series"]:
            print(s["labels"], s["window"]["quantiles"]["0.9"])

Each frame is the JSON the server sends (see the Rust crate
``nanometrics-exporters``, module ``frame_json``): ``seq``, ``time``,
``family``, ``type``, ``window``, ``span``, ``series`` and ``alerts``. The
client reconnects when the connection ends or fails (the server dropped it
as too slow, restarted, or was at its stream cap), sending
``Last-Event-ID`` so that the server replays the frames it missed while
its ring still holds them; a gap in ``seq`` says some were lost. A
refused query (HTTP 400) raises :class:`StreamError`. This module imports nothing from the rest of the
package, so it also runs where the extension is not installed.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

__all__ = ["Stream", "StreamError", "stream"]

Duration = Union[float, int, str]


class StreamError(Exception):
    """The server refused the stream: ``status`` and its explanation."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body.strip()}")
        self.status = status
        self.body = body


def _duration(name: str, d: Duration) -> str:
    if isinstance(d, str):
        return d
    if isinstance(d, bool) or not isinstance(d, (int, float)) or not 0 < d < float("inf"):
        raise ValueError(f"{name} must be a positive number of seconds or a string like '250ms', got {d!r}")
    # Positional notation (the server reads no exponent), to the microsecond.
    return f"{float(d):.6f}".rstrip("0").rstrip(".") + "s"


class Stream:
    """An iterator of frames (dicts); see the module docs.

    ``last_event_id`` is the ``seq`` of the last frame received, ``dropped``
    how many times the server disconnected this client as too slow, and
    ``reconnects`` how many times it reconnected.
    """

    def __init__(
        self,
        url: str,
        family: str,
        *,
        every: Optional[Duration] = None,
        window: Optional[Duration] = None,
        quantiles: Optional[Sequence[float]] = None,
        last_event_id: Optional[int] = None,
        timeout: float = 30.0,
        reconnect: bool = True,
        path: str = "/metrics/stream",
    ) -> None:
        parts = urllib.parse.urlsplit(url if "://" in url else "http://" + url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"url must be http://host:port, got {url!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        query: List[tuple[str, str]] = [("family", family)]
        if every is not None:
            query.append(("every", _duration("every", every)))
        if window is not None:
            query.append(("window", _duration("window", window)))
        if quantiles is not None:
            query.append(("quantiles", ",".join(repr(float(q)) for q in quantiles)))
        self._target = path + "?" + urllib.parse.urlencode(query)
        self._timeout = timeout
        self._reconnect = reconnect
        self._retry = 1.0
        self._conn: Optional[http.client.HTTPConnection] = None
        self._resp: Optional[http.client.HTTPResponse] = None
        self.last_event_id = last_event_id
        self.dropped = 0
        self.reconnects = 0

    def _open(self) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        headers = {"Accept": "text/event-stream"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        conn.request("GET", self._target, headers=headers)
        resp = conn.getresponse()
        if resp.status != 200:
            body = resp.read().decode("utf-8", "replace")
            conn.close()
            raise StreamError(resp.status, body)
        self._conn, self._resp = conn, resp
        return resp

    def _events(self) -> Iterator[Dict[str, str]]:
        """Events of the current connection until it ends."""
        resp = self._resp or self._open()
        event: Dict[str, str] = {}
        data: List[str] = []
        while True:
            raw = resp.readline()
            if not raw:
                return
            line = raw.decode("utf-8").rstrip("\r\n")
            if line == "":
                if data or event:
                    event["data"] = "\n".join(data)
                    yield event
                event, data = {}, []
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                data.append(value)
            elif field == "retry" and value.isdigit():
                self._retry = int(value) / 1000.0
            elif field in ("id", "event"):
                event[field] = value

    def __iter__(self) -> "Stream":
        return self

    def __next__(self) -> Dict[str, Any]:
        failures = 0
        while True:
            try:
                for event in self._events():
                    if event.get("event") == "dropped":
                        self.dropped += 1
                        continue
                    if "id" in event and event["id"].isdigit():
                        self.last_event_id = int(event["id"])
                    frame: Dict[str, Any] = json.loads(event["data"])
                    return frame
                failures = 0
            except StreamError as e:
                # 503: the server is at its stream cap for now; anything
                # else is the caller's to fix.
                if e.status != 503 or not self._reconnect:
                    raise
                failures += 1
            except (OSError, http.client.HTTPException):
                # Refused (the server restarting), reset or cut mid-chunk
                # (IncompleteRead), or silent past the timeout (the server
                # sends a comment line every 15 s).
                if not self._reconnect:
                    self.close()
                    raise
                failures += 1
            self.close()
            if not self._reconnect:
                raise StopIteration
            # The server's retry, doubled per failure in a row, up to 30 s.
            time.sleep(min(self._retry * (2 ** min(failures, 5)), 30.0))
            self.reconnects += 1

    def close(self) -> None:
        """Closes the connection (the next frame reconnects)."""
        if self._conn is not None:
            self._conn.close()
        self._conn = self._resp = None

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def stream(url: str, family: str, **options: Any) -> Stream:
    """Frames of ``family`` (a selector: ``name`` or ``name{label="v"}``)
    from the server at ``url``; see :class:`Stream` for the options."""
    return Stream(url, family, **options)
