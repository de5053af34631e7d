"""The HTTP app every service serves: its lifespan (the runtime's loops started and stopped with it),
``/healthz``, ``/readyz``, ``/metrics``, JSON logs with correlation ids, the mapping of domain errors to HTTP
answers — and ``serve``, each service's console script."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from binhchon_kit.errors import Refused
from binhchon_kit.eventstore import ConcurrencyConflict
from binhchon_kit.log_api import router as log_routes
from binhchon_kit.logs import configure_logging, correlation_id
from binhchon_kit.loops import start_background, stop_background
from binhchon_kit.metrics import HTTP_LATENCY
from binhchon_kit.runtime import Runtime
from binhchon_kit.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def create_app(
    runtime: Runtime, *, title: str, version: str = "0.1.0", description: str = "",
    on_startup: Callable[[Runtime], Awaitable[None]] | None = None,
) -> FastAPI:
    settings = runtime.settings

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        await runtime.store.setup()
        if runtime.checkpoints is not None:
            await runtime.checkpoints.setup()
        runtime.stop.clear()
        if on_startup is not None:
            await on_startup(runtime)
        start_background(runtime)
        try:
            yield
        finally:
            await stop_background(runtime)
            await runtime.mongo.close()

    app = FastAPI(title=title, version=version, description=description, lifespan=lifespan)
    app.state.runtime = runtime
    app.include_router(log_routes)

    @app.middleware("http")
    async def correlate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        cid = request.headers.get("x-correlation-id") or str(uuid.uuid4())
        token = correlation_id.set(cid)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            correlation_id.reset(token)
        route = request.scope.get("route")
        HTTP_LATENCY.labels(settings.service_name, request.method, getattr(route, "path", "?"),
                            str(response.status_code)).observe(time.perf_counter() - started)
        response.headers["x-correlation-id"] = cid
        return response

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        return JSONResponse({"detail": exc.message, **exc.detail}, status_code=exc.status)

    @app.exception_handler(ConcurrencyConflict)
    async def conflict(_: Request, exc: ConcurrencyConflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "current_version": exc.actual_version}, status_code=409)

    @app.get("/healthz", tags=["operations"], summary="the process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @app.get("/readyz", tags=["operations"], summary="MongoDB and Kafka are reachable")
    async def readyz() -> JSONResponse:
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(runtime.db.command("ping"), timeout=2)
            checks["mongodb"] = "ok"
        except Exception as exc:
            checks["mongodb"] = f"unreachable: {exc}"
        kafka_ok = runtime.broker_ready and await runtime.broker.ping(timeout=2)
        checks["kafka"] = "ok" if kafka_ok else "unreachable (events wait in the store until it is back)"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def serve(build: Callable[[S], FastAPI], settings: S) -> None:
    """Run a service's app under uvicorn on its ``http_port``: the body of each service's console script."""
    import uvicorn

    uvicorn.run(build(settings), host="0.0.0.0", port=settings.http_port, log_config=None)
