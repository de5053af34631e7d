"""Bearer tokens: who is calling and in which roles, trusted only when our issuer signed them for us."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from jwt.algorithms import OKPAlgorithm

from binhchon_kit.auth.devtoken import KEY_ID, ensure_keys, mint
from binhchon_kit.auth.roles import Role
from binhchon_kit.auth.tokens import InvalidToken, Principal, TokenVerifier

ISSUER, AUDIENCE = "binhchon-dev", "binhchon"


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return ensure_keys(tmp_path / "dev-keys")


@pytest.fixture
def verifier(keys: tuple[Path, Path]) -> TokenVerifier:
    return TokenVerifier.from_file(keys[1], issuer=ISSUER, audience=AUDIENCE)


def token(keys: tuple[Path, Path], subject: str = "secretariat-1", roles: tuple[str, ...] = ("secretariat",),
          **over: Any) -> str:
    return mint(keys[0].read_bytes(), subject=subject, roles=list(roles), **over)


def jwks_file(directory: Path, public_pem: Path, **extra: str) -> Path:
    jwk = json.loads(OKPAlgorithm.to_jwk(load_pem_public_key(public_pem.read_bytes())))  # type: ignore[arg-type]
    path = directory / "jwks.json"
    path.write_text(json.dumps({"keys": [{**jwk, **extra}]}))
    return path


def test_ensure_keys_is_idempotent(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    private = keys[0].read_bytes()
    assert ensure_keys(tmp_path / "dev-keys") == keys
    assert keys[0].read_bytes() == private


def test_a_minted_token_gives_the_subject_roles_and_name(
    keys: tuple[Path, Path], verifier: TokenVerifier
) -> None:
    principal = verifier.verify(token(keys, "judge-3", ("judge", "council_chair"), name="Trần Thị Hoà"))

    assert principal == Principal(subject="judge-3", roles=frozenset({Role.JUDGE, Role.COUNCIL_CHAIR}),
                                  name="Trần Thị Hoà")
    assert principal.has(Role.JUDGE, Role.ADMIN)
    assert not principal.has(Role.SECRETARIAT)


def test_roles_of_other_systems_are_dropped(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    principal = verifier.verify(token(keys, roles=("secretariat", "mayor", "ADMIN", "")))
    assert principal.roles == frozenset({Role.SECRETARIAT})


def test_the_actor_carries_the_role_names_sorted(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    principal = verifier.verify(token(keys, "officer-9", ("secretariat", "admin", "judge")))
    actor = principal.actor
    assert actor.id == "officer-9"
    assert actor.roles == ("admin", "judge", "secretariat")


def test_an_expired_token_is_refused(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match=r"(?i)expired"):
        verifier.verify(token(keys, hours=-1))


def test_a_token_for_another_audience_is_refused(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match=r"(?i)audience"):
        verifier.verify(token(keys, audience="dichvucong"))


def test_a_token_from_another_issuer_is_refused(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    with pytest.raises(InvalidToken, match=r"(?i)issuer"):
        verifier.verify(token(keys, issuer="someone-else"))


def test_a_token_signed_by_another_key_is_refused(tmp_path: Path, verifier: TokenVerifier) -> None:
    stranger = ensure_keys(tmp_path / "stranger")
    with pytest.raises(InvalidToken, match=r"(?i)signature"):
        verifier.verify(token(stranger))


def test_a_token_without_a_subject_is_refused(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    private = load_pem_private_key(keys[0].read_bytes(), password=None)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": 4_102_444_800, "roles": ["admin"]}
    nobody = jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": KEY_ID})  # type: ignore[arg-type]
    with pytest.raises(InvalidToken, match="sub"):
        verifier.verify(nobody)


@pytest.mark.parametrize("garbage", ["", "not-a-token", "a.b.c"])
def test_garbage_is_refused(verifier: TokenVerifier, garbage: str) -> None:
    with pytest.raises(InvalidToken):
        verifier.verify(garbage)


@pytest.mark.parametrize("extra", [{}, {"kid": KEY_ID}], ids=["without-kid", "with-kid"])
def test_a_jwks_file_works_like_a_pem_file(
    tmp_path: Path, keys: tuple[Path, Path], extra: dict[str, str]
) -> None:
    jwks = jwks_file(tmp_path, keys[1], **extra)
    verifier = TokenVerifier.from_file(jwks, issuer=ISSUER, audience=AUDIENCE)
    assert verifier.verify(token(keys, "applicant-5", ("applicant",))).roles == frozenset({Role.APPLICANT})


def test_a_jwks_file_without_the_token_key_id_refuses(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    verifier = TokenVerifier.from_file(jwks_file(tmp_path, keys[1], kid="another-key"), issuer=ISSUER,
                                       audience=AUDIENCE)
    with pytest.raises(InvalidToken, match=KEY_ID):
        verifier.verify(token(keys))


# ---- issue 13: the algorithm is the key's, the lifetime bounded, every failure an InvalidToken ----------------

def _rsa_token(claims: dict[str, Any]) -> str:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return jwt.encode(claims, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256",
                      headers={"kid": KEY_ID})


def _claims(**over: Any) -> dict[str, Any]:
    return {"sub": "mallory", "roles": ["admin"], "iss": ISSUER, "aud": AUDIENCE, "iat": 4_000_000_000,
            "exp": 4_000_003_600, **over}


def test_a_token_whose_alg_is_not_the_keys_is_refused(verifier: TokenVerifier) -> None:
    # the outside probe's RS256 token reached a 500 through the library's key handling
    with pytest.raises(InvalidToken, match="alg"):
        verifier.verify(_rsa_token(_claims()))


def test_hs256_signed_with_the_public_key_is_refused(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    import base64
    import hashlib
    import hmac

    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(_claims()).encode()).rstrip(b"=")
    mac = hmac.new(keys[1].read_bytes(), header + b"." + body, hashlib.sha256).digest()
    forged = b".".join([header, body, base64.urlsafe_b64encode(mac).rstrip(b"=")]).decode()
    with pytest.raises(InvalidToken, match="alg"):
        verifier.verify(forged)


def test_a_token_living_longer_than_the_maximum_is_refused(keys: tuple[Path, Path]) -> None:
    verifier = TokenVerifier.from_file(keys[1], issuer=ISSUER, audience=AUDIENCE, max_lifetime_seconds=3600)
    assert verifier.verify(token(keys, hours=1)).subject == "secretariat-1"
    with pytest.raises(InvalidToken, match="lifetime"):
        verifier.verify(token(keys, hours=10 * 365 * 24))


def test_a_token_without_iat_is_refused(keys: tuple[Path, Path], verifier: TokenVerifier) -> None:
    private = load_pem_private_key(keys[0].read_bytes(), password=None)
    claims = {k: v for k, v in _claims().items() if k != "iat"}
    no_iat = jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": KEY_ID})  # type: ignore[arg-type]
    with pytest.raises(InvalidToken, match="iat"):
        verifier.verify(no_iat)


def test_expiry_has_only_the_configured_leeway(keys: tuple[Path, Path]) -> None:
    verifier = TokenVerifier.from_file(keys[1], issuer=ISSUER, audience=AUDIENCE, leeway_seconds=30)
    with pytest.raises(InvalidToken, match=r"(?i)expired"):
        verifier.verify(token(keys, hours=-60 / 3600))  # a minute past expiry: beyond 30 s of leeway


def test_a_verifier_needs_an_issuer_and_an_audience(keys: tuple[Path, Path]) -> None:
    with pytest.raises(ValueError, match="issuer"):
        TokenVerifier.from_file(keys[1], issuer="", audience=AUDIENCE)
