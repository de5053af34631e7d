"""What every service serves of the contract, without infrastructure (the apps are built, not started): the JSON
Schemas at the paths of the ``dataschema`` URLs, and OpenAPI documents declaring the error answers the services
give (401, 403, 404, 409) in their error shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from certification.main import CertificationSettings
from certification.main import build as build_certification
from intake.main import IntakeSettings
from intake.main import build as build_intake
from notify.main import NotifySettings
from notify.main import build as build_notify
from scoring.main import ScoringSettings
from scoring.main import build as build_scoring

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "contract"
NOWHERE = dict(mongodb_url="mongodb://127.0.0.1:9/", kafka_bootstrap_servers="127.0.0.1:9")


@pytest.fixture(scope="module")
def apps(dev_keys) -> dict[str, FastAPI]:
    keys = dict(auth_public_keys_file=str(dev_keys[1]), **NOWHERE)
    return {"intake": build_intake(IntakeSettings(**keys)), "scoring": build_scoring(ScoringSettings(**keys)),
            "certification": build_certification(CertificationSettings(**keys)),
            "notify": build_notify(NotifySettings(**keys))}


def published() -> dict[str, Any]:
    """Each schema file of docs/contract by the path of the URL it is published under (its ``$id``)."""
    schemas = {}
    for path in sorted((CONTRACT / "schemas").glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        schemas["/" + schema["$id"].split("://", 1)[1].split("/", 1)[1]] = schema
    return schemas


@pytest.mark.parametrize("service", ["intake", "scoring", "certification", "notify"])
async def test_every_service_serves_every_published_schema_at_its_url_path(apps, service):
    schemas = published()
    assert "/events/cloudevent/v1.json" in schemas and "/events/round.opened/v1.json" in schemas
    transport = httpx.ASGITransport(app=apps[service])
    async with httpx.AsyncClient(transport=transport, base_url="https://schemas.binhchon.vn") as client:
        for path, schema in schemas.items():
            r = await client.get(path)
            assert r.status_code == 200, (path, r.text)
            assert r.headers["content-type"] == "application/schema+json"
            assert r.json() == schema, path
        missing = await client.get("/events/dossier.received/v99.json")
        assert missing.status_code == 404 and "detail" in missing.json()


@pytest.mark.parametrize("service", ["intake", "scoring", "certification", "notify"])
def test_openapi_declares_the_error_answers_in_the_error_shape(apps, service):
    document = apps[service].openapi()
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["detail"] and error["additionalProperties"] is True
    operations = [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]
    secured = [(p, m, op) for p, m, op in operations if op.get("security")]
    assert secured, "every service has operations that need a token"
    for path, method, op in operations:
        wanted = set()
        if op.get("security"):
            wanted |= {"401", "403"}
        command = method in ("post", "put", "patch", "delete")
        if "{" in path or command:
            wanted.add("404")
        if command:
            wanted.add("409")
        if "requestBody" in op:
            wanted.add("413")
        assert wanted <= set(op["responses"]), (path, method, sorted(op["responses"]))
        for status in wanted:
            content = op["responses"][status]["content"]
            if "text/html" in content:  # a page's "not found" is a page (/verify), as its 200 is
                assert "text/html" in op["responses"]["200"]["content"], (path, method, status)
                continue
            assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, (
                path, method, status)
        if "422" in op["responses"]:  # FastAPI's list of problems, or a domain refusal naming the field
            if "text/html" in op["responses"]["422"]["content"]:  # a page's refusal is a page (/registry)
                assert "text/html" in op["responses"]["200"]["content"], (path, method)
                continue
            assert op["responses"]["422"]["content"]["application/json"]["schema"] == {"anyOf": [
                {"$ref": "#/components/schemas/HTTPValidationError"}, {"$ref": "#/components/schemas/Error"}]}
    health = document["paths"]["/healthz"]["get"]["responses"]
    assert set(health) == {"200"}  # nothing declared that the operation cannot answer


async def test_the_declared_answers_are_the_answers_given(apps, auth):
    """401 without a token and 403 with the wrong role, in the declared shape (answered before any store)."""
    document = apps["intake"].openapi()
    assert {"401", "403", "409"} <= set(document["paths"]["/rounds"]["post"]["responses"])
    transport = httpx.ASGITransport(app=apps["intake"])
    async with httpx.AsyncClient(transport=transport, base_url="http://i") as client:
        r = await client.post("/rounds", json={})
        assert r.status_code == 401 and set(r.json()) == {"detail"}
        r = await client.post("/rounds", json={}, headers=auth("htx", "applicant"))
        assert r.status_code == 403 and set(r.json()) == {"detail"}
