"""The browser the portal's browser tests drive: the system's Chromium, headless, one per test."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright

from .browsing import CHROMIUM, REPO
from .council_stack import SERVICES, Stack, council_stack


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():  # installed from Debian's packages, or the test fails: never a skip
        subprocess.run([str(REPO / "infra" / "local" / "chromium.sh")], check=True)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def full_stack(infra: Any, dev_keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The four services on this run's broker and store, the portal in front with its development sign-in."""
    monkeypatch.setenv("BINHCHON_DEV_KEYS", str(dev_keys[0].parent))  # the dev sign-in mints with the test's key
    with council_stack(infra, uuid.uuid4().hex[:10], dev_keys, SERVICES) as found:
        yield found
