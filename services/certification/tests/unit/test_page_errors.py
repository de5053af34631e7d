"""The public pages' refusals are pages in Vietnamese naming what to change; the API's stay JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, HTTPException, Query
from fastapi.testclient import TestClient

from certification.adapters import page_errors


def app() -> FastAPI:
    found = FastAPI()
    page_errors.install(found)

    @found.get("/registry")
    @found.get("/registry.json")
    async def registry(year: Annotated[int | None, Query(ge=2010, le=2100)] = None) -> dict[str, str]:
        return {}

    @found.get("/verify/{number}")
    async def verify(number: str) -> dict[str, str]:
        raise HTTPException(429, "too many requests from this address: slow down", headers={"Retry-After": "7"})

    @found.get("/certificates/{number}")
    async def certificate(number: str) -> dict[str, str]:
        raise HTTPException(429, "too many requests from this address: slow down", headers={"Retry-After": "7"})

    return found


def test_a_filter_out_of_range_is_a_page_naming_it() -> None:
    r = TestClient(app()).get("/registry", params={"year": 1999})
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "Năm công nhận: từ năm 2010 đến năm 2100." in r.text and "Input" not in r.text
    assert "default-src 'none'" in r.headers["content-security-policy"]


def test_too_many_requests_is_a_page_saying_how_long_to_wait() -> None:
    r = TestClient(app()).get("/verify/OCOP-1")
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    assert "vui lòng đợi 7 giây rồi thử lại" in r.text and "slow down" not in r.text


def test_the_api_keeps_its_json() -> None:
    client = TestClient(app())
    r = client.get("/registry.json", params={"year": 1999})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "year"]
    r = client.get("/certificates/OCOP-1")
    assert r.status_code == 429 and r.json() == {"detail": "too many requests from this address: slow down"}
