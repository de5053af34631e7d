"""The HTTP app every service serves: its lifespan (the runtime's loops started and stopped with it),
``/healthz``, ``/readyz``, ``/metrics``, the event contract's JSON Schemas at their ``dataschema`` paths, JSON logs
with correlation ids, the mapping of domain errors to HTTP answers and their declaration in the OpenAPI document —
and ``serve``, each service's console script."""

from __future__ import annotations

import contextlib
import functools
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict
from pymongo.errors import ConnectionFailure
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from binhchon_kit.auth.policy import PUBLIC, declare_access
from binhchon_kit.errors import NotYetHeard, Refused, UnderWay
from binhchon_kit.eventstore import AlreadyRecorded, ConcurrencyConflict
from binhchon_kit.gauges import dependency_checks
from binhchon_kit.log_api import router as log_routes
from binhchon_kit.logs import configure_logging, correlation_id
from binhchon_kit.loops import start_background, stop_background
from binhchon_kit.metrics import HTTP_LATENCY
from binhchon_kit.personal import KeysUnavailable
from binhchon_kit.ratelimit import RateLimiter, rate_limited_operations
from binhchon_kit.runtime import Runtime
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.web_guard import RequestGuard

S = TypeVar("S", bound=ServiceSettings)
log = logging.getLogger("binhchon.web")

SCHEMA_MEDIA_TYPE = "application/schema+json"


class ErrorAnswer(BaseModel):
    """Every error the services answer: ``detail`` says what went wrong; other fields name what it is about
    (``current_status``, ``current_version``, ``round_id``, …)."""

    model_config = ConfigDict(extra="allow", title="Error")

    detail: str


ERROR_ANSWERS = {
    401: "no bearer token, or one that does not verify",
    403: "the token's roles do not allow this",
    404: "what the path (or a command's body) names does not exist (here, yet: another service's event may still be "
         "on its way)",
    409: "the command conflicts with the current state (named in the answer), or the stream moved on",
    413: "the request body is larger than the service accepts (`max_body_bytes` in the answer)",
    422: "the request does not validate: FastAPI's list of problems, or the services' error naming the field",
    429: "too many requests from this address to the public routes: wait the seconds Retry-After says",
    503: "a dependency the call needs (the store) is unreachable, or an event of another service it needs has not "
         "arrived yet, named in `dependency`: nothing was done; try again after the seconds Retry-After says",
}


def create_app(
    runtime: Runtime, *, title: str, version: str = "0.1.0", description: str = "",
    on_startup: Callable[[Runtime], Awaitable[None]] | None = None, uploads: Mapping[str, int] | None = None,
) -> FastAPI:
    """``uploads``: the service's file-upload paths with their body limits (``RequestGuard``)."""
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

    # in production the API's documentation is not served (the contract is published in docs/contract)
    public = settings.deployment == "development"
    app = FastAPI(title=title, version=version, description=description, lifespan=lifespan,
                  docs_url="/docs" if public else None, redoc_url="/redoc" if public else None,
                  openapi_url="/openapi.json" if public else None)
    app.state.runtime = runtime
    app.state.public_limiter = RateLimiter(settings.public_requests_per_minute)
    app.include_router(log_routes)

    app.add_middleware(Correlation, service=settings.service_name)
    # outermost: a body too large or not strict JSON is refused before the routes (or the logs) see it
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes, uploads=uploads)

    @app.exception_handler(Refused)
    async def refused(_: Request, exc: Refused) -> JSONResponse:
        return JSONResponse({"detail": exc.message, **exc.detail}, status_code=exc.status)

    @app.exception_handler(ConcurrencyConflict)
    async def conflict(_: Request, exc: ConcurrencyConflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "current_version": exc.actual_version}, status_code=409)

    @app.exception_handler(AlreadyRecorded)
    async def recorded_before(_: Request, exc: AlreadyRecorded) -> JSONResponse:
        # a command whose deterministic event another request recorded first (a race): its effect is there
        return JSONResponse({"detail": f"{exc}: another request did this first", "event_id": exc.event_id},
                            status_code=409)

    @app.exception_handler(KeysUnavailable)
    async def keys_unavailable(request: Request, exc: KeysUnavailable) -> JSONResponse:
        # a household's sealed name cannot be opened while intake is away (ADR 0048): neither shown nor said erased
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": f"{exc}; try again later", "dependency": "intake"}, status_code=503,
                            headers={"Retry-After": str(settings.unavailable_retry_after_seconds)})

    @app.exception_handler(NotYetHeard)
    async def not_yet_heard(request: Request, exc: NotYetHeard) -> JSONResponse:
        # a fact another service publishes is still on its way (a consumer catching up): the call is fine, early
        log.info("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": f"{exc.message}; try again later", "dependency": exc.dependency},
                            status_code=503, headers={"Retry-After": str(settings.unavailable_retry_after_seconds)})

    @app.exception_handler(UnderWay)
    async def under_way(request: Request, exc: UnderWay) -> JSONResponse:
        # the same command is being carried out under another holder's lease: come back when it is over
        log.info("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": f"{exc.message}; try again later", **exc.detail}, status_code=503,
                            headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(ConnectionFailure)
    async def store_unreachable(request: Request, exc: ConnectionFailure) -> JSONResponse:
        # the store is down (or unreachable): say so at once, not a 500 after pymongo's long wait; the client
        # comes back later, and nothing needs restarting when the store returns (the driver reconnects)
        log.warning("%s %s: the store is unreachable: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": f"the store is unreachable ({type(exc).__name__}); try again later",
                             "dependency": "mongodb"}, status_code=503,
                            headers={"Retry-After": str(settings.unavailable_retry_after_seconds)})

    @app.get("/healthz", tags=["operations"], summary="the process is alive", dependencies=[PUBLIC])
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @app.get("/readyz", tags=["operations"], summary="MongoDB and Kafka are reachable", dependencies=[PUBLIC],
             responses={503: {"description": "a dependency is down (or the consumers are still joining the "
                                             "broker): which, and why; `Retry-After` says when to ask again"}})
    async def readyz() -> JSONResponse:
        checks = await dependency_checks(runtime)
        down = sorted(name for name, state in checks.items() if state != "ok")
        if not down:
            return JSONResponse({"ready": True, "checks": checks})
        return JSONResponse({"ready": False, "checks": checks, "down": down,
                             "detail": "; ".join(f"{name} {checks[name]}" for name in down)}, status_code=503,
                            headers={"Retry-After": str(settings.unavailable_retry_after_seconds)})

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if not public:  # only to the scraper holding METRICS_TOKEN; not set, not served at all
            given = request.headers.get("authorization", "").removeprefix("Bearer ").encode()
            if not settings.metrics_token or not hmac.compare_digest(given, settings.metrics_token.encode()):
                return JSONResponse({"detail": "Not Found"}, status_code=404)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/events/{event_type}/{file_name}", tags=["contract"], summary="a JSON Schema of the event contract",
             description="The schema a CloudEvent's `dataschema` names, at its URL's path "
             "(`/events/<type>/v<n>.json`; the envelope: `/events/cloudevent/v1.json`). No token needed.",
             response_class=JSONResponse, responses={200: {"content": {SCHEMA_MEDIA_TYPE: {}}}},
             dependencies=[PUBLIC])
    async def event_schema(event_type: str, file_name: str) -> Response:
        schema = contract_schemas().get(f"/events/{event_type}/{file_name}")
        if schema is None:
            raise Refused(f"no schema {event_type}/{file_name}", kind="not_found")
        return Response(schema, media_type=SCHEMA_MEDIA_TYPE)

    app.openapi = lambda: _openapi_with_errors(app)  # type: ignore[method-assign]
    return app


class Correlation:
    """Each request's correlation id (the caller's ``x-correlation-id``, else a new one) set for the logs and said
    back, and its latency sampled by route and status. Pure ASGI: Starlette's ``BaseHTTPMiddleware`` (what
    ``@app.middleware("http")`` makes) runs the app in a task of its own behind memory streams, on every
    request."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cid = Headers(scope=scope).get("x-correlation-id") or str(uuid.uuid4())
        started = time.perf_counter()

        async def answering(message: Message) -> None:
            if message["type"] == "http.response.start":
                route = scope.get("route")  # the router sets it in this same scope
                HTTP_LATENCY.labels(self.service, scope["method"], getattr(route, "path", "?"),
                                    str(message["status"])).observe(time.perf_counter() - started)
                MutableHeaders(scope=message)["x-correlation-id"] = cid
            await send(message)

        token = correlation_id.set(cid)
        try:
            await self.app(scope, receive, answering)
        finally:
            correlation_id.reset(token)


def answered(service: str, request: Request, response: Response, started: float, cid: str) -> Response:
    """An answer's last step in every app (the services', the portal's): its latency sampled by route and status,
    its correlation id said back."""
    route = request.scope.get("route")
    HTTP_LATENCY.labels(service, request.method, getattr(route, "path", "?"),
                        str(response.status_code)).observe(time.perf_counter() - started)
    response.headers["x-correlation-id"] = cid
    return response


@functools.cache
def contract_schemas() -> dict[str, bytes]:
    """The event contract's JSON Schemas by their URLs' paths: what the code generates (the envelope, each event
    type at its current schema version), and the older versions' published files when the contract directory is
    at hand (a source tree)."""
    from binhchon_kit.contracts.export import published_schemas

    return {path: json.dumps(schema, ensure_ascii=False, indent=2).encode("utf-8")
            for path, schema in published_schemas().items()}


def _openapi_with_errors(app: FastAPI) -> dict[str, Any]:
    """FastAPI's OpenAPI document, with the error answers each operation can give, in the services' shape: 401
    and 403 where a bearer token is checked (the operation's ``security``), 404 where the path or a command's
    body names something, 409 for a command, 413 where a body is taken, 422 (FastAPI's validation list, or the
    services' error naming the field) wherever FastAPI validates something. Read off the document itself, so a
    route of any router gets them, and none by hand."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = FastAPI.openapi(app)
    limited = rate_limited_operations(app.routes)
    declared = False
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            statuses = []
            if operation.get("security"):
                statuses += [401, 403]
            command = method in ("post", "put", "patch", "delete")
            if "{" in path or command:  # a command's body may name another resource (a parent round)
                statuses.append(404)
            if command:
                statuses.append(409)
            if (method.upper(), path) in limited:
                statuses.append(429)
            if "requestBody" in operation:
                statuses.append(413)
            if not path.startswith(("/healthz", "/readyz")):
                statuses.append(503)
            for status in statuses:
                declared = True
                # a route may name the answer in its own words; the shape is always the services' error shape
                answer = operation.setdefault("responses", {}).setdefault(str(status), {
                    "description": ERROR_ANSWERS[status]})
                answer.setdefault("content", {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}})
            invalid = operation.get("responses", {}).get("422")
            # a domain refusal of kind "invalid" answers in the error shape; a page that answers its refusal with a
            # page (certification's /registry, adapters/page_errors.py) keeps what its route declares
            if invalid is not None and "text/html" not in invalid.get("content", {}):
                declared = True
                invalid["description"] = ERROR_ANSWERS[422]
                invalid["content"] = {"application/json": {"schema": {"anyOf": [
                    {"$ref": "#/components/schemas/HTTPValidationError"}, {"$ref": "#/components/schemas/Error"}]}}}
    declare_access(document, app.routes)
    if declared:
        document.setdefault("components", {}).setdefault("schemas", {})["Error"] = ErrorAnswer.model_json_schema()
    return document


def serve(build: Callable[[S], FastAPI], settings: S) -> None:
    """Run a service's app under uvicorn on its ``http_port``: the body of each service's console script."""
    import uvicorn

    uvicorn.run(build(settings), host=settings.http_host, port=settings.http_port, log_config=None)
