"""Development tokens: an Ed25519 key kept outside the repo, and tokens minted from it for `make up` and demos.

    binhchon-devtoken keys                       create the dev key pair (idempotent), print the public key path
    binhchon-devtoken mint --sub u1 --role secretariat [--role judge] [--hours 12]
    binhchon-devtoken mint --sub ubnd-bg --role approver --authority province:24
    binhchon-devtoken keep [--once] [--every 300] [--hours 23] FILE=SUB:ROLE ...
                                                 keep each FILE holding a live token: a new one (never longer
                                                 lived) replaces it once a third of its life is left
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit.auth.roles import Role

KEY_ID = "binhchon-dev-1"


def key_dir() -> Path:
    base = os.environ.get("BINHCHON_DEV_KEYS") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "binhchon", "dev-keys"
    )
    return Path(base)


def ensure_keys(directory: Path | None = None) -> tuple[Path, Path]:
    directory = directory or key_dir()
    private, public = directory / "dev-private.pem", directory / "dev-public.pem"
    if not private.exists():
        directory.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        private.chmod(0o600)
        public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def mint(
    private_pem: bytes, *, subject: str, roles: list[str], hours: float = 12, issuer: str = "binhchon-dev",
    audience: str = "binhchon", name: str | None = None, authorities: list[str] | None = None,
    at: float | None = None,
) -> str:
    """``at``: when it is issued (seconds since the epoch; default now)."""
    now = int(time.time() if at is None else at)
    claims = {"sub": subject, "roles": roles, "iss": issuer, "aud": audience, "iat": now,
              "exp": now + int(hours * 3600), "jti": str(uuid.uuid4())}
    if name:
        claims["name"] = name
    if authorities:
        claims["authorities"] = list(authorities)  # who an approver acts for (ADR 0029)
    key = serialization.load_pem_private_key(private_pem, password=None)
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": KEY_ID})  # type: ignore[arg-type]


RENEW_WHEN_LEFT = 1 / 3  # of a kept token's life: renewed with hours to spare, whatever checks it at what pace


@dataclass(frozen=True)
class KeptToken:
    """A service's token file the local stack keeps live (``make up``): the service reads it at each use
    (``personal_keys.token_from_file``), so a token renewed here is the one its next request carries."""

    path: Path
    subject: str
    roles: tuple[str, ...]
    hours: float

    @classmethod
    def parse(cls, spec: str, hours: float) -> KeptToken:
        """``FILE=SUB:ROLE[,ROLE]``."""
        path, _, holder = spec.partition("=")
        subject, _, roles = holder.partition(":")
        if not path or not subject or not roles:
            raise ValueError(f"{spec!r}: expected FILE=SUB:ROLE")
        return cls(Path(path), subject, tuple(roles.split(",")), hours)


def renewal_due(token: str, now: float, left: float = RENEW_WHEN_LEFT) -> bool:
    """Whether ``token`` has less than ``left`` of its life (``exp - iat``) to run at ``now``; an unreadable one is
    due. Read without checking the signature: this only decides when to mint, never whom to trust."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        issued, expires = float(claims["iat"]), float(claims["exp"])
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return True
    return now >= expires - (expires - issued) * left


def keep_fresh(private_pem: bytes, kept: list[KeptToken], now: float, mode: int = 0o600) -> list[Path]:
    """Each kept file whose token is missing or due for renewal at ``now`` gets a new one, minted at ``now`` for
    the same ``hours`` (never a longer-lived one), written whole before it replaces the old (a reader sees one
    or the other); the files renewed."""
    renewed = []
    for token in kept:
        try:
            due = renewal_due(token.path.read_text().strip(), now)
        except OSError:
            due = True
        if not due:
            continue
        fresh = mint(private_pem, subject=token.subject, roles=list(token.roles), hours=token.hours, at=now)
        token.path.parent.mkdir(parents=True, exist_ok=True)
        # a name of its own (mkstemp: 0600, created exclusively): two keepers renewing at once never write into
        # each other's file, and each replace is of a whole token
        descriptor, name = tempfile.mkstemp(prefix=f".{token.path.name}.", suffix=".new", dir=token.path.parent)
        partial = Path(name)
        with os.fdopen(descriptor, "w") as out:
            out.write(fresh + "\n")
        os.chmod(partial, mode)  # 0o644 where a container's user reads it (compose)
        os.replace(partial, token.path)
        renewed.append(token.path)
    return renewed


def keep(private_pem: bytes, kept: list[KeptToken], *, every: float, clock: Callable[[], float] = time.time,
         sleep: Callable[[float], None] = time.sleep, rounds: int | None = None, mode: int = 0o600) -> None:
    """``keep_fresh`` every ``every`` seconds (``rounds`` times, or for ever)."""
    done = 0
    while rounds is None or done < rounds:
        keep_fresh(private_pem, kept, clock(), mode)
        done += 1
        if rounds is None or done < rounds:
            sleep(every)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("keys")
    m = sub.add_parser("mint")
    m.add_argument("--sub", required=True)
    m.add_argument("--role", action="append", choices=[r.value for r in Role], required=True)
    m.add_argument("--name")
    m.add_argument("--authority", action="append", default=[],
                   help="an authority the holder acts for, e.g. province:24 (approvers)")
    m.add_argument("--hours", type=float, default=12)
    k = sub.add_parser("keep", help="keep token files live: renew each before it expires")
    k.add_argument("tokens", nargs="+", metavar="FILE=SUB:ROLE")
    k.add_argument("--hours", type=float, default=23, help="each token's life (under AUTH_MAX_TOKEN_LIFETIME)")
    k.add_argument("--every", type=float, default=300, help="seconds between checks")
    k.add_argument("--once", action="store_true", help="one pass (the stack's first, before the services start)")
    k.add_argument("--mode", type=lambda text: int(text, 8), default=0o600,
                   help="the files' permissions, octal (644 where a container's user reads them)")
    args = parser.parse_args(argv)
    private, public = ensure_keys()
    if args.command == "keys":
        print(public)
    elif args.command == "keep":
        kept = [KeptToken.parse(spec, args.hours) for spec in args.tokens]
        keep(private.read_bytes(), kept, every=args.every, rounds=1 if args.once else None, mode=args.mode)
    else:
        print(mint(private.read_bytes(), subject=args.sub, roles=args.role, hours=args.hours, name=args.name,
                   authorities=args.authority))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
