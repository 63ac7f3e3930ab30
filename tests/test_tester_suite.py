"""The README's example suite (docs/examples/tester-suite) passes in a folder of its own, with its own `tests`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "tester-suite"


def test_the_example_tester_suite_passes_with_the_installed_plugin(request: pytest.FixtureRequest) -> None:
    bindir = request.config.getoption("--pg-bindir")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               *(["--pg-bindir", bindir] if bindir else [])]
    result = subprocess.run(command, cwd=SUITE, env=os.environ.copy(), capture_output=True, text=True, timeout=600,
                            check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "1 passed" in result.stdout
