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

# A key verifies only tokens of its own algorithm (a JWK's `alg`, or the one its type implies): a token naming
# another algorithm is refused before any signature code runs (no RS256/HS256 confusion with an Ed25519 key).
ALGORITHMS = frozenset({"EdDSA", "RS256", "ES256"})


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
        self, *, keys: list[PyJWK] | None = None, jwks_url: str = "", issuer: str, audience: str,
        leeway_seconds: int = 30, max_lifetime_seconds: int = 24 * 3600,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("a token verifier needs an issuer and an audience")
        self.keys = keys or []
        self.jwks_client = PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway_seconds
        self.max_lifetime = max_lifetime_seconds

    @classmethod
    def from_file(cls, path: str | Path, *, issuer: str, audience: str, leeway_seconds: int = 30,
                  max_lifetime_seconds: int = 24 * 3600) -> TokenVerifier:
        """A PEM public key, or a JWKS document ({"keys": [...]})."""
        text = Path(path).read_text()
        if text.lstrip().startswith("{"):
            keys = [PyJWK(k) for k in json.loads(text)["keys"]]
        else:
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            public = load_pem_public_key(text.encode())
            jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(public))  # type: ignore[arg-type]
            keys = [PyJWK(jwk, algorithm="EdDSA")]
        return cls(keys=keys, issuer=issuer, audience=audience, leeway_seconds=leeway_seconds,
                   max_lifetime_seconds=max_lifetime_seconds)

    def _key_for(self, token: str) -> PyJWK:
        if self.jwks_client is not None:
            return self.jwks_client.get_signing_key_from_jwt(token)
        kid = jwt.get_unverified_header(token).get("kid")
        for key in self.keys:
            if kid is None or key.key_id in (None, kid):
                return key
        raise InvalidToken(f"no configured key with id {kid!r}")

    def verify(self, token: str) -> Principal:
        """The token's principal, or InvalidToken naming the failed check (for logs; callers answer only
        "invalid token"). Any failure to verify is an InvalidToken, whatever the library raised."""
        try:
            key = self._key_for(token)
            algorithm = key.algorithm_name
            if algorithm not in ALGORITHMS:
                raise InvalidToken(f"key algorithm {algorithm} is not accepted")
            if jwt.get_unverified_header(token).get("alg") != algorithm:
                raise InvalidToken(f"the token's alg is not the key's ({algorithm})")
            claims = jwt.decode(
                token, key.key, algorithms=[algorithm], issuer=self.issuer, audience=self.audience,
                leeway=self.leeway, options={"require": ["exp", "sub", "iss", "aud", "iat"]},
            )
        except InvalidToken:
            raise
        except Exception as exc:  # a malformed token may break the library anywhere: it is still only invalid
            raise InvalidToken(str(exc) or type(exc).__name__) from exc
        lifetime = _seconds(claims["exp"]) - _seconds(claims["iat"])
        if lifetime > self.max_lifetime:
            raise InvalidToken(f"lifetime {lifetime:.0f}s exceeds the maximum {self.max_lifetime}s")
        roles = set()
        for name in claims.get("roles", []):
            try:
                roles.add(Role(name))
            except ValueError:
                continue  # roles of other systems are ignored, not trusted
        return Principal(subject=str(claims["sub"]), roles=frozenset(roles), name=claims.get("name"),
                         authorities=_authorities(claims.get("authorities")))


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken("exp and iat must be numbers")
    return float(value)


def _authorities(claim: Any) -> frozenset[str]:
    """The authority ids a token names; a claim of any other shape names none (acts for no one)."""
    return frozenset(a for a in claim if isinstance(a, str)) if isinstance(claim, list) else frozenset()
