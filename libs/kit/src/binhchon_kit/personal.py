"""Personal fields sealed in events, erasable by deleting their subject's key (crypto-shredding, ADR 0035).

A sealed field is a small JSON object in place of the string: ``{"enc": "A256GCM", "kid": "psk-…", "iv": …,
"ct": …}`` (base64url without padding), AES-256-GCM with the data subject's key. The associated data binds it to
its event and its field, so it opens only where it was written. The event's hash covers the sealed form: deleting
the key changes nothing the hash chain or a signature covers.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from collections.abc import Awaitable, Callable, Collection, Mapping
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import BaseModel, ConfigDict, Field

from binhchon_kit.private_files import write_once

ALG = "A256GCM"
ERASED = "[đã xoá]"  # what an erased field shows, wherever it is shown
KID_PATTERN = r"^psk-[0-9a-f]{32}$"
_B64URL = r"^[A-Za-z0-9_-]+$"
_AAD_PREFIX = b"binhchon-personal-v1"
_SRC = r"^[A-Za-z0-9._:-]{1,160}#[a-z_]+(\.[a-z_]+)*$"
_KID = re.compile(KID_PATTERN)


class Sealed(BaseModel):
    """A personal field, encrypted with its data subject's key (ADR 0035). Unreadable once the key is erased."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enc: Literal["A256GCM"]
    kid: str = Field(pattern=KID_PATTERN, description="the data subject's key id (random: it names nobody)")
    iv: str = Field(pattern=_B64URL, min_length=16, max_length=16, description="base64url, 12 bytes")
    ct: str = Field(pattern=_B64URL, max_length=2048, description="base64url of the ciphertext and the GCM tag")


class SealedCopy(Sealed):
    """A sealed field copied as it is from the event that sealed it into a later event (another service's, which
    holds no key to seal with: ADR 0048). ``src`` names where it was sealed, ``<event id>#<field path>``: it opens
    with that associated data, and only in a field holding the same value (``producer_name`` from
    ``producer.name``, never from ``producer.contact.email``)."""

    src: str = Field(pattern=_SRC, max_length=240, description="the event id and field path it was sealed in")


class NotOpened(Exception):
    """A sealed field that does not open with the key given: altered, moved to another event or field, or the
    wrong key."""


class KeysUnavailable(Exception):
    """The key store's service (intake) did not answer: what it seals can be neither opened nor said erased now."""


def new_kid() -> str:
    return "psk-" + secrets.token_hex(16)


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def associated_data(event_id: str, path: str) -> bytes:
    return b"\x00".join((_AAD_PREFIX, event_id.encode("utf-8"), path.encode("utf-8")))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(key: bytes, kid: str, value: str, *, event_id: str, path: str) -> dict[str, str]:
    """``value`` sealed for field ``path`` of event ``event_id``, as it goes into the event's data."""
    iv = os.urandom(12)
    ct = AESGCM(key).encrypt(iv, value.encode("utf-8"), associated_data(event_id, path))
    return {"enc": ALG, "kid": kid, "iv": _b64(iv), "ct": _b64(ct)}


# Whose data is personal (ADR 0048): a household business (hộ kinh doanh) is an individual, its name usually its
# owner's and its registration number an individual's; an enterprise, a cooperative or a cooperative group is an
# organisation, whose name and registration number are public (the holder of a public recognition).
INDIVIDUAL_KINDS = frozenset({"household"})
IDENTITY_FIELDS = ("producer.name", "producer.registration_number")
"""A producer's identity fields, sealed too when the producer is an individual."""


def is_individual(producer_kind: str | None) -> bool:
    return str(getattr(producer_kind, "value", producer_kind)) in INDIVIDUAL_KINDS


# Registration numbers only an individual holds (ADR 0048, amendment): a personal identification number (CCCD,
# 12 digits, a household business's tax code since Decree 168/2025/NĐ-CP) or the number of a household business
# certificate issued by a district (province code, the district's letter, type 8, serial: "24A8001234"). Any other
# shape may be an organisation's or a household's (a 10-digit tax code is either), so the shape never makes a
# number public: where no kind is declared, the caller has to say it.
INDIVIDUAL_NUMBER = re.compile(r"^(?:\d{12}|\d{2}[A-Z]{1,2}8\d{5,8})$")


def is_individual_number(registration_number: str) -> bool:
    return INDIVIDUAL_NUMBER.match(registration_number.strip().upper()) is not None


def fields_to_seal(producer_kind: str | None, personal: tuple[str, ...], *, verified_organisation: bool = False
                   ) -> tuple[str, ...]:
    """``personal`` (sealed whoever the producer is), and its identity fields too unless the producer is an
    organisation the secretariat has verified (ADR 0048, fourth amendment): a declared kind proves nothing, and a
    10-digit tax code may be an enterprise's, a cooperative's or a household's alike."""
    if verified_organisation and not is_individual(producer_kind):
        return personal
    return (*personal, *IDENTITY_FIELDS)


def copy_sealed(sealed: Mapping[str, Any], *, event_id: str, path: str) -> dict[str, Any]:
    """``sealed``, found at ``path`` of event ``event_id``, as a later event carries it (a copy of a copy keeps its
    first ``src``)."""
    return {**sealed, "src": sealed.get("src") or f"{event_id}#{path}"}


_SAME_AS = {"holder": "name", "payee": "name"}  # an invitee's holder, an award's payee: the producer's name


def _leaf(path: str) -> str:
    leaf = path.rsplit(".", 1)[-1].removeprefix("producer_")
    return _SAME_AS.get(leaf, leaf)


def open_sealed(key: bytes, sealed: Mapping[str, Any], *, event_id: str, path: str) -> str:
    if isinstance(src := sealed.get("src"), str):
        origin_event, _, origin_path = src.partition("#")
        if _leaf(origin_path) != _leaf(path):
            raise NotOpened(f"{path} of event {event_id} holds a copy of {origin_path}: not the same value")
        event_id, path = origin_event, origin_path
    try:
        clear = AESGCM(key).decrypt(_unb64(sealed["iv"]), _unb64(sealed["ct"]), associated_data(event_id, path))
    except (InvalidTag, ValueError, KeyError) as e:
        raise NotOpened(f"{path} of event {event_id} does not open with key {sealed.get('kid')}") from e
    return clear.decode("utf-8")


def is_sealed(value: Any) -> bool:
    return (isinstance(value, Mapping) and value.get("enc") == ALG and isinstance(value.get("kid"), str)
            and "ct" in value and "iv" in value)


def seal_fields(data: dict[str, Any], paths: tuple[str, ...], key: bytes, kid: str, *, event_id: str
                ) -> dict[str, Any]:
    """A copy of ``data`` with each dotted path's string sealed (a path that is absent or None is left so)."""
    out: dict[str, Any] = _copy(data)
    for path in paths:
        *parents, leaf = path.split(".")
        node: Any = out
        for name in parents:
            node = node.get(name) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(leaf), str):
            node[leaf] = seal(key, kid, node[leaf], event_id=event_id, path=path)
    return out


def sealed_kids(data: Any) -> set[str]:
    """The key ids of every sealed field in ``data``."""
    found: set[str] = set()
    # every list page of every service passes here (ADR 0048) and few of its leaves are ever sealed: the leaves
    # (strings, numbers) are passed over by their exact type before the Mapping check, an ABC's slow isinstance
    # (it was ~700 calls of both for a registry page of 20)
    stack = [data]
    while stack:
        node = stack.pop()
        if type(node) in _LEAVES:
            continue
        if is_sealed(node):
            found.add(node["kid"])
        elif isinstance(node, Mapping):
            stack.extend(v for v in node.values() if type(v) not in _LEAVES)
        elif isinstance(node, list):
            stack.extend(v for v in node if type(v) not in _LEAVES)
    return found


_LEAVES = frozenset({str, int, float, bool, type(None)})


KeyLookup = Callable[[str], Awaitable[bytes | None]]
"""A subject key by its id; None once erased."""

KeysLookup = Callable[[Collection[str]], Awaitable[Mapping[str, bytes | None]]]
"""Several subject keys by their ids at once (one query for a page of documents); None for each erased one."""


async def open_fields(data: dict[str, Any], event_id: str, key_of: KeyLookup) -> dict[str, Any]:
    """A copy of an event's ``data`` with every sealed field opened, or ``ERASED`` where its key is gone."""
    keys: dict[str, bytes | None] = {}
    for kid in sealed_kids(data):
        keys[kid] = await key_of(kid)
    return open_with(data, event_id, keys)


def open_with(data: dict[str, Any], event_id: str, keys: Mapping[str, bytes | None]) -> dict[str, Any]:
    """``open_fields`` with the keys looked up already (a kid missing from ``keys`` reads as erased)."""

    def walk(node: Any, path: str) -> Any:
        if is_sealed(node):
            key = keys.get(node["kid"])
            return ERASED if key is None else open_sealed(key, node, event_id=event_id, path=path)
        if isinstance(node, Mapping):
            return {k: walk(v, f"{path}.{k}" if path else k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, path) for v in node]
        return node

    return walk(data, "")  # type: ignore[no-any-return]


def open_copies_with(data: Any, keys: Mapping[str, bytes | None]) -> Any:
    """``data`` with each sealed copy (``SealedCopy``, ADR 0048) opened, wherever it sits in documents a service
    keeps or shows: it opens by its ``src``, in a field whose name ends like its source's (``producer_name``,
    ``holder.name``, ``rows.producer_name``). A copy that does not open there (erased, altered or moved to another
    field) reads ``ERASED``: nothing shown is ever the ciphertext."""

    def walk(node: Any, leaf: str) -> Any:
        if is_sealed(node):
            key = keys.get(node["kid"])
            if key is None or not isinstance(node.get("src"), str):
                return ERASED
            try:
                return open_sealed(key, node, event_id="", path=leaf)
            except NotOpened:
                return ERASED
        if isinstance(node, Mapping):
            return {k: walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, leaf) for v in node]
        return node

    return walk(data, "")


def producer_recipient(registration_number: Any) -> str:
    """How notify names a producer among its recipients (and certification finds its mails): by its registration
    number, or where that is sealed (a household's, ADR 0048) by the key id sealing it, random and naming no one."""
    if is_sealed(registration_number):
        return f"producer:{registration_number['kid']}"
    return f"producer:{registration_number}"


def as_carried(value: Any) -> Any:
    """A field as a document or a later event keeps it: a sealed copy as its JSON object, anything else as is."""
    return value.model_dump() if isinstance(value, Sealed) else value


def _copy(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _copy(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_copy(v) for v in node]
    return node


# ---- the master key: wraps each subject's data key where it is stored ----------------------------------------

class MasterKey:
    """AES-256-GCM over each stored data key, its kid as associated data (a wrapped key moved to another kid does
    not open)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the personal data master key is 32 bytes")
        self._aead = AESGCM(key)

    def wrap(self, kid: str, data_key: bytes) -> str:
        iv = os.urandom(12)
        return _b64(iv + self._aead.encrypt(iv, data_key, kid.encode("ascii")))

    def unwrap(self, kid: str, wrapped: str) -> bytes:
        raw = _unb64(wrapped)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], kid.encode("ascii"))
        except InvalidTag as e:
            raise NotOpened(f"the stored key {kid} does not open with this master key") from e

    @classmethod
    def from_file(cls, path: str | Path) -> MasterKey:
        """A file holding the key as 32 raw bytes or as base64 text."""
        raw = Path(path).read_bytes()
        return cls(raw if len(raw) == 32 else base64.b64decode(raw.strip(), validate=True))

    @staticmethod
    def write_new(path: str | Path) -> Path:
        """A new random master key in ``path`` (base64, 0600), unless the file exists: kept, since replacing it
        would erase every subject at once."""
        target = Path(path)
        # whole or not at all; two processes making it at once end with one key (private_files)
        write_once(target, base64.b64encode(secrets.token_bytes(32)) + b"\n")
        return target


def valid_kid(kid: str) -> bool:
    return bool(_KID.match(kid))


def main(argv: list[str] | None = None) -> int:
    """``python -m binhchon_kit.personal master-key FILE``: make a master key file unless one exists."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "master-key":
        print("usage: python -m binhchon_kit.personal master-key FILE", file=sys.stderr)
        return 2
    print(MasterKey.write_new(args[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
