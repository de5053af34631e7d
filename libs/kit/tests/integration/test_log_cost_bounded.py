"""A relay pass and a periodic checkpoint read what they add, not the log (issue 14; ADR 0022, amended 2026-11-30).

On FerretDB over PostgreSQL, PostgreSQL's own counts for the leaves' table (``pg_stat_user_tables``: rows read by
sequential scans, rows fetched by index scans) while the relay adds a few events to a log of 2,000 leaves and the
periodic checkpoint signs them: a bounded number of rows, where before every pass read all 2,000 (an ``event $in``
and a sort on an integer ``_id``, served by no index) and every checkpoint read them again. The same counts for a
checkpoint that re-reads every leaf (an auditor's) show they are counted.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo import AsyncMongoClient

from binhchon_kit import merkle
from binhchon_kit.checkpoints import LEAVES, Checkpoints
from binhchon_kit.eventstore_mongo import MongoEventStore
from binhchon_kit.leaf_ids import leaf_id
from binhchon_kit.signing import Signer
from binhchon_kit.testing.eventstore_contract import grow
from binhchon_kit.testing.infra import private_store
from binhchon_kit.testing.table_reads import settled_counts, table_of
from binhchon_kit.transparency import event_leaf

pytestmark = pytest.mark.integration
N = 2000
BOUND = 100  # rows a pass and a checkpoint of 7 events may read, whatever N


@pytest.fixture
async def store_and_postgres(infra: Any, unique: str) -> AsyncIterator[tuple[Any, Path]]:
    """The suite's store and its PostgreSQL when they are ours (the native stack), else a private pair."""
    if infra.postgres is not None:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb, tz_aware=True)
        yield client, infra.postgres
        await client.close()
        return
    with private_store(f"log-cost-{unique}") as ferret:
        client = AsyncMongoClient(ferret.url, tz_aware=True)
        yield client, ferret.postgres.dir
        await client.close()


def _history(n: int) -> list[dict[str, Any]]:
    """Leaves of ``n`` events published long ago (their events need not be in the store for a checkpoint)."""
    return [{"_id": leaf_id(i), "event": f"history-{i // 40}/{i % 40 + 1:010d}", "event_id": f"old-{i}",
             "hash": hashlib.sha256(str(i).encode()).hexdigest()} for i in range(n)]


async def test_a_relay_pass_and_a_periodic_checkpoint_read_a_bounded_number_of_rows(store_and_postgres, unique):
    client, postgres = store_and_postgres
    name = f"kit_cost_{unique}"
    db = client[name]
    store = MongoEventStore(db, source="/binhchon/intake")
    await store.setup()
    log = Checkpoints(store, db, Signer(Ed25519PrivateKey.generate()))
    await log.setup()
    history = _history(N)
    for start in range(0, N, 500):
        await db[LEAVES].insert_many(history[start:start + 500])
    first = await log.record()  # the process's first: every leaf re-read, once
    assert first is not None and first.data["tree_size"] == N
    table = table_of(postgres, name, LEAVES)

    events = await grow(store, "dossier-a", 4) + await grow(store, "dossier-b", 3)
    before = await settled_counts(postgres, name, table)
    await log.add(events)  # the relay's usual pass
    await log.add(events[-2:])  # and a pass after a crash before the marks: found, not added again
    second = await log.record_if_grown()  # the periodic checkpoint
    after = await settled_counts(postgres, name, table)
    read = {k: after[k] - before[k] for k in ("seq_tup_read", "idx_tup_fetch")}
    assert read["seq_tup_read"] == 0 and read["idx_tup_fetch"] < BOUND, read

    assert second is not None and second.data["tree_size"] == N + 7
    leaves = [event_leaf(d["hash"]) for d in history] + [event_leaf(e.hash) for e in events]
    assert second.data["root_hash"] == merkle.root(leaves).hex()
    merkle.verify_consistency(N, N + 7, bytes.fromhex(first.data["root_hash"]),
                              bytes.fromhex(second.data["root_hash"]), merkle.consistency_proof(N, leaves))

    # what every checkpoint cost before: the same counts see the whole log read
    await log.record(full_check=True)
    full = await settled_counts(postgres, name, table)
    assert full["seq_tup_read"] + full["idx_tup_fetch"] - after["seq_tup_read"] - after["idx_tup_fetch"] >= N
