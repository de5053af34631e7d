"""What a consumer acts on (ADR 0026): only an event its topic's owner produced, as it produced it. One test per
reason to refuse, each on an event that fails that check alone; the forged events of the outside probe among them
(a made-up result.approved with hash fff…, actor "attacker"). The same on the real broker:
services/certification/tests/integration/test_forged_events.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit.canonical import cloudevent_hash
from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.signing import Signer
from binhchon_kit.trust import SIGNATURE, SIGNATURE_KID, ProducerKeys, Untrusted, check, signed, write_keys

SCORING = Signer(Ed25519PrivateKey.generate())
INTAKE = Signer(Ed25519PrivateKey.generate())
TRUSTED = ProducerKeys.from_jwks({"scoring": {"keys": [SCORING.jwk()]}, "intake": {"keys": [INTAKE.jwk()]}})


def approved(**over: Any) -> dict[str, Any]:
    """A result.approved as scoring's store records it, as JSON (not signed yet)."""
    recorded = RecordedEvent(
        id="7d0e1c52-1b7a-4f0e-9a51-3c2b1a0f9e8d", stream="scoring-dossier-1", version=9, type="result.approved",
        schema_version=1, subject="dossier-1", time=datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
        data={"dossier_id": "dossier-1", "rating": {"stars": 4}}, actor=Actor("approver-1", ("approver",)),
        correlation_id="c-1", causation_id="http:c-1", source="/binhchon/scoring", prev_hash="ab" * 32, hash="",
    ).sealed()
    return {**recorded.cloudevent_json(), **over}


def reason(event: dict[str, Any], topic: str = "scoring.events") -> str:
    with pytest.raises(Untrusted) as refused:
        check(json.loads(json.dumps(event)), topic, TRUSTED)
    return str(refused.value)


def rehashed(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "hash": cloudevent_hash(event)}


def test_an_event_signed_by_its_topics_owner_passes_as_received() -> None:
    check(json.loads(json.dumps(signed(approved(), SCORING))), "scoring.events", TRUSTED)


def test_the_probes_forged_result_with_a_made_up_hash_is_refused_for_its_hash() -> None:
    forged = approved(actorid="attacker", actorroles="approver", hash="f" * 64)
    assert "does not match the event" in reason(forged)


def test_a_forged_event_hashed_correctly_but_unsigned_is_refused() -> None:
    forged = rehashed(approved(actorid="attacker"))
    assert reason(forged) == "not signed: no signature and signaturekid"
    assert reason({**forged, SIGNATURE: "", SIGNATURE_KID: SCORING.kid}).startswith("the signature is not scoring's")


def test_a_signature_that_is_not_over_the_events_hash_is_refused() -> None:
    genuine = signed(approved(), SCORING)
    other = signed(rehashed(approved(subject="dossier-2")), SCORING)
    assert reason({**genuine, SIGNATURE: other[SIGNATURE]}) == (
        f"the signature is not scoring's key {SCORING.kid}'s over the event's hash")
    assert reason({**genuine, SIGNATURE: "not base64!"}).startswith("the signature is not scoring's")


def test_an_event_of_another_service_on_the_topic_is_refused_for_its_source() -> None:
    # intake's own genuine, signed event, put on scoring's topic
    misplaced = signed(rehashed(approved(source="/binhchon/intake")), INTAKE)
    assert reason(misplaced) == "source '/binhchon/intake' is not /binhchon/scoring, the owner of scoring.events"
    # a made-up source
    assert reason(signed(rehashed(approved(source="/binhchon/attacker")), SCORING)).startswith(
        "source '/binhchon/attacker' is not /binhchon/scoring")


def test_an_event_signed_by_another_services_key_is_refused() -> None:
    # scoring's source, hashed right, but signed with intake's key: intake cannot speak for scoring
    assert reason(signed(approved(), INTAKE)) == f"signed by key {INTAKE.kid}, intake's, not one of scoring's"
    stranger = Signer(Ed25519PrivateKey.generate())
    assert reason(signed(approved(), stranger)) == f"signed by key {stranger.kid}, unknown, not one of scoring's"


def test_a_replayed_event_with_altered_data_is_refused() -> None:
    genuine = signed(approved(), SCORING)
    altered = {**genuine, "data": {**genuine["data"], "rating": {"stars": 5}}}
    assert "does not match the event" in reason(altered)
    # its hash recomputed too: then the owner's signature no longer covers it
    assert reason(rehashed(altered)).startswith("the signature is not scoring's")


def test_a_legacy_or_unknown_hash_scheme_is_refused() -> None:
    legacy = {k: v for k, v in signed(approved(), SCORING).items() if k != "hashalg"}
    assert reason(legacy) == "hash scheme none (the legacy scheme) is not accepted: only cloudevent-jcs-sha256"
    assert reason(signed(approved(hashalg="sha1"), SCORING)).startswith("hash scheme sha1 is not accepted")


def test_nothing_on_a_topic_no_single_service_owns_is_acted_on() -> None:
    assert reason(signed(approved(), SCORING), "log.checkpoints") == (
        "no single service owns log.checkpoints: nothing on it is acted on")


def test_a_key_shared_by_two_services_is_refused_in_the_configuration() -> None:
    with pytest.raises(ValueError, match="each service needs a signing key of its own"):
        ProducerKeys.from_jwks({"scoring": {"keys": [SCORING.jwk()]}, "intake": {"keys": [SCORING.jwk()]}})


def test_the_keys_written_for_a_deployment_are_what_consumers_trust(tmp_path: Path) -> None:
    written = write_keys(tmp_path)
    assert sorted(p.name for p in written) == [
        "certification.jwks.json", "intake.jwks.json", "notify.jwks.json", "scoring.jwks.json"]
    write_keys(tmp_path)  # again: the private keys are kept, so the published JWKS do not change
    trusted = ProducerKeys.from_directory(tmp_path / "producers")
    scoring = Signer.from_pem((tmp_path / "log-signing-scoring.pem").read_bytes())
    assert set(trusted.keys["scoring"]) == {scoring.kid}
    check(json.loads(json.dumps(signed(approved(), scoring))), "scoring.events", trusted)
