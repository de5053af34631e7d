"""Gap-free-as-possible, never-duplicated sequence numbers (receipt numbers, certificate numbers).

Each number is claimed by inserting a document keyed ``<scope>/<n, 9 digits>``: the unique key is what guarantees
that no two callers get the same number, on MongoDB and on FerretDB alike (FerretDB's find-and-modify is not atomic
under concurrency, so an ``$inc`` counter alone hands out duplicates). Numbers that must have no holes even when a
claimant dies before storing what it claimed for are reserved first (binhchon_kit.reserved_numbers).

A claim is one read and one insert: the last number claimed is read from the claims themselves (their keys sort as
their numbers: one key-range query, backwards, limit one, which FerretDB answers from the ``_id`` index, ADR 0016)
and the next one is inserted. Claimants of one scope in one process take turns (a lock per scope and event loop):
when all of a round's submissions raced from the same starting point, each lost insert was a row PostgreSQL wrote
and threw away, ten per dossier in the pipeline bench (ADR 0053). The lock only spares those losses: replicas
still race, and the unique key still decides; a loser reads the last claim again and tries the one after it.
The earlier per-scope ``sequence_hints`` document (one more write per claim) is no longer written nor read.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

DIGITS = 9
_turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = weakref.WeakKeyDictionary()


def claim_id(scope: str, number: int) -> str:
    return f"{scope}/{number:0{DIGITS}d}"


def _scope_keys(scope: str) -> dict[str, Any]:
    """The keys of the scope's claims and of no other scope's: a scope holds no ``/``, so a key in this range
    starts with ``<scope>/`` and is followed by nine digits."""
    if "/" in scope:
        raise ValueError(f"a sequence's scope holds no '/': {scope!r}")
    return {"_id": {"$gte": claim_id(scope, 0), "$lte": claim_id(scope, 10**DIGITS - 1)}}


async def last_number(db: AsyncDatabase[dict[str, Any]], scope: str) -> int:
    """The highest number of ``scope`` claimed so far (0: none)."""
    last = await db["sequence_claims"].find_one(_scope_keys(scope), projection={"_id": 1},
                                                sort=[("_id", DESCENDING)])
    return 0 if last is None else int(str(last["_id"]).rsplit("/", 1)[1])


def _turn(scope: str) -> asyncio.Lock:
    locks = _turns.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(scope, asyncio.Lock())


async def next_number(db: AsyncDatabase[dict[str, Any]], scope: str, *, claimed_for: str = "") -> int:
    """Claim the number after the last one claimed in ``scope``, for ``claimed_for``."""
    claims = db["sequence_claims"]
    async with _turn(scope):
        while True:
            candidate = await last_number(db, scope) + 1
            try:
                await claims.insert_one({"_id": claim_id(scope, candidate), "for": claimed_for})
                return candidate
            except DuplicateKeyError:
                continue  # another replica claimed it first: read the last claim again


async def claimed_by(db: AsyncDatabase[dict[str, Any]], scope: str, claimed_for: str, since: int) -> int | None:
    """The number of ``scope`` claimed for ``claimed_for`` at ``since`` or after, if any: the claims from there on
    form an unbroken run (each is the one after the last), so the first number missing ends the search. A claimant
    that notes ``last_number + 1`` before it claims finds its own claim again after a crash."""
    claims, number = db["sequence_claims"], since
    while (claim := await claims.find_one({"_id": claim_id(scope, number)})) is not None:
        if claim.get("for") == claimed_for:
            return number
        number += 1
    return None
