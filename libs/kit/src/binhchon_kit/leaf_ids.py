"""How the Merkle log's leaves are named and found so that every lookup is served by an index (ADR 0022, amended
2026-11-30: "a relay pass and a checkpoint cost what they add").

Our FerretDB 1.24 build (docs/adr/0016, 0012) serves by an index: ``_id`` equal to a string, ``_id $in`` of
strings, a string range on a top-level field, and a find of string equalities and a string range on the sort
field, sorted on it, with a limit. An integer ``_id``, an integer range, a bare sort, ``{"event": {"$in": …}}``
or ``{"event": key}`` (containment) read the whole collection. So leaf i's ``_id`` is i in 16 zero-padded
decimal digits (string order is index order), and "has this event a leaf" is a string range on the unique
``event`` index, one per stream of the batch (an event's key ends in its zero-padded version, so a stream's
versions are one range).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from binhchon_kit import key_range

WIDTH = 16
FIRST, LAST = "0" * WIDTH, "9" * WIDTH
AT_ONCE = 8  # lookups in flight at once: one per stream of a relay batch


def leaf_id(index: int) -> str:
    """The ``_id`` of leaf ``index``."""
    if not 0 <= index < 10 ** WIDTH:
        raise ValueError(f"no leaf {index}")
    return f"{index:0{WIDTH}d}"


def leaf_index(doc_id: Any) -> int:
    """The index a leaf's ``_id`` names (an integer ``_id``: a log not yet upgraded, see ``leaf_upgrade``)."""
    return int(doc_id)


def span(lo: int, hi: int | None = None) -> dict[str, Any]:
    """The filter of leaves ``lo`` ≤ i < ``hi`` (no ``hi``: to the end), a string range on ``_id``."""
    return {"_id": {"$gte": leaf_id(lo), "$lt": leaf_id(hi)} if hi is not None else
            {"$gte": leaf_id(lo), "$lte": LAST}}


async def page(leaves: Any, lo: int, hi: int | None, limit: int, *, descending: bool = False,
               projection: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """At most ``limit`` leaves of [lo, hi) in index order: a keyset page, limited in PostgreSQL (ADR 0016), which
    walks the ``_id`` index between both bounds (a range without sort and limit is pushed down one bound only)."""
    if hi is not None:
        limit = min(limit, hi - lo)
        if limit <= 0:
            return []
    docs: list[dict[str, Any]] = await leaves.find(span(lo, hi), projection=projection,
                                                   sort=[("_id", -1 if descending else 1)], limit=limit).to_list()
    return docs


async def _events_between(leaves: Any, lo: str, hi: str, limit: int) -> list[dict[str, Any]]:
    """The leaves whose event key is in [lo, hi], walked on the unique ``event`` index in pages of ``limit``."""
    found: list[dict[str, Any]] = []
    bound = {"$gte": lo}
    while True:
        docs: list[dict[str, Any]] = await leaves.find({"event": {**bound, "$lte": hi}}, sort=[("event", 1)],
                                                       limit=limit).to_list()
        found += docs
        if len(docs) < limit:
            return found
        bound = {"$gt": docs[-1]["event"]}  # keys of other streams may sort among these (a stream named "s/0…")


async def holding(leaves: Any, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The leaves that hold any of the event ``keys``, by key: one range on the ``event`` index per stream, from
    its first version asked to its last (a stream's unpublished events are its last versions: few in between)."""
    wanted = set(keys)
    versions: dict[str, list[str]] = defaultdict(list)
    for key in wanted:
        versions[key.rpartition("/")[0]].append(key)
    gate = asyncio.Semaphore(AT_ONCE)

    async def of_stream(ks: list[str]) -> list[dict[str, Any]]:
        lo, hi = min(ks), max(ks)
        span_ = int(hi.rpartition("/")[2]) - int(lo.rpartition("/")[2]) + 1
        async with gate:
            return await _events_between(leaves, lo, hi, max(1, min(span_, 1000)))

    found = await asyncio.gather(*(of_stream(ks) for ks in versions.values()))
    return {d["event"]: d for docs in found for d in docs if d["event"] in wanted}


async def holder(leaves: Any, key: str) -> dict[str, Any] | None:
    """The leaf that holds the event ``key``, if any."""
    return await key_range.first_equal(leaves, "event", key)


async def by_event_id(leaves: Any, event_id: str) -> dict[str, Any] | None:
    """The leaf of the event ``event_id``, if any (the ``event_id`` index: not unique, the first is taken)."""
    return await key_range.first_equal(leaves, "event_id", event_id)
