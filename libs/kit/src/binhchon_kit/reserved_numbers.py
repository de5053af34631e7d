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
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from binhchon_kit.claims import aware
from binhchon_kit.sequence import claimed_by, last_number, next_number

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
    pending = db["sequence_pending"]
    until = now + lease
    free = pending.find({"scope": scope, "settled": {"$ne": True},
                         "$or": [{"released": True}, {"until": {"$lte": now}}]}).limit(20)
    for doc in await free.to_list():
        number = doc.get("number") or await _claimed_number(db, doc)
        if number is None:  # died before it claimed anything: nothing to give out
            await pending.delete_one({"_id": doc["_id"]})
            continue
        if not doc.get("released") and aware(doc["until"]) <= now and await holds(doc["for"], number):
            await _settle(db, doc["_id"])  # stored; only the settling was lost
            continue
        taken_id = f"after:{doc['_id']}"
        taken = {"_id": taken_id, "scope": scope, "for": claimed_for, "until": until,
                 "number": number}
        try:
            await pending.insert_one(taken)
        except DuplicateKeyError:
            continue  # another claimant took it over first
        await _settle(db, doc["_id"])
        return Reservation(taken_id, scope, number)
    reservation_id = str(uuid.uuid4())
    await pending.insert_one({"_id": reservation_id, "scope": scope, "for": claimed_for, "until": until,
                              "from": await last_number(db, scope) + 1})
    number = await next_number(db, scope, claimed_for=reservation_id)
    return Reservation(reservation_id, scope, number)


async def still_held(db: AsyncDatabase[dict[str, Any]], reservation: Reservation) -> bool:
    """False once another claimant took the number over (this holder outlived its lease): reserve again."""
    return await db["sequence_pending"].find_one({"_id": f"after:{reservation.id}"}) is None


async def settle(db: AsyncDatabase[dict[str, Any]], reservation: Reservation) -> None:
    """The number is stored with what it was claimed for: no longer anybody else's to take."""
    await _settle(db, reservation.id)


async def release(db: AsyncDatabase[dict[str, Any]], reservation: Reservation) -> None:
    """The number was not used (the claimant was refused after claiming it): the next claimant takes it."""
    await db["sequence_pending"].update_one({"_id": reservation.id}, {"$set": {"released": True,
                                                                             "number": reservation.number}})


async def _settle(db: AsyncDatabase[dict[str, Any]], reservation_id: str) -> None:
    pending = db["sequence_pending"]
    if reservation_id.startswith("after:"):
        # kept, so that nobody can take the same free reservation over a second time
        await pending.update_one({"_id": reservation_id}, {"$set": {"settled": True}})
    else:
        await pending.delete_one({"_id": reservation_id})


async def _claimed_number(db: AsyncDatabase[dict[str, Any]], doc: dict[str, Any]) -> int | None:
    """The number the reservation's holder claimed, probing the claims from where it started (an unbroken run:
    the first id missing ends it)."""
    return await claimed_by(db, doc["scope"], doc["_id"], int(doc["from"]))
