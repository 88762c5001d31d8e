"""The stubs (`_native.pyi`) agree with the compiled module, and the package
type-checks under them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "python" / "nanometrics"


def run(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=600, cwd="/")
    report = out.stdout + out.stderr
    assert out.returncode == 0, report
    return report


def test_stubtest_finds_no_mismatch():
    assert "Success" in run("mypy.stubtest", "nanometrics")


def test_package_type_checks_strictly():
    assert "Success" in run("mypy", "--strict", "--no-incremental", str(PKG))
