"""The browser the portal's browser tests drive: the system's Chromium, headless, one per test."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from .browsing import CHROMIUM, REPO


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():  # installed from Debian's packages, or the test fails: never a skip
        subprocess.run([str(REPO / "infra" / "local" / "chromium.sh")], check=True)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()
