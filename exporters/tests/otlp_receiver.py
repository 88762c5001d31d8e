"""An OTLP receiver for exporters/tests/otlp_exporter.rs: it decodes every
request with the `opentelemetry-proto` package and checks it exactly.

usage: otlp_receiver.py MODE [--grpc]

OTLP/HTTP by default; with --grpc, OTLP/gRPC (`grpcio`, the
MetricsService of `opentelemetry-proto`): the same checks, headers read
from the call's metadata, statuses given as gRPC codes (14 UNAVAILABLE,
3 INVALID_ARGUMENT, ...).

Prints its port, then one line per request: "ok <summary>" when the
request is what the mode expects, or "FAIL <what>" for each mismatch.

modes:
  oracle        the scenario of the Rust test (every field of the mapping)
  delta         two exports with delta temporality: the second holds the changes
  statuses:A,B  answers each request with the next status (429 with
                Retry-After: 1), checks nothing but the headers
  partial       a 200 with a partial success
  dump          prints every point as "name{k=v,...} value" lines (sorted
                labels; a histogram's value is "count=N sum=S"), then "end"
"""

from __future__ import annotations

import gzip
import http.server
import sys
from typing import Any, Dict, List, Tuple

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

MODE = sys.argv[1]
GRPC = "--grpc" in sys.argv[2:]
statuses: List[int] = [int(s) for s in MODE.split(":", 1)[1].split(",")] if MODE.startswith("statuses:") else []
seen = 0


def attrs(kvs: Any) -> Dict[str, str]:
    return {kv.key: kv.value.string_value for kv in kvs}


def check_oracle(req: ExportMetricsServiceRequest, fails: List[str]) -> None:
    (rm,) = req.resource_metrics
    res = attrs(rm.resource.attributes)
    if res != {"service.name": "oracle", "team": "infra"}:
        fails.append(f"resource {res}")
    (sm,) = rm.scope_metrics
    if sm.scope.name != "nanometrics" or not sm.scope.version:
        fails.append(f"scope {sm.scope}")
    # The exporter's own self-metrics are in the exported registry too.
    m = {x.name: x for x in sm.metrics if not x.name.startswith("nanometrics_otlp_")}
    want_names = {"svc_req", "svc_cpu_seconds", "svc_inflight", "svc_temp_celsius", "svc_lat_seconds",
                  "svc_neg", "svc_size_bytes", "svc_build", "svc_big"}
    if set(m) != want_names:
        fails.append(f"names {sorted(m)}")
        return

    def points(name: str) -> Any:
        return getattr(m[name], m[name].WhichOneof("data")).data_points

    def times(p: Any) -> None:
        if not 0 < p.start_time_unix_nano <= p.time_unix_nano:
            fails.append(f"times {p.start_time_unix_nano} {p.time_unix_nano}")

    # Counters: monotonic cumulative sums, integers; one point per label set.
    s = m["svc_req"].sum
    if not (s.is_monotonic and s.aggregation_temporality == 2):
        fails.append("svc_req is not a monotonic cumulative sum")
    got = {attrs(p.attributes)["code"]: p.as_int for p in s.data_points}
    if got != {"200": 5, "500": 1}:
        fails.append(f"svc_req {got}")
    for p in s.data_points:
        times(p)
        if attrs(p.attributes).get("zone") != "a":
            fails.append("constant label missing")
    if m["svc_req"].description != "Requests.":
        fails.append(f"description {m['svc_req'].description!r}")
    (p,) = points("svc_cpu_seconds")
    if p.WhichOneof("value") != "as_double" or p.as_double != 1.5 or not m["svc_cpu_seconds"].sum.is_monotonic:
        fails.append(f"svc_cpu_seconds {p}")
    (p,) = points("svc_big")
    if p.WhichOneof("value") != "as_double" or p.as_double != float(2**64 - 2):
        fails.append(f"svc_big {p}")
    # Up-down counter: a non-monotonic sum.
    s = m["svc_inflight"].sum
    if s.is_monotonic or s.data_points[0].as_int != -3:
        fails.append(f"svc_inflight {s}")
    # Gauge, with its unit.
    (p,) = points("svc_temp_celsius")
    if m["svc_temp_celsius"].WhichOneof("data") != "gauge" or p.as_double != 21.5 or m["svc_temp_celsius"].unit != "celsius":
        fails.append(f"svc_temp_celsius {m['svc_temp_celsius']}")
    # Histogram: per-bucket counts, bounds, count, sum, min, max.
    h = m["svc_lat_seconds"].histogram
    (p,) = h.data_points
    if h.aggregation_temporality != 2 or list(p.explicit_bounds) != [0.1, 1.0] or list(p.bucket_counts) != [1, 1, 1]:
        fails.append(f"svc_lat_seconds buckets {p}")
    if (p.count, round(p.sum, 9), p.min, p.max) != (3, 2.55, 0.05, 2.0) or not p.HasField("sum"):
        fails.append(f"svc_lat_seconds stats {p}")
    times(p)
    # A negative observation: no sum.
    (p,) = points("svc_neg")
    if p.HasField("sum") or p.count != 2 or p.min != -1.0:
        fails.append(f"svc_neg {p}")
    # Summary: count, sum, quantile 0 = min, 1 = max.
    (p,) = points("svc_size_bytes")
    q = {v.quantile: v.value for v in p.quantile_values}
    if (p.count, p.sum, q) != (2, 40.0, {0.0: 10.0, 1.0: 30.0}):
        fails.append(f"svc_size_bytes {p}")
    # Info: a non-monotonic integer sum of 1 with its labels.
    s = m["svc_build"].sum
    if s.is_monotonic or s.data_points[0].as_int != 1 or attrs(s.data_points[0].attributes).get("version") != "1.2":
        fails.append(f"svc_build {s}")


depth_start: List[int] = []


def check_delta(n: int, req: ExportMetricsServiceRequest, fails: List[str]) -> None:
    m = {x.name: x for x in req.resource_metrics[0].scope_metrics[0].metrics}
    # An up-down counter stays cumulative, from its creation, in delta mode.
    d = m["depth"].sum
    if d.aggregation_temporality != 2 or d.is_monotonic:
        fails.append(f"depth {d}")
    depth_start.append(d.data_points[0].start_time_unix_nano)
    if len(set(depth_start)) != 1:
        fails.append(f"depth's start moved: {depth_start}")
    s = m["jobs"].sum
    h = m["lat_seconds"].histogram
    if s.aggregation_temporality != 1 or h.aggregation_temporality != 1:
        fails.append("not delta")
    want_sum, want_buckets = (10, [1, 0]) if n == 1 else (5, [0, 2])
    p = s.data_points[0]
    if p.as_int != want_sum:
        fails.append(f"export {n}: jobs {p.as_int}, want {want_sum}")
    hp = h.data_points[0]
    if list(hp.bucket_counts) != want_buckets or hp.count != sum(want_buckets):
        fails.append(f"export {n}: buckets {list(hp.bucket_counts)}, want {want_buckets}")
    if n == 2 and (hp.HasField("min") or hp.HasField("max")):
        fails.append("a delta histogram has no min or max")
    if n == 2 and not p.start_time_unix_nano < p.time_unix_nano:
        fails.append("delta start")


def receive(req: ExportMetricsServiceRequest, headers: Dict[str, str]) -> Tuple[List[str], int, ExportMetricsServiceResponse]:
    """Checks one request; returns the failures, the status to answer (HTTP,
    or a gRPC code with --grpc; success is 200 or 0) and the reply."""
    global seen
    seen += 1
    fails: List[str] = []
    if not (headers.get("user-agent") or "").startswith("nanometrics/"):
        fails.append(f"user-agent {headers.get('user-agent')}")
    if headers.get("authorization") != "Bearer t0k":
        fails.append(f"authorization {headers.get('authorization')}")
    if not req.resource_metrics:
        fails.append("an empty request")
    status = 0 if GRPC else 200
    reply = ExportMetricsServiceResponse()
    if MODE == "oracle":
        check_oracle(req, fails)
    elif MODE == "delta":
        check_delta(seen, req, fails)
    elif MODE == "dump":
        for rm in req.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    kind = m.WhichOneof("data")
                    for p in getattr(m, kind).data_points:
                        labels = ",".join(f"{k}={v}" for k, v in sorted(attrs(p.attributes).items()))
                        if kind in ("histogram", "summary"):
                            value = f"count={p.count} sum={p.sum:g}"
                        else:
                            value = f"{p.as_int if p.WhichOneof('value') == 'as_int' else p.as_double:g}"
                        print(f"{m.name}{{{labels}}} {value}", flush=True)
        print("end", flush=True)
    elif MODE == "partial":
        reply.partial_success.rejected_data_points = 2
        reply.partial_success.error_message = "two points were too old"
    elif statuses:
        status = statuses[min(seen - 1, len(statuses) - 1)]
    return fails, status, reply


def verdict(fails: List[str], status: int) -> None:
    print(("FAIL " + "; ".join(fails)) if fails else f"ok {status}", flush=True)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        path_fails: List[str] = []
        if self.path != "/v1/metrics":
            path_fails.append(f"path {self.path}")
        if headers.get("content-type") != "application/x-protobuf":
            path_fails.append(f"content-type {headers.get('content-type')}")
        body = self.rfile.read(int(headers.get("content-length", "0")))
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        fails, status, reply = receive(ExportMetricsServiceRequest.FromString(body), headers)
        out = reply.SerializeToString()
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "1")
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
        verdict(path_fails + fails, status)

    def log_message(self, *args: Any) -> None:
        pass


def serve_grpc() -> None:
    from concurrent import futures

    import grpc
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc

    codes = {c.value[0]: c for c in grpc.StatusCode}

    class Servicer(metrics_service_pb2_grpc.MetricsServiceServicer):
        def Export(self, request: ExportMetricsServiceRequest, context: Any) -> ExportMetricsServiceResponse:
            headers = {k.lower(): v for k, v in context.invocation_metadata()}
            fails, status, reply = receive(request, headers)
            verdict(fails, status)
            if status != 0:
                context.abort(codes[status], f"status {status} as asked")
            return reply

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()


if GRPC:
    serve_grpc()
else:
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
