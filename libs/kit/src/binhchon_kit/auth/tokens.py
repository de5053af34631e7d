"""Verifying bearer tokens against configured public keys (a PEM/JWKS file or a JWKS URL)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from jwt import PyJWK, PyJWKClient

from binhchon_kit.auth.roles import Role
from binhchon_kit.events import Actor

ALGORITHMS = ["EdDSA", "RS256", "ES256"]


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role]
    name: str | None = None
    # the competent authorities an approver acts for (claim ``authorities``, ids as binhchon_kit.authorities)
    authorities: frozenset[str] = frozenset()

    def has(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def actor(self) -> Actor:
        return Actor(self.subject, tuple(sorted(r.value for r in self.roles)))


class TokenVerifier:
    def __init__(
        self, *, keys: list[PyJWK] | None = None, jwks_url: str = "", issuer: str, audience: str
    ) -> None:
        self.keys = keys or []
        self.jwks_client = PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None
        self.issuer = issuer
        self.audience = audience

    @classmethod
    def from_file(cls, path: str | Path, *, issuer: str, audience: str) -> TokenVerifier:
        """A PEM public key, or a JWKS document ({"keys": [...]})."""
        text = Path(path).read_text()
        if text.lstrip().startswith("{"):
            keys = [PyJWK(k) for k in json.loads(text)["keys"]]
        else:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            public = load_pem_public_key(text.encode())
            jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(public))  # type: ignore[arg-type]
            keys = [PyJWK(jwk, algorithm="EdDSA")]
        return cls(keys=keys, issuer=issuer, audience=audience)

    def _key_for(self, token: str) -> Any:
        if self.jwks_client is not None:
            return self.jwks_client.get_signing_key_from_jwt(token).key
        kid = jwt.get_unverified_header(token).get("kid")
        for key in self.keys:
            if kid is None or key.key_id in (None, kid):
                return key.key
        raise InvalidToken(f"no configured key with id {kid!r}")

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token, self._key_for(token), algorithms=ALGORITHMS, issuer=self.issuer, audience=self.audience,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        roles = set()
        for name in claims.get("roles", []):
            try:
                roles.add(Role(name))
            except ValueError:
                continue  # roles of other systems are ignored, not trusted
        return Principal(subject=str(claims["sub"]), roles=frozenset(roles), name=claims.get("name"),
                         authorities=_authorities(claims.get("authorities")))


def _authorities(claim: Any) -> frozenset[str]:
    """The authority ids a token names; a claim of any other shape names none (acts for no one)."""
    return frozenset(a for a in claim if isinstance(a, str)) if isinstance(claim, list) else frozenset()
