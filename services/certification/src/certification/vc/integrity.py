"""Data Integrity proofs with the ``eddsa-rdfc-2022`` cryptosuite (W3C vc-di-eddsa): Ed25519 over
SHA-256(canonical proof options) ‖ SHA-256(canonical document), both canonicalised with RDFC-1.0, the signature
as multibase base58btc (``z…``). pyld's URDNA2015 is RDFC-1.0 for documents without control characters in their
strings, which credentials never carry (``credentials.plain`` takes them out)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pyld import jsonld

from certification.vc.contexts import document_loader

CRYPTOSUITE = "eddsa-rdfc-2022"
ED25519_PUBLIC_KEY = b"\xed\x01"  # the multicodec prefix of an Ed25519 public key (Multikey)
_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

Loader = Callable[[str, Any], dict[str, Any]]


def base58btc(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = ""
    while number:
        number, digit = divmod(number, 58)
        digits = _ALPHABET[digit] + digits
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + digits


def from_base58btc(text: str) -> bytes:
    number = 0
    for char in text:
        number = number * 58 + _ALPHABET.index(char)
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def multikey(public: Ed25519PublicKey) -> str:
    """The key's ``publicKeyMultibase``: ``z`` + base58btc(0xed01 ‖ the 32 raw bytes)."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + base58btc(ED25519_PUBLIC_KEY + raw)


def public_key_of(multibase: str) -> Ed25519PublicKey:
    decoded = from_base58btc(multibase.removeprefix("z"))
    if not multibase.startswith("z") or not decoded.startswith(ED25519_PUBLIC_KEY):
        raise ValueError("not an Ed25519 Multikey")
    return Ed25519PublicKey.from_public_bytes(decoded[len(ED25519_PUBLIC_KEY):])


def canonical(document: dict[str, Any], loader: Loader = document_loader) -> str:
    """The document's RDFC-1.0 N-Quads."""
    return str(jsonld.normalize(document, {"algorithm": "URDNA2015", "format": "application/n-quads",
                                           "documentLoader": loader, "base": None}))


def _hash_data(document: dict[str, Any], options: dict[str, Any], loader: Loader) -> bytes:
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    config = {"@context": document["@context"], **{k: v for k, v in options.items() if k != "proofValue"}}
    return (hashlib.sha256(canonical(config, loader).encode()).digest()
            + hashlib.sha256(canonical(unsigned, loader).encode()).digest())


def prove(document: dict[str, Any], private: Ed25519PrivateKey, verification_method: str,
          created: str | None = None, loader: Loader = document_loader) -> dict[str, Any]:
    """The document with a DataIntegrityProof for the assertion purpose (an issuer states what it says)."""
    options: dict[str, Any] = {"type": "DataIntegrityProof", "cryptosuite": CRYPTOSUITE}
    if created is not None:
        options["created"] = created
    options |= {"verificationMethod": verification_method, "proofPurpose": "assertionMethod"}
    signature = private.sign(_hash_data(document, options, loader))
    return {**document, "proof": {**options, "proofValue": "z" + base58btc(signature)}}


def verified(document: dict[str, Any], public: Ed25519PublicKey, loader: Loader = document_loader) -> bool:
    """Whether the document's proof is ``public``'s over what the document says now (ours: tests and tools)."""
    proof = document.get("proof") or {}
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        return False
    try:
        public.verify(from_base58btc(str(proof["proofValue"]).removeprefix("z")),
                      _hash_data(document, proof, loader))
    except (InvalidSignature, KeyError, ValueError):
        return False
    return True
