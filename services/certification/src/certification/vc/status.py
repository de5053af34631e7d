"""Each certificate's place in the revocation lists (ADR 0032): a position claimed once from a sequence and kept
in certification's ``status_entries``, so a certificate keeps its index for ever and no index serves two
certificates (a claim lost to a racing replica stays unused). Position ``p`` is index ``p % LIST_SIZE`` of list
``p // LIST_SIZE``."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from binhchon_kit import paging
from binhchon_kit.sequence import last_number, next_number
from certification.domain import certificates as certs
from certification.vc.credentials import LIST_SIZE

SEQUENCE = "status-list-position"
REVOKED_PAGE = 200  # revoked certificates read per query (and their entries per lookup)


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
    """The indexes of this list whose certificates are revoked. Revocations are few: the revoked certificates are
    walked in the read model's ``(status, page_key)`` index a page at a time, and each page's entries are looked up
    together by ``_id`` (MongoDB, and FerretDB build b9, answer that from the ``_id`` index); never the whole
    certificates collection (issue 10)."""
    indexes: list[int] = []
    after: str | None = None
    while True:
        found = await paging.page(db["certificates"], equals={"status": certs.REVOKED}, after=after,
                                  limit=REVOKED_PAGE, projection={"_id": 1, paging.PAGE_KEY: 1}, show=dict)
        if found.items:
            async for entry in db["status_entries"].find({"_id": {"$in": [d["_id"] for d in found.items]}}):
                if entry["position"] // LIST_SIZE == list_number:
                    indexes.append(int(entry["position"]) % LIST_SIZE)
        if found.next is None:
            return sorted(indexes)
        after = paging.decode_cursor(found.next)
