"""Scoring's sealing master keys (ADR 0036), from which each dossier's sealing key derives.

``SCORING_SEALING_KEYS_FILE``: one key a line, ``<kid> <32 bytes, base64url>``; the first seals the dossiers
that have no sealed sheet yet, the others still open the dossiers sealed under them (keep a retired key until
every dossier sealed under it has completed or been withdrawn). ``SCORING_SEALING_KEYS``: the same lines, inline
(tests inject one). Neither: one key derived from the service's log signing key (domain-separated, kid
``log-<its kid>``), which every deployment keeps stable already, as intake's receipt codes do; set a file in
production, since rotating the log key would then leave open dossiers sealed under a key no longer derivable.

    python -m scoring.adapters.sealing new FILE     a new master key, first in FILE (the old ones kept after it)
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from binhchon_kit.signing import Signer
from scoring.domain.sealing import DossierKey, b64, derive, unb64

KID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-_."


class MissingSealingKey(RuntimeError):
    """A dossier sealed under a master key this replica does not hold: a deployment error, not a refusal."""


class SealingKeys:
    def __init__(self, masters: list[tuple[str, bytes]]) -> None:
        if not masters:
            raise ValueError("no sealing master key")
        for kid, key in masters:
            if len(key) != 32 or not kid or len(kid) > 40 or any(c not in KID_ALPHABET for c in kid.lower()):
                raise ValueError(f"sealing master key {kid!r}: a kid of letters, digits, '-', '_', '.' and 32 bytes")
        self.current = masters[0][0]
        self._masters = dict(masters)

    @classmethod
    def parse(cls, text: str) -> SealingKeys:
        masters = []
        for line in text.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                kid, _, key = line.strip().partition(" ")
                masters.append((kid, unb64(key.strip())))
        return cls(masters)

    @classmethod
    def from_settings(cls, keys_file: str, keys: str, log_signer: Signer) -> SealingKeys:
        if keys_file:
            return cls.parse(Path(keys_file).read_text(encoding="ascii"))
        if keys:
            return cls.parse(keys)
        raw = log_signer.private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                               serialization.NoEncryption())
        return cls([(f"log-{log_signer.kid}"[:40], hashlib.sha256(b"binhchon sealing master v1\x00" + raw).digest())])

    def __len__(self) -> int:
        return len(self._masters)

    def dossier_key(self, dossier_id: str, kid: str | None = None) -> DossierKey:
        """The dossier's key under master ``kid`` (None: the current one, for a dossier not sealed yet)."""
        kid = kid or self.current
        master = self._masters.get(kid)
        if master is None:
            # a retired key dropped too early: the dossier's sheets cannot be opened until it is put back
            raise MissingSealingKey(f"the dossier's sheets are sealed under master key {kid}, which this replica "
                                    "does not hold (add it back to SCORING_SEALING_KEYS_FILE)")
        return derive(master, kid, dossier_id)


def new_key_line() -> str:
    return f"k{secrets.token_hex(4)} {b64(os.urandom(32))}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "new":
        print(__doc__, file=sys.stderr)
        return 2
    path = Path(args[1])
    old = path.read_text(encoding="ascii") if path.exists() else ""
    aside = path.with_name(path.name + ".new")
    aside.write_text(new_key_line() + "\n" + old, encoding="ascii")
    aside.chmod(0o600)
    aside.replace(path)
    print(f"a new sealing master key first in {path} ({len(SealingKeys.parse(path.read_text()))} key(s))",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
