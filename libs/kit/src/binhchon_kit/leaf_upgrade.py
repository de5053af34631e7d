"""A Merkle log of the old format brought to the new one, once, at ``Checkpoints.setup`` (ADR 0022, amended 2026-11-30).

Before 2026-11-30 leaf i was a document of ``log_leaves`` with the integer ``_id`` i. No index of our FerretDB
build serves an integer ``_id``: converting the leaves in place, one write per leaf addressed by that ``_id``,
would read the whole collection per leaf. So the old collection is read once (a plain scan), and its leaves are
copied into ``merkle_leaves`` under their new ``_id`` (``leaf_ids``), unchanged otherwise (a leaf marked moving
stays marked: ``leaf_holes`` settles it), then checked there by ``_id $in``, and only
then is the old collection dropped. Killed anywhere, the next setup does it again: a copy already made is a
duplicate ``_id`` and is kept, and the unique ``event`` index keeps an event from a second leaf (another process
upgrading at once, or one that has upgraded and moved a leaf down since). The old collection's presence is the
only mark: a store without it has nothing to upgrade and pays one look at the collection names.

Replicas of the old version must be stopped before the first of the new starts: an old relay would go on adding
leaves to ``log_leaves``, which the new version no longer reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo.errors import BulkWriteError

from binhchon_kit.leaf_holes import MOVING
from binhchon_kit.leaf_ids import holder, leaf_id

OLD_LEAVES = "log_leaves"
BATCH = 500  # within the 1,000 members of an `_id $in` our FerretDB build serves by the index
DUPLICATE = 11000


class UpgradeFailed(RuntimeError):
    """An old leaf could not be copied and its event has no leaf in the new log: the old collection is kept."""


async def upgrade(db: Any, leaves: Any) -> int:
    """Copy the old-format log (``log_leaves``) into ``leaves`` and drop it; returns how many leaves were copied
    by this call (0: nothing to upgrade, or another process copied them)."""
    if OLD_LEAVES not in await db.list_collection_names(filter={"name": OLD_LEAVES}):
        return 0
    old = db[OLD_LEAVES]
    copied, batch = 0, []
    async for doc in old.find({}):
        batch.append({**doc, "_id": leaf_id(int(doc["_id"]))})
        if len(batch) == BATCH:
            copied += await _copy(leaves, batch)
            batch = []
    if batch:
        copied += await _copy(leaves, batch)
    await old.drop()
    return copied


async def _copy(leaves: Any, docs: Sequence[dict[str, Any]]) -> int:
    """``docs`` into ``leaves``, then each checked there: its copy at its index, or its event's leaf elsewhere."""
    try:
        inserted = len((await leaves.insert_many(list(docs), ordered=False)).inserted_ids)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE for e in errors):
            raise
        inserted = int(exc.details.get("nInserted", 0))
    there = {d["_id"]: d["event"] async for d in leaves.find({"_id": {"$in": [d["_id"] for d in docs]}},
                                                             projection={"event": 1})}
    for doc in docs:
        if there.get(doc["_id"]) == doc["event"]:
            continue
        key = str(doc["event"]).removeprefix(MOVING)
        if await holder(leaves, key) is None:
            raise UpgradeFailed(f"leaf {doc['_id']} ({doc['event']}) of {OLD_LEAVES} was not copied, and its event "
                                "has no leaf in the new log")
    return inserted
