"""Sealed sheets (ADR 0036): a dossier's marks are encrypted on the topic until its scoring completes.

Each dossier has one sealing key (256 bits) for all its sheets and re-scorings. It derives from one of scoring's
sealing master keys (HKDF-SHA256, the dossier id as info), so scoring replays and rebuilds from the log with its
master keys alone and stores no key anywhere. ``SealedMarks.key_digest`` commits every sealed object to that key;
``scoring.completed`` reveals it (``sealing_key``), and from then on anyone holding the topic opens the sheets,
checks them against the digest and recomputes the result. A key revealed for one dossier says nothing about any
other's, nor about the master key.

Pure: no I/O, the master key comes from the adapter (``scoring.adapters.sealing``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from binhchon_kit.canonical import canonical_json
from binhchon_kit.contracts.scoring import SealedMarks

DIGEST_PREFIX = b"binhchon sealed sheets v1\x00"
DERIVATION_SALT = b"binhchon scoring sealing key v1"


class Unsealable(ValueError):
    """A sealed object that the key given does not open: another key (its digest differs) or altered bytes."""


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class DossierKey:
    """One dossier's sealing key and the id of the master key it derives from (``kid``; "" when it was revealed:
    an auditor's key comes from ``scoring.completed``, not from a master key)."""

    key: bytes
    kid: str = ""

    @property
    def digest(self) -> str:
        return hashlib.sha256(DIGEST_PREFIX + self.key).hexdigest()

    def revealed(self) -> str:
        """The key as ``scoring.completed`` publishes it."""
        return b64(self.key)

    @classmethod
    def from_revealed(cls, text: str) -> DossierKey:
        key = unb64(text)
        if len(key) != 32:
            raise Unsealable(f"a revealed sealing key has 32 bytes, this one {len(key)}")
        return cls(key)


def derive(master: bytes, kid: str, dossier_id: str) -> DossierKey:
    """The dossier's key under master key ``kid``: HKDF-SHA256(master, salt, info = the dossier id)."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=DERIVATION_SALT,
               info=dossier_id.encode("utf-8")).derive(master)
    return DossierKey(key, kid)


def sheet_context(dossier_id: str, event_type: str, sheet_id: str, member_id: str, scoring_round: int
                  ) -> dict[str, Any]:
    """The associated data of a sheet's marks: they open only on the sheet they were sealed for."""
    return {"dossier_id": dossier_id, "type": event_type, "sheet_id": sheet_id, "member_id": member_id,
            "scoring_round": scoring_round}


def rescore_context(dossier_id: str, scoring_round: int) -> dict[str, Any]:
    return {"dossier_id": dossier_id, "type": "scoring.rescore_requested", "scoring_round": scoring_round}


def seal(key: DossierKey, context: dict[str, Any], marks: dict[str, Any]) -> SealedMarks:
    """``marks`` (JSON) encrypted under the dossier's key, bound to ``context``. A fresh random 96-bit nonce each
    time: a dossier seals a few dozen objects, far below GCM's limits for one key."""
    nonce = os.urandom(12)
    ciphertext = AESGCM(key.key).encrypt(nonce, canonical_json(marks), canonical_json(context))
    return SealedMarks(kid=key.kid or "revealed", key_digest=key.digest, nonce=b64(nonce), ciphertext=b64(ciphertext))


def unseal(key: DossierKey, context: dict[str, Any], sealed: SealedMarks) -> dict[str, Any]:
    """The marks, or Unsealable: the key is not the one the object committed to, or the bytes were altered."""
    if not hmac.compare_digest(key.digest, sealed.key_digest):
        raise Unsealable(f"sealed under the key with digest {sealed.key_digest}, not this one ({key.digest})")
    try:
        plain = AESGCM(key.key).decrypt(unb64(sealed.nonce), unb64(sealed.ciphertext), canonical_json(context))
    except (InvalidTag, ValueError) as exc:
        raise Unsealable("the sealed marks do not open with their committed key: altered, or sealed for another "
                         "sheet") from exc
    marks: dict[str, Any] = json.loads(plain)
    return marks
