"""Tests of check_exposition.py: good bodies pass, and each bad body (a small edit
of a good one) fails with the check named for the problem, and with no check that
has nothing to do with it. Run: .venv/bin/python -m pytest -q tools/conformance"""

from __future__ import annotations

import gzip
import http.server
import os
import re
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families

import check_exposition as checker

CHECKER = Path(__file__).resolve().with_name("check_exposition.py")
parse_openmetrics: Callable[[str], Iterable[Metric]] = text_string_to_metric_families  # (untyped upstream)

GOOD_OPENMETRICS = r"""# TYPE http_requests counter
# HELP http_requests Requests served, with a \"quoted\" word and a back\\slash.
http_requests_total{method="GET",path="/a\"b\\c\nd"} 1027
http_requests_total{method="POST",path=""} 3
# TYPE vllm:gpu_cache_usage_perc gauge
# HELP vllm:gpu_cache_usage_perc A name with colons.
vllm:gpu_cache_usage_perc{engine="0"} NaN
vllm:gpu_cache_usage_perc{engine="1"} -Inf
# TYPE request_duration_seconds histogram
# UNIT request_duration_seconds seconds
# HELP request_duration_seconds Latency.
request_duration_seconds_bucket{route="/",le="0.005"} 1
request_duration_seconds_bucket{route="/",le="1.0"} 3 # {trace_id="KOO5S4vxi0o"} 0.67
request_duration_seconds_bucket{route="/",le="1e+06"} 3
request_duration_seconds_bucket{route="/",le="+Inf"} 4
request_duration_seconds_count{route="/"} 4
request_duration_seconds_sum{route="/"} 12.5
request_duration_seconds_bucket{route="/b",le="0.005"} 0
request_duration_seconds_bucket{route="/b",le="1.0"} 0
request_duration_seconds_bucket{route="/b",le="1e+06"} 0
request_duration_seconds_bucket{route="/b",le="+Inf"} 0
request_duration_seconds_count{route="/b"} 0
request_duration_seconds_sum{route="/b"} 0.0
# TYPE temperature_delta histogram
# HELP temperature_delta Negative bounds: no sum, no count.
temperature_delta_bucket{le="-10.0"} 1
temperature_delta_bucket{le="0.0"} 2
temperature_delta_bucket{le="+Inf"} 5
# TYPE queue_wait_seconds gaugehistogram
# UNIT queue_wait_seconds seconds
# HELP queue_wait_seconds Waiting now.
queue_wait_seconds_bucket{le="0.1"} 2
queue_wait_seconds_bucket{le="+Inf"} 3
queue_wait_seconds_gcount 3
queue_wait_seconds_gsum 0.5
# TYPE rpc_duration_seconds summary
# UNIT rpc_duration_seconds seconds
# HELP rpc_duration_seconds RPC latency.
rpc_duration_seconds{quantile="0.5"} 0.25
rpc_duration_seconds{quantile="0.99"} 1.5
rpc_duration_seconds_count 9
rpc_duration_seconds_sum 7.25
# TYPE build info
# HELP build Build.
build_info{version="1.0 \"rc\"",commit=""} 1
# TYPE engine_state stateset
# HELP engine_state State.
engine_state{engine="e0",engine_state="running"} 1
engine_state{engine="e0",engine_state="stopped"} 0
# TYPE mystery unknown
mystery 42
# TYPE unused counter
# HELP unused A family with no series.
# EOF
"""

GOOD_TEXT = r"""# HELP http_requests_total Requests served, with a "quoted" word and a back\\slash.
# TYPE http_requests_total counter
http_requests_total{method="GET",path="/a\"b\\c\nd"} 1027
http_requests_total{method="POST",path=""} 3
# A comment, then a blank line.

# HELP process_temperature_celsius Temperature.
# TYPE process_temperature_celsius gauge
process_temperature_celsius NaN
# HELP request_duration_seconds Latency.
# TYPE request_duration_seconds histogram
request_duration_seconds_bucket{route="/",le="0.005"} 1
request_duration_seconds_bucket{route="/",le="1.0"} 3
request_duration_seconds_bucket{route="/",le="1e+06"} 3
request_duration_seconds_bucket{route="/",le="+Inf"} 4
request_duration_seconds_sum{route="/"} 12.5
request_duration_seconds_count{route="/"} 4
# HELP rpc_duration_seconds RPC latency.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5"} 0.25
rpc_duration_seconds{quantile="0.99"} 1.5
rpc_duration_seconds_sum 7.25
rpc_duration_seconds_count 9
# HELP build_info Build.
# TYPE build_info gauge
build_info{version="1.0 \"rc\"",commit="abc"} 1
"""


@dataclass
class Result:
    returncode: int
    output: str

    @property
    def failed(self) -> set[str]:
        return set(re.findall(r"^FAIL ([\w-]+):", self.output, re.MULTILINE))


def run(args: list[str], body: Optional[str] = None, env: Optional[dict[str, str]] = None) -> Result:
    out = subprocess.run(
        [sys.executable, str(CHECKER), *args],
        input=None if body is None else body.encode("utf-8"),
        capture_output=True,
        timeout=120,
        env=env,
    )
    return Result(out.returncode, (out.stdout + out.stderr).decode("utf-8", errors="replace"))


def check(kind: str, body: str, *extra: str) -> Result:
    return run([kind, *extra, "-"], body)


def edit(body: str, old: str, new: str) -> str:
    assert body.count(old) == 1, f"{old!r} must occur once in the fixture"
    return body.replace(old, new)


def assert_passes(result: Result) -> None:
    assert result.returncode == 0, result.output
    assert result.output.rstrip().endswith("all checks passed"), result.output
    assert "FAIL" not in result.output, result.output


def assert_fails(result: Result, check_name: str, also: frozenset[str] = frozenset()) -> None:
    """`check_name` fails; other checks may fail only if listed in `also` (the
    parsers and promtool often notice the same problem)."""
    assert result.returncode == 1, result.output
    assert check_name in result.failed, result.output
    assert result.failed <= {check_name} | also, result.output
    assert re.search(r"^\d+ failed$", result.output, re.MULTILINE), result.output


# === Good bodies pass ===


def test_good_openmetrics_passes() -> None:
    assert_passes(check("--openmetrics", GOOD_OPENMETRICS))


def test_good_text_passes_without_lint() -> None:
    result = check("--text", GOOD_TEXT)
    assert_passes(result)
    assert "note:" not in result.output


def test_openmetrics_without_final_lf_passes() -> None:
    assert_passes(check("--openmetrics", GOOD_OPENMETRICS.rstrip("\n")))


def test_empty_openmetrics_passes() -> None:
    assert_passes(check("--openmetrics", "# EOF\n"))


def test_a_file_argument_works(tmp_path: Path) -> None:
    path = tmp_path / "body.txt"
    path.write_text(GOOD_OPENMETRICS, encoding="utf-8")
    assert_passes(run(["--openmetrics", str(path)]))
    path.write_text(GOOD_OPENMETRICS + "x 1\n", encoding="utf-8")
    assert_fails(run(["--openmetrics", str(path)]), "openmetrics-eof", frozenset({"openmetrics-parser"}))


# === Bad OpenMetrics bodies fail with the named check ===

OM = GOOD_OPENMETRICS
STOPPED = 'engine_state{engine="e0",engine_state="stopped"} 0\n'
PARSER = frozenset({"openmetrics-parser"})
BAD_OPENMETRICS = [
    ("cr-in-label-value", edit(OM, 'path=""', 'path="\r"'), "openmetrics-line-endings", frozenset()),
    (
        "crlf-line-end",
        edit(OM, "mystery 42\n", "mystery 42\r\n"),
        "openmetrics-line-endings",
        frozenset({"openmetrics-abnf"}) | PARSER,
    ),
    ("byte-order-mark", "\ufeff" + OM, "openmetrics-encoding", frozenset({"openmetrics-abnf"}) | PARSER),
    ("missing-eof", edit(OM, "# EOF\n", ""), "openmetrics-eof", PARSER),
    ("content-after-eof", OM + "mystery_two 1\n", "openmetrics-eof", PARSER),
    ("blank-line-after-eof", OM + "\n", "openmetrics-eof", PARSER),
    ("eof-twice", OM + "# EOF\n", "openmetrics-eof", PARSER),
    ("eof-in-the-middle", edit(OM, "# TYPE mystery", "# EOF\n# TYPE mystery"), "openmetrics-eof", PARSER),
    ("duplicate-series", edit(OM, "mystery 42\n", "mystery 42\nmystery 43\n"), "openmetrics-duplicates", PARSER),
    (
        "duplicate-label-name",
        edit(OM, 'engine="1"', 'engine="1",engine="2"'),
        "openmetrics-duplicates",
        PARSER,
    ),
    (
        "non-contiguous-family",
        edit(edit(OM, STOPPED, ""), "mystery 42\n", "mystery 42\n" + STOPPED),
        "openmetrics-families",
        PARSER,
    ),
    (
        "interleaved-metrics",
        edit(
            OM,
            'request_duration_seconds_count{route="/"} 4\nrequest_duration_seconds_sum{route="/"} 12.5\n',
            "",
        ).replace(
            'request_duration_seconds_sum{route="/b"} 0.0\n',
            'request_duration_seconds_sum{route="/b"} 0.0\n'
            'request_duration_seconds_count{route="/"} 4\nrequest_duration_seconds_sum{route="/"} 12.5\n',
        ),
        "openmetrics-families",
        PARSER,
    ),
    (
        "metadata-after-samples",
        edit(OM, "mystery 42\n", "mystery 42\n# HELP mystery Late.\n"),
        "openmetrics-families",
        PARSER,
    ),
    ("unit-not-a-suffix", edit(OM, "# UNIT queue_wait_seconds seconds", "# UNIT queue_wait_seconds bytes"), "openmetrics-families", PARSER),
    (
        "non-cumulative-buckets",
        edit(OM, 'route="/",le="1e+06"} 3', 'route="/",le="1e+06"} 2'),
        "openmetrics-histogram",
        PARSER,
    ),
    (
        "inf-bucket-not-count",
        edit(OM, 'request_duration_seconds_count{route="/"} 4', 'request_duration_seconds_count{route="/"} 5'),
        "openmetrics-histogram",
        PARSER,
    ),
    ("non-canonical-le", edit(OM, 'route="/",le="1.0"}', 'route="/",le="1"}'), "openmetrics-histogram", frozenset()),
    ("non-canonical-le-exponent", edit(OM, 'route="/",le="1e+06"}', 'route="/",le="1000000.0"}'), "openmetrics-histogram", frozenset()),
    ("unsorted-le", edit(OM, 'route="/",le="0.005"}', 'route="/",le="2.0"}'), "openmetrics-histogram", PARSER),
    ("missing-inf-bucket", edit(OM, 'temperature_delta_bucket{le="+Inf"} 5\n', ""), "openmetrics-histogram", PARSER),
    ("non-integer-bucket", edit(OM, 'route="/",le="0.005"} 1', 'route="/",le="0.005"} 1.5'), "openmetrics-histogram", PARSER),
    (
        "sum-with-negative-buckets",
        edit(OM, 'temperature_delta_bucket{le="+Inf"} 5\n', 'temperature_delta_bucket{le="+Inf"} 5\n'
             "temperature_delta_count 5\ntemperature_delta_sum -3.0\n"),
        "openmetrics-histogram",
        PARSER,
    ),
    ("sum-without-count", edit(OM, 'request_duration_seconds_count{route="/b"} 0\n', ""), "openmetrics-histogram", PARSER),
    ("quantile-not-canonical", edit(OM, 'quantile="0.5"', 'quantile="0.50"'), "openmetrics-summary", frozenset()),
    ("quantile-out-of-range", edit(OM, 'quantile="0.99"', 'quantile="1.5"'), "openmetrics-summary", PARSER),
    ("negative-summary-count", edit(OM, "rpc_duration_seconds_count 9", "rpc_duration_seconds_count -9"), "openmetrics-summary", PARSER),
    ("negative-counter", edit(OM, 'path=""} 3', 'path=""} -3'), "openmetrics-counter", PARSER),
    ("nan-counter", edit(OM, 'path=""} 3', 'path=""} NaN'), "openmetrics-counter", PARSER),
    ("stateset-value-not-boolean", edit(OM, 'engine_state="running"} 1', 'engine_state="running"} 2'), "openmetrics-stateset", PARSER),
    ("info-value-not-one", edit(OM, 'commit=""} 1', 'commit=""} 2'), "openmetrics-info", PARSER),
    ("bad-escape-in-label-value", edit(OM, 'commit=""', 'commit="\\q"'), "openmetrics-escapes", frozenset()),
    ("bad-escape-in-help", edit(OM, "# HELP build Build.", "# HELP build Bu\\ild."), "openmetrics-escapes", frozenset()),
    (
        "invalid-metric-name",
        edit(OM, "# TYPE mystery unknown\nmystery 42", "# TYPE my-stery unknown\nmy-stery 42"),
        "openmetrics-abnf",
        PARSER,
    ),
    ("invalid-label-name", edit(OM, '{engine="0"}', '{0engine="0"}'), "openmetrics-abnf", PARSER),
    ("unquoted-help-quote", edit(OM, "# HELP build Build.", '# HELP build "Build".'), "openmetrics-abnf", PARSER),
    ("two-spaces", edit(OM, "mystery 42", "mystery  42"), "openmetrics-abnf", PARSER),
    ("exemplar-on-a-gauge", edit(OM, "mystery 42", 'mystery 42 # {a="b"} 1.0'), "openmetrics-exemplar", PARSER),
    (
        "exemplar-on-a-histogram-count",
        edit(OM, 'request_duration_seconds_count{route="/"} 4', 'request_duration_seconds_count{route="/"} 4 # {a="b"} 1.0'),
        "openmetrics-exemplar",
        PARSER,
    ),
    (
        "exemplar-too-long",
        edit(OM, '# {trace_id="KOO5S4vxi0o"}', '# {trace_id="' + "x" * 121 + '"}'),
        "openmetrics-exemplar",
        PARSER,
    ),
    ("exemplar-label-twice", edit(OM, '# {trace_id="KOO5S4vxi0o"}', '# {a="1",a="2"}'), "openmetrics-exemplar", PARSER),
    ("counter-without-total", edit(OM, 'http_requests_total{method="POST"', 'http_requests{method="POST"'), "openmetrics-families", PARSER),
]


@pytest.mark.parametrize(
    "body, check_name, also",
    [case[1:] for case in BAD_OPENMETRICS],
    ids=[case[0] for case in BAD_OPENMETRICS],
)
def test_bad_openmetrics_fails(body: str, check_name: str, also: frozenset[str]) -> None:
    assert_fails(check("--openmetrics", body), check_name, also)


@pytest.mark.parametrize("kind, body", [("--openmetrics", GOOD_OPENMETRICS), ("--text", GOOD_TEXT)])
def test_bytes_that_are_not_utf8_fail(kind: str, body: str) -> None:
    raw = body.encode("utf-8").replace(b"Build.", b"Build\xff.")
    out = subprocess.run([sys.executable, str(CHECKER), kind, "-"], input=raw, capture_output=True, timeout=120)
    result = Result(out.returncode, (out.stdout + out.stderr).decode("utf-8", errors="replace"))
    fmt = kind.lstrip("-")
    assert_fails(result, f"{fmt}-encoding", frozenset({"promtool"}))


# === Bad 0.0.4 bodies fail with the named check ===

TX = GOOD_TEXT
TEXT_PARSER = frozenset({"text-parser"})
PROMTOOL = frozenset({"promtool"})
BAD_TEXT = [
    ("cr-in-label-value", edit(TX, 'path=""', 'path="\r"'), "text-line-endings", frozenset()),
    ("no-final-lf", TX.rstrip("\n"), "text-syntax", PROMTOOL),
    ("duplicate-series", edit(TX, "celsius NaN\n", "celsius NaN\nprocess_temperature_celsius 1\n"), "text-duplicates", frozenset()),
    (
        "non-contiguous-family",
        edit(TX, 'http_requests_total{method="POST",path=""} 3\n', "") + 'http_requests_total{method="POST",path=""} 3\n',
        "text-families",
        frozenset(),
    ),
    (
        "second-type-line",
        edit(TX, "celsius NaN\n", "celsius NaN\n# TYPE process_temperature_celsius gauge\n"),
        "text-families",
        PROMTOOL,
    ),
    ("non-cumulative-buckets", edit(TX, 'le="1e+06"} 3', 'le="1e+06"} 2'), "text-histogram", frozenset()),
    ("inf-bucket-not-count", edit(TX, '_count{route="/"} 4', '_count{route="/"} 5'), "text-histogram", frozenset()),
    ("non-canonical-le", edit(TX, 'le="1.0"}', 'le="1"}'), "text-histogram", frozenset()),
    ("missing-inf-bucket", edit(TX, 'request_duration_seconds_bucket{route="/",le="+Inf"} 4\n', ""), "text-histogram", PROMTOOL),
    ("quantile-not-a-number", edit(TX, 'quantile="0.5"', 'quantile="half"'), "text-summary", PROMTOOL),
    ("negative-counter", edit(TX, 'path=""} 3', 'path=""} -3'), "text-counter", frozenset()),
    ("bad-escape-in-label-value", edit(TX, 'commit="abc"', 'commit="a\\bc"'), "text-escapes", PROMTOOL),
    ("bad-escape-in-help", edit(TX, "# HELP build_info Build.", '# HELP build_info \\"Build\\".'), "text-escapes", PROMTOOL),
    ("invalid-metric-name", edit(TX, "build_info{", "build-info{"), "text-syntax", PROMTOOL | TEXT_PARSER | {"text-families"}),
    ("unknown-type", edit(TX, "# TYPE build_info gauge", "# TYPE build_info info"), "text-syntax", PROMTOOL | TEXT_PARSER),
]


@pytest.mark.parametrize("body, check_name, also", [case[1:] for case in BAD_TEXT], ids=[case[0] for case in BAD_TEXT])
def test_bad_text_fails(body: str, check_name: str, also: frozenset[str]) -> None:
    assert_fails(check("--text", body), check_name, also)


# === promtool ===

LINTED = TX.replace("http_requests_total", "http_requests")  # a counter without _total


def test_promtool_lint_fails_without_allow_lint() -> None:
    result = check("--text", LINTED)
    assert_fails(result, "promtool-lint")
    assert 'counter metrics should have "_total" suffix' in result.output


def test_promtool_lint_is_a_note_with_allow_lint() -> None:
    result = check("--text", LINTED, "--allow-lint")
    assert_passes(result)
    notes = [line for line in result.output.splitlines() if line != "all checks passed"]
    assert notes and all(line.startswith("note: promtool lint: ") for line in notes), result.output
    assert any('should have "_total" suffix' in line for line in notes), result.output


def test_le_as_note_turns_only_a_numeric_non_canonical_le_into_a_note() -> None:
    body = edit(TX, 'le="1.0"}', 'le="1"}')
    assert_fails(check("--text", body), "text-histogram")
    result = check("--text", body, "--le-as-note")
    assert_passes(result)
    assert "note: text-histogram:" in result.output and "le='1' is not canonical" in result.output
    # Not a number, or out of order: still failures.
    assert_fails(check("--text", edit(TX, 'le="1.0"}', 'le="one"}'), "--le-as-note"), "text-histogram", frozenset({"text-parser", "promtool"}))


def test_allow_lint_does_not_excuse_a_parse_error() -> None:
    result = check("--text", edit(LINTED, 'commit="abc"', 'commit="a\\bc"'), "--allow-lint")
    assert_fails(result, "promtool", frozenset({"text-escapes"}))


def test_missing_promtool_is_a_failure(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path))  # a PATH without promtool
    result = run(["--text", "-"], GOOD_TEXT, env=env)
    assert_fails(result, "promtool")
    assert "promtool not found" in result.output


# === URL mode ===


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves the good bodies, or what the test put in `answers`."""

    answers: dict[str, tuple[str, str]] = {}

    def do_GET(self) -> None:
        openmetrics = "openmetrics" in self.headers.get("Accept", "")
        content_type, body = self.answers["openmetrics" if openmetrics else "text"]
        raw = body.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if "gzip" in self.headers.get("Accept-Encoding", ""):
            raw = gzip.compress(raw)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Handler.answers = {
        "openmetrics": ("application/openmetrics-text; version=1.0.0; charset=utf-8", GOOD_OPENMETRICS),
        "text": ("text/plain; version=0.0.4; charset=utf-8", GOOD_TEXT),
    }
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/metrics"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_url_with_good_answers_passes(server: str) -> None:
    assert_passes(run([server]))


def test_url_checks_the_openmetrics_content_type(server: str) -> None:
    Handler.answers["openmetrics"] = ("text/plain; version=0.0.4; charset=utf-8", GOOD_TEXT)
    result = run([server])
    assert_fails(result, "negotiation")
    assert "asked for OpenMetrics" in result.output


def test_url_checks_the_text_content_type(server: str) -> None:
    Handler.answers["text"] = ("text/plain; charset=utf-8", GOOD_TEXT)
    assert_fails(run([server]), "negotiation")


def test_url_checks_both_bodies(server: str) -> None:
    Handler.answers["text"] = ("text/plain; version=0.0.4; charset=utf-8", TX + TX.splitlines()[-1] + "\n")
    assert_fails(run([server]), "text-duplicates")
    Handler.answers["text"] = ("text/plain; version=0.0.4; charset=utf-8", GOOD_TEXT)
    Handler.answers["openmetrics"] = ("application/openmetrics-text; version=1.0.0; charset=utf-8", OM + "x 1\n")
    assert_fails(run([server]), "openmetrics-eof", PARSER)


def test_url_that_does_not_answer_fails() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    assert_fails(run([f"http://127.0.0.1:{port}/metrics"]), "fetch")


# === Agreement with prometheus_client's parser ===


def parser_report(parse: Callable[[str], Iterable[Metric]], body: str) -> checker.Report:
    report = checker.Report()
    families = checker.group_families(checker.read_lines(body, "openmetrics", report), "openmetrics", report)
    assert not report.failed(), report.render()
    checker.check_parser_agrees(parse, body, families, "openmetrics", report)
    return report


def test_a_body_the_parser_rejects_fails() -> None:
    def reject(body: str) -> Iterable[Metric]:
        raise ValueError("rejected")

    report = parser_report(reject, GOOD_OPENMETRICS)
    assert report.checks_failed() == {"openmetrics-parser"}
    assert "prometheus_client rejects it: ValueError: rejected" in report.render()


def test_a_sample_the_parser_reads_otherwise_fails() -> None:
    def misread(body: str) -> Iterable[Metric]:
        metrics = list(parse_openmetrics(body))
        sample = metrics[0].samples[0]
        metrics[0].samples[0] = sample._replace(labels={**sample.labels, "path": "/a"})
        return metrics

    assert not parser_report(parse_openmetrics, GOOD_OPENMETRICS).failed()
    report = parser_report(misread, GOOD_OPENMETRICS)
    assert report.checks_failed() == {"openmetrics-parser"}
    assert "reads a sample no line says" in report.render()
    assert "does not read the sample" in report.render()


def test_a_line_the_grammar_takes_but_the_checker_cannot_read_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    read = checker.read_openmetrics_line

    def picky(text: str, number: int, report: checker.Report) -> Optional[checker.Line]:
        if text.startswith("mystery "):
            raise checker.LineError("picky")
        return read(text, number, report)

    monkeypatch.setattr(checker, "read_openmetrics_line", picky)
    report = checker.Report()
    checker.check_openmetrics(GOOD_OPENMETRICS.encode(), report)
    assert "openmetrics-abnf" in report.checks_failed()
    assert "matches the grammar, but this checker cannot read it" in report.render()


def test_eof_twice_is_named() -> None:
    result = check("--openmetrics", OM + "# EOF\n")
    assert "'# EOF' appears 2 times" in result.output


# === Canonical numbers ===


@pytest.mark.parametrize(
    "value, text",
    [
        # The OpenMetrics specification's examples ("Canonical Numbers", and the
        # histogram example's le values).
        *[(float(t), t) for t in "0.0 0.001 0.002 0.01 0.1 0.9 0.95 0.99 0.999 1.0 1.7 10.0".split()],
        *[(float(t), t) for t in "1e-10 1e-09 1e-05 0.0001 0.1 1.0 100000.0 1e+06 1e+10".split()],
        (1e23, "1e+23"),
        (1.1e23, "1.1e+23"),
        # What exporters/src/format.rs documents for write_le.
        (0.005, "0.005"),
        (250000.0, "250000.0"),
        (2.5e7, "2.5e+07"),
        (1234567.5, "1.2345675e+06"),
        (1e12, "1e+12"),
        (1e100, "1e+100"),
        (123456.0, "123456.0"),
        (0.00012, "0.00012"),
        (5e-324, "5e-324"),
        (-0.0, "-0.0"),
        (-2.5, "-2.5"),
        (-1e6, "-1e+06"),  # Go's %g; prometheus_client would write -1000000.0
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
        (float("nan"), "NaN"),
    ],
)
def test_canonical_number(value: float, text: str) -> None:
    assert checker.canonical_number(value) == text


@pytest.mark.parametrize(
    "text, ok",
    [
        ("1", True),
        ("0042", True),
        ("-1.5e-3", True),
        ("1.", True),
        (".5E+3", True),
        ("+Inf", True),
        ("-infinity", True),
        ("NaN", True),
        ("-NaN", False),
        ("1_0", False),
        ("0x10", False),
        ("1e", False),
        (".", False),
        ("", False),
    ],
)
def test_parse_number(text: str, ok: bool) -> None:
    assert (checker.parse_number(text) is not None) == ok
