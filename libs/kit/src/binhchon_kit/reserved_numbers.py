"""Numbers with no holes (receipt numbers): a number claimed (binhchon_kit.sequence) for something that was then
never stored is given to a later claimant instead of being lost (docs/adr/0038).

Each claim is first announced by a *reservation* in ``sequence_pending`` (a small collection: only what is being
written now, or was abandoned), then the number is claimed, then the thing is stored, then the reservation is
settled (deleted). A reservation is free for another claimant when its holder gave it back (``released``: e.g.
refused as a duplicate after claiming) or when its lease passed and what it was for does not hold its number
(the process died between the claim and the store). The number of a free reservation is found without any
field index: by the reservation's own ``number``, or by probing the claims from ``from`` up by ``_id`` (claims
are taken in order, so they form an unbroken run).

Taking a free reservation over is an insert under an id derived from it (``after:<id>``): of two claimants only
one inserts it (ADR 0013). That takeover is never deleted (only marked settled), so a slow claimant that read
the same free reservation cannot insert it again later.

Free reservations are found by a key of their own (issue 14, ADR 0053 amended 2026-11-30): ``free_key`` =
``<scope>/<when it may be taken>/<id>``, set as a reservation is made (its lease's end, as a sortable time), set to
the lowest time when it is given back (``released``), removed when it is settled. The search is one range of that
key's index, ``<scope>/`` up to ``now``, sorted and limited: a shape FerretDB answers from the index (ADR 0016),
where the earlier ``settled $ne`` / ``$or`` filter read every reservation ever kept, the settled takeovers
included. The key only narrows: each reservation found is checked on its own fields as before, and the takeover's
insert still decides between claimants. A takeover found already made (its insert refused) settles the
reservation it took over, which a crash between the insert and the settling left free.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from binhchon_kit import key_range, paging
from binhchon_kit.claims import aware
from binhchon_kit.envelope import format_time
from binhchon_kit.sequence import claimed_by, last_number, next_number

PENDING = "sequence_pending"
FREE_KEY = "free_key"
RELEASED = "0000-released"  # below every time: a reservation given back is free at once
FREE_AT_ONCE = 20  # free reservations looked at per reservation

Holds = Callable[[str, int], Awaitable[bool]]  # whether what ``claimed_for`` names was stored with this number


@dataclass(frozen=True)
class Reservation:
    id: str
    scope: str
    number: int


async def reserve(db: AsyncDatabase[dict[str, Any]], scope: str, *, claimed_for: str, now: datetime,
                  lease: timedelta, holds: Holds) -> Reservation:
    """A number of ``scope`` for ``claimed_for``: a free one given back or abandoned, else the next. Settle it
    once stored (``settle``), or give it back (``release``)."""
    pending = db[PENDING]
    until = now + lease
    # free by now: released, or a lease that ended at ``now``'s millisecond or before (then checked to the
    # microsecond, below)
    free = pending.find({FREE_KEY: {"$gte": f"{_scope(scope)}/", "$lt": key_range.after(
        f"{scope}/{format_time(now)}/")}}, sort=[(FREE_KEY, ASCENDING)], limit=FREE_AT_ONCE)
    for doc in await free.to_list():
        if doc.get("settled") or (not doc.get("released") and aware(doc["until"]) > now):
            continue
        number = doc.get("number") or await _claimed_number(db, doc)
        if number is None:  # died before it claimed anything: nothing to give out
            await pending.delete_one({"_id": doc["_id"]})
            continue
        if not doc.get("released") and aware(doc["until"]) <= now and await holds(doc["for"], number):
            await _settle(db, doc["_id"])  # stored; only the settling was lost
            continue
        taken_id = f"after:{doc['_id']}"
        taken = {"_id": taken_id, "scope": scope, "for": claimed_for, "until": until,
                 "number": number, FREE_KEY: free_key(scope, until, taken_id)}
        try:
            await pending.insert_one(taken)
        except DuplicateKeyError:
            # another claimant took it over first (and settles it, unless it died before: then this does)
            await _settle(db, doc["_id"])
            continue
        await _settle(db, doc["_id"])
        return Reservation(taken_id, scope, number)
    reservation_id = str(uuid.uuid4())
    await pending.insert_one({"_id": reservation_id, "scope": scope, "for": claimed_for, "until": until,
                              "from": await last_number(db, scope) + 1,
                              FREE_KEY: free_key(scope, until, reservation_id)})
    number = await next_number(db, scope, claimed_for=reservation_id)
    return Reservation(reservation_id, scope, number)


async def reserve_held(db: AsyncDatabase[dict[str, Any]], scope: str, *, claimed_for: str,
                       now: Callable[[], datetime], lease: timedelta, holds: Holds) -> Reservation:
    """``reserve``, and again while the reservation drawn was already taken over (its holder stalled past its
    lease between the two): what a claimant stores its number with."""
    while True:
        reservation = await reserve(db, scope, claimed_for=claimed_for, now=now(), lease=lease, holds=holds)
        if await still_held(db, reservation):
            return reservation


async def held(db: AsyncDatabase[dict[str, Any]], reservation_id: str, *, scope: str, now: datetime,
               left: timedelta) -> Reservation | None:
    """The reservation ``reservation_id`` of ``scope`` with its number, while it is still its holder's with at least
    ``left`` of its lease to run: not settled, released nor taken over (a later attempt of the same claimant takes
    its number again). None otherwise: ``reserve`` then takes it over, or draws another."""
    doc = await db[PENDING].find_one({"_id": reservation_id})
    if (doc is None or doc.get("settled") or doc.get("released") or doc.get("scope") != scope
            or aware(doc["until"]) - now < left):
        return None
    number = doc.get("number") or await _claimed_number(db, doc)
    if number is None:
        return None
    reservation = Reservation(reservation_id, scope, int(number))
    return reservation if await still_held(db, reservation) else None


def free_key(scope: str, until: datetime, reservation_id: str) -> str:
    """Where a reservation stands among its scope's free ones: free from its lease's end (a scope holds no ``/``,
    so ``<scope>/`` is no other scope's prefix; the time is fixed-width, so the keys sort by it)."""
    return f"{_scope(scope)}/{format_time(until)}/{reservation_id}"


def _scope(scope: str) -> str:
    if "/" in scope:
        raise ValueError(f"a sequence's scope holds no '/': {scope!r}")
    return scope


def free_key_of(doc: dict[str, Any]) -> str | None:
    """The key of a reservation stored before ``free_key`` existed (None: settled, nobody's to take)."""
    if doc.get("settled"):
        return None
    if doc.get("released"):
        return f"{doc['scope']}/{RELEASED}/{doc['_id']}"
    return f"{doc['scope']}/{format_time(aware(doc['until']))}/{doc['_id']}"


async def setup(db: AsyncDatabase[dict[str, Any]]) -> None:
    """The free reservations' index, and the keys of reservations kept before it (once per deploy: one pass over
    them, ``paging.fill_keys``)."""
    await db[PENDING].create_index([(FREE_KEY, ASCENDING)])
    await paging.fill_keys(db, PENDING, free_key_of, key=FREE_KEY)


async def still_held(db: AsyncDatabase[dict[str, Any]], reservation: Reservation) -> bool:
    """False once another claimant took the number over (this holder outlived its lease): reserve again."""
    return await db[PENDING].find_one({"_id": f"after:{reservation.id}"}) is None


async def settle(db: AsyncDatabase[dict[str, Any]], reservation: Reservation) -> None:
    """The number is stored with what it was claimed for: no longer anybody else's to take."""
    await _settle(db, reservation.id)


async def release(db: AsyncDatabase[dict[str, Any]], reservation: Reservation) -> None:
    """The number was not used (the claimant was refused after claiming it): the next claimant takes it."""
    await db[PENDING].update_one({"_id": reservation.id, "settled": {"$ne": True}}, {"$set": {
        "released": True, "number": reservation.number,
        FREE_KEY: f"{reservation.scope}/{RELEASED}/{reservation.id}"}})


async def _settle(db: AsyncDatabase[dict[str, Any]], reservation_id: str) -> None:
    pending = db[PENDING]
    if reservation_id.startswith("after:"):
        # kept, so that nobody can take the same free reservation over a second time; no longer free
        await pending.update_one({"_id": reservation_id}, {"$set": {"settled": True}, "$unset": {FREE_KEY: ""}})
    else:
        await pending.delete_one({"_id": reservation_id})


async def _claimed_number(db: AsyncDatabase[dict[str, Any]], doc: dict[str, Any]) -> int | None:
    """The number the reservation's holder claimed, probing the claims from where it started (an unbroken run:
    the first id missing ends it)."""
    return await claimed_by(db, doc["scope"], doc["_id"], int(doc["from"]))
