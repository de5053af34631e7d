"""Signing in through OpenID Connect against a minimal issuer started here (discovery, an authorisation endpoint
that sends the person straight back with a code, a token endpoint that checks the PKCE verifier against the
challenge, a JWKS): the whole redirect dance over real HTTP, and each way it must fail."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
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


@dataclass
class Keys:
    """The issuer's keys: those its JWKS lists, the one it signs with (it may sign with one it does not list)."""
    listed: dict[str, Ed25519PrivateKey] = field(default_factory=lambda: {"k1": Ed25519PrivateKey.generate()})
    signing: str = "k1"
    unlisted: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    jwks_fetches: int = 0

    def rotate(self, kid: str) -> None:
        self.listed, self.signing = {kid: Ed25519PrivateKey.generate()}, kid

    def sign_with_unlisted(self, kid: str) -> None:
        self.unlisted[kid], self.signing = Ed25519PrivateKey.generate(), kid

    @property
    def key(self) -> Ed25519PrivateKey:
        return (self.listed | self.unlisted)[self.signing]


def minimal_issuer(base: str, refusals: list[str], keys: Keys | None = None) -> FastAPI:
    keys = keys or Keys()
    codes: dict[str, dict[str, str]] = {}
    app = FastAPI()

    @app.get("/.well-known/openid-configuration")
    async def discovery() -> dict[str, Any]:
        return {"issuer": base, "authorization_endpoint": f"{base}/authorize", "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks", "code_challenge_methods_supported": ["S256"]}

    @app.get("/jwks")
    async def jwks() -> dict[str, Any]:
        keys.jwks_fetches += 1
        return {"keys": [jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"kid": kid, "use": "sig"}
                         for kid, key in keys.listed.items()]}

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
        id_token = jwt.encode(claims, keys.key, algorithm="EdDSA", headers={"kid": keys.signing})
        access = jwt.encode({**claims, "aud": "binhchon", "roles": ["applicant"]}, keys.key, algorithm="EdDSA",
                            headers={"kid": keys.signing})
        return JSONResponse({"access_token": access, "id_token": id_token, "token_type": "Bearer"})

    return app


class Timer:
    """The portal's monotonic seconds, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class SignIn:
    portal: str
    refusals: list[str]
    keys: Keys
    timer: Timer


@pytest.fixture
def issued() -> Iterator[SignIn]:
    port = free_port()
    base, refusals, keys, timer = f"http://127.0.0.1:{port}", [], Keys(), Timer()
    portal_port = free_port()
    settings = PortalSettings(oidc_issuer=base, oidc_client_id=CLIENT, portal_local=True, http_port=portal_port,
                              portal_public_url=f"http://127.0.0.1:{portal_port}")
    with serving(minimal_issuer(base, refusals, keys), port=port), \
            serving(build(settings, timer=timer), port=portal_port) as portal:
        yield SignIn(portal, refusals, keys, timer)


@pytest.fixture
def sign_in(issued: SignIn) -> tuple[str, list[str]]:
    return issued.portal, issued.refusals


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


def _signs_in(portal: str) -> bool:
    with httpx.Client(base_url=portal) as client:
        r = _back(client, _start(client))
        return r.status_code == 303 and "Đăng xuất" in client.get("/dang-nhap").text


def test_the_jwks_is_kept_between_sign_ins_and_fetched_again_when_it_expires(issued: SignIn) -> None:
    assert _signs_in(issued.portal) and _signs_in(issued.portal)
    assert issued.keys.jwks_fetches == 1
    issued.timer.now += 3600  # an hour, the JWKS's lifetime when the provider says none
    assert _signs_in(issued.portal)
    assert issued.keys.jwks_fetches == 2


def test_a_key_rotation_at_the_provider_still_signs_in(issued: SignIn) -> None:
    assert _signs_in(issued.portal)
    issued.keys.rotate("k2")  # k1 gone, k2 listed and signing: the portal holds k1 only
    issued.timer.now += 61
    assert _signs_in(issued.portal)
    assert issued.keys.jwks_fetches == 2
    assert _signs_in(issued.portal) and issued.keys.jwks_fetches == 2


def test_a_token_naming_a_key_the_provider_does_not_list_is_refused_and_asks_it_once_a_minute(
        issued: SignIn) -> None:
    assert _signs_in(issued.portal)
    issued.timer.now += 61
    issued.keys.sign_with_unlisted("k-forged")
    assert not _signs_in(issued.portal), "signed with a key the JWKS does not list, even after a refresh"
    assert issued.keys.jwks_fetches == 2
    for _ in range(3):  # within the minute: refused without asking the provider again
        assert not _signs_in(issued.portal)
    assert issued.keys.jwks_fetches == 2
    issued.timer.now += 60
    assert not _signs_in(issued.portal)
    assert issued.keys.jwks_fetches == 3
