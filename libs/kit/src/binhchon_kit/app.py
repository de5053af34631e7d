"""The application skeleton every service shares: MongoDB, the event store, the relay, the Kafka broker and its
consumers, token verification, `/healthz`, `/readyz`, `/metrics`, JSON logs with correlation ids, and the
mapping of domain errors to HTTP answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from binhchon_kit.auth.tokens import TokenVerifier
from binhchon_kit.consumer import EventConsumers
from binhchon_kit.errors import Refused
from binhchon_kit.eventstore import ConcurrencyConflict, EventStorePort, open_event_store
from binhchon_kit.logs import configure_logging, correlation_id
from binhchon_kit.metrics import HTTP_LATENCY
from binhchon_kit.projection import Projections
from binhchon_kit.relay import Relay
from binhchon_kit.settings import ServiceSettings

log = logging.getLogger("binhchon.app")


@dataclass
class Runtime:
    """Everything a service's adapters need, built once in the composition root."""

    settings: ServiceSettings
    mongo: AsyncMongoClient[dict[str, Any]]
    db: AsyncDatabase[dict[str, Any]]
    store: EventStorePort
    projections: Projections
    broker: KafkaBroker
    consumers: EventConsumers
    verifier: TokenVerifier
    relay: Relay
    broker_ready: bool = False
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)


def build_verifier(settings: ServiceSettings) -> TokenVerifier:
    if settings.auth_jwks_url:
        return TokenVerifier(jwks_url=settings.auth_jwks_url, issuer=settings.auth_issuer,
                             audience=settings.auth_audience)
    if settings.auth_public_keys_file:
        return TokenVerifier.from_file(settings.auth_public_keys_file, issuer=settings.auth_issuer,
                                       audience=settings.auth_audience)
    from binhchon_kit.auth.devtoken import ensure_keys

    log.warning("no AUTH_PUBLIC_KEYS_FILE or AUTH_JWKS_URL: trusting the local development key")
    _, public = ensure_keys()
    return TokenVerifier.from_file(public, issuer=settings.auth_issuer, audience=settings.auth_audience)


def build_runtime(settings: ServiceSettings, folds: dict[str, Any]) -> Runtime:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url, tz_aware=True, serverSelectionTimeoutMS=5000
    )
    db = mongo[settings.database_name]
    store = open_event_store(settings, db)
    # FastStream's own logger prints coloured text; ours goes through the JSON handler with the others
    broker = KafkaBroker(settings.kafka_bootstrap_servers, client_id=f"binhchon-{settings.service_name}",
                         acks="all", enable_idempotence=True, logger=logging.getLogger("binhchon.faststream"))
    return Runtime(
        settings=settings, mongo=mongo, db=db, store=store, projections=Projections(store, folds), broker=broker,
        consumers=EventConsumers(broker, db, service=settings.service_name, topic_prefix=settings.kafka_topic_prefix),
        verifier=build_verifier(settings),
        relay=Relay(store, settings.kafka_bootstrap_servers, client_id=f"binhchon-{settings.service_name}-relay",
                    topic_prefix=settings.kafka_topic_prefix),
    )


async def _start_broker(runtime: Runtime) -> None:
    """Connect the consumers, retrying while Kafka is unreachable: HTTP commands go on meanwhile."""
    delay = 1.0
    while not runtime.stop.is_set():
        try:
            await runtime.broker.start()
            runtime.broker_ready = True
            return
        except Exception as exc:
            log.warning("Kafka not reachable for consumers (%s), retrying in %.0fs", exc, delay)
            with contextlib.suppress(Exception):
                await runtime.broker.stop()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 15)


async def _project_forever(runtime: Runtime) -> None:
    while not runtime.stop.is_set():
        try:
            await runtime.projections.catch_up()
        except Exception as exc:
            log.warning("projection catch-up failed: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runtime.stop.wait(), timeout=2.0)


def create_app(
    runtime: Runtime, *, title: str, version: str = "0.1.0", description: str = "",
    on_startup: Callable[[Runtime], Awaitable[None]] | None = None,
) -> FastAPI:
    settings = runtime.settings

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        await runtime.store.setup()
        if on_startup is not None:
            await on_startup(runtime)
        runtime.stop.clear()
        runtime.tasks.append(asyncio.create_task(_project_forever(runtime), name="projector"))
        if settings.relay_enabled:
            runtime.tasks.append(asyncio.create_task(runtime.relay.run(runtime.stop), name="relay"))
        if settings.consumers_enabled:
            runtime.tasks.append(asyncio.create_task(_start_broker(runtime), name="broker"))
        log.info("%s started", settings.service_name)
        try:
            yield
        finally:
            runtime.stop.set()
            for task in runtime.tasks:
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(task, timeout=10)
            runtime.tasks.clear()
            with contextlib.suppress(Exception):
                await runtime.broker.stop()
            runtime.broker_ready = False
            await runtime.mongo.close()

    app = FastAPI(title=title, version=version, description=description, lifespan=lifespan)
    app.state.runtime = runtime

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


def serve(build: Callable[[Any], FastAPI], settings: ServiceSettings, port: int) -> None:
    """Run a service's app under uvicorn (its console script)."""
    import uvicorn

    uvicorn.run(build(settings), host="0.0.0.0", port=port, log_config=None)
