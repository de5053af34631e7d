"""Canonical JSON (RFC 8785) and the per-stream hash chain that makes tampering with the log detectable."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 (JCS) serialisation of a JSON value: the bytes that hashes and signatures cover."""
    return rfc8785.dumps(value)


def chain_hash(prev_hash: str, content: dict[str, Any]) -> str:
    """SHA-256 over the previous event's hash and this event's canonical content."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(canonical_json(content))
    return digest.hexdigest()
