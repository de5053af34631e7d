"""What a restore takes from a topic (ADR 0047), on copies made here: each event once, checked (hash, signature,
chain), and the Merkle log's leaves in the order that reproduces every signed checkpoint, whichever copy of a
republished event the relay gave its leaf to."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit import merkle
from binhchon_kit.checkpoints import checkpoint_stream
from binhchon_kit.contracts.log import LogCheckpoint
from binhchon_kit.events import Actor, Cause, NewEvent, RecordedEvent
from binhchon_kit.eventstore_memory import MemoryEventStore
from binhchon_kit.restore_topic import Copy, TopicDamaged, chains, publication_order, verified
from binhchon_kit.signing import Signer
from binhchon_kit.testing.eventstore_contract import ACTOR, CAUSE, rejected
from binhchon_kit.transparency import event_leaf

SOURCE = "/binhchon/scoring"
SIGNER = Signer(Ed25519PrivateKey.generate())
KEYS = {SIGNER.kid: SIGNER.public}


def copy(event: RecordedEvent, at: int, offset: int = 0, signer: Signer = SIGNER) -> Copy:
    return Copy(event, "scoring.events", 0, offset, at, signer.sign_bytes(event.hash.encode("ascii")), signer.kid)


async def checkpoint(store: MemoryEventStore, version: int, leaves: list[RecordedEvent]) -> RecordedEvent:
    root = merkle.root([event_leaf(e.hash) for e in leaves]).hex()
    data = LogCheckpoint(origin=SOURCE, tree_size=len(leaves), root_hash=root, time="2026-11-29T03:00:00.000Z",
                         key_id=SIGNER.kid, signature="not checked here")
    return await store.append(checkpoint_stream(SOURCE), version, NewEvent(data), subject=SOURCE,
                              actor=Actor.system("scoring"), cause=Cause("c", "c"))


async def history() -> tuple[list[RecordedEvent], dict[str, RecordedEvent]]:
    store = MemoryEventStore(SOURCE)
    a1 = await store.append("a", 0, rejected("một"), subject="a", actor=ACTOR, cause=CAUSE)
    b1 = await store.append("b", 0, rejected("hai"), subject="b", actor=ACTOR, cause=CAUSE)
    cp1 = await checkpoint(store, 0, [a1, b1])
    a2 = await store.append("a", 1, rejected("ba"), subject="a", actor=ACTOR, cause=CAUSE)
    # published: [a1, b1] in one pass, [cp1] in the next, then [a2]; cp2 signs those four
    cp2 = await checkpoint(store, 1, [a1, b1, cp1, a2])
    return [a1, b1, cp1, a2, cp2], {"a1": a1, "b1": b1, "cp1": cp1, "a2": a2, "cp2": cp2}


async def test_each_event_once_in_the_order_that_gives_every_checkpoint_its_root():
    leaves, e = await history()
    copies = [copy(e["a1"], 1000), copy(e["b1"], 1000, 1), copy(e["cp1"], 2000), copy(e["a2"], 3000),
              copy(e["a2"], 3500, 2),  # republished after a crash between its leaf and its mark: leaf at the first
              copy(e["cp2"], 4000)]
    by_id, republished, left_out = verified(copies, KEYS)
    assert republished == 1 and left_out == []
    assert chains(c[0].event for c in by_id.values()) == sorted(leaves, key=lambda x: (x.stream, x.version))
    order, matched, notes = publication_order(by_id, SOURCE)
    assert (order, matched, notes) == (leaves, 2, [])


async def test_a_republished_event_whose_leaf_went_with_its_last_copy():
    leaves, e = await history()
    # a2 went out with the first pass too, but its send failed to be acknowledged: no leaf then, one after cp1
    copies = [copy(e["a1"], 1000), copy(e["a2"], 1000, 3), copy(e["b1"], 1000, 1), copy(e["cp1"], 2000),
              copy(e["a2"], 3000, 4), copy(e["cp2"], 4000)]
    by_id, _, _ = verified(copies, KEYS)
    order, matched, notes = publication_order(by_id, SOURCE)
    assert order == leaves and matched == 2 and notes


async def test_what_is_not_the_services_is_left_out_and_a_history_with_a_hole_refused():
    _, e = await history()
    forged = copy(replace(e["a1"], data={"reason": "khác"}), 1000)
    foreign = copy(e["b1"], 1000, 1, signer=Signer(Ed25519PrivateKey.generate()))
    by_id, _, left_out = verified([forged, foreign, copy(e["a2"], 2000, 2)], KEYS)
    assert [r.split(": ", 1)[1] for r in left_out] == [
        "its content does not match its hash", f"signed by key {foreign.kid}, not one of the service's"]
    with pytest.raises(TopicDamaged, match=r"version 2 where 1 was expected"):
        chains(c[0].event for c in by_id.values())  # a's version 1 was only forged: a hole, no store
    other = await MemoryEventStore(SOURCE).append("a", 0, rejected("khác"), subject="a", actor=ACTOR, cause=CAUSE)
    with pytest.raises(TopicDamaged, match="a fork"):
        chains([e["a1"], other])
    by_id, _, _ = verified([copy(e["a1"], 1000), copy(e["b1"], 900), copy(e["cp1"], 2000)], KEYS)
    with pytest.raises(TopicDamaged, match="no order"):
        publication_order(by_id, SOURCE)  # b1 stamped before a1: no order of these copies gives cp1's root
