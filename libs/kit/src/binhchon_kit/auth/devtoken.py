"""Development tokens: an Ed25519 key kept outside the repo, and tokens minted from it for `make up` and demos.

    binhchon-devtoken keys                       create the dev key pair (idempotent), print the public key path
    binhchon-devtoken mint --sub u1 --role secretariat [--role judge] [--hours 12]
    binhchon-devtoken mint --sub ubnd-bg --role approver --authority province:24
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
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
) -> str:
    now = int(time.time())
    claims = {"sub": subject, "roles": roles, "iss": issuer, "aud": audience, "iat": now,
              "exp": now + int(hours * 3600), "jti": str(uuid.uuid4())}
    if name:
        claims["name"] = name
    if authorities:
        claims["authorities"] = list(authorities)  # who an approver acts for (ADR 0029)
    key = serialization.load_pem_private_key(private_pem, password=None)
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": KEY_ID})  # type: ignore[arg-type]


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
    args = parser.parse_args(argv)
    private, public = ensure_keys()
    if args.command == "keys":
        print(public)
    else:
        print(mint(private.read_bytes(), subject=args.sub, roles=args.role, hours=args.hours, name=args.name,
                   authorities=args.authority))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
