"""The outside probe's input findings (issue 13), replayed against intake's app on the real store and broker:
each answer is a 4xx in the services' shapes, never a 500, and what is stored is what a reader sees."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from binhchon_kit.auth.devtoken import KEY_ID, mint
from binhchon_kit.web_guard import HTML_POLICY

from ..conftest import dossier_body, intake_settings, round_body, running_intake

pytestmark = pytest.mark.integration


async def _round(intake, auth, unique) -> str:
    r = await intake.post("/rounds", json=round_body(f"R{unique}"), headers=auth("sec-1", "secretariat"))
    assert r.status_code == 201, r.text
    return str(r.json()["round_id"])


async def test_tokens_that_do_not_verify_are_401_invalid_token_whatever_the_reason(intake, dev_keys):
    # refused for its algorithm before any time is looked at
    claims = {"sub": "mallory", "roles": ["admin"], "iss": "binhchon-dev", "aud": "binhchon", "iat": 4_000_000_000,
              "exp": 4_000_000_600}
    rs256 = jwt.encode(claims, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256",
                       headers={"kid": KEY_ID})
    private = dev_keys[0].read_bytes()
    ten_years = mint(private, subject="mallory", roles=["admin"], hours=10 * 365 * 24)
    expired = mint(private, subject="mallory", roles=["admin"], hours=-1)
    other_audience = mint(private, subject="mallory", roles=["admin"], audience="dichvucong")
    for token in (rs256, ten_years, expired, other_audience, "a.b.c"):
        r = await intake.get("/dossiers/dossier-x", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, r.text
        assert r.json() == {"detail": "invalid token"}


async def test_a_body_beyond_the_limit_is_413_declared_or_chunked(intake, auth, unique):
    round_id = await _round(intake, auth, unique)
    huge = dossier_body(product="x" * (2 * 1024 * 1024))

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield b" " * 65536

    for content in (None, chunked()):
        r = await intake.post(f"/rounds/{round_id}/dossiers", json=huge if content is None else None,
                              content=content, headers={**auth("producer-1", "applicant"),
                                                        "content-type": "application/json"})
        assert r.status_code == 413, r.text
        assert r.json() == {"detail": "the request body exceeds 1048576 bytes", "max_body_bytes": 1048576}


@pytest.mark.parametrize("number", ["NaN", "Infinity", "1e309"])
async def test_numbers_json_does_not_have_are_422(intake, auth, unique, number):
    round_id = await _round(intake, auth, unique)
    raw = dossier_body()
    text = json.dumps(raw).replace('"sample_count": 5', f'"sample_count": {number}')
    r = await intake.post(f"/rounds/{round_id}/dossiers", content=text.encode(),
                          headers={**auth("producer-1", "applicant"), "content-type": "application/json"})
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b.pdf", "b\\c.pdf", "bien-nhan\x00.pdf",
                                  "phieu\r\nContent-Type: text/html.pdf", ".."])
async def test_file_names_that_are_paths_or_hold_controls_are_422_naming_the_field(intake, auth, unique, name):
    round_id = await _round(intake, auth, unique)
    body = dossier_body()
    body["documents"][1]["file_name"] = name
    r = await intake.post(f"/rounds/{round_id}/dossiers", json=body, headers=auth("producer-1", "applicant"))
    assert r.status_code == 422, r.text
    assert ["body", "documents", 1, "file_name"] in [e["loc"] for e in r.json()["detail"]]


async def test_invisible_and_look_alike_letters_do_not_pass_duplicate_detection(intake, auth, unique):
    round_id = await _round(intake, auth, unique)
    applicant = auth("producer-1", "applicant")
    first = await intake.post(f"/rounds/{round_id}/dossiers", json=dossier_body(), headers=applicant)
    assert first.status_code == 201, first.text
    for disguise in ("Mật\u200b ong rừng Lục Nam", "Mật \u043eng rừng Lục N\u0430m", "Mật ong\u202e rừng Lục Nam"):
        again = await intake.post(f"/rounds/{round_id}/dossiers", json=dossier_body(product=disguise),
                                  headers=applicant)
        assert again.status_code == 409, (disguise, again.text)
    stored = await intake.get(first.json()["status_url"])
    assert stored.json()["product_name"] == "Mật ong rừng Lục Nam"


async def test_the_receipt_page_carries_the_security_headers(intake, auth, unique):
    round_id = await _round(intake, auth, unique)
    r = await intake.post(f"/rounds/{round_id}/dossiers", json=dossier_body(product="<script>alert(1)</script>"),
                          headers=auth("producer-1", "applicant"))
    page = await intake.get(r.json()["status_url"], headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    assert page.headers["content-security-policy"] == HTML_POLICY
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"


async def test_production_keeps_docs_and_metrics_off_the_public_surface(infra, unique, topic_prefix, dev_keys):
    settings = intake_settings(infra, unique, topic_prefix, str(dev_keys[1]), deployment="production",
                               metrics_token="scrape-secret")
    async with running_intake(settings) as intake:
        for path in ("/docs", "/redoc", "/openapi.json", "/metrics"):
            assert (await intake.get(path)).status_code == 404, path
        assert (await intake.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 404
        scraped = await intake.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
        assert scraped.status_code == 200 and "http_request" in scraped.text
        assert (await intake.get("/healthz")).status_code == 200
    development = intake_settings(infra, unique, topic_prefix, str(dev_keys[1]))
    async with running_intake(development) as intake:
        assert (await intake.get("/openapi.json")).status_code == 200
        assert (await intake.get("/metrics")).status_code == 200
