"""Closing holes in a Merkle log's leaves that no checkpoint signed yet (ADR 0022, amended 2026-11-30).

A hole is an index with no leaf below the highest one. Before the fix of 2026-11-30 a relay could leave one
(FerretDB 1.24 goes on after a duplicate in an ``ordered`` insert); two relays racing still can, briefly. No
checkpoint can sign over a hole (``leaf_hashes`` refuses), so every leaf above the last checkpoint's size is
unsigned, and those leaves are moved down, in their order, until none is missing: the tree is what the relay
added, without the holes. Below the last checkpoint's size nothing is touched: a leaf missing there is damage.

Moving leaf j to index h takes three writes, each safe to be killed after: mark j moving (its ``event`` becomes
``moving:<key>``, which frees the unique key and keeps j's index taken), insert the copy at h under the key,
delete the marked j. A marked leaf is never signed (``leaf_hashes`` refuses it as a hole). Whoever meets a marked
leaf settles it: deleted if its event has its leaf elsewhere, else given its key back; the unique ``_id`` and
``event`` indexes decide every race between two closers, or a closer and a relay.
"""

from __future__ import annotations

from typing import Any

from pymongo.errors import DuplicateKeyError, OperationFailure

from binhchon_kit.leaf_ids import holder, leaf_id, leaf_index, page

MOVING = "moving:"
ROUNDS = 20  # restarts after a race before giving up until the next pass
SWEEP_PAGE = 1000


class HolesRemain(Exception):
    """Others kept moving the same leaves: the next pass tries again."""


def is_moving(doc: dict[str, Any]) -> bool:
    return str(doc["event"]).startswith(MOVING)


async def close_holes(leaves: Any, since: int) -> int:
    """Move the leaves at or above ``since`` down, in order, until no index from ``since`` up is missing.
    Returns how many leaves were moved."""
    moved = 0
    for _ in range(ROUNDS):
        done, count = await _sweep(leaves, since)
        moved += count
        if done:
            return moved
    raise HolesRemain(f"holes above leaf {since} still move after {ROUNDS} rounds")


async def _sweep(leaves: Any, since: int) -> tuple[bool, int]:
    target, moved, at = since, 0, since
    while True:
        # the leaves no checkpoint signed, in keyset pages of the _id index, however long the log (leaf_ids)
        docs = await page(leaves, at, None, SWEEP_PAGE)
        for doc in docs:
            if is_moving(doc):
                await _settle(leaves, doc)
                return False, moved  # its index may be free now: look again
            if leaf_index(doc["_id"]) != target:
                if not await _move(leaves, doc, target):
                    return False, moved
                moved += 1
            target += 1
        if len(docs) < SWEEP_PAGE:
            return True, moved
        at = leaf_index(docs[-1]["_id"]) + 1  # a leaf moved goes below this page: the next starts after it


async def _move(leaves: Any, doc: dict[str, Any], target: int) -> bool:
    key = doc["event"]
    marked = await leaves.update_one({"_id": doc["_id"], "event": key}, {"$set": {"event": MOVING + key}})
    if marked.modified_count != 1:
        return False  # another closer moved it meanwhile
    try:
        await leaves.insert_one({**doc, "_id": leaf_id(target)})
    except DuplicateKeyError:  # the index taken (a relay, another closer) or the key given back by another closer
        await _settle(leaves, {**doc, "event": MOVING + key})
        return False
    await leaves.delete_one({"_id": doc["_id"], "event": MOVING + key})
    return True


async def _settle(leaves: Any, marked: dict[str, Any]) -> None:
    """A leaf marked moving, its mover gone or beaten: deleted once its event has a leaf, else its key back."""
    key = str(marked["event"])[len(MOVING):]
    if await holder(leaves, key) is None:
        try:
            await leaves.update_one({"_id": marked["_id"], "event": MOVING + key}, {"$set": {"event": key}})
            return
        except OperationFailure:  # FerretDB 1.24 answers an update meeting a unique key InternalError, not 11000
            if await holder(leaves, key) is None:
                raise  # not its copy gone in meanwhile: the marked leaf stays for the next pass
    await leaves.delete_one({"_id": marked["_id"], "event": MOVING + key})
