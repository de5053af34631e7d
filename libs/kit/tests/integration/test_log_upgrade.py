"""A Merkle log stored before 2026-11-30 (``log_leaves``, integer ``_id``) keeps working after the upgrade: copied once
into ``merkle_leaves`` at setup, even after a copy killed halfway, then extended and signed again; the roots match
and the proofs verify with ``binhchon_kit.merkle`` (ADR 0022, amended 2026-11-30). On the real store."""

from __future__ import annotations

from typing import Any

import pytest

from binhchon_kit import merkle
from binhchon_kit.checkpoints import FRONTIERS, LEAVES
from binhchon_kit.leaf_ids import leaf_id
from binhchon_kit.leaf_upgrade import OLD_LEAVES
from binhchon_kit.testing.eventstore_contract import grow
from binhchon_kit.transparency import event_leaf

pytestmark = pytest.mark.integration


async def _as_before(db: Any) -> list[dict[str, Any]]:
    """The log as the code before 2026-11-30 kept it: leaf i at the integer ``_id`` i of ``log_leaves``, with its
    unique ``event`` index, and no frontier."""
    docs = await db[LEAVES].find({}, sort=[("_id", 1)]).to_list()
    old = [{**d, "_id": int(d["_id"])} for d in docs]
    await db[OLD_LEAVES].create_index([("event", 1)], unique=True)
    await db[OLD_LEAVES].create_index([("event_id", 1)])
    await db[OLD_LEAVES].insert_many(old)
    await db.drop_collection(LEAVES)
    await db.drop_collection(FRONTIERS)
    return old


def _root(events: list[Any]) -> bytes:
    return merkle.root([event_leaf(e.hash) for e in events])


async def test_an_old_log_with_a_checkpoint_is_upgraded_once_then_extended_and_signed_again(merkle_log):
    store, db, process = merkle_log
    events = [e for s in ("dossier-a", "dossier-b", "dossier-c") for e in await grow(store, s, 20)]
    await process().add(events[:40])
    first = await process().record()
    assert first is not None and first.data["tree_size"] == 40
    await process().add(events[40:50])  # published after the checkpoint, not signed yet
    old = await _as_before(db)
    # an upgrade killed halfway: 17 leaves copied, the old collection still there
    await db[LEAVES].insert_many([{**d, "_id": leaf_id(d["_id"])} for d in old[3:20]])

    upgraded = process()
    await upgraded.setup()
    assert OLD_LEAVES not in await db.list_collection_names()
    docs = await db[LEAVES].find({}, sort=[("_id", 1)]).to_list()
    assert [d["_id"] for d in docs] == [leaf_id(i) for i in range(50)]
    assert [(d["event"], d["event_id"], d["hash"]) for d in docs] == [(d["event"], d["event_id"], d["hash"])
                                                                      for d in old]
    await process().setup()  # again, another replica: nothing left to do
    assert await db[LEAVES].count_documents({}) == 50

    # the relay goes on where the old one stopped; the next checkpoints extend the old one
    await upgraded.add(events[50:60])
    second = await upgraded.record_if_grown()  # the process's first: every leaf re-read against the old root
    assert second is not None and second.data["tree_size"] == 60
    assert second.data["root_hash"] == _root(events).hex()
    leaves = [event_leaf(e.hash) for e in events]
    merkle.verify_consistency(40, 60, bytes.fromhex(first.data["root_hash"]), _root(events),
                              merkle.consistency_proof(40, leaves))
    more = await grow(store, "dossier-d", 5)
    await upgraded.add(more)
    third = await upgraded.record_if_grown()  # from the frontier kept beside the second
    assert third is not None and third.data["tree_size"] == 65
    assert third.data["root_hash"] == _root(events + more).hex()

    # the service's proofs, as an auditor gets them, verify against the checkpoint signed before the upgrade
    for event in (events[0], events[39]):
        proof = await upgraded.inclusion(event.id, 40)
        merkle.verify_inclusion(proof["leaf_index"], 40, event_leaf(event.hash),
                                [bytes.fromhex(h) for h in proof["audit_path"]],
                                bytes.fromhex(first.data["root_hash"]))
    answer = await upgraded.consistency(40, 65)
    merkle.verify_consistency(40, 65, bytes.fromhex(first.data["root_hash"]), bytes.fromhex(third.data["root_hash"]),
                              [bytes.fromhex(h) for h in answer["proof"]])
