"""Plain-dict checks of the common scoring stream's event data, for the audit's cheap path (ADR 0042).

Each answers True only where the contract model (``ScoringOpened``, ``ScoreSubmitted``) would accept the data
and read every value unchanged: exact JSON types (an ``int`` where the model takes an int, never ``2.0`` or
``"2"``), strings already stripped and in NFC within the models' lengths, codes and base64 by the models' own
patterns, no unknown field. Anything else (a sealed copy aside, which its own model checks) answers False, and
the cheap path then validates with pydantic as before, whose answer and error text stand. A property test holds
every True to the models (``tools/tests/test_audit_plain.py``)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import orjson

from binhchon_kit.personal import SealedCopy

_CODE = re.compile(r"[A-Za-z0-9._-]{1,40}").fullmatch
_REGISTRATION = re.compile(r"[A-Za-z0-9./-]{3,40}").fullmatch
_HEX64 = re.compile(r"[0-9a-f]{64}").fullmatch
_NONCE = re.compile(r"[A-Za-z0-9_-]{16}").fullmatch
_B64URL = re.compile(r"[A-Za-z0-9_-]{1,20000}").fullmatch
PROGRAMMES = frozenset({"OCOP", "CNNTTB"})
_SORTED = orjson.OPT_SORT_KEYS
LEVELS = frozenset({"commune", "district", "province", "region", "national"})


def text(value: Any, maximum: int = 500, minimum: int = 1) -> bool:
    """A ``Text`` (``LongText``: ``maximum=5000, minimum=0``) that validation leaves as it is."""
    return (type(value) is str and minimum <= len(value) <= maximum and value == value.strip()
            and (value.isascii() or unicodedata.is_normalized("NFC", value)))


def code(value: Any) -> bool:
    return type(value) is str and _CODE(value) is not None


def _sealed_copy(value: Any) -> bool:
    try:
        SealedCopy.model_validate(value)  # small, rare (a household's fields, ADR 0048): its model says
    except ValueError:
        return False
    return True


def _name(value: Any) -> bool:  # SealedCopy | Text
    return _sealed_copy(value) if type(value) is dict else text(value)


def _registration(value: Any) -> bool:  # SealedCopy | RegistrationNumber | None
    if value is None:
        return True
    return _sealed_copy(value) if type(value) is dict else type(value) is str and _REGISTRATION(value) is not None


_OPENED_REQUIRED = frozenset({"dossier_id", "round_id", "programme", "level", "rulebook_id", "rulebook_version",
                              "sheet_id", "product_group", "product_name", "producer_name", "sample_code"})
_OPENED = _OPENED_REQUIRED | {"producer_address", "province_code", "producer_registration_number"}


def opened(data: Any) -> bool:
    """``data`` is a ``scoring.opened``'s that ``ScoringOpened`` reads unchanged (absent optional fields: None)."""
    if type(data) is not dict or not _OPENED_REQUIRED <= data.keys() <= _OPENED:
        return False
    address, province = data.get("producer_address"), data.get("province_code")
    return (type(data["dossier_id"]) is str and type(data["round_id"]) is str
            and type(data["programme"]) is str and data["programme"] in PROGRAMMES
            and type(data["level"]) is str and data["level"] in LEVELS
            and code(data["rulebook_id"]) and type(data["rulebook_version"]) is int and code(data["sheet_id"])
            and text(data["product_group"]) and text(data["product_name"]) and _name(data["producer_name"])
            and code(data["sample_code"]) and (address is None or text(address))
            and (province is None or code(province)) and _registration(data.get("producer_registration_number")))


_SHEET_REQUIRED = frozenset({"sheet_id", "member_id", "scoring_round", "rulebook_id", "rulebook_version",
                             "score_sheet", "sealed"})
_SHEET = _SHEET_REQUIRED | {"scores", "total", "comment"}
_SEALED_REQUIRED = frozenset({"kid", "key_digest", "nonce", "ciphertext"})
_SEALED = _SEALED_REQUIRED | {"alg"}


def sealed_sheet(data: Any) -> bool:
    """``data`` is a ``score.submitted``'s with its marks sealed and none in clear (v2), as ``ScoreSubmitted``
    reads it unchanged."""
    if type(data) is not dict or not _SHEET_REQUIRED <= data.keys() <= _SHEET:
        return False
    sealed = data["sealed"]
    if type(sealed) is not dict or not _SEALED_REQUIRED <= sealed.keys() <= _SEALED:
        return False
    round_ = data["scoring_round"]
    return (type(data["sheet_id"]) is str and text(data["member_id"]) and type(round_) is int and round_ >= 1
            and code(data["rulebook_id"]) and type(data["rulebook_version"]) is int and code(data["score_sheet"])
            and data.get("scores") is None and data.get("total") is None and data.get("comment", "") == ""
            and type(data.get("comment", "")) is str
            and sealed.get("alg", "A256GCM") == "A256GCM" and type(sealed.get("alg", "")) is str
            and code(sealed["kid"]) and type(sealed["key_digest"]) is str and _HEX64(sealed["key_digest"]) is not None
            and type(sealed["nonce"]) is str and _NONCE(sealed["nonce"]) is not None
            and type(sealed["ciphertext"]) is str and b64url(sealed["ciphertext"]))


_B64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def b64url(value: str) -> bool:
    """``_B64URL`` (the model's pattern) matches all of ``value``: deleting the alphabet's bytes leaves nothing
    (one C pass over the ciphertext, a fifth of the regular expression's time on every sealed sheet)."""
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        return False
    return 0 < len(raw) <= 20000 and not raw.translate(None, _B64URL_ALPHABET)


def same(expected: Any, found: Any) -> bool:
    """``expected == found`` with the same JSON type at every place (``1`` is not ``1.0`` nor ``True``, ``-0.0``
    not ``0.0``): their sorted JSON texts are the same bytes. Then ``found``, equal to a valid model's dump, reads
    as that model. (A value orjson cannot write raises: the caller's model path answers.)"""
    return orjson.dumps(expected, option=_SORTED) == orjson.dumps(found, option=_SORTED)
