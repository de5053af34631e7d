"""A service's way to intake's key store in in-process tests (ADR 0035): the key client over the intake app
itself, with a token bearing the role ``service``, through intake's routes and access policy as over the network."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import httpx
from fastapi import FastAPI

from binhchon_kit.personal import MasterKey
from binhchon_kit.personal_keys import KeyClient


def intake_keys(intake_app: FastAPI, service_token: str, clock: Callable[[], datetime] | None = None) -> KeyClient:
    """``clock``: the test's, which its keys' time in the cache is measured by (default: the machine's)."""
    if clock is None:
        return KeyClient("http://intake", lambda: service_token, transport=httpx.ASGITransport(app=intake_app))
    return KeyClient("http://intake", lambda: service_token, transport=httpx.ASGITransport(app=intake_app),
                     clock=lambda: clock().timestamp())


def master_key_in(directory: Path) -> Path:
    """A new personal-data master key file for a test's intake (ADR 0035)."""
    return MasterKey.write_new(directory / "personal-data-master.key")
