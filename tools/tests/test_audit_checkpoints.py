"""The checkpoint checks of ``binhchon-audit verify`` (pure: no server; the real broker's turn is in
test_audit_kafka.py): a service's log rebuilt in publication order from what Kafka records carry, each signed
checkpoint's signature, root and consistency, and what a forged, unsigned or shrinking checkpoint, a log cut short
or rewritten after a checkpoint, each is named with."""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit import merkle
from binhchon_kit.signing import Signer
from binhchon_kit.transparency import event_leaf, signed_body
from binhchon_tools.audit_checkpoints import LogOrder, Published, check_checkpoints, roots_at
from binhchon_tools.audit_findings import Findings

ORIGIN = "/binhchon/intake"
SIGNER = Signer(Ed25519PrivateKey.generate())
JWKS = {"intake": {"keys": [SIGNER.jwk()]}}


def published(n: int) -> list[Published]:
    """n events of two streams, sent by passes of three in key order; a pass's events share one millisecond."""
    counters = {"dossier-a": 0, "dossier-b": 0}
    events = []
    for i in range(n):
        stream = "dossier-a" if i % 3 != 2 else "dossier-b"
        counters[stream] += 1
        events.append(Published(1_700_000_000_000 + (i // 3) * 5, stream, counters[stream], f"ev-{i}",
                                hashlib.sha256(f"event {i}".encode()).hexdigest()))
    # within a pass the relay sends in key order, so the log's order is (time, key): sort each pass so
    return sorted(events, key=Published.order)


def checkpoint(events: list[Published], size: int, version: int, signer: Signer = SIGNER, **over: Any
               ) -> dict[str, Any]:
    body = {"origin": ORIGIN, "tree_size": size,
            "root_hash": merkle.root([event_leaf(e.hash) for e in events[:size]]).hex(),
            "time": f"2026-11-20T03:{version:02d}:00.000Z"}
    data = {**body, "key_id": signer.kid, "signature": signer.sign(signed_body(body)), **over}
    return {"id": f"cp-{version}", "type": "log.checkpoint", "source": ORIGIN, "streamid": "log-checkpoints-intake",
            "streamversion": version, "data": data}


def order_of(events: list[Published], *, reversed_arrival: bool = True) -> LogOrder:
    order = LogOrder()
    for e in (reversed(events) if reversed_arrival else events):  # Kafka's partitions come in any order
        order.note(ORIGIN, e.timestamp, e.stream, e.version, e.event_id, e.hash)
    return order


def check(order: LogOrder, checkpoints: list[dict[str, Any]], jwks: Any = JWKS) -> Findings:
    findings = Findings()
    check_checkpoints(order, checkpoints, findings, jwks)
    return findings


def test_roots_in_one_pass_are_the_merkle_roots():
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(40)]
    roots = roots_at(leaves, set(range(0, 45)))
    assert set(roots) == set(range(41))
    assert all(roots[n] == merkle.root(leaves[:n]) for n in range(41))


def test_a_sound_log_passes_and_the_first_copy_of_a_republished_event_counts():
    events = published(30)
    order = order_of(events)
    late = events[4]  # published again by a relay that crashed before its mark: a later copy, same event
    order.note(ORIGIN, late.timestamp + 1000, late.stream, late.version, late.event_id, late.hash)
    found = check(order, [checkpoint(events, 10, 1), checkpoint(events, 10, 2), checkpoint(events, 27, 3)])
    assert found.ok, found.discrepancies
    assert found.counts["checkpoints"] == 3 and found.notes == []
    no_keys = check(order, [checkpoint(events, 10, 1)], jwks={})
    assert no_keys.ok and "signatures not checked (no --log-jwks for intake)" in no_keys.notes[0]


def test_forged_unsigned_and_foreign_checkpoints_are_named():
    events = published(30)
    forged = checkpoint(events, 20, 2)
    forged["data"]["root_hash"] = merkle.root([event_leaf(e.hash) for e in events[1:21]]).hex()
    unsigned = checkpoint(events, 25, 3, signature="")
    stranger = checkpoint(events, 27, 4, signer=Signer(Ed25519PrivateKey.generate()))
    found = check(order_of(events), [checkpoint(events, 10, 1), forged, unsigned, stranger])
    named: dict[str, list[str]] = {}
    for d in found.discrepancies:
        named.setdefault(d.event_ids[0], []).append(d.message)
    assert set(named) == {"cp-2", "cp-3", "cp-4"}
    signature, root = named["cp-2"]
    assert signature.startswith("checkpoint v2 (20 events): the signature does not verify")
    assert root.startswith("checkpoint v2 (20 events): the first 20 events")  # nor is its root the topics'
    assert named["cp-3"] == ["checkpoint v3 (25 events) is not signed"]
    assert len(named["cp-4"]) == 1 and "no public key with id" in named["cp-4"][0]


def test_a_log_cut_short_after_a_checkpoint_is_named():
    events = published(30)
    checkpoints = [checkpoint(events, 10, 1), checkpoint(events, 30, 2)]
    found = check(order_of(events[:26]), checkpoints)
    [cut] = found.discrepancies
    assert cut.event_ids == ("cp-2", events[25].event_id)
    assert "signs 30 events, the topics hold 26" in cut.message and "events 27..30 are missing" in cut.message


def test_a_log_rewritten_after_a_checkpoint_is_named_between_the_checkpoints():
    events = published(30)
    checkpoints = [checkpoint(events, 10, 1), checkpoint(events, 20, 2), checkpoint(events, 30, 3)]
    rewritten = [e if e.event_id != "ev-14" else Published(e.timestamp, e.stream, e.version, "ev-14-forged",
                                                           hashlib.sha256(b"forged").hexdigest()) for e in events]
    found = check(order_of(rewritten), checkpoints)
    assert [d.event_ids for d in found.discrepancies] == [
        ("cp-2", events[10].event_id, events[19].event_id), ("cp-3", events[10].event_id, events[29].event_id)]
    assert "events 11..20 of its log" in found.discrepancies[0].message


def test_checkpoints_that_contradict_each_other_are_named():
    events = published(30)
    other = [Published(e.timestamp, e.stream, e.version, e.event_id, "0" * 64) for e in events]
    shrinking = [checkpoint(events, 20, 1), checkpoint(events, 12, 2)]
    found = check(order_of(events), shrinking)
    assert [d.event_ids for d in found.discrepancies] == [("cp-2", "cp-1")]
    assert "signs fewer events than checkpoint v1" in found.discrepancies[0].message
    fork = [checkpoint(events, 20, 1), checkpoint(other, 20, 2)]
    found = check(order_of(events), fork)
    assert ("cp-2", "cp-1") in [d.event_ids for d in found.discrepancies]
    assert any("two different logs of the same size" in d.message for d in found.discrepancies)
