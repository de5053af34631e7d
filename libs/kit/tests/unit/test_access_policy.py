"""Declared access policies (ADR 0030) on a small app: the declaration is the check, it runs before the body is
read, an admin passes what reaches any resource and nothing open only to owners, and the OpenAPI document
carries each operation's declaration (none for an undeclared one, which the access matrix then fails)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from binhchon_kit.auth import Principal, Role, TokenVerifier
from binhchon_kit.auth.devtoken import ensure_keys, mint
from binhchon_kit.auth.policy import ACCESS_EXTENSION, ANY, PUBLIC, Scope, allow, declare_access
from binhchon_kit.testing.access import Caller, Operation, callers, expected


async def _named_in_path(request: Request, who: Principal) -> bool:
    return bool(request.path_params["owner"] == who.subject)


OWN = Scope("own thing", _named_in_path)
Reader = Annotated[Principal, allow({Role.SECRETARIAT: ANY, Role.APPLICANT: OWN})]
OwnerOnly = Annotated[Principal, allow({Role.JUDGE: OWN})]


class Body(BaseModel):
    text: str


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> tuple[FastAPI, bytes]:
    private, public = ensure_keys(tmp_path_factory.mktemp("keys"))
    app = FastAPI()
    app.state.runtime = type("R", (), {"verifier": TokenVerifier.from_file(public, issuer="binhchon-dev",
                                                                        audience="binhchon")})()

    @app.get("/open", dependencies=[PUBLIC])
    async def open_() -> dict[str, str]:
        return {"ok": "yes"}

    @app.post("/things/{owner}")
    async def write(owner: str, body: Body, who: Reader) -> dict[str, str]:
        return {"by": who.subject}

    @app.post("/sheets/{owner}")
    async def score(owner: str, who: OwnerOnly) -> dict[str, str]:
        return {"by": who.subject}

    @app.get("/undeclared")
    async def undeclared() -> dict[str, str]:
        return {}

    original = app.openapi

    def openapi() -> dict[str, Any]:
        document = original()
        declare_access(document, app.routes)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
    return app, Path(private).read_bytes()


async def _status(app: tuple[FastAPI, bytes], method: str, path: str, subject: str | None = None, *roles: str,
                  body: Any = None) -> int:
    headers = {"Authorization": f"Bearer {mint(app[1], subject=subject, roles=list(roles))}"} if subject else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app[0]), base_url="http://t") as client:
        return (await client.request(method, path, headers=headers, json=body)).status_code


async def test_the_declaration_is_the_check_and_runs_before_the_body(app) -> None:
    assert await _status(app, "GET", "/open") == 200
    assert await _status(app, "POST", "/things/htx") == 401
    assert await _status(app, "POST", "/things/htx", "cm-1", "judge", body={}) == 403  # role: before the 422
    assert await _status(app, "POST", "/things/htx", "other", "applicant", body={}) == 403  # not theirs
    assert await _status(app, "POST", "/things/htx", "htx", "applicant", body={}) == 422  # theirs: body checked
    assert await _status(app, "POST", "/things/htx", "htx", "applicant", body={"text": "a"}) == 200
    assert await _status(app, "POST", "/things/htx", "sec", "secretariat", body={"text": "a"}) == 200


async def test_an_admin_passes_what_reaches_any_resource_and_nothing_open_only_to_owners(app) -> None:
    assert await _status(app, "POST", "/things/htx", "root", "admin", body={"text": "a"}) == 200
    assert await _status(app, "POST", "/sheets/cm-2", "root", "admin") == 403
    assert await _status(app, "POST", "/sheets/cm-2", "cm-2", "judge") == 200


def test_openapi_carries_each_declaration_and_none_for_an_undeclared_route(app) -> None:
    paths = app[0].openapi()["paths"]
    assert paths["/open"]["get"][ACCESS_EXTENSION] == {"public": True}
    assert paths["/things/{owner}"]["post"][ACCESS_EXTENSION] == {
        "roles": {"secretariat": "any", "applicant": "own thing"}}
    assert ACCESS_EXTENSION not in paths["/undeclared"]["get"]


def test_the_matrix_expects_what_the_declaration_says() -> None:
    op = Operation("POST", "/things/{owner}", {"roles": {"secretariat": "any", "applicant": "own thing"}})
    rows = {c.label: expected(op, c) for c in callers(op, {"own thing": {Role.APPLICANT: "htx"}})}
    assert rows["no one"] == "401" and rows["judge (stranger)"] == "403"
    assert rows["secretariat (stranger)"] == "through" and rows["admin (stranger)"] == "through"
    assert rows["applicant (stranger)"] == "403" and rows["applicant (owner of own thing)"] == "through"
    owners_only = Operation("POST", "/sheets/{owner}", {"roles": {"judge": "own thing"}})
    assert expected(owners_only, Caller("admin", "root", Role.ADMIN)) == "403"
    assert expected(Operation("GET", "/x", {"public": True}), Caller("no one", None, None)) == "through"
