"""The check code printed on a receipt (issue 13: 18 of 30 guessed receipt numbers answered with product and
status): the public lookup needs the receipt number and this code.

The code is the first six base32 letters of an HMAC-SHA256 of the receipt number, keyed by a secret only intake
holds, so it needs no storage, is the same on every replica and after a restore, and cannot be guessed from the
number. The key: ``RECEIPT_CHECK_KEY_FILE`` (any secret bytes), else derived from the service's log signing key
(domain-separated), which every deployment keeps stable already. Replacing either key changes every code: keep
the old key file as ``RECEIPT_CHECK_KEY_FILE`` while printed receipts are still in use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from binhchon_kit.signing import Signer

LENGTH = 6  # 30 bits: a million guesses for an even chance, against 120 a minute per address


class ReceiptCodes:
    def __init__(self, key: bytes) -> None:
        self._key = hashlib.sha256(b"binhchon receipt check code v1\x00" + key).digest()

    @classmethod
    def from_settings(cls, key_file: str, log_signer: Signer) -> ReceiptCodes:
        if key_file:
            return cls(Path(key_file).read_bytes())
        raw = log_signer.private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                               serialization.NoEncryption())
        return cls(raw)

    def code(self, receipt_number: str) -> str:
        digest = hmac.new(self._key, receipt_number.encode("utf-8"), hashlib.sha256).digest()
        return base64.b32encode(digest).decode("ascii")[:LENGTH]

    def matches(self, receipt_number: str, given: str | None) -> bool:
        wanted = self.code(receipt_number)
        # compared as bytes: a code with letters outside ASCII is simply wrong (compare_digest refuses such str)
        return given is not None and hmac.compare_digest(wanted.encode(), given.strip().upper().encode("utf-8"))
