"""A relay pass and a periodic checkpoint read what they add, not the log (issue 14; ADR 0022, amended 2026-11-30).

On FerretDB over PostgreSQL, PostgreSQL's own counts for the leaves' table (``pg_stat_statements``: the pages its
statements touched, binhchon_kit.testing.table_reads) while the relay adds a few events to a log of 2,000 leaves and
the periodic checkpoint signs them: a bounded number of pages, where before every pass read all 2,000 leaves (an
``event $in`` and a sort on an integer ``_id``, served by no index) and every checkpoint read them again. The same
counts for a checkpoint that re-reads every leaf (an auditor's) show they are counted.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit import merkle
from binhchon_kit.checkpoints import LEAVES, NODES, Checkpoints
from binhchon_kit.eventstore_mongo import MongoEventStore
from binhchon_kit.leaf_ids import leaf_id
from binhchon_kit.signing import Signer
from binhchon_kit.testing.eventstore_contract import grow
from binhchon_kit.testing.table_reads import reads, table_pages
from binhchon_kit.transparency import event_leaf

pytestmark = pytest.mark.integration
N = 2000
# pages two passes and a checkpoint of 7 events may touch, whatever N: 91-97 measured, half of them the 7 leaves'
# insert into the table and its indexes; the code before (each pass and the checkpoint read every leaf) 756
BOUND = 200


def _history(n: int) -> list[dict[str, Any]]:
    """Leaves of ``n`` events published long ago (their events need not be in the store for a checkpoint)."""
    return [{"_id": leaf_id(i), "event": f"history-{i // 40}/{i % 40 + 1:010d}", "event_id": f"old-{i}",
             "hash": hashlib.sha256(str(i).encode()).hexdigest()} for i in range(n)]


async def _logged_history(db: Any) -> tuple[MongoEventStore, Checkpoints, list[dict[str, Any]], Any]:
    """A log of ``N`` leaves of earlier events, and its first checkpoint (a process's first: every leaf re-read,
    once, and the roots of its tiles and above kept)."""
    store = MongoEventStore(db, source="/binhchon/intake")
    await store.setup()
    log = Checkpoints(store, db, Signer(Ed25519PrivateKey.generate()))
    await log.setup()
    history = _history(N)
    for start in range(0, N, 500):
        await db[LEAVES].insert_many(history[start:start + 500])
    first = await log.record()
    assert first is not None and first.data["tree_size"] == N
    return store, log, history, first


async def test_a_relay_pass_and_a_periodic_checkpoint_read_a_bounded_number_of_pages(counted_store, counted_mongo,
                                                                                     unique):
    name = f"kit_cost_{unique}"
    db = counted_mongo[name]
    store, log, history, first = await _logged_history(db)

    events = await grow(store, "dossier-a", 4) + await grow(store, "dossier-b", 3)
    checkpoints = []

    async def passes_and_checkpoint() -> None:
        await log.add(events)  # the relay's usual pass
        await log.add(events[-2:])  # and a pass after a crash before the marks: found, not added again
        checkpoints.append(await log.record_if_grown())  # the periodic checkpoint

    read = (await reads(counted_store, name, passes_and_checkpoint))[LEAVES]
    print(f"\ntwo passes and a checkpoint: {read}")
    assert read.pages < BOUND, read
    second = checkpoints[0]

    assert second is not None and second.data["tree_size"] == N + 7
    leaves = [event_leaf(d["hash"]) for d in history] + [event_leaf(e.hash) for e in events]
    assert second.data["root_hash"] == merkle.root(leaves).hex()
    merkle.verify_consistency(N, N + 7, bytes.fromhex(first.data["root_hash"]),
                              bytes.fromhex(second.data["root_hash"]), merkle.consistency_proof(N, leaves))

    # what every checkpoint cost before: the same counts see the whole log read
    full = (await reads(counted_store, name, lambda: log.record(full_check=True)))[LEAVES]
    print(f"a checkpoint re-reading every leaf: {full}")
    assert full.pages >= table_pages(counted_store, name, LEAVES) > 100, full  # every page of 2,000 leaves


async def test_proofs_read_kept_subtree_roots_not_the_log(counted_store, counted_mongo, unique):
    """An auditor's inclusion and consistency proofs read O(log n) kept roots and a few tiles of leaves, not every
    leaf (ADR 0022, amended 2026-12-01); a log whose roots were never kept (older, or lost) still proves, from its
    leaves, and a kept root that does not read as a hash is made again from its halves."""
    name = f"kit_proofs_{unique}"
    db = counted_mongo[name]
    store, log, history, first = await _logged_history(db)
    events = await grow(store, "dossier-a", 5)
    await log.add(events)
    second = await log.record_if_grown()
    assert second is not None and second.data["tree_size"] == N + 5
    leaves = [event_leaf(d["hash"]) for d in history] + [event_leaf(e.hash) for e in events]
    top = bytes.fromhex(second.data["root_hash"])
    asked = [0, 255, 256, 1000, N - 1, N + 2]

    async def prove() -> None:
        for index in asked:
            event_id = history[index]["event_id"] if index < N else events[index - N].id
            answer = await log.inclusion(event_id, N + 5)
            merkle.verify_inclusion(index, N + 5, leaves[index], [bytes.fromhex(h) for h in answer["audit_path"]],
                                    top)
        answer = await log.consistency(N, N + 5)
        merkle.verify_consistency(N, N + 5, bytes.fromhex(first.data["root_hash"]), top,
                                  [bytes.fromhex(h) for h in answer["proof"]])

    kept = (await reads(counted_store, name, prove))[LEAVES]
    print(f"\nsix inclusion proofs and a consistency proof: {kept}")
    table = table_pages(counted_store, name, LEAVES)
    # each proof reads at most its leaf's tile and the tree's last one; a whole read is every page, six times over
    assert kept.pages < 3 * table, (kept, table)

    await db[NODES].update_one({"_id": {"$gte": "08:", "$lt": "09:"}}, {"$set": {"hash": "not a hash"}})
    await db[NODES].delete_many({"_id": {"$gte": "09:", "$lt": "99:"}})
    fewer = (await reads(counted_store, name, prove))[LEAVES]  # from the leaves where a root is missing or bad
    await db.drop_collection(NODES)
    none = (await reads(counted_store, name, prove))[LEAVES]
    print(f"with roots damaged: {fewer}; with none kept: {none}")
    assert none.pages >= 6 * table and none.pages > 3 * kept.pages, (none, kept)
