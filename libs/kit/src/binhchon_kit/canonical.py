"""Canonical JSON (RFC 8785) and the per-stream hash chain that makes tampering with the log detectable.

Two hash schemes, named by the CloudEvent extension attribute ``hashalg`` (docs/adr/0021):

- ``HASH_ALG`` (``cloudevent-jcs-sha256``, every event recorded since): SHA-256 over the RFC 8785 form of the
  published CloudEvent's ``HASHED_ATTRIBUTES``, ``prevhash`` and ``hashalg`` among them. An agency recomputes it
  from the JSON it reads off a topic with any JCS library, nothing of ours.
- ``LEGACY_HASH_ALG`` (events without ``hashalg``, recorded before): SHA-256 over the previous hash's hex and the
  RFC 8785 form of the store's own field names (``events.hashed_content``). Kept only to verify those events:
  history is never rewritten.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import rfc8785

GENESIS_HASH = "0" * 64
HASH_ALG = "cloudevent-jcs-sha256"
LEGACY_HASH_ALG = "store-fields-v1"  # never on the wire: an event without ``hashalg`` is hashed this way

# The attributes ``HASH_ALG`` covers: every attribute the services publish but ``hash`` itself. Anything else on a
# received event (``traceparent`` added on the way, an extension of a later scheme) is not hashed: a new hashed
# attribute needs a new ``hashalg`` value.
HASHED_ATTRIBUTES = (
    "specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "data",
    "correlationid", "causationid", "actorid", "actorroles", "streamid", "streamversion", "prevhash", "hashalg",
)


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 (JCS) serialisation of a JSON value: the bytes that hashes and signatures cover."""
    return rfc8785.dumps(value)


def hashed_attributes(cloudevent: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a CloudEvent (as a JSON object) that ``HASH_ALG`` covers."""
    return {name: cloudevent[name] for name in HASHED_ATTRIBUTES if name in cloudevent}


def cloudevent_hash(cloudevent: Mapping[str, Any]) -> str:
    """``HASH_ALG``: SHA-256 (hex) of the RFC 8785 form of the CloudEvent's hashed attributes. ``prevhash`` is one
    of them, so the hash commits to the whole stream before the event."""
    return hashlib.sha256(canonical_json(hashed_attributes(cloudevent))).hexdigest()


def chain_hash(prev_hash: str, content: dict[str, Any]) -> str:
    """``LEGACY_HASH_ALG``: SHA-256 over the previous event's hash and this event's canonical content."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(canonical_json(content))
    return digest.hexdigest()
