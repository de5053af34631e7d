"""A checkpoint grows the last one's frontier instead of re-reading every leaf, and trusts it only as far as the
signed root vouches for it (ADR 0022, amended 2026-11-30). On the real store."""

from __future__ import annotations

import pytest

from binhchon_kit import merkle
from binhchon_kit.checkpoints import FRONTIERS, LEAVES, LogDamaged
from binhchon_kit.leaf_ids import leaf_id
from binhchon_kit.testing.eventstore_contract import grow
from binhchon_kit.transparency import event_leaf

pytestmark = pytest.mark.integration


async def test_a_frontier_that_does_not_lead_to_the_signed_root_is_refused_and_a_missing_one_reread(merkle_log):
    store, db, process = merkle_log
    events = await grow(store, "dossier-a", 10)
    recorder = process()
    await recorder.add(events)
    assert (await recorder.record()) is not None  # the process's first: every leaf read, the frontier kept
    assert (await db[FRONTIERS].find_one({"_id": leaf_id(10)}))["frontier"] == [
        h.hex() for h in merkle.frontier([event_leaf(e.hash) for e in events])]
    events += await grow(store, "dossier-b", 3)
    await recorder.add(events[10:])
    second = await recorder.record_if_grown()
    assert second is not None and second.data["root_hash"] == merkle.root([event_leaf(e.hash) for e in events]).hex()

    # an intruder's frontier: refused, nothing signed over it
    await db[FRONTIERS].update_one({"_id": leaf_id(13)}, {"$set": {"frontier.0": "00" * 32}})
    events += await grow(store, "dossier-c", 2)
    await recorder.add(events[13:])
    with pytest.raises(LogDamaged, match="frontier kept for the checkpoint of 13"):
        await recorder.record_if_grown()
    # a process started anew re-reads every leaf, finds them as signed, and signs with a frontier of its own
    third = await process().record_if_grown()
    assert third is not None and third.data["tree_size"] == 15

    # no frontier kept (a log signed before they were): every leaf re-read, so an altered one is still found
    await db[FRONTIERS].delete_many({})
    await db[LEAVES].update_one({"_id": leaf_id(4)}, {"$set": {"hash": "ab" * 32}})
    events += await grow(store, "dossier-d", 1)
    await recorder.add(events[15:])
    with pytest.raises(LogDamaged, match="altered"):
        await recorder.record_if_grown()
