"""Running a service's app in-process, with its lifespan, for tests against real infrastructure."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI


@contextlib.asynccontextmanager
async def running(app: FastAPI, base_url: str, *, startup_timeout: float = 60) -> AsyncIterator[httpx.AsyncClient]:
    """The app started (relay, projector, consumers), and an HTTP client bound to it (``client.app`` is the app).
    ``startup_timeout``: longer for a bench whose store already holds tens of thousands of read-model documents."""
    async with LifespanManager(app, startup_timeout=startup_timeout, shutdown_timeout=30) as manager:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url=base_url) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client
