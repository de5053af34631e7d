"""OpenID Connect, authorisation-code flow with PKCE (S256): the provider's discovery document, the redirect
with state, nonce and the verifier's challenge, the code exchanged for tokens, and the ID token checked with the
provider's JWKS (signature, issuer, audience, expiry, nonce). The access token is what the services receive.

The JWKS is kept between sign-ins: fetched again when it expires (the answer's ``Cache-Control: max-age``, else an
hour) or when a token names a key it does not hold (the provider rotated its keys) — that last at most once a
minute, so that tokens naming made-up keys cannot make the portal hammer the provider."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

ALGORITHMS = ["RS256", "ES256", "EdDSA", "PS256"]
JWKS_SECONDS = 3600  # how long a JWKS is kept when its answer says nothing (Cache-Control: max-age)
JWKS_MAX_SECONDS = 24 * 3600
REFRESH_EVERY = 60  # a key the JWKS does not hold fetches it again, at most this often (seconds)


class SignInFailed(Exception):
    """The sign-in cannot be completed (said in Vietnamese on the page; the reason goes to the log)."""


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Identity:
    subject: str
    name: str
    roles: tuple[str, ...]
    access_token: str


class Provider:
    def __init__(self, client: httpx.AsyncClient, issuer: str, client_id: str, client_secret: str, scopes: str,
                 redirect_uri: str, clock: Callable[[], float] = time.monotonic) -> None:
        """``clock``: seconds, monotonic (when the JWKS was fetched and when it expires); tests move it."""
        self.client, self.issuer, self.client_id = client, issuer.rstrip("/"), client_id
        self.client_secret, self.scopes, self.redirect_uri = client_secret, scopes, redirect_uri
        self.clock = clock
        self._discovery: dict[str, Any] | None = None
        self._keys: list[jwt.PyJWK] = []
        self._fetched = self._expires = -math.inf
        self._fetching = asyncio.Lock()

    async def discovery(self) -> dict[str, Any]:
        if self._discovery is None:
            r = await self.client.get(self.issuer + "/.well-known/openid-configuration")
            r.raise_for_status()
            document = r.json()
            if document.get("issuer", "").rstrip("/") != self.issuer:
                raise SignInFailed(f"the discovery document names issuer {document.get('issuer')!r}")
            self._discovery = document
        return self._discovery

    async def start(self) -> tuple[str, dict[str, str]]:
        """The provider's authorisation URL, and what the session keeps until the person comes back."""
        pending = {"state": secrets.token_urlsafe(24), "nonce": secrets.token_urlsafe(24),
                   "verifier": secrets.token_urlsafe(48)}
        query = urlencode({"response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
                           "scope": self.scopes, "state": pending["state"], "nonce": pending["nonce"],
                           "code_challenge": challenge_of(pending["verifier"]), "code_challenge_method": "S256"})
        return f"{(await self.discovery())['authorization_endpoint']}?{query}", pending

    async def finish(self, pending: dict[str, str], *, code: str, state: str) -> Identity:
        if not pending or not secrets.compare_digest(pending.get("state", ""), state):
            raise SignInFailed("state does not match the sign-in this session started")
        document = await self.discovery()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri,
                "client_id": self.client_id, "code_verifier": pending["verifier"]}
        if self.client_secret:  # a confidential client authenticates; a public one has only the verifier
            r = await self.client.post(document["token_endpoint"], data=form,
                                       auth=(self.client_id, self.client_secret))
        else:
            r = await self.client.post(document["token_endpoint"], data=form)
        if r.status_code != 200:
            raise SignInFailed(f"the token endpoint answered {r.status_code}: {r.text[:200]}")
        tokens = r.json()
        claims = await self._id_claims(document, tokens.get("id_token", ""))
        if not secrets.compare_digest(str(claims.get("nonce", "")), pending["nonce"]):
            raise SignInFailed("the ID token's nonce is not this sign-in's")
        access = tokens.get("access_token")
        if not access:
            raise SignInFailed("no access token")
        # roles as the services read them: from the access token (a JWT the services verify themselves)
        roles = jwt.decode(access, options={"verify_signature": False}).get("roles") or []
        return Identity(subject=str(claims["sub"]), name=str(claims.get("name") or claims["sub"]),
                        roles=tuple(str(r) for r in roles), access_token=access)

    async def _id_claims(self, document: dict[str, Any], id_token: str) -> dict[str, Any]:
        if not id_token:
            raise SignInFailed("no ID token")
        try:
            kid = jwt.get_unverified_header(id_token).get("kid")
            key = await self._key(document["jwks_uri"], kid)
            return jwt.decode(id_token, key.key, algorithms=ALGORITHMS, audience=self.client_id,
                              issuer=document["issuer"], leeway=30, options={"require": ["exp", "iat", "sub"]})
        except jwt.PyJWTError as exc:
            raise SignInFailed(f"the ID token does not verify: {exc}") from exc

    async def _key(self, jwks_uri: str, kid: str | None) -> jwt.PyJWK:
        """The key ``kid`` names (any, where the token names none), from the JWKS kept or fetched again."""
        async with self._fetching:  # concurrent sign-ins share one fetch
            now = self.clock()
            if now >= self._expires or (self._find(kid) is None and now - self._fetched >= REFRESH_EVERY):
                await self._fetch(jwks_uri)
            found = self._find(kid)
        if found is None:
            raise SignInFailed(f"no key {kid!r} in the provider's JWKS (fetched again at most every "
                               f"{REFRESH_EVERY} s)")
        return found

    def _find(self, kid: str | None) -> jwt.PyJWK | None:
        return next((k for k in self._keys if kid is None or k.key_id == kid), None)

    async def _fetch(self, jwks_uri: str) -> None:
        self._fetched = self.clock()  # a failed fetch counts too: a provider down is not asked in a tight loop
        try:
            r = await self.client.get(jwks_uri)
        except httpx.HTTPError as exc:
            raise SignInFailed(f"the provider's JWKS is unreachable: {exc!r}") from exc
        if r.status_code != 200:
            raise SignInFailed(f"the provider's JWKS answered {r.status_code}")
        try:
            self._keys = list(jwt.PyJWKSet.from_dict(r.json()).keys)
        except (ValueError, jwt.PyJWTError) as exc:
            raise SignInFailed(f"the provider's JWKS is not one: {exc}") from exc
        age = re.search(r"max-age=(\d+)", r.headers.get("cache-control", ""))
        seconds = min(int(age.group(1)), JWKS_MAX_SECONDS) if age else JWKS_SECONDS
        self._expires = self._fetched + seconds
