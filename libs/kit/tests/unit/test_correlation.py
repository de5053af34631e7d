"""Every service's answers carry the request's correlation id, the handler's logs see it, and the latency is
sampled by route template and status (binhchon_kit.web.Correlation, pure ASGI)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from prometheus_client import REGISTRY

from binhchon_kit.logs import correlation_id
from binhchon_kit.web import Correlation


def app(service: str) -> FastAPI:
    app = FastAPI()
    app.add_middleware(Correlation, service=service)

    @app.get("/dossiers/{dossier_id}")
    async def dossier(dossier_id: str) -> dict[str, str | None]:
        if dossier_id == "missing":
            raise HTTPException(404, "không có hồ sơ này")
        return {"dossier_id": dossier_id, "seen": correlation_id.get()}

    return app


def samples(service: str, path: str, status: str) -> float:
    value = REGISTRY.get_sample_value("binhchon_http_request_seconds_count",
                                      {"service": service, "method": "GET", "route": path, "status": status})
    return value or 0.0


@pytest.mark.timeout(10)
async def test_the_callers_id_is_seen_by_the_handler_and_said_back() -> None:
    service = f"svc-{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app(service)), base_url="http://t") as client:
        answer = await client.get("/dossiers/d-1", headers={"x-correlation-id": "cid-42"})
        assert answer.json() == {"dossier_id": "d-1", "seen": "cid-42"}
        assert answer.headers["x-correlation-id"] == "cid-42"
        fresh = await client.get("/dossiers/d-2")
        assert fresh.json()["seen"] == fresh.headers["x-correlation-id"]
        assert str(uuid.UUID(fresh.headers["x-correlation-id"])) == fresh.headers["x-correlation-id"]
        missing = await client.get("/dossiers/missing", headers={"x-correlation-id": "cid-43"})
        assert missing.status_code == 404 and missing.headers["x-correlation-id"] == "cid-43"
    assert correlation_id.get() is None  # reset after the request
    assert samples(service, "/dossiers/{dossier_id}", "200") == 2
    assert samples(service, "/dossiers/{dossier_id}", "404") == 1
