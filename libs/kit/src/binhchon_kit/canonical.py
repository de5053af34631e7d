"""Canonical JSON (RFC 8785) and the per-stream hash chain that makes tampering with the log detectable.

Two hash schemes, named by the CloudEvent extension attribute ``hashalg`` (docs/adr/0021):

- ``HASH_ALG`` (``cloudevent-jcs-sha256``, every event recorded since): SHA-256 over the RFC 8785 form of the
  published CloudEvent's ``HASHED_ATTRIBUTES``, ``prevhash`` and ``hashalg`` among them. An agency recomputes it
  from the JSON it reads off a topic with any JCS library, nothing of ours.
- ``LEGACY_HASH_ALG`` (events without ``hashalg``, recorded before): SHA-256 over the previous hash's hex and the
  RFC 8785 form of the store's own field names (``events.hashed_content``). Kept only to verify those events:
  history is never rewritten.

``canonical_json`` is RFC 8785 as the ``rfc8785`` package writes it, byte for byte, but fast: values made only of
what the standard library's C encoder writes exactly as RFC 8785 does go through it, the rest through ``rfc8785``
(see ``_jcs_ready``; a property test compares the two over arbitrary JSON values).
"""

from __future__ import annotations

import hashlib
import json
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


_SAFE_INT = 2**53 - 1  # RFC 8785 (and ``rfc8785``) refuse integers an IEEE 754 double cannot hold exactly
_BMP_END = "\uffff"
_UNSAFE = object()  # what ``_jcs_ready`` answers for a value only ``rfc8785`` may write
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True, check_circular=False,
                           allow_nan=False).encode


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 (JCS) serialisation of a JSON value: the bytes that hashes and signatures cover.

    The C encoder (``sort_keys``, compact separators, UTF-8 left as is) writes RFC 8785 exactly for the values
    ``_jcs_ready`` accepts; anything else (a float in exponent form, a huge integer, a key beyond the BMP, a
    subclass, a lone surrogate, which UTF-8 cannot encode) is ``rfc8785``'s to write or refuse."""
    try:
        ready = _jcs_ready(value)
        if ready is not _UNSAFE:
            return _encode(ready).encode("utf-8")
    except (RecursionError, UnicodeEncodeError):
        pass  # too deep for the walk, or a lone surrogate: rfc8785 answers (or refuses) as it does
    return rfc8785.dumps(value)


def _jcs_ready(value: Any) -> Any:
    """``value`` as the C encoder writes exactly as RFC 8785 does (the same object when nothing needs changing,
    a copy where integral floats become integers), or ``_UNSAFE``. What differs, and is therefore left out:
    - numbers: RFC 8785 writes them as ECMAScript does. Both print the shortest digits that read back as the same
      double (``rfc8785`` formats ``repr``'s own digits), so only the form differs: an integral float is an
      integer in ECMAScript (``97.0`` is ``97``: written from ``int``, within ±(2^53 - 1), where the integer is
      exactly those digits); ``repr`` writes fixed notation from 1e-4 to 1e16, ECMAScript from 1e-6 to 1e21, so
      other floats in [1e-4, 1e16) are the same text, and the rest (``1e-05``, ``1e+16``, NaN, infinities) are
      left out; integers outside ±(2^53 - 1) are refused by RFC 8785 (and ``rfc8785``);
    - keys beyond the BMP: RFC 8785 sorts keys by UTF-16 code units, Python by code points; the two orders agree
      unless a character above U+FFFF (a surrogate pair in UTF-16) meets one of U+E000..U+FFFF at the first
      difference, so any key holding a character above U+FFFF is left out;
    - anything but exact ``dict`` (string keys), ``list``, ``tuple``, ``str``, ``int``, ``float``, ``bool`` and
      ``None``.
    Strings need nothing: both escape exactly ``"``, ``\\``, ``\\b \\f \\n \\r \\t`` and the other controls
    below U+0020 as lowercase ``\\u00xx``, and write everything else (DEL, U+2028/2029, non-ASCII) as UTF-8."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        return value if -_SAFE_INT <= value <= _SAFE_INT else _UNSAFE
    if kind is float:
        if value.is_integer():
            return int(value) if -_SAFE_INT <= value <= _SAFE_INT else _UNSAFE
        return value if 1e-4 <= abs(value) < 1e16 else _UNSAFE  # NaN and infinities compare false
    if kind is dict:
        copy: dict[str, Any] | None = None
        for key, item in value.items():
            if type(key) is not str or (not key.isascii() and max(key) > _BMP_END):
                return _UNSAFE
            ready = _jcs_ready(item)
            if ready is not item:
                if ready is _UNSAFE:
                    return _UNSAFE
                if copy is None:
                    copy = dict(value)
                copy[key] = ready
        return value if copy is None else copy
    if kind is list or kind is tuple:
        items: list[Any] | None = None
        for index, item in enumerate(value):
            ready = _jcs_ready(item)
            if ready is not item:
                if ready is _UNSAFE:
                    return _UNSAFE
                if items is None:
                    items = list(value)
                items[index] = ready
        return value if items is None else items
    return _UNSAFE


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
