#!/usr/bin/env python3
"""Judge a metrics exposition: OpenMetrics 1.0 text or Prometheus text 0.0.4.

usage:
  check_exposition.py --openmetrics FILE   # OpenMetrics 1.0 text ('-' reads stdin)
  check_exposition.py --text FILE          # Prometheus text 0.0.4
  check_exposition.py --text --allow-lint FILE
  check_exposition.py --text --le-as-note FILE   # another library's output
  check_exposition.py URL                  # fetch URL twice (OpenMetrics, then 0.0.4), check both

Every problem is printed as one line 'FAIL <check>: <why>'; promtool lint findings
that --allow-lint turns into notes are printed as 'note: promtool lint: <finding>'.
The last line is 'all checks passed' (exit 0) or '<n> failed' (exit 1).

What is checked (the <check> names, with FORMAT = openmetrics or text):
  OpenMetrics only
    openmetrics-abnf          every line before '# EOF' matches the OpenMetrics 1.0 ABNF
                              (openmetrics-1.0.abnf beside this file, via the `abnf` package)
                              and this checker can read every line that does
    openmetrics-eof           '# EOF' appears exactly once, as the last line, followed by
                              nothing but an optional LF
    openmetrics-stateset      samples carry the state label and are 0 or 1
    openmetrics-info          info samples are 1
  Prometheus text 0.0.4 only
    text-syntax               every line is a sample, a HELP/TYPE line, a comment or blank
                              (the 0.0.4 grammar); the body ends with LF
    promtool                  `promtool check metrics` finds no parse error (a missing
                              promtool is a failure: ci/setup.sh installs it)
    promtool-lint             ...and no lint problem, unless --allow-lint
  Both formats
    FORMAT-encoding           valid UTF-8, no byte order mark
    FORMAT-line-endings       no carriage return anywhere
    FORMAT-parser             prometheus_client's parser for the format accepts the body and
                              reads every sample (name, labels, value) as this checker does
    FORMAT-escapes            label values and HELP use only the escapes the format defines
    FORMAT-families           a family's lines are contiguous (checked on the raw lines, so
                              also where a parser would merge the pieces); metadata comes
                              once each and before the samples; sample names fit the type;
                              a metric's samples are not interleaved with another's;
                              OpenMetrics: UNIT is the name's suffix, and absent from
                              statesets and infos
    FORMAT-duplicates         no series twice, no label name twice on a line
    FORMAT-histogram          buckets have a canonical `le`, sorted, unique, cumulative,
                              integer counts, a +Inf bucket equal to _count; OpenMetrics:
                              _sum iff _count, no _sum with negative buckets, no NaN or
                              negative _sum (gauge histograms: _gcount, and a _gsum that
                              is not NaN)
    FORMAT-summary            quantile labels are canonical numbers in [0, 1]; _count is
                              a non-negative integer; OpenMetrics: _sum and quantile values
                              are not negative, _sum is not NaN
    FORMAT-counter            counter totals are neither negative nor NaN
  Input
    input                     FILE can be read
  URL mode
    fetch                     the server answers 200 (gzip is asked for and undone)
    negotiation               each answer's Content-Type is the format asked for

'Canonical' numbers (`le`, `quantile`) are those of the OpenMetrics specification: Go's
%g rendering of the float64 (shortest digits; an exponent for magnitudes below 1e-4 and
from 1e6 on), with '.0' appended when there is neither a point nor an exponent: 0.005,
1.0, 100000.0, 1e+06, 2.5e+07, 1e-05, -1e+06, +Inf. Both formats are held to it.

Needs prometheus_client and abnf (ci/requirements.txt) and promtool for 0.0.4.
"""

from __future__ import annotations

import argparse
import gzip
import math
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Literal, Optional, Sequence, Union

if TYPE_CHECKING:
    from abnf.parser import Rule
    from prometheus_client.metrics_core import Metric

Format = Literal["openmetrics", "text"]

HERE = Path(__file__).resolve().parent
GRAMMAR = HERE / "openmetrics-1.0.abnf"
OPENMETRICS_MEDIA_TYPE = "application/openmetrics-text"
TEXT_MEDIA_TYPE = "text/plain"
ACCEPT_OPENMETRICS = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
ACCEPT_TEXT = "text/plain;version=0.0.4"
MAX_LINES_PER_CHECK = 20  # further failures of one check are counted, not printed


# === Report ===


class Report:
    """Collects failures ('FAIL <check>: <why>') and notes, and prints them."""

    def __init__(self, le_as_note: bool = False) -> None:
        # A `le` that is a number but not canonical is a note (for another
        # library's output: the `prometheus` crate writes `1` for 1.0).
        self.le_as_note = le_as_note
        self.failures: list[str] = []
        self.notes: list[str] = []
        self._per_check: Counter[str] = Counter()
        self._hidden: Counter[str] = Counter()

    def fail(self, check: str, why: str) -> None:
        self._per_check[check] += 1
        if self._per_check[check] > MAX_LINES_PER_CHECK:
            self._hidden[check] += 1
        else:
            self.failures.append(f"FAIL {check}: {why}")

    def note(self, text: str) -> None:
        self.notes.append(f"note: {text}")

    def failed(self) -> bool:
        return bool(self._per_check)

    def checks_failed(self) -> set[str]:
        return set(self._per_check)

    def render(self) -> str:
        lines = self.notes + self.failures
        for check, hidden in sorted(self._hidden.items()):
            lines.append(f"FAIL {check}: ... and {hidden} more like the above")
        total = sum(self._per_check.values())
        lines.append(f"{total} failed" if total else "all checks passed")
        return "\n".join(lines)


def shorten(text: str, limit: int = 160) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


# === Numbers ===

# OpenMetrics `number` (ABNF): realnumber, [SIGN] inf/infinity, nan, the words in
# any case. The decimal forms of Go's ParseFloat, which reads 0.0.4, are the same.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?i:inf|infinity)|(?i:nan)")
_OPENMETRICS_TIMESTAMP = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TEXT_TIMESTAMP = re.compile(r"-?[0-9]+")  # milliseconds, an int64


def parse_number(text: str) -> Optional[float]:
    """The value of a sample value or `le`/`quantile` label, or None if it is not a
    number in the grammar (Python's float() alone would also take '1_0' or '-nan')."""
    if _NUMBER.fullmatch(text) is None:
        return None
    return float(text)


def _shortest_digits(x: float) -> tuple[str, int]:
    """For finite x >= 0: the shortest digits d1d2... that read back as x, and the
    decimal exponent e with x = d1.d2... * 10**e. repr() gives the shortest round trip."""
    mantissa, _, exponent = repr(x).partition("e")
    integer, _, fraction = mantissa.partition(".")
    digits = integer + fraction
    point = len(integer) + (int(exponent) if exponent else 0)
    significant = digits.lstrip("0")
    if not significant:
        return "0", 0
    point -= len(digits) - len(significant)
    return significant.rstrip("0"), point - 1


def canonical_number(x: float) -> str:
    """The OpenMetrics canonical rendering of x: Go's %g (shortest digits; exponent
    when it is below -4 or at least 6, with two digits at least), '.0' appended when
    there is neither a point nor an exponent; NaN, +Inf, -Inf."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    digits, exponent = _shortest_digits(abs(x))
    if digits == "0":
        return sign + "0.0"
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if exponent < 0:
        return sign + "0." + "0" * (-exponent - 1) + digits
    if exponent + 1 >= len(digits):
        return sign + digits + "0" * (exponent + 1 - len(digits)) + ".0"
    return sign + digits[: exponent + 1] + "." + digits[exponent + 1 :]


def value_key(x: float) -> str:
    """A float as text that tells every bit pattern apart (but NaNs are one)."""
    return "NaN" if math.isnan(x) else x.hex()


# === Lines: what each line of the body says ===

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_OPENMETRICS_METADATA = re.compile(r"# (TYPE|HELP|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)")
_TEXT_COMMENT = re.compile(r"[ \t]*#[ \t]*(\S*)(.*)")
_TEXT_METADATA_NAME = re.compile(r"[ \t]+([^ \t]+)(?:[ \t]+(.*?))?[ \t]*")
TYPES: dict[Format, frozenset[str]] = {
    "openmetrics": frozenset(
        {"counter", "gauge", "histogram", "gaugehistogram", "stateset", "info", "summary", "unknown"}
    ),
    "text": frozenset({"counter", "gauge", "histogram", "summary", "untyped"}),
}
# The escapes each format defines; anything else after a backslash is an error here.
LABEL_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}
HELP_ESCAPES: dict[Format, dict[str, str]] = {
    "openmetrics": LABEL_ESCAPES,
    "text": {"\\": "\\", "n": "\n"},
}


@dataclass(frozen=True)
class Sample:
    line: int
    name: str
    labels: tuple[tuple[str, str], ...]  # unescaped, in written order
    value_text: str
    value: float
    exemplar: Optional[tuple[tuple[str, str], ...]] = None  # its labels, if it has one

    def label(self, name: str) -> Optional[str]:
        for key, value in self.labels:
            if key == name:
                return value
        return None

    def without(self, *names: str) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((k, v) for k, v in self.labels if k not in names))

    def show(self) -> str:
        inner = ",".join(f"{k}={v!r}" for k, v in self.labels)
        return f"{self.name}{{{inner}}} (line {self.line})"


@dataclass(frozen=True)
class Metadata:
    line: int
    kind: str  # TYPE, HELP or UNIT
    name: str
    value: str  # unescaped HELP text, type or unit


class LineError(Exception):
    """A line that does not follow the format's grammar."""


@dataclass
class Scanner:
    """Reads one line. Bad escapes do not stop the scan (the escaped character is
    kept with its backslash, as prometheus_client does); they are collected."""

    fmt: Format
    text: str
    pos: int = 0
    bad_escapes: list[str] = field(default_factory=list)

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise LineError(f"expected {char!r} at column {self.pos + 1}")
        self.pos += 1

    def blanks(self, required: bool = False) -> None:
        """OpenMetrics: exactly one space where one is required, none elsewhere.
        0.0.4: any run of spaces and tabs."""
        start = self.pos
        if self.fmt == "openmetrics":
            if required:
                self.expect(" ")
            return
        while self.peek() in (" ", "\t"):
            self.pos += 1
        if required and self.pos == start:
            raise LineError(f"expected a blank at column {self.pos + 1}")

    def token(self, pattern: re.Pattern[str], what: str) -> str:
        match = pattern.match(self.text, self.pos)
        if match is None or not match.group():
            raise LineError(f"expected {what} at column {self.pos + 1}")
        self.pos = match.end()
        return match.group()

    def word(self) -> str:
        """Characters up to the next blank (or the end)."""
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in " \t":
            self.pos += 1
        return self.text[start : self.pos]

    def quoted(self) -> str:
        self.expect('"')
        out: list[str] = []
        while True:
            char = self.peek()
            if not char:
                raise LineError("unterminated label value")
            self.pos += 1
            if char == '"':
                return "".join(out)
            if char == "\\":
                escaped = self.peek()
                if not escaped:
                    raise LineError("unterminated label value")
                self.pos += 1
                if escaped in LABEL_ESCAPES:
                    out.append(LABEL_ESCAPES[escaped])
                else:
                    self.bad_escapes.append(f"\\{escaped}")
                    out.append("\\" + escaped)
            else:
                out.append(char)

    def labels(self) -> tuple[tuple[str, str], ...]:
        self.expect("{")
        pairs: list[tuple[str, str]] = []
        self.blanks()
        while self.peek() != "}":
            name = self.token(_LABEL_NAME, "a label name")
            self.blanks()
            self.expect("=")
            self.blanks()
            pairs.append((name, self.quoted()))
            self.blanks()
            if self.peek() == ",":
                self.pos += 1
                self.blanks()
                if self.fmt == "openmetrics" and self.peek() == "}":
                    raise LineError("trailing comma in labels")
            elif self.peek() != "}":
                raise LineError(f"expected ',' or '}}' at column {self.pos + 1}")
        self.pos += 1
        return tuple(pairs)

    def sample(self, line: int) -> Sample:
        name = self.token(_METRIC_NAME, "a metric name")
        after_name = self.pos
        self.blanks()
        if self.peek() == "{":
            labels = self.labels()
            # OpenMetrics: one space before the value; 0.0.4: any blanks, or none.
            self.blanks(required=self.fmt == "openmetrics")
        else:
            labels = ()
            self.pos = after_name
            self.blanks(required=True)
        value_text = self.word()
        value = parse_number(value_text)
        if value is None:
            raise LineError(f"value {value_text!r} is not a number")
        exemplar = None
        if self.fmt == "text":
            self.blanks()
            if not self.at_end():
                stamp = self.word()
                if _TEXT_TIMESTAMP.fullmatch(stamp) is None:
                    raise LineError(f"timestamp {stamp!r} is not an integer")
                self.blanks()
        else:
            if self.peek() == " " and self.text[self.pos + 1 : self.pos + 2] != "#":
                self.pos += 1
                stamp = self.word()
                if _OPENMETRICS_TIMESTAMP.fullmatch(stamp) is None:
                    raise LineError(f"timestamp {stamp!r} is not a number")
            if self.text.startswith(" # ", self.pos):  # exemplar
                self.pos += 3
                exemplar = self.labels()
                self.blanks(required=True)
                if parse_number(self.word()) is None:
                    raise LineError("exemplar value is not a number")
                if self.peek() == " ":
                    self.pos += 1
                    if _OPENMETRICS_TIMESTAMP.fullmatch(self.word()) is None:
                        raise LineError("exemplar timestamp is not a number")
        if not self.at_end():
            raise LineError(f"unexpected {self.text[self.pos:]!r} at column {self.pos + 1}")
        return Sample(line, name, labels, value_text, value, exemplar)


def unescape_help(text: str, fmt: Format, bad: list[str]) -> str:
    escapes = HELP_ESCAPES[fmt]
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char != "\\":
            out.append(char)
            continue
        escaped = next(chars, "")
        if escaped in escapes:
            out.append(escapes[escaped])
        else:
            bad.append(f"\\{escaped}" if escaped else "a trailing \\")
            out.append("\\" + escaped)
    return "".join(out)


Line = Union[Sample, Metadata]


def read_lines(body: str, fmt: Format, report: Report, unreadable: Optional[set[int]] = None) -> list[Line]:
    """The samples and metadata of the body. A line that does not scan is a 0.0.4
    text-syntax failure; in OpenMetrics its number goes to `unreadable` (the ABNF
    check judges it). Lines from '# EOF' on, 0.0.4 comments and blank lines are
    skipped."""
    lines = body.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out: list[Line] = []
    for number, text in enumerate(lines, start=1):
        try:
            if fmt == "openmetrics":
                if text == "# EOF":
                    break
                line = read_openmetrics_line(text, number, report)
            else:
                line = read_text_line(text, number, report)
        except LineError as error:
            if fmt == "text":
                report.fail("text-syntax", f"line {number}: {error}: {shorten(text)}")
            elif unreadable is not None:
                unreadable.add(number)
            continue
        if line is not None:
            out.append(line)
    return out


def read_openmetrics_line(text: str, number: int, report: Report) -> Optional[Line]:
    if text.startswith("#"):
        match = _OPENMETRICS_METADATA.fullmatch(text)
        if match is None:
            raise LineError("not a TYPE, HELP or UNIT line")
        kind, name, value = match.groups()
        if kind == "TYPE" and value not in TYPES["openmetrics"]:
            raise LineError(f"unknown type {value!r}")
        if kind == "HELP":
            bad: list[str] = []
            value = unescape_help(value, "openmetrics", bad)
            for escape in bad:
                report.fail("openmetrics-escapes", f"line {number}: HELP uses the undefined escape {escape}")
        return Metadata(number, kind, name, value)
    scanner = Scanner("openmetrics", text)
    sample = scanner.sample(number)
    for escape in scanner.bad_escapes:
        report.fail("openmetrics-escapes", f"line {number}: label value uses the undefined escape {escape}")
    return sample


def read_text_line(text: str, number: int, report: Report) -> Optional[Line]:
    if not text.strip(" \t"):
        return None
    comment = _TEXT_COMMENT.fullmatch(text)
    if comment is not None:
        kind, rest = comment.groups()
        if kind not in ("HELP", "TYPE"):
            return None  # a comment
        match = _TEXT_METADATA_NAME.fullmatch(rest)
        if match is None:
            raise LineError(f"{kind} line without a metric name")
        name, value = match.group(1), match.group(2) or ""
        if _METRIC_NAME.fullmatch(name) is None:
            raise LineError(f"{name!r} is not a metric name")
        if kind == "TYPE" and value not in TYPES["text"]:
            raise LineError(f"unknown type {value!r}")
        if kind == "HELP":
            bad: list[str] = []
            value = unescape_help(value, "text", bad)
            for escape in bad:
                report.fail("text-escapes", f"line {number}: HELP uses the undefined escape {escape}")
        return Metadata(number, kind, name, value)
    scanner = Scanner("text", text)
    scanner.blanks()
    sample = scanner.sample(number)
    for escape in scanner.bad_escapes:
        report.fail("text-escapes", f"line {number}: label value uses the undefined escape {escape}")
    return sample


# === Families: grouping the lines as an ingestor does ===

# The sample name suffixes of each type ('' is the family name itself).
SUFFIXES: dict[Format, dict[str, tuple[str, ...]]] = {
    "openmetrics": {
        "counter": ("_total", "_created"),
        "gauge": ("",),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
        "stateset": ("",),
        "info": ("_info",),
        "summary": ("", "_count", "_sum", "_created"),
        "unknown": ("",),
    },
    "text": {
        "counter": ("",),
        "gauge": ("",),
        "histogram": ("_bucket", "_count", "_sum"),
        "summary": ("", "_count", "_sum"),
        "untyped": ("",),
    },
}
ALL_SUFFIXES = sorted({s for table in SUFFIXES.values() for ss in table.values() for s in ss if s})


@dataclass
class Family:
    name: str
    first_line: int
    type: str
    metadata: dict[str, Metadata] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)

    def suffix_of(self, sample_name: str, fmt: Format) -> Optional[str]:
        """The suffix that makes sample_name a sample of this family, if any."""
        for suffix in SUFFIXES[fmt][self.type]:
            if sample_name == self.name + suffix:
                return suffix
        return None


def group_families(lines: Sequence[Line], fmt: Format, report: Report) -> list[Family]:
    """Families in order of appearance. A family whose lines come back after another
    family's is reported (and its lines still gathered, for the checks that follow)."""
    check = f"{fmt}-families"
    untyped = "unknown" if fmt == "openmetrics" else "untyped"
    families: dict[str, Family] = {}
    current: Optional[Family] = None

    def enter(family: Family, line: int) -> Family:
        if current is not None and family is not current and family.first_line < current.first_line:
            report.fail(
                check,
                f"family {family.name} (from line {family.first_line}) continues at line {line}"
                f" after family {current.name}",
            )
        return family

    for line in lines:
        if isinstance(line, Metadata):
            family = families.get(line.name)
            if family is None:
                family = families[line.name] = Family(line.name, line.line, untyped)
            current = enter(family, line.line)
            if line.kind in family.metadata:
                report.fail(check, f"line {line.line}: a second {line.kind} line for {line.name}")
            elif family.samples:
                report.fail(check, f"line {line.line}: {line.kind} line for {line.name} after its samples")
            family.metadata[line.kind] = line
            if line.kind == "TYPE":
                family.type = line.value
            continue
        if current is not None and current.suffix_of(line.name, fmt) is not None:
            current.samples.append(line)
            continue
        owner = owner_of(line.name, families, fmt)
        if owner is None:
            if line.name in families:  # the name is taken by a family it does not fit
                owner = families[line.name]
                report.fail(check, f"line {line.line}: sample {line.name} does not fit family {owner.name} ({owner.type})")
            else:
                owner = families[line.name] = Family(line.name, line.line, untyped)
        current = enter(owner, line.line)
        owner.samples.append(line)
    return list(families.values())


def owner_of(name: str, families: dict[str, Family], fmt: Format) -> Optional[Family]:
    for suffix in ["", *ALL_SUFFIXES]:
        if name.endswith(suffix):
            family = families.get(name[: len(name) - len(suffix)])
            if family is not None and family.suffix_of(name, fmt) is not None:
                return family
    return None


# === Invariants ===


def point_key(family: Family, sample: Sample) -> tuple[tuple[str, str], ...]:
    """The labels that tell a family's metrics apart (without le, quantile, or a
    stateset's state label)."""
    if family.type in ("histogram", "gaugehistogram"):
        return sample.without("le")
    if family.type == "summary":
        return sample.without("quantile")
    if family.type == "stateset":
        return sample.without(family.name)
    return sample.without()


def check_series(families: Sequence[Family], fmt: Format, report: Report) -> None:
    """No series twice, no label name twice; a metric's samples are contiguous."""
    seen: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
    for family in families:
        for sample in family.samples:
            names = [k for k, _ in sample.labels]
            for name, count in Counter(names).items():
                if count > 1:
                    report.fail(f"{fmt}-duplicates", f"line {sample.line}: label {name} is there {count} times")
            series = (sample.name, sample.without())
            if series in seen:
                report.fail(f"{fmt}-duplicates", f"series {sample.show()} already on line {seen[series]}")
            else:
                seen[series] = sample.line
        if family.type not in ("counter", "histogram", "gaugehistogram", "summary", "stateset"):
            continue  # one sample per metric: nothing to interleave
        done: set[tuple[tuple[str, str], ...]] = set()
        previous: Optional[tuple[tuple[str, str], ...]] = None
        for sample in family.samples:
            key = point_key(family, sample)
            if key != previous:
                if key in done:
                    where = f"{family.name}{dict(key)}"
                    report.fail(f"{fmt}-families", f"metric {where} is interleaved with another: {sample.show()}")
                if previous is not None:
                    done.add(previous)
                previous = key


def check_metadata(families: Sequence[Family], fmt: Format, report: Report) -> None:
    if fmt != "openmetrics":
        return
    for family in families:
        unit = family.metadata.get("UNIT")
        if unit is None or unit.value == "":
            continue
        if family.type in ("stateset", "info"):
            report.fail("openmetrics-families", f"line {unit.line}: a {family.type} must not have a unit")
        if not family.name.endswith("_" + unit.value):
            report.fail("openmetrics-families", f"line {unit.line}: {family.name} does not end in _{unit.value}")


@dataclass
class Point:
    """One histogram or summary metric: its samples by role."""

    buckets: list[Sample] = field(default_factory=list)
    quantiles: list[Sample] = field(default_factory=list)
    count: Optional[Sample] = None
    sum: Optional[Sample] = None


def points_of(family: Family, fmt: Format) -> dict[tuple[tuple[str, str], ...], Point]:
    points: dict[tuple[tuple[str, str], ...], Point] = {}
    for sample in family.samples:
        point = points.setdefault(point_key(family, sample), Point())
        suffix = family.suffix_of(sample.name, fmt)
        if suffix == "_bucket":
            point.buckets.append(sample)
        elif suffix == "" and family.type == "summary":
            point.quantiles.append(sample)
        elif suffix in ("_count", "_gcount"):
            point.count = sample
        elif suffix in ("_sum", "_gsum"):
            point.sum = sample
    return points


def is_count(x: float) -> bool:
    return not math.isnan(x) and not math.isinf(x) and x >= 0 and x == int(x)


def check_count(sample: Optional[Sample], check: str, report: Report) -> None:
    if sample is not None and not is_count(sample.value):
        report.fail(check, f"{sample.show()}: {sample.value_text} is not a non-negative integer")


def check_canonical(sample: Sample, label: str, check: str, report: Report) -> Optional[float]:
    """The value of a `le`/`quantile` label, which must be a canonical number."""
    text = sample.label(label)
    if text is None:
        report.fail(check, f"{sample.show()} has no {label} label")
        return None
    value = parse_number(text)
    if value is None:
        report.fail(check, f"{sample.show()}: {label}={text!r} is not a number")
        return None
    if math.isnan(value):
        report.fail(check, f"{sample.show()}: {label} is NaN")
        return None
    canonical = canonical_number(value)
    if text != canonical:
        why = f"{sample.show()}: {label}={text!r} is not canonical (write {canonical!r})"
        if label == "le" and report.le_as_note:
            report.note(f"{check}: {why}")
        else:
            report.fail(check, why)
    return value


def check_histograms(families: Sequence[Family], fmt: Format, report: Report) -> None:
    check = f"{fmt}-histogram"
    for family in families:
        if family.type not in ("histogram", "gaugehistogram"):
            continue
        gauge = family.type == "gaugehistogram"
        for key, point in points_of(family, fmt).items():
            where = f"{family.name}{dict(key)}"
            for other in (point.count, point.sum):
                if other is not None and other.label("le") is not None:
                    report.fail(check, f"{other.show()} has an le label")
            if not point.buckets:
                report.fail(check, f"histogram {where} has no buckets")
                continue
            bounds: list[float] = []
            for bucket in point.buckets:
                bound = check_canonical(bucket, "le", check, report)
                if bound is not None:
                    bounds.append(bound)
                check_count(bucket, check, report)
            if len(bounds) < len(point.buckets):
                continue  # an le that is no number: the order cannot be judged
            if any(b <= a for a, b in zip(bounds, bounds[1:])):
                report.fail(check, f"histogram {where}: le bounds not strictly increasing: {bounds}")
            counts = [bucket.value for bucket in point.buckets]
            if any(b < a for a, b in zip(counts, counts[1:])):
                report.fail(check, f"histogram {where}: buckets not cumulative: {counts}")
            last = point.buckets[-1]
            if bounds[-1] != math.inf:
                report.fail(check, f"histogram {where} has no +Inf bucket (the last is {last.label('le')!r})")
            elif point.count is not None and value_key(point.count.value) != value_key(last.value):
                count = point.count
                report.fail(check, f"histogram {where}: {count.name} {count.value_text} != +Inf bucket {last.value_text}")
            check_count(point.count, check, report)
            if fmt != "openmetrics":
                continue
            if (point.count is None) != (point.sum is None):
                present = point.count or point.sum
                assert present is not None
                missing = "sum" if point.sum is None else "count"
                report.fail(check, f"histogram {where}: {present.name} without its {missing}")
            if point.sum is None:
                continue
            if gauge:
                if math.isnan(point.sum.value):
                    report.fail(check, f"{point.sum.show()}: gsum is NaN")
            elif bounds[0] < 0:
                report.fail(check, f"histogram {where} has negative buckets and a sum ({point.sum.show()})")
            elif math.isnan(point.sum.value) or point.sum.value < 0:
                report.fail(check, f"{point.sum.show()}: sum {point.sum.value_text} is NaN or negative")


def check_summaries(families: Sequence[Family], fmt: Format, report: Report) -> None:
    check = f"{fmt}-summary"
    for family in families:
        if family.type != "summary":
            continue
        for point in points_of(family, fmt).values():
            for sample in point.quantiles:
                quantile = check_canonical(sample, "quantile", check, report)
                if quantile is not None and not 0 <= quantile <= 1:
                    report.fail(check, f"{sample.show()}: quantile {quantile} is not within [0, 1]")
                if fmt == "openmetrics" and sample.value < 0:
                    report.fail(check, f"{sample.show()}: quantile value {sample.value_text} is negative")
            for other in (point.count, point.sum):
                if other is not None and other.label("quantile") is not None:
                    report.fail(check, f"{other.show()} has a quantile label")
            check_count(point.count, check, report)
            if fmt == "openmetrics" and point.sum is not None:
                if math.isnan(point.sum.value) or point.sum.value < 0:
                    report.fail(check, f"{point.sum.show()}: sum {point.sum.value_text} is NaN or negative")


def check_counters(families: Sequence[Family], fmt: Format, report: Report) -> None:
    total = "_total" if fmt == "openmetrics" else ""
    for family in families:
        if family.type != "counter":
            continue
        for sample in family.samples:
            if sample.name == family.name + total and (math.isnan(sample.value) or sample.value < 0):
                report.fail(f"{fmt}-counter", f"{sample.show()}: counter is {sample.value_text}")


def check_statesets_and_infos(families: Sequence[Family], fmt: Format, report: Report) -> None:
    for family in families:
        for sample in family.samples:
            if family.type == "stateset":
                if sample.label(family.name) is None:
                    report.fail("openmetrics-stateset", f"{sample.show()} has no {family.name} label")
                if sample.value not in (0.0, 1.0):
                    report.fail("openmetrics-stateset", f"{sample.show()}: {sample.value_text} is not 0 or 1")
            elif family.type == "info" and sample.value != 1.0:
                report.fail("openmetrics-info", f"{sample.show()}: info value is {sample.value_text}, not 1")


def check_exemplars(families: Sequence[Family], fmt: Format, report: Report) -> None:
    """OpenMetrics: exemplars only on a counter's `_total` and a histogram's
    (or gauge histogram's) `_bucket`; their label names and values at most 128
    characters together."""
    for family in families:
        for sample in family.samples:
            if sample.exemplar is None:
                continue
            suffix = family.suffix_of(sample.name, fmt)
            allowed = (family.type == "counter" and suffix == "_total") or (
                family.type in ("histogram", "gaugehistogram") and suffix == "_bucket"
            )
            if not allowed:
                report.fail(
                    "openmetrics-exemplar",
                    f"{sample.show()}: only counter _total and histogram _bucket samples may have exemplars",
                )
            chars = sum(len(k) + len(v) for k, v in sample.exemplar)
            if chars > 128:
                report.fail("openmetrics-exemplar", f"{sample.show()}: exemplar labels have {chars} characters (limit 128)")
            names = [k for k, _ in sample.exemplar]
            if len(set(names)) != len(names):
                report.fail("openmetrics-exemplar", f"{sample.show()}: exemplar label names repeat")


def check_invariants(families: Sequence[Family], fmt: Format, report: Report) -> None:
    check_series(families, fmt, report)
    check_metadata(families, fmt, report)
    check_histograms(families, fmt, report)
    check_summaries(families, fmt, report)
    check_counters(families, fmt, report)
    check_statesets_and_infos(families, fmt, report)
    check_exemplars(families, fmt, report)


def check_parser_agrees(
    parse: Callable[[str], Iterable[Metric]],
    body: str,
    families: Sequence[Family],
    fmt: Format,
    report: Report,
) -> None:
    """prometheus_client's parser accepts the body and reads the samples the lines say
    (its 0.0.4 parser names a counter's samples <family>_total, as OpenMetrics does)."""
    check = f"{fmt}-parser"
    try:
        parsed = list(parse(body))
    except Exception as error:  # the parsers raise ValueError, and sometimes others
        report.fail(check, f"prometheus_client rejects it: {type(error).__name__}: {error}")
        return
    theirs: Counter[tuple[str, tuple[tuple[str, str], ...], str]] = Counter()
    for metric in parsed:
        for sample in metric.samples:
            labels = tuple(sorted(sample.labels.items()))
            theirs[(sample.name, labels, value_key(float(sample.value)))] += 1
    ours: Counter[tuple[str, tuple[tuple[str, str], ...], str]] = Counter()
    for family in families:
        total = fmt == "text" and family.type == "counter" and not family.name.endswith("_total")
        for line in family.samples:
            name = line.name + "_total" if total else line.name
            ours[(name, tuple(sorted(dict(line.labels).items())), value_key(line.value))] += 1
    for sample_key in sorted((theirs - ours).keys())[:5]:
        report.fail(check, f"prometheus_client reads a sample no line says: {sample_key}")
    for sample_key in sorted((ours - theirs).keys())[:5]:
        report.fail(check, f"prometheus_client does not read the sample {sample_key}")


# === OpenMetrics ===


def decode(raw: bytes, fmt: Format, report: Report) -> Optional[str]:
    try:
        body = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        report.fail(f"{fmt}-encoding", f"not UTF-8 at byte {error.start}: {error.reason}")
        return None
    if body.startswith("\ufeff"):
        report.fail(f"{fmt}-encoding", "starts with a byte order mark")
    if "\r" in body:
        line = body.count("\n", 0, body.index("\r")) + 1
        report.fail(f"{fmt}-line-endings", f"carriage return on line {line} (lines end with LF alone)")
    return body


_grammar: Optional[tuple[Rule, Rule]] = None


def openmetrics_rules() -> tuple[Rule, Rule]:
    """The ABNF rules for a metric-descriptor line and a sample line."""
    global _grammar
    if _grammar is None:
        from abnf.parser import Rule as AbnfRule

        class OpenMetrics(AbnfRule):
            """The OpenMetrics 1.0 grammar."""

        OpenMetrics.from_file(GRAMMAR)
        _grammar = (OpenMetrics("metric-descriptor"), OpenMetrics("sample"))
    return _grammar


def check_eof(body: str, report: Report) -> list[str]:
    """The lines before '# EOF', after checking that it ends the body exactly once."""
    lines = body.split("\n")
    eofs = [number for number, line in enumerate(lines, start=1) if line == "# EOF"]
    if not eofs:
        report.fail("openmetrics-eof", "no '# EOF' line")
        return lines[:-1] if lines and lines[-1] == "" else lines
    first = eofs[0]
    after = lines[first:]
    if after not in ([], [""]):
        again = f"; '# EOF' appears {len(eofs)} times" if len(eofs) > 1 else ""
        rest = shorten("\n".join(after))
        report.fail("openmetrics-eof", f"content after '# EOF' (line {first}{again}): {rest}")
    return lines[: first - 1]


def check_abnf(lines: Sequence[str], report: Report) -> set[int]:
    """The numbers of the lines that match no rule."""
    # exposition = metricset "# EOF" [LF], and a metricset is any sequence of
    # metric-descriptor and sample lines: matching line by line is the whole grammar.
    from abnf.parser import ParseError

    descriptor, sample = openmetrics_rules()
    bad: set[int] = set()
    for number, line in enumerate(lines, start=1):
        rule = descriptor if line.startswith("#") else sample
        try:
            rule.parse_all(line + "\n")
        except ParseError:
            report.fail("openmetrics-abnf", f"line {number} is no {rule.name}: {shorten(line)}")
            bad.add(number)
    return bad


def check_openmetrics(raw: bytes, report: Report) -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    body = decode(raw, "openmetrics", report)
    if body is None:
        return
    not_in_grammar = check_abnf(check_eof(body, report), report)
    unreadable: set[int] = set()
    families = group_families(read_lines(body, "openmetrics", report, unreadable), "openmetrics", report)
    for number in sorted(unreadable - not_in_grammar):
        report.fail("openmetrics-abnf", f"line {number} matches the grammar, but this checker cannot read it")
    check_parser_agrees(text_string_to_metric_families, body, families, "openmetrics", report)
    check_invariants(families, "openmetrics", report)


# === Prometheus text 0.0.4 ===


def check_text(raw: bytes, allow_lint: bool, report: Report) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    body = decode(raw, "text", report)
    if body is None:
        return
    if body and not body.endswith("\n"):
        report.fail("text-syntax", "the last line does not end with LF")
    families = group_families(read_lines(body, "text", report), "text", report)
    check_parser_agrees(text_string_to_metric_families, body, families, "text", report)
    check_invariants(families, "text", report)
    check_promtool(raw, allow_lint, report)


def check_promtool(raw: bytes, allow_lint: bool, report: Report) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        report.fail("promtool", "promtool not found on PATH (ci/setup.sh installs Debian's prometheus)")
        return
    run = subprocess.run([promtool, "check", "metrics"], input=raw, capture_output=True, timeout=120)
    said = [line for line in (run.stdout + run.stderr).decode(errors="replace").splitlines() if line.strip()]
    if run.returncode == 0:
        return
    if run.returncode == 3:  # lint problems only
        for finding in said[:50]:
            if allow_lint:
                report.note(f"promtool lint: {finding}")
            else:
                report.fail("promtool-lint", finding)
        return
    report.fail("promtool", f"exit {run.returncode}: {' | '.join(said)[:500]}")


# === URL ===


def is_media_type(content_type: str, media_type: str, version: str) -> bool:
    """Whether a Content-Type names `media_type` with this version (and UTF-8, if
    it names a charset)."""
    kind, *params = content_type.split(";")
    parsed = {}
    for param in params:
        key, _, value = param.partition("=")
        parsed[key.strip().lower()] = value.strip().strip('"')
    return (
        kind.strip().lower() == media_type
        and parsed.get("version") == version
        and parsed.get("charset", "utf-8").lower() == "utf-8"
    )


def fetch(url: str, accept: str, report: Report) -> Optional[tuple[str, bytes]]:
    request = urllib.request.Request(url, headers={"Accept": accept, "Accept-Encoding": "gzip"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            raw: bytes = answer.read()
            encoding = answer.headers.get("Content-Encoding", "identity").strip().lower()
            content_type = answer.headers.get("Content-Type", "")
    except (urllib.error.URLError, OSError) as error:
        report.fail("fetch", f"GET {url} (Accept: {accept}): {error}")
        return None
    if encoding == "gzip":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            report.fail("fetch", f"GET {url}: the gzip body does not decompress: {error}")
            return None
    elif encoding != "identity":
        report.fail("fetch", f"GET {url}: Content-Encoding {encoding!r} was not asked for")
        return None
    return content_type, raw


def check_url(url: str, allow_lint: bool, report: Report) -> None:
    answer = fetch(url, ACCEPT_OPENMETRICS, report)
    if answer is not None:
        content_type, raw = answer
        if not is_media_type(content_type, OPENMETRICS_MEDIA_TYPE, "1.0.0"):
            report.fail("negotiation", f"asked for OpenMetrics 1.0.0, got Content-Type {content_type!r}")
        else:
            check_openmetrics(raw, report)
    answer = fetch(url, ACCEPT_TEXT, report)
    if answer is not None:
        content_type, raw = answer
        if not is_media_type(content_type, TEXT_MEDIA_TYPE, "0.0.4"):
            report.fail("negotiation", f"asked for text 0.0.4, got Content-Type {content_type!r}")
        else:
            check_text(raw, allow_lint, report)


# === main ===


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--openmetrics", action="store_true", help="FILE is OpenMetrics 1.0 text")
    kind.add_argument("--text", action="store_true", help="FILE is Prometheus text 0.0.4")
    parser.add_argument("--allow-lint", action="store_true", help="promtool's lint findings are notes, not failures")
    parser.add_argument(
        "--le-as-note",
        action="store_true",
        help="a numeric but non-canonical `le` is a note, not a failure (another library's output)",
    )
    parser.add_argument("source", help="FILE, '-' for stdin, or an http(s) URL")
    args = parser.parse_args(argv)

    report = Report(le_as_note=args.le_as_note)
    if args.source.startswith(("http://", "https://")):
        check_url(args.source, args.allow_lint, report)
    else:
        if not (args.openmetrics or args.text):
            parser.error("a file needs --openmetrics or --text")
        try:
            raw = sys.stdin.buffer.read() if args.source == "-" else Path(args.source).read_bytes()
        except OSError as error:
            report.fail("input", f"cannot read {args.source}: {error}")
        else:
            if args.openmetrics:
                check_openmetrics(raw, report)
            else:
                check_text(raw, args.allow_lint, report)
    print(report.render())
    return 1 if report.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
