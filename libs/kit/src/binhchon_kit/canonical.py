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
(see ``_jcs_ready``; a property test compares the two over arbitrary JSON values). A value just read from JSON text
by ``read_json`` (``exact``) is written by orjson instead, checked and fixed as ``_orjson_jcs`` says (another
property test), several times faster again: what an auditor replaying the whole log spends its time on.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

import orjson
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


def read_json(text: bytes) -> tuple[Any, bool]:
    """The value of a JSON text, as ``json.loads`` reads it, and whether it is ``exact``: read by orjson (several
    times faster), so it holds only JSON's own types (``dict`` with ``str`` keys, ``list``, ``str``, ``int``,
    finite ``float``, ``bool``, ``None``), which ``canonical_json(..., exact=True)`` needs. ``json.loads`` reads
    what orjson refuses (NaN, infinities, lone surrogates, other encodings than UTF-8) or may read otherwise (a
    number of 19 digits or more, which orjson makes a float beyond 64 bits); the answer is then not exact."""
    marked = text.translate(_NUMBER_START)  # (the text's start as one: ``_LONG_NUMBER`` without its colon)
    if _LONG_NUMBER not in marked and not marked.startswith(_LONG_NUMBER[1:]):
        try:
            return orjson.loads(text), True
        except orjson.JSONDecodeError:
            pass
    return json.loads(text), False


def canonical_json(value: Any, *, exact: bool = False) -> bytes:
    """The RFC 8785 (JCS) serialisation of a JSON value: the bytes that hashes and signatures cover.

    ``exact``: ``value`` is (a part of) what ``read_json`` answered exact for: orjson writes it (``_orjson_jcs``).

    The C encoder (``sort_keys``, compact separators, UTF-8 left as is) writes RFC 8785 exactly for the values
    ``_jcs_ready`` accepts; anything else (a float in exponent form, a huge integer, a key beyond the BMP, a
    subclass, a lone surrogate, which UTF-8 cannot encode) is ``rfc8785``'s to write or refuse."""
    if exact:
        written = _orjson_jcs(value)
        if written is not None:
            return written
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


# A number of 19 digits or more, as what may start one (a colon, comma, bracket or space, the text's start) then
# digits: each of those bytes made one, found by one search (in a string too: only a slower read follows).
_NUMBER_START = bytes.maketrans(b"0123456789,[ \t\r\n-", b"DDDDDDDDDD:::::::")
_LONG_NUMBER = b":" + b"D" * 19
_INTEGRAL_FLOAT = re.compile(rb"\.0(?=[,\]}])(?<=\d\.0)")  # the .0 of 97.0 followed by , ] or }


def _beyond_bmp(written: bytes) -> bool:
    """Whether ``written`` holds a character beyond the BMP: one of UTF-8's lead bytes 0xF0..0xF4 (five searches
    written out: a generator over them cost more than the searches, on every event an auditor hashes)."""
    return (b"\xf0" in written or b"\xf1" in written or b"\xf2" in written or b"\xf3" in written
            or b"\xf4" in written)


_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def _orjson_jcs(value: Any) -> bytes | None:
    """RFC 8785 of a value ``read_json`` answered exact for, written by orjson, or None where it cannot be.

    orjson with sorted keys writes compact JSON, UTF-8 left as is, strings escaped exactly as RFC 8785 does (``"``,
    ``\\``, ``\\b \\f \\n \\r \\t``, the other controls below U+0020 as lowercase ``\\u00xx``), keys in code
    point order, and floats with the shortest digits that read back, as ``repr`` and ECMAScript do. What differs:
    - an integral float: orjson writes ``97.0``, RFC 8785 ``97``: each ``.0`` after a digit and before ``,``, ``]``
      or ``}`` is cut, then the text is read back: equal to ``value``, only numbers lost their ``.0``; otherwise a
      cut fell inside a string (``"…5.0,…"``): None (a float alone, with nothing before it, is left to the other
      path too);
    - a number orjson writes in exponent form where RFC 8785 does not (``e-6`` and ``e+``, see ``_exponent``) and
      ``-0.0`` (RFC 8785: ``0``): None, and so where a string holds the same;
    - an integer beyond ±(2^53 - 1): RFC 8785 refuses it, and so does orjson (``OPT_STRICT_INTEGER``): None;
    - keys beyond the BMP: RFC 8785 sorts by UTF-16 code units, orjson by code points, which differ only there:
      any character beyond the BMP, in a key or a string, gives None.
    NaN and infinities, which orjson would write as ``null``, are never in an exact value."""
    if type(value) is float:
        return None
    try:
        written = orjson.dumps(value, option=_SORTED)
    except orjson.JSONEncodeError:
        return None
    if b"-0.0" in written or (not written.isascii() and _beyond_bmp(written)) or _exponent(written):
        return None
    fixed = _INTEGRAL_FLOAT.sub(b"", written)  # (no ``.0`` search first: nearly every event's time has one)
    if len(fixed) != len(written) and orjson.loads(fixed) != value:
        return None
    return fixed


def _exponent(written: bytes) -> bool:
    """Whether ``written`` may hold a number that orjson writes in exponent form where RFC 8785 does not.

    Both write a float's shortest digits that read back, and their exponent forms have one shape (``1.5e-7``,
    ``1e+21``); only the thresholds differ: orjson writes exponents below 1e-5 and from 1e16, RFC 8785
    (ECMAScript) below 1e-6 and from 1e21. So the texts differ exactly for magnitudes in [1e-6, 1e-5), which
    orjson writes ``…e-6``, and in [1e16, 1e21), ``…e+16`` to ``…e+20``: any ``e+`` answers True (no UUID holds
    a ``+``), and an ``e-6`` after digits (and a point), a minus or not, that follow ``:``, ``,`` or ``[`` or
    start the text. Other ``e-`` (UUIDs put one in three events out of four, ``1e-7`` the same in both) are not
    looked at: the check walked back from each of them before, a sixth of the hash's time."""
    if b"+" in written and b"e+" in written:  # (one byte is searched with memchr: many times faster)
        return True
    at = written.find(b"e-6", 1)
    while at > 0:
        # what precedes the mark within a window (C's ``rstrip`` walks back over the digits, not a Python loop);
        # a run reaching the window's start answers True, as the text's start does: the slower path then writes
        # the value
        before = written[max(0, at - _WINDOW):at]
        head = before.rstrip(b"0123456789.")
        if head.endswith(b"-"):  # a minus
            head = head[:-1]
        if len(head) < len(before) and (not head or head[-1] in _BEFORE_NUMBER):
            return True
        at = written.find(b"e-6", at + 3)
    return False


_WINDOW = 64
_BEFORE_NUMBER = frozenset(b":,[")


def hashed_attributes(cloudevent: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a CloudEvent (as a JSON object) that ``HASH_ALG`` covers."""
    if type(cloudevent) is dict and cloudevent.keys() <= _HASHED_OR_HASH:  # the usual event: a copy, done in C
        covered = cloudevent.copy()
        covered.pop("hash", None)
        return covered
    return {name: cloudevent[name] for name in HASHED_ATTRIBUTES if name in cloudevent}


_HASHED_OR_HASH = frozenset((*HASHED_ATTRIBUTES, "hash"))


def cloudevent_hash(cloudevent: Mapping[str, Any], *, exact: bool = False) -> str:
    """``HASH_ALG``: SHA-256 (hex) of the RFC 8785 form of the CloudEvent's hashed attributes. ``prevhash`` is one
    of them, so the hash commits to the whole stream before the event. ``exact``: as ``canonical_json``'s."""
    return hashlib.sha256(canonical_json(hashed_attributes(cloudevent), exact=exact)).hexdigest()


def chain_hash(prev_hash: str, content: dict[str, Any]) -> str:
    """``LEGACY_HASH_ALG``: SHA-256 over the previous event's hash and this event's canonical content."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(canonical_json(content))
    return digest.hexdigest()
