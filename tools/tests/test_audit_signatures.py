"""Producer signatures checked in the audit's worker processes name the same events, in the same order, with the
same counts and notes, as checked in one process."""

from __future__ import annotations

import hashlib
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit.signing import Signer
from binhchon_tools import audit_signatures
from binhchon_tools.audit_findings import Findings
from binhchon_tools.audit_signatures import Signed, check_signatures


def signed_log() -> tuple[list[Signed], dict[str, dict[str, object]]]:
    intake, stranger = Signer(Ed25519PrivateKey.generate()), Signer(Ed25519PrivateKey.generate())
    events = []
    for n in range(40):
        digest = hashlib.sha256(f"event {n}".encode()).hexdigest()
        signature, kid = intake.sign_bytes(digest.encode("ascii")), intake.kid
        if n == 7:
            signature = intake.sign_bytes(b"another hash")  # re-signed by someone who changed the event
        elif n == 14:
            signature, kid = stranger.sign_bytes(digest.encode("ascii")), stranger.kid  # not intake's key
        elif n == 21:
            signature, kid = None, None  # unsigned
        source = "/binhchon/scoring" if n % 10 == 3 else "/binhchon/intake"  # scoring's keys are not given
        events.append(Signed(source, f"dossier-{n % 4}", f"event-{n}", digest, signature, kid, f"t/0@{n}"))
    return events, {"intake": {"keys": [intake.jwk()]}}


def test_signatures_checked_in_workers_are_those_checked_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    events, jwks = signed_log()
    alone = Findings()
    check_signatures(events, alone, jwks)
    assert [(d.check, d.event_ids) for d in alone.discrepancies] == [
        ("signature", ("event-7",)), ("signature", ("event-14",)), ("signature", ("event-21",))]
    assert alone.counts["signatures_checked"] == 36
    assert alone.notes == ["4 event(s) of scoring: producer signatures not checked (no --log-jwks for scoring)"]
    monkeypatch.setattr(audit_signatures, "SIGNED_PER_TASK", 6)  # seven tasks over two workers
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        shared = Findings()
        check_signatures(events, shared, jwks, pool)
    assert shared == alone


@pytest.mark.parametrize("log_jwks", [None, {}])
def test_with_no_log_key_the_counts_per_source_note_what_checking_every_event_notes(log_jwks) -> None:
    """The verify without ``--log-jwks`` counts each service's events from the chain check's count per source
    rather than a tuple per event: the same notes and counts as ``check_signatures`` over every event."""
    from collections import Counter

    events, _ = signed_log()
    events.append(Signed("/binhchon/certification", "certificate-1", "event-x", "0" * 64, None, None, "t/1@0"))
    every, counted = Findings(), Findings()
    check_signatures(events, every, log_jwks)
    audit_signatures.note_unchecked(Counter(e.source for e in events), counted)
    assert (counted.notes, counted.counts, counted.discrepancies) == (every.notes, every.counts, every.discrepancies)
    assert len(counted.notes) == 3 and counted.counts["signatures_checked"] == 0
