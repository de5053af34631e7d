"""Receipt numbers' reservations are found by their ``free_key`` index, not by reading every reservation ever kept
(issue 14; ADR 0053 amended 2026-11-30), and keep their guarantees (docs/adr/0038).

On FerretDB over PostgreSQL, the pages ``sequence_pending``'s table gave while a round takes a number given back,
a new one, one given back again and one abandoned by a claimant that died: a bounded number, with 2,000 settled
takeovers of earlier rounds kept (stored before the key existed, given none by the fill). Before, each ``reserve``
asked ``settled $ne`` / ``$or``, which FerretDB answers by reading the whole collection.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from binhchon_kit import reserved_numbers
from binhchon_kit.reserved_numbers import FREE_KEY, PENDING, Reservation, release, reserve, settle, still_held
from binhchon_kit.sequence import claim_id
from binhchon_kit.testing.table_reads import reads, table_pages

pytestmark = pytest.mark.integration
N = 2000
LEASE = timedelta(minutes=5)
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
# pages four reservations (a take-over of a number given back, a new one given back and taken, one abandoned and
# taken after its lease) may touch, whatever N: 129 measured, most of them the writes; the code before (each of
# the five searches read every one of the 2,000 kept reservations) 811
BOUND = 300


async def nothing_holds(_: str, __: int) -> bool:
    return False  # nothing was stored with the numbers these tests claim


async def _history(db: Any, scope: str, n: int) -> None:
    """``n`` numbers of ``scope`` claimed and stored, each by a takeover kept settled (as before ``free_key``), and
    number ``n + 1`` given back by a claimant refused after claiming it."""
    claims = [{"_id": claim_id(scope, i), "for": f"old-{i}"} for i in range(1, n + 2)]
    kept = [{"_id": f"after:old-{i}", "scope": scope, "for": f"d-{i}", "number": i,
             "until": T0 - timedelta(days=30), "settled": True} for i in range(1, n + 1)]
    for start in range(0, n + 1, 500):
        await db["sequence_claims"].insert_many(claims[start:start + 500])
        if kept[start:start + 500]:
            await db[PENDING].insert_many(kept[start:start + 500])
    await db[PENDING].insert_one({"_id": "old-given-back", "scope": scope, "for": "d-refused", "from": n + 1,
                                  "until": T0 - timedelta(days=30), "released": True, "number": n + 1})


async def test_reservations_read_a_bounded_number_of_pages_however_many_are_kept(counted_store, counted_mongo, unique):
    name = f"kit_reserved_{unique}"
    db = counted_mongo[name]
    scope = "receipt:round-a"
    await _history(db, scope, N)
    await reserved_numbers.setup(db)  # the deploy's fill: the given-back one gets its key, the settled ones none
    assert await db[PENDING].count_documents({FREE_KEY: {"$type": "string"}}) == 1
    numbers: list[int] = []

    async def a_round_takes_numbers() -> None:
        given_back = await reserve(db, scope, claimed_for="d-a", now=T0, lease=LEASE, holds=nothing_holds)
        await settle(db, given_back)
        refused = await reserve(db, scope, claimed_for="d-b", now=T0, lease=LEASE, holds=nothing_holds)
        await release(db, refused)
        again = await reserve(db, scope, claimed_for="d-c", now=T0, lease=LEASE, holds=nothing_holds)
        await settle(db, again)
        await reserve(db, scope, claimed_for="d-dies", now=T0, lease=LEASE, holds=nothing_holds)  # never settled
        later = T0 + LEASE + timedelta(seconds=1)
        taken = await reserve(db, scope, claimed_for="d-e", now=later, lease=LEASE, holds=nothing_holds)
        await settle(db, taken)
        numbers.extend([given_back.number, refused.number, again.number, taken.number])

    read = (await reads(counted_store, name, a_round_takes_numbers))[PENDING]
    print(f"\nfour reservations among {N} kept: {read}")
    assert numbers == [N + 1, N + 2, N + 2, N + 3]  # every number given back or abandoned is given out again
    assert read.pages < BOUND, read
    assert await db[PENDING].count_documents({FREE_KEY: {"$type": "string"}}) == 0

    # what each search cost before: the same counts see every reservation read
    old = {"scope": scope, "settled": {"$ne": True}, "$or": [{"released": True}, {"until": {"$lte": T0}}]}
    full = (await reads(counted_store, name, lambda: db[PENDING].find(old).limit(20).to_list()))[PENDING]
    print(f"the search before: {full}")
    assert full.pages >= table_pages(counted_store, name, PENDING) > 20, full


async def _one_given_back(db: Any, scope: str) -> Reservation:
    """Number 1 of ``scope``, claimed and given back (its claimant refused as a duplicate)."""
    await reserved_numbers.setup(db)
    refused = await reserve(db, scope, claimed_for="d-0", now=T0, lease=LEASE, holds=nothing_holds)
    await release(db, refused)
    return refused


async def test_a_takeover_whose_settling_was_lost_is_settled_by_the_next_claimant(mongo, unique):
    db = mongo[f"kit_reserved_{unique}"]
    scope = "receipt:round-b"
    refused = await _one_given_back(db, scope)
    # a claimant took it over and died before settling what it took over: the two writes, the second lost
    await db[PENDING].insert_one({"_id": f"after:{refused.id}", "scope": scope, "for": "d-b", "number": 1,
                                  "until": T0 + LEASE,
                                  FREE_KEY: reserved_numbers.free_key(scope, T0 + LEASE, f"after:{refused.id}")})
    nxt = await reserve(db, scope, claimed_for="d-c", now=T0, lease=LEASE, holds=nothing_holds)
    assert nxt.number == 2  # number 1 is the takeover's, not given twice
    assert await db[PENDING].find_one({"_id": refused.id}) is None  # and what it took over is free no more
    assert not await still_held(db, refused)


async def test_claimants_racing_for_one_number_given_back_get_distinct_numbers(mongo, unique):
    db = mongo[f"kit_reserved_{unique}"]
    scope = "receipt:round-c"
    await _one_given_back(db, scope)
    got = await asyncio.gather(*(reserve(db, scope, claimed_for=f"d-{i}", now=T0, lease=LEASE, holds=nothing_holds)
                                 for i in range(1, 6)))
    assert sorted(r.number for r in got) == [1, 2, 3, 4, 5]


async def test_a_lease_not_yet_over_is_nobody_elses(mongo, unique):
    db = mongo[f"kit_reserved_{unique}"]
    scope = "receipt:round-d"
    await reserved_numbers.setup(db)
    held = await reserve(db, scope, claimed_for="d-a", now=T0, lease=LEASE, holds=nothing_holds)
    early = await reserve(db, scope, claimed_for="d-b", now=T0 + LEASE - timedelta(milliseconds=1), lease=LEASE,
                          holds=nothing_holds)
    assert (held.number, early.number) == (1, 2)
    assert await still_held(db, held)
    over = await reserve(db, scope, claimed_for="d-c", now=T0 + LEASE, lease=LEASE, holds=nothing_holds)
    assert over.number == 1 and not await still_held(db, held)


def test_a_scope_with_a_slash_is_refused():
    with pytest.raises(ValueError, match="holds no '/'"):
        reserved_numbers.free_key("receipt/a", T0, "x")
