"""Gap-free-as-possible, never-duplicated sequence numbers (receipt numbers, certificate numbers).

Each number is claimed by inserting a document keyed ``<scope>/<n>``: the unique key is what guarantees that no
two callers get the same number, on MongoDB and on FerretDB alike (FerretDB's find-and-modify is not atomic
under concurrency, so an ``$inc`` counter alone hands out duplicates). A per-scope hint remembers the last
number taken so that a claim starts near the end instead of probing from 1. Numbers that must have no holes
even when a claimant dies before storing what it claimed for are reserved first (binhchon_kit.reserved_numbers).
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError


def claim_id(scope: str, number: int) -> str:
    return f"{scope}/{number:09d}"


async def next_number(db: AsyncDatabase[dict[str, Any]], scope: str, *, claimed_for: str = "") -> int:
    hints, claims = db["sequence_hints"], db["sequence_claims"]
    hint = await hints.find_one({"_id": scope})
    candidate = (hint["last"] if hint else 0) + 1
    while True:
        try:
            await claims.insert_one({"_id": claim_id(scope, candidate), "for": claimed_for})
            break
        except DuplicateKeyError:
            candidate += 1
    try:
        await hints.update_one({"_id": scope}, {"$max": {"last": candidate}}, upsert=True)
    except DuplicateKeyError:
        pass  # two first claims raced to create the hint; it is only a hint
    return candidate
