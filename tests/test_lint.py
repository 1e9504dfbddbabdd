"""The code passes ruff's lint rules and is formatted by ruff (configured in pyproject.toml, [tool.ruff]).

Fix findings with ``ruff check --fix`` (safe fixes only) and ``ruff format``; notebook sources are
linted as .py files (their generated editions are not): after editing one, run
``python scripts/sync_notebooks.py``. Skipped where ruff is not installed.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    """`ruff check .`: helpers, tests, scripts, benchmarks, conftest.py and notebooks/NN_name.py."""
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (pip install ruff)")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_ruff_format_changes_nothing():
    """`ruff format --check .`: everything but the notebook sources, which keep their hand layout."""
    if importlib.util.find_spec("ruff") is None:
        pytest.skip("ruff is not installed (pip install ruff)")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
