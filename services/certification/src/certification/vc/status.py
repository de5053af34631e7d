"""Each certificate's place in the revocation lists (ADR 0032): a position claimed once from a sequence and kept
in certification's ``status_entries``, so a certificate keeps its index for ever and no index serves two
certificates (a claim lost to a racing replica stays unused). Position ``p`` is index ``p % LIST_SIZE`` of list
``p // LIST_SIZE``."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from binhchon_kit.sequence import last_number, next_number
from certification.domain import certificates as certs
from certification.vc.credentials import LIST_SIZE

SEQUENCE = "status-list-position"


async def position(db: AsyncDatabase[dict[str, Any]], stream: str) -> int:
    """The certificate's position, claimed on first use; every later call, on any replica, answers the same."""
    entries = db["status_entries"]
    if (entry := await entries.find_one({"_id": stream})) is not None:
        return int(entry["position"])
    claimed = await next_number(db, SEQUENCE, claimed_for=stream) - 1
    try:
        await entries.insert_one({"_id": stream, "position": claimed, "list": claimed // LIST_SIZE})
    except DuplicateKeyError:
        pass  # another replica placed it first: its position is the certificate's, ours is never handed out
    entry = await entries.find_one({"_id": stream})
    assert entry is not None
    return int(entry["position"])


def place(at: int) -> tuple[int, int]:
    """(list, index in that list)."""
    return divmod(at, LIST_SIZE)


async def lists_in_use(db: AsyncDatabase[dict[str, Any]]) -> int:
    """How many lists hold a position (the last position claimed is in the last of them)."""
    last = await last_number(db, SEQUENCE)
    return 0 if last == 0 else (last - 1) // LIST_SIZE + 1


async def revoked_indexes(db: AsyncDatabase[dict[str, Any]], list_number: int) -> list[int]:
    """The indexes of this list whose certificates are revoked, from the certificates' read model: revocations
    are few, so each revoked certificate's entry is looked up (``$in`` is not pushed down by FerretDB)."""
    indexes = []
    async for doc in db["certificates"].find({"status": certs.REVOKED}, projection={"_id": 1}):
        entry = await db["status_entries"].find_one({"_id": doc["_id"]})
        if entry is not None and entry["position"] // LIST_SIZE == list_number:
            indexes.append(int(entry["position"]) % LIST_SIZE)
    return sorted(indexes)
