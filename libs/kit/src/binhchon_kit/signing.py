"""Signed documents: Ed25519 over the RFC 8785 (JCS) form of a JSON object, with the key id alongside.

A signed document is ``{"certificate": {...}, "signature": {"alg": "EdDSA", "kid": ..., "value": base64url}}``.
Anyone holding the public key (``/.well-known/jwks.json``) can check it offline with ``binhchon-verify``.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from binhchon_kit.canonical import canonical_json
from binhchon_kit.private_files import write_once


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(public: Ed25519PublicKey) -> str:
    """A stable id for a public key: the first 16 hex digits of the SHA-256 of its raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519-" + hashlib.sha256(raw).hexdigest()[:16]


class Signer:
    def __init__(self, private: Ed25519PrivateKey) -> None:
        self.private = private
        self.public = private.public_key()
        self.kid = key_id(self.public)

    @classmethod
    def from_pem(cls, pem: bytes) -> Signer:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the signing key must be an Ed25519 private key (PEM, PKCS#8)")
        return cls(key)

    @classmethod
    def from_settings(cls, key_file: str, key_pem: str, dev_dir: Path, dev_file: str = "cert-signing-dev.pem"
                      ) -> Signer:
        """From a PEM file, else PEM text (an environment variable), else a dev key created once in ``dev_dir``."""
        if key_file:
            return cls.from_pem(Path(key_file).read_bytes())
        if key_pem:
            return cls.from_pem(key_pem.encode())
        path = dev_dir / dev_file
        if not path.exists():
            _create_key_file(path)
        return cls.from_pem(path.read_bytes())

    def sign(self, document: dict[str, Any]) -> str:
        return _b64(self.private.sign(canonical_json(document)))

    def sign_bytes(self, message: bytes) -> str:
        """Ed25519 over ``message`` itself, base64url without padding (an event's hash: binhchon_kit.trust)."""
        return _b64(self.private.sign(message))

    def jwk(self) -> dict[str, str]:
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw), "kid": self.kid, "alg": "EdDSA", "use": "sig"}


def _create_key_file(path: Path) -> None:
    """A new private key at ``path``, whole or not at all (``private_files.write_once``). Processes starting
    together (``make up``: four services, each also reading the others' development keys) may race to create the
    same key; the first wins and the others read its key, never a half-written file."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    write_once(path, pem)


def verify_bytes(public: Ed25519PublicKey, signature: str, message: bytes) -> bool:
    """Whether ``signature`` (base64url, as ``Signer.sign_bytes`` gives it) is ``public``'s over ``message``."""
    try:
        public.verify(_unb64(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def public_key_from_jwk(jwk: dict[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("not an Ed25519 JWK")
    return Ed25519PublicKey.from_public_bytes(_unb64(jwk["x"]))


def verify_document(signed: dict[str, Any], jwks: dict[str, Any], body_key: str = "certificate") -> tuple[bool, str]:
    """Check a signed document against a JWKS: (valid, why)."""
    signature = signed.get("signature") or {}
    keys = {k.get("kid"): k for k in jwks.get("keys", [])}
    jwk = keys.get(signature.get("kid"))
    if jwk is None:
        return False, f"no public key with id {signature.get('kid')!r}"
    if signature.get("alg") != "EdDSA":
        return False, f"unexpected algorithm {signature.get('alg')!r}"
    try:
        public_key_from_jwk(jwk).verify(_unb64(signature["value"]), canonical_json(signed[body_key]))
    except (InvalidSignature, KeyError, ValueError):
        return False, "the signature does not match the content: the document was altered or not signed by this key"
    return True, f"signed by key {jwk['kid']}"
