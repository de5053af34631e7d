"""Benchmark: what the Merkle log costs the relay and the periodic checkpoint as the log grows (issue 14; ADR 0022,
amended 2026-11-30).

    uv run python bench/merkle_log.py [--sizes 1000,20000] [--rounds 10] [--code NAME]

For each log size, in a fresh database: that many leaves of earlier events are written straight into the leaves'
collection (``insert_many``, in the format of the kit being run), then one checkpoint is recorded untimed (a
process's first re-reads every leaf, on any version). Then ``--rounds`` times: 5 new events appended (untimed), the
relay's ``Checkpoints.add`` of them timed, then the periodic checkpoint (``record_if_grown``) timed. Lines give
the median ms of each; then the auditor's proofs over the grown log, timed: an inclusion proof of each of ``--rounds``
leaves spread over it, and the consistency proof from the first checkpoint's size (``inclusion``, ``consistency``;
a kit before 2026-12-01 reads every leaf for each). And ``raw_insert_one``: a bare ``insert_one`` of a two-field
document, one at a time, in the same run (the store's floor for one write).

It runs the kit it imports: to measure another version, put that version's ``libs/kit/src`` first on PYTHONPATH
(``git archive main libs/kit/src | tar -x -C /tmp/main-kit``) and name it with ``--code``. The store: ``MONGODB_URL``
when set (FerretDB on PostgreSQL, as the tests'), else a FerretDB and PostgreSQL of its own under ``.run``.
One JSON line per measurement, printed, never asserted: ``{"bench": "merkle_log", "code": …, "log_size": …,
"op": …, "ms": …}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import statistics
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo import AsyncMongoClient

from binhchon_kit import checkpoints as kit_checkpoints
from binhchon_kit.eventstore_mongo import MongoEventStore
from binhchon_kit.signing import Signer
from binhchon_kit.testing.eventstore_contract import grow
from binhchon_kit.testing.infra import private_store

PER_ADD = 5


def emit(**values: Any) -> None:
    print(json.dumps({"bench": "merkle_log", **values, "load": round(os.getloadavg()[0], 2)}), flush=True)


def leaf_id(index: int) -> Any:
    """The ``_id`` of leaf ``index`` in the format of the kit being run (a string since 2026-11-30)."""
    try:
        from binhchon_kit.leaf_ids import leaf_id as new
    except ImportError:
        return index
    return new(index)


async def one_size(client: AsyncMongoClient[dict[str, Any]], code: str, size: int, rounds: int) -> None:
    db = client[f"bench_merkle_{uuid.uuid4().hex[:8]}"]
    store = MongoEventStore(db, source="/binhchon/intake")
    await store.setup()
    log = kit_checkpoints.Checkpoints(store, db, Signer(Ed25519PrivateKey.generate()))
    await log.setup()
    leaves = db[kit_checkpoints.LEAVES]
    for start in range(0, size, 1000):
        await leaves.insert_many([{"_id": leaf_id(i), "event": f"history-{i // 40}/{i % 40 + 1:010d}",
                                   "event_id": f"old-{i}", "hash": hashlib.sha256(str(i).encode()).hexdigest()}
                                  for i in range(start, min(size, start + 1000))])
    await log.record()  # untimed: a process's first checkpoint reads every leaf, on any version
    adds, records = [], []
    for r in range(rounds):
        events = await grow(store, f"dossier-{r}", PER_ADD)
        t0 = time.perf_counter()
        await log.add(events)
        t1 = time.perf_counter()
        recorded = await log.record_if_grown()
        t2 = time.perf_counter()
        assert recorded is not None  # a bench that checkpointed nothing would time nothing
        adds.append((t1 - t0) * 1000)
        records.append((t2 - t1) * 1000)
    emit(code=code, log_size=size, op="add", events=PER_ADD, ms=round(statistics.median(adds), 2),
         rounds=rounds)
    emit(code=code, log_size=size, op="record_if_grown", ms=round(statistics.median(records), 2), rounds=rounds)
    grown = await log.size()
    proofs = []
    for r in range(rounds):
        index = r * (size - 1) // max(1, rounds - 1)
        t0 = time.perf_counter()
        answer = await log.inclusion(f"old-{index}", grown)
        proofs.append((time.perf_counter() - t0) * 1000)
        assert answer["leaf_index"] == index and answer["audit_path"]
    emit(code=code, log_size=size, op="inclusion", ms=round(statistics.median(proofs), 2), rounds=rounds)
    t0 = time.perf_counter()
    assert (await log.consistency(size, grown))["proof"]
    emit(code=code, log_size=size, op="consistency", ms=round((time.perf_counter() - t0) * 1000, 2), rounds=1)
    await client.drop_database(db.name)


async def raw_inserts(client: AsyncMongoClient[dict[str, Any]], code: str, count: int = 500) -> None:
    db = client[f"bench_raw_{uuid.uuid4().hex[:8]}"]
    await db["raw"].insert_one({"_id": "first", "n": -1})  # the collection exists: every timed insert is one
    started = time.perf_counter()
    for n in range(count):
        await db["raw"].insert_one({"_id": f"d{n}", "n": n})
    seconds = time.perf_counter() - started
    emit(code=code, op="raw_insert_one", per_s=round(count / seconds, 1), ms=round(seconds / count * 1000, 3))
    await client.drop_database(db.name)


async def run(url: str, code: str, sizes: list[int], rounds: int) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    try:
        await raw_inserts(client, code)
        for size in sizes:
            await one_size(client, code, size, rounds)
        await raw_inserts(client, code)
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,20000")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--code", default="branch", help="a name for the kit being run (main, branch, …)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with contextlib.ExitStack() as stack:
        url = os.environ.get("MONGODB_URL") or stack.enter_context(
            private_store(f"bench-merkle-{uuid.uuid4().hex[:6]}")).url
        asyncio.run(run(url, args.code, sizes, args.rounds))


if __name__ == "__main__":
    main()
