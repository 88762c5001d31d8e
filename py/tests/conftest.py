"""Shared fixtures for the nanometrics Python tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator, List

import pytest

import nanometrics

REPO = Path(__file__).resolve().parents[2]
CHECKER = REPO / "tools" / "conformance" / "check_exposition.py"


@pytest.fixture
def registry() -> nanometrics.CollectorRegistry:
    return nanometrics.CollectorRegistry()


def check_exposition(args: List[str], body: bytes = b"") -> str:
    """Runs the project's conformance checker,
    tools/conformance/check_exposition.py; fails the test with its report
    unless every check passed."""
    assert CHECKER.exists(), f"{CHECKER} not found"
    with tempfile.TemporaryDirectory() as d:
        if body:
            path = os.path.join(d, "body.txt")
            with open(path, "wb") as f:
                f.write(body)
            args = args + [path]
        out = subprocess.run(
            [sys.executable, str(CHECKER)] + args, capture_output=True, text=True, timeout=300
        )
    report = out.stdout + out.stderr
    assert out.returncode == 0 and "all checks passed" in report, report
    if "--text" in args or any(a.startswith("http") for a in args):
        assert "promtool not found" not in report, "promtool is missing: run ci/setup.sh"
    return report


def fetch(url: str, timeout: float = 10) -> bytes:
    """The body at `url`, with the connection closed (no ResourceWarning)."""
    import urllib.request

    with urllib.request.urlopen(url, timeout=timeout) as r:
        body: bytes = r.read()
    return body


@pytest.fixture
def free_port() -> Iterator[int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port
