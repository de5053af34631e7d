"""`make up`'s services ask intake for keys with a token of 23 h (under the verifier's maximum lifetime): the
local stack's keeper (``binhchon-devtoken keep``) renews each token file once a third of its life is left, with a
token of the same life, never a longer one, so a stack left running for days keeps working. The clock injected."""

from __future__ import annotations

import stat
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit.auth.devtoken import KeptToken, keep, keep_fresh, renewal_due
from binhchon_kit.personal_keys import token_from_file

HOUR = 3600.0
T0 = 1_800_000_000.0  # the stack's start (2027-01-15), not the machine's now


def keys() -> tuple[bytes, Ed25519PrivateKey]:
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()), key


def claims(token: str, key: Ed25519PrivateKey) -> dict[str, object]:
    """The token's claims, its signature checked (expiry is the clock's business here, not the machine's)."""
    return jwt.decode(token, key.public_key(), algorithms=["EdDSA"], audience="binhchon",
                      options={"verify_exp": False, "verify_iat": False})


def test_a_kept_token_is_renewed_before_it_expires_never_longer_lived(tmp_path: Path) -> None:
    pem, key = keys()
    path = tmp_path / "credentials" / "notify-service.token"
    kept = [KeptToken.parse(f"{path}=notify:service", hours=23)]
    read = token_from_file(str(path))  # what notify's key client calls at each request

    assert keep_fresh(pem, kept, T0) == [path], "no file yet: made"
    first = read()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    made = claims(first, key)
    assert (made["sub"], made["roles"], made["iat"], made["exp"]) == ("notify", ["service"], T0, T0 + 23 * HOUR)

    assert keep_fresh(pem, kept, T0 + 15 * HOUR) == [] and read() == first, "two thirds of its life: kept"
    renewed_at = T0 + 15.5 * HOUR  # less than a third (7 h 40) left
    assert keep_fresh(pem, kept, renewed_at) == [path]
    second = read()
    assert second != first
    fresh = claims(second, key)
    assert (fresh["sub"], fresh["roles"], fresh["iat"]) == ("notify", ["service"], renewed_at)
    assert fresh["exp"] - fresh["iat"] == 23 * HOUR, "the same life, never a longer one"
    assert fresh["exp"] > made["exp"], "live past the first token's expiry"

    # a week of a stack left running, checked every 5 minutes: the file never holds an expired token
    ticks = iter(T0 + 15.5 * HOUR + n * 300 for n in range(7 * 24 * 12))
    now = [0.0]

    def clock() -> float:
        now[0] = next(ticks)
        return now[0]

    def check(_: float) -> None:
        assert claims(read(), key)["exp"] > now[0] + 23 * HOUR / 3 - 300  # renewed with hours to spare

    keep(pem, kept, every=300, clock=clock, sleep=check, rounds=7 * 24 * 12)


def test_an_unreadable_token_is_due_and_a_bad_spec_is_refused(tmp_path: Path) -> None:
    assert renewal_due("not a token", T0)
    pem, _ = keys()
    path = tmp_path / "t.token"
    path.write_text("garbage")
    assert keep_fresh(pem, [KeptToken(path, "scoring", ("service",), 23)], T0) == [path]
    for spec in ("no-equals", f"{path}=scoring", f"{path}=:service"):
        with pytest.raises(ValueError, match="expected FILE=SUB:ROLE"):
            KeptToken.parse(spec, 23)
