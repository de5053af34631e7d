"""Signing in through OpenID Connect against a minimal issuer started here (discovery, an authorisation endpoint
that sends the person straight back with a code, a token endpoint that checks the PKCE verifier against the
challenge, a JWKS): the whole redirect dance over real HTTP, and each way it must fail."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI, Form
from fastapi.responses import JSONResponse, RedirectResponse

from binhchon_kit.testing.fuzz import serving
from binhchon_kit.testing.infra import free_port
from portal.main import PortalSettings, build
from portal.sessions import COOKIE

CLIENT = "binhchon-portal"


def minimal_issuer(base: str, refusals: list[str]) -> FastAPI:
    key = Ed25519PrivateKey.generate()
    jwk = jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"kid": "k1", "use": "sig"}
    codes: dict[str, dict[str, str]] = {}
    app = FastAPI()

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        return {"issuer": base, "authorization_endpoint": f"{base}/authorize", "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks", "code_challenge_methods_supported": ["S256"]}

    @app.get("/jwks")
    async def jwks() -> dict[str, Any]:
        return {"keys": [jwk]}

    @app.get("/authorize")
    async def authorize(client_id: str, redirect_uri: str, state: str, nonce: str, code_challenge: str,
                        code_challenge_method: str, response_type: str) -> RedirectResponse:
        assert (client_id, response_type, code_challenge_method) == (CLIENT, "code", "S256")
        code = secrets.token_urlsafe(16)
        codes[code] = {"challenge": code_challenge, "nonce": nonce, "redirect_uri": redirect_uri}
        return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", status_code=302)

    @app.post("/token")
    async def token(grant_type: str = Form(), code: str = Form(), redirect_uri: str = Form(),
                    client_id: str = Form(), code_verifier: str = Form()) -> JSONResponse:
        issued = codes.pop(code, None)
        digest = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()
        if issued is None or issued["redirect_uri"] != redirect_uri or digest != issued["challenge"]:
            refusals.append("verifier" if issued else "code")
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = {"iss": base, "sub": "nguyen-van-duc", "aud": client_id, "iat": now, "exp": now + 300,
                  "nonce": issued["nonce"], "name": "Nguyễn Văn Đức"}
        id_token = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "k1"})
        access = jwt.encode({**claims, "aud": "binhchon", "roles": ["applicant"]}, key, algorithm="EdDSA",
                            headers={"kid": "k1"})
        return JSONResponse({"access_token": access, "id_token": id_token, "token_type": "Bearer"})

    return app


@pytest.fixture
def sign_in() -> Iterator[tuple[str, list[str]]]:
    port = free_port()
    base, refusals = f"http://127.0.0.1:{port}", []
    portal_port = free_port()
    settings = PortalSettings(oidc_issuer=base, oidc_client_id=CLIENT, portal_local=True, http_port=portal_port,
                              portal_public_url=f"http://127.0.0.1:{portal_port}")
    with serving(minimal_issuer(base, refusals), port=port), serving(build(settings), port=portal_port) as portal:
        yield portal, refusals


def _start(client: httpx.Client) -> str:
    r = client.get("/dang-nhap/oidc")
    assert r.status_code == 303
    return r.headers["location"]


def _back(client: httpx.Client, authorize_url: str) -> httpx.Response:
    """The browser's part: to the provider, and back to the portal with what the provider gave."""
    r = httpx.get(authorize_url)
    assert r.status_code == 302, r.text
    back = urlparse(r.headers["location"])
    return client.get(f"{back.path}?{back.query}")


def test_the_code_flow_signs_in_with_pkce_and_a_checked_id_token(sign_in: tuple[str, list[str]]) -> None:
    portal, refusals = sign_in
    with httpx.Client(base_url=portal) as client:
        url = _start(client)
        anonymous = client.cookies[COOKIE]
        query = parse_qs(urlparse(url).query)
        assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
        assert query["state"][0] != query["nonce"][0]
        r = _back(client, url)
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Secure" not in cookie  # local
        assert client.cookies[COOKIE] != anonymous, "a new session id at sign-in"
        page = client.get("/dang-nhap")
        assert "Đăng xuất (Nguyễn Văn Đức)" in page.text
    assert refusals == []


def test_a_verifier_that_does_not_match_the_challenge_signs_no_one_in(sign_in: tuple[str, list[str]]) -> None:
    portal, refusals = sign_in
    with httpx.Client(base_url=portal) as client:
        url = _start(client)
        # someone between swapped the challenge: the portal's verifier no longer answers it
        parts = urlparse(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        query["code_challenge"] = base64.urlsafe_b64encode(hashlib.sha256(b"other").digest()).rstrip(b"=").decode()
        r = _back(client, f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(query)}")
        assert r.status_code == 400 and "Đăng nhập không thành công" in r.text
        assert "Đăng xuất" not in client.get("/dang-nhap").text
    assert refusals == ["verifier"]


def test_a_state_the_session_did_not_start_is_refused(sign_in: tuple[str, list[str]]) -> None:
    portal, _ = sign_in
    with httpx.Client(base_url=portal) as client:
        url = _start(client)
        with httpx.Client(base_url=portal) as other:  # another browser, handed this one's answer
            r = _back(other, url)
            assert r.status_code == 400
            assert "Đăng xuất" not in other.get("/dang-nhap").text


def test_a_form_without_its_csrf_token_is_refused(sign_in: tuple[str, list[str]]) -> None:
    portal, _ = sign_in
    with httpx.Client(base_url=portal) as client:
        client.get("/dang-nhap")
        r = client.post("/dang-xuat", data={"csrf": "not-this-one"})
        assert r.status_code == 403
        assert r.headers["content-security-policy"].startswith("default-src 'none'")
