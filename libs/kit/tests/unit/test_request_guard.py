"""The request guard every service's app has (binhchon_kit.web_guard): size before parsing, strict JSON,
normalised text, safety headers. Driven through a small FastAPI app over ASGI, as a client reaches it."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from binhchon_kit.text import normalise_text
from binhchon_kit.web_guard import HTML_POLICY, MAX_DEPTH, RequestGuard

LIMIT = 64 * 1024


class Dossier(BaseModel):
    name: str
    points: float = 0


def guarded() -> FastAPI:
    app = FastAPI()
    app.state.parsed = 0

    @app.post("/dossiers")
    async def submit(body: Dossier) -> dict[str, Any]:
        app.state.parsed += 1
        return {"name": body.name, "points": body.points}

    @app.get("/page", response_class=HTMLResponse)
    async def page() -> str:
        return "<p>xin chào</p>"

    app.add_middleware(RequestGuard, max_body_bytes=LIMIT)
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded()), base_url="http://svc") as c:
        yield c


def _raw(text: str) -> dict[str, Any]:
    return {"content": text.encode(), "headers": {"content-type": "application/json"}}


async def test_a_declared_body_beyond_the_limit_is_413_before_it_is_parsed(client: httpx.AsyncClient) -> None:
    huge = json.dumps({"name": "x" * (100 * 1024 * 1024)})  # the outside probe's 100 MB: 7.8 s then a 422
    started = time.perf_counter()
    r = await client.post("/dossiers", content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json() == {"detail": f"the request body exceeds {LIMIT} bytes", "max_body_bytes": LIMIT}
    assert time.perf_counter() - started < 1.0
    assert client._transport.app.state.parsed == 0  # type: ignore[attr-defined]


async def test_a_chunked_body_beyond_the_limit_is_413_as_it_arrives(client: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"name": "'
        for _ in range(10_000):  # 640 MB if it were all read
            sent += 1
            yield b"x" * 65536
        yield b'"}'

    r = await client.post("/dossiers", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "content-length" not in r.request.headers
    assert sent < 10, "the guard stopped reading once the limit was passed"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e309", "-1e309", "9007199254740993"])
async def test_numbers_json_does_not_allow_are_422(client: httpx.AsyncClient, number: str) -> None:
    r = await client.post("/dossiers", **_raw(f'{{"name": "mật ong", "points": {number}}}'))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body"]


async def test_deep_nesting_is_422_not_a_recursion_error(client: httpx.AsyncClient) -> None:
    for depth in (MAX_DEPTH + 5, 20_000):
        r = await client.post("/dossiers", **_raw("[" * depth + "]" * depth))
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["type"] == "too_deep"


async def test_free_text_arrives_composed_and_without_invisible_characters(client: httpx.AsyncClient) -> None:
    sneaky = "Mật\u200b ong\u202e rừng\ufeff"
    decomposed = "Mật ong rừng".replace("ậ", "a\u0323\u0302")
    for sent in (sneaky, decomposed):
        r = await client.post("/dossiers", json={"name": sent})
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "Mật ong rừng"


def test_normalising_keeps_vietnamese_as_it_is() -> None:
    text = "Hợp tác xã Đông Hưng – Mứt gừng Ỷ La"
    assert normalise_text(text) == text


async def test_html_answers_carry_the_security_headers(client: httpx.AsyncClient) -> None:
    r = await client.get("/page")
    assert r.headers["content-security-policy"] == HTML_POLICY
    assert "frame-ancestors 'none'" in HTML_POLICY
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"
    j = await client.post("/dossiers", json={"name": "a"})
    assert j.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in j.headers


async def test_an_upload_path_has_its_own_limit_and_streams_through_unbuffered() -> None:
    app = FastAPI()
    seen: list[int] = []

    @app.post("/documents")
    async def upload(request: Request) -> dict[str, int]:
        async for chunk in request.stream():  # the route reads the body as it arrives, chunk by chunk
            seen.append(len(chunk))
        return {"chunks": len(seen)}

    app.add_middleware(RequestGuard, max_body_bytes=LIMIT, uploads={"/documents": 4 * LIMIT})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as c:
        r = await c.post("/documents", content=b"%" * (5 * LIMIT))
        assert r.status_code == 413 and r.json()["max_body_bytes"] == 4 * LIMIT and not seen

        async def parts() -> AsyncIterator[bytes]:
            for _ in range(3):
                yield b"%" * LIMIT

        r = await c.post("/documents", content=parts())  # over the service's limit, under the upload's
        assert r.status_code == 200 and sum(seen) == 3 * LIMIT


async def test_a_route_pattern_has_its_own_cap_counted_as_it_arrives_and_every_other_route_keeps_the_limit() -> None:
    app = FastAPI()

    @app.post("/ho-so/{dossier_id}/bo-sung")
    @app.post("/ho-so/{dossier_id}/rut")
    @app.post("/ho-so/{dossier_id}/bo-sung/them")
    async def form(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    app.add_middleware(RequestGuard, max_body_bytes=LIMIT, route_limits={"/ho-so/{dossier_id}/bo-sung": 4 * LIMIT})
    form_type = {"content-type": "application/x-www-form-urlencoded"}

    async def parts(count: int) -> AsyncIterator[bytes]:
        for _ in range(count):
            yield b"%" * LIMIT

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as c:
        r = await c.post("/ho-so/d-1/bo-sung", content=b"%" * (3 * LIMIT), headers=form_type)
        assert (r.status_code, r.json()) == (200, {"size": 3 * LIMIT})
        r = await c.post("/ho-so/d-1/bo-sung", content=parts(3), headers=form_type)  # chunked, under the cap
        assert (r.status_code, r.json()) == (200, {"size": 3 * LIMIT})
        r = await c.post("/ho-so/d-1/bo-sung", content=b"%" * (5 * LIMIT), headers=form_type)
        assert r.status_code == 413 and r.json()["max_body_bytes"] == 4 * LIMIT
        r = await c.post("/ho-so/d-1/bo-sung", content=parts(5), headers=form_type)  # chunked, counted
        assert r.status_code == 413 and r.json()["max_body_bytes"] == 4 * LIMIT
        # a path the pattern does not name whole (another route, a segment more, a slash inside the id) keeps LIMIT
        for path in ("/ho-so/d-1/rut", "/ho-so/d-1/bo-sung/them", "/ho-so/d/1/bo-sung"):
            r = await c.post(path, content=b"%" * (2 * LIMIT), headers=form_type)
            assert r.status_code == 413 and r.json()["max_body_bytes"] == LIMIT, path
