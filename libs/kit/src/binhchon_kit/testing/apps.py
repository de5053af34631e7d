"""Running a service's app in-process, with its lifespan, for tests against real infrastructure."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI


@contextlib.asynccontextmanager
async def running(app: FastAPI, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app started (relay, projector, consumers), and an HTTP client bound to it (``client.app`` is the app)."""
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=manager.app), base_url=base_url) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client
