"""Without chromium the browser tests are skipped with a message, except in CI, where
they fail: a CI machine that lost its browser must not pass by running none of them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PANEL_TESTS = "tests/browser/test_issue_panel.py"


def run_without_chromium(ci: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TANDEM_CHROMIUM": "/nonexistent/chromium", "CI": ci}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            PANEL_TESTS,
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "-k",
            "plain_words",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_outside_ci_a_missing_chromium_skips_with_a_message() -> None:
    result = run_without_chromium("")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "skipped" in result.stdout and "browser tests need chromium" in result.stdout


def test_in_ci_a_missing_chromium_fails() -> None:
    result = run_without_chromium("true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "chromium is missing in CI" in result.stdout
    assert " passed" not in result.stdout
