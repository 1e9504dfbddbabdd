"""What the real-browser tests share: Debian's Chromium, its flags, and skip-or-fail rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"  # Debian's package: Playwright must not download a browser
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require(reason: str):
    """Skip locally; under CI (CI set) a missing prerequisite of a browser test is a failure."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this test must run)")
    pytest.skip(reason)


def require_chromium() -> None:
    """Skip (or fail under CI) unless Chromium and Playwright for Python are installed."""
    if not Path(CHROMIUM).exists():
        require(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        require("playwright (for Python) is not installed")
