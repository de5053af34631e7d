"""Notify's reads: a recipient's inbox, a dossier's delivery log, the webhook subscriptions (ADR 0015). Routes
call these, never the database. Deliveries are not folded from a stream: each is inserted once by the service
(``Notify._enqueue``), which stores its ``page_key`` with it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from binhchon_kit import paging
from binhchon_kit.paging import Page

# an instant (UTC, to the millisecond, as the store keeps it), another, an id
DELIVERY_KEY = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\|){2}[A-Za-z0-9._:-]+$")
SUBSCRIPTION_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\|sub-[0-9a-f]+$")


def instant(value: datetime) -> str:
    """An instant as a key part: UTC, milliseconds (what MongoDB keeps), so byte order is time order."""
    at = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z"


def delivery_key(delivery: Mapping[str, Any]) -> str:
    """Deliveries list in the order of the events they tell of: two events handled within one tick of notify's
    clock (or read out of order) still list as they happened; deliveries made before about_event_time was kept
    fall back to when they were made."""
    told = delivery.get("about_event_time") or delivery["created_at"]
    return f"{instant(told)}|{instant(delivery['created_at'])}|{delivery['_id']}"


def log_key(delivery: Mapping[str, Any]) -> str | None:
    """A delivery's key in its dossier's log: ``<subject>|<page key>``. The log is a range of this key on its own
    index, holding that dossier's deliveries only: an equality on ``subject_id`` is no index's on FerretDB (ADR
    0016), and walked the deliveries of every dossier ever told (issue 14; ADR 0006, "what of a dossier waits")."""
    subject = delivery.get("subject_id")
    if not isinstance(subject, str) or not subject:
        return None
    return f"{subject}|{delivery.get(paging.PAGE_KEY) or delivery_key(delivery)}"


LOG_KEY = "log_key"
DUE_KEY = "due_key"


def due_fields(delivery_id: str, at: datetime) -> dict[str, Any]:
    """What makes a pending delivery due (ADR 0054, 2026-11-30): ``due_key``, when then which (byte order is time
    order, and every key of an instant up to ``t`` is below ``instant(t) + "}"``). Set by the delivery's insert and
    by a failure's reschedule, unset by its outcome or its cancellation: the delivery's own mark, as the events'
    ``unpublished`` is theirs, so queueing is one insert and the outcome one update."""
    return {DUE_KEY: due_key({"_id": delivery_id, "at": at})}


def due_key(entry: Mapping[str, Any]) -> str:
    return f"{instant(entry['at'])}|{entry['_id']}"


def subscription_key(subscription: Mapping[str, Any]) -> str:
    return f"{instant(subscription['created_at'])}|{subscription['_id']}"


def public(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A delivery as listed: its id, without the webhook body (the event itself)."""
    return {"id": doc["_id"], **paging.strip(doc, "body")}


def subscription(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A subscription as shown: never its secret (shown once, when made)."""
    return {"id": doc["_id"], **paging.strip(doc, "secret"), "paused": bool(doc.get("paused")),
            "owner": doc.get("owner")}


class Views:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.db = db

    async def inbox(self, recipient_id: str, after: str | None, limit: int, total: bool = False) -> Page:
        return await paging.page(self.db["deliveries"], equals={"recipient_id": recipient_id}, limit=limit,
                                 after=paging.cursor_key(after, DELIVERY_KEY), count=total, show=public)

    async def deliveries(self, dossier_id: str, after: str | None, limit: int, total: bool = False) -> Page:
        # walked on the dossier's own keys (``log_key``), listed and cursored by ``page_key`` as before
        return await paging.page(self.db["deliveries"], equals={"subject_id": dossier_id}, limit=limit,
                                 after=paging.cursor_key(after, DELIVERY_KEY), count=total, show=public,
                                 key=LOG_KEY, prefix=f"{dossier_id}|")

    async def subscriptions(self, owner: str | None, after: str | None, limit: int, total: bool = False) -> Page:
        """The webhooks of one agency (``owner``; None: every agency's), oldest first, without their secrets."""
        return await paging.page(self.db["subscriptions"], equals={} if owner is None else {"owner": owner},
                                 limit=limit, count=total, after=paging.cursor_key(after, SUBSCRIPTION_KEY),
                                 show=subscription)


async def setup(db: AsyncDatabase[dict[str, Any]]) -> None:
    """The lists' indexes (the compound ones serve MongoDB in production), and the keys of deliveries and
    subscriptions stored before keys existed."""
    for keys in (["page_key"], ["recipient_id", "page_key"], ["subject_id", "page_key"]):
        await db["deliveries"].create_index([(k, ASCENDING) for k in keys])
    await db["deliveries"].create_index([(DUE_KEY, ASCENDING)])  # the delivery loop walks what is due (ADR 0054)
    await db["deliveries"].create_index([(LOG_KEY, ASCENDING)])  # a dossier's deliveries (ADR 0006, issue 14)
    await db["subscriptions"].create_index([("page_key", ASCENDING)])
    await db["subscriptions"].create_index([("owner", ASCENDING), ("page_key", ASCENDING)])
    await paging.fill_keys(db, "deliveries", delivery_key)
    await paging.fill_keys(db, "deliveries", log_key, key=LOG_KEY)
    await paging.fill_keys(db, "subscriptions", subscription_key)
    await due_entries_moved(db)


async def due_entries_moved(db: AsyncDatabase[dict[str, Any]]) -> int:
    """The ``due`` collection's entries, made before a delivery carried its own ``due_key`` (ADR 0054, 2026-11-30),
    moved onto their deliveries: the key set first, then the entry deleted, so a crash between the two leaves an
    entry moved again at the next start (the same key). An entry whose delivery is no longer pending is dropped.
    Run at every start. Answers how many were moved."""
    moved = 0
    async for entry in db["due"].find({}):
        attempt = int(entry.get("attempt", 1))
        result = await db["deliveries"].update_one({"_id": entry["_id"], "status": "pending"}, {"$set": {
            "attempts": attempt - 1, **due_fields(entry["_id"], entry["at"])}})
        moved += result.matched_count
        await db["due"].delete_one({"_id": entry["_id"]})
    return moved
