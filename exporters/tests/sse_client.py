"""Stream clients for exporters/tests/sse_stream.rs, run in a subprocess.

usage: sse_client.py PORT COMMAND [ARGS]

  frames N FAMILY     the package's client (nanometrics/stream.py, loaded by
                      path): N frames, one JSON line each
  resume N GAP FAMILY N frames, close, wait GAP seconds, reconnect with
                      Last-Event-ID, N more frames
  slow FAMILY         connect, read nothing until a line arrives on stdin,
                      then read to the end: prints whether the last event
                      was `event: dropped`
  status QUERY        one request; prints the status, a space and the body
  hold N FAMILY       open N streams, read a frame from each, print "open",
                      then wait for stdin to close
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import socket
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("stream", ROOT / "py/python/nanometrics/stream.py")
assert spec is not None and spec.loader is not None
stream = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stream)


def frames(port: int, n: int, family: str) -> None:
    s = stream.stream(f"http://127.0.0.1:{port}", family, timeout=20)
    for _ in range(n):
        print(json.dumps(next(s)), flush=True)
    s.close()


def resume(port: int, n: int, gap: float, family: str) -> None:
    s = stream.stream(f"http://127.0.0.1:{port}", family, timeout=20)
    for _ in range(n):
        print(json.dumps({"seq": next(s)["seq"], "part": 1}), flush=True)
    s.close()
    time.sleep(gap)
    for _ in range(n):
        print(json.dumps({"seq": next(s)["seq"], "part": 2}), flush=True)
    s.close()


def slow(port: int, family: str) -> None:
    sock = socket.create_connection(("127.0.0.1", port))
    target = "/metrics/stream?family=" + family
    sock.sendall(f"GET {target} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    print("connected", flush=True)
    sys.stdin.readline()
    sock.settimeout(20)
    data = b""
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        data += chunk
    print(json.dumps({"bytes": len(data), "dropped_event": b"event: dropped" in data}), flush=True)


def status(port: int, query: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request("GET", "/metrics/stream?" + query)
    r = conn.getresponse()
    body = r.read(4096).decode("utf-8", "replace") if r.status != 200 else ""
    print(r.status, body.replace("\n", " "), flush=True)


def hold(port: int, n: int, family: str) -> None:
    streams = [stream.stream(f"http://127.0.0.1:{port}", family, timeout=20) for _ in range(n)]
    for s in streams:
        next(s)
    print("open", flush=True)
    sys.stdin.read()
    for s in streams:
        s.close()


def main() -> None:
    port, cmd, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    if cmd == "frames":
        frames(port, int(args[0]), args[1])
    elif cmd == "resume":
        resume(port, int(args[0]), float(args[1]), args[2])
    elif cmd == "slow":
        slow(port, args[0])
    elif cmd == "status":
        status(port, args[0])
    elif cmd == "hold":
        hold(port, int(args[0]), args[1])
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
