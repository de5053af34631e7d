"""Sealed sheets (ADR 0036): the per-dossier key, the sealed object, the master keys, the v2 contracts."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from binhchon_kit.contracts.scoring import CriterionScore, RescoreRequested, ScoreSubmitted
from binhchon_kit.signing import Signer
from scoring.adapters.sealing import MissingSealingKey, SealingKeys, new_key_line
from scoring.domain.sealing import (
    DossierKey,
    Unsealable,
    b64,
    derive,
    seal,
    sheet_context,
    unb64,
    unseal,
)

MASTER = bytes(range(32))
MARKS = {"scores": [{"code": "A1", "points": 2.5}], "total": 2.5, "comment": "thơm, màu đẹp"}


def context(**over: object) -> dict[str, object]:
    return {**sheet_context("dossier-1", "score.submitted", "s-1", "gk-1", 1), **over}


def test_a_sheet_opens_with_its_dossier_key_and_only_where_it_was_sealed() -> None:
    key = derive(MASTER, "k1", "dossier-1")
    sealed = seal(key, context(), MARKS)
    assert sealed.kid == "k1" and sealed.key_digest == key.digest and "2.5" not in sealed.ciphertext
    assert unseal(key, context(), sealed) == MARKS
    for moved in (context(sheet_id="s-2"), context(member_id="gk-2"), context(scoring_round=2),
                  context(dossier_id="dossier-2"), context(type="score.amended")):
        with pytest.raises(Unsealable, match="altered, or sealed for another sheet"):
            unseal(key, moved, sealed)


def test_another_key_is_refused_by_the_digest_and_altered_bytes_by_the_tag() -> None:
    key, other = derive(MASTER, "k1", "dossier-1"), derive(MASTER, "k1", "dossier-2")
    assert key.key != other.key and key.key != derive(bytes(32), "k1", "dossier-1").key
    sealed = seal(key, context(), MARKS)
    with pytest.raises(Unsealable, match="not this one"):
        unseal(other, context(), sealed)
    # Alter a byte, not a base64 letter: the last letter of unpadded base64 carries unused bits, so changing
    # it may decode to the same bytes (this flaked in CI about one run in four).
    raw = bytearray(unb64(sealed.ciphertext))
    raw[-1] ^= 0x01
    flipped = b64(bytes(raw))
    with pytest.raises(Unsealable, match="altered"):
        unseal(key, context(), sealed.model_copy(update={"ciphertext": flipped}))


def test_the_revealed_key_is_the_key_committed_to() -> None:
    key = derive(MASTER, "k1", "dossier-1")
    sealed = seal(key, context(), MARKS)
    revealed = DossierKey.from_revealed(key.revealed())
    assert len(key.revealed()) == 43 and revealed.digest == sealed.key_digest
    assert unseal(revealed, context(), sealed) == MARKS
    with pytest.raises(Unsealable, match="32 bytes"):
        DossierKey.from_revealed(b64(bytes(16)))


def test_master_keys_the_first_seals_the_others_still_open() -> None:
    old, new = new_key_line(), new_key_line()
    keys = SealingKeys.parse(f"# rotated\n{new}\n{old}\n")
    old_kid, new_kid = old.split()[0], new.split()[0]
    assert keys.current == new_kid and len(keys) == 2
    assert keys.dossier_key("dossier-1").kid == new_kid
    sealed_before = SealingKeys.parse(old).dossier_key("dossier-1")
    assert keys.dossier_key("dossier-1", old_kid) == sealed_before
    with pytest.raises(MissingSealingKey, match="gone"):
        keys.dossier_key("dossier-1", "gone")
    with pytest.raises(ValueError, match="32 bytes"):
        SealingKeys.parse("short " + b64(bytes(8)))


def test_without_a_setting_the_master_derives_from_the_log_key_and_stays_the_same() -> None:
    log_key = Ed25519PrivateKey.generate()
    first = SealingKeys.from_settings("", "", Signer(log_key)).dossier_key("dossier-1")
    again = SealingKeys.from_settings("", "", Signer(log_key)).dossier_key("dossier-1")
    other = SealingKeys.from_settings("", "", Signer(Ed25519PrivateKey.generate())).dossier_key("dossier-1")
    assert first == again and first.key != other.key and first.kid.startswith("log-")


def test_an_event_carries_its_marks_sealed_or_in_clear_never_both_nor_neither() -> None:
    sealed = seal(derive(MASTER, "k1", "dossier-1"), context(), MARKS)
    common = {"sheet_id": "s-1", "member_id": "gk-1", "scoring_round": 1, "rulebook_id": "ocop-2023",
              "rulebook_version": 1, "score_sheet": "general"}
    assert ScoreSubmitted(**common, sealed=sealed).total is None
    v1 = ScoreSubmitted(**common, scores=[CriterionScore(code="A1", points=2.5)], total=2.5)  # as recorded before
    assert v1.sealed is None
    with pytest.raises(ValidationError, match="both sealed and in clear"):
        ScoreSubmitted(**common, sealed=sealed, total=2.5)
    with pytest.raises(ValidationError, match="both sealed and in clear"):
        ScoreSubmitted(**common, sealed=sealed, comment="lộ")
    with pytest.raises(ValidationError, match="neither sealed nor in clear"):
        ScoreSubmitted(**common)
    with pytest.raises(ValidationError, match="neither sealed nor in clear"):
        RescoreRequested(scoring_round=1, threshold=10)
