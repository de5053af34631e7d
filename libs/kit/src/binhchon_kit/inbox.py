"""The consumers' inbox: which handler has handled which event, so a redelivery is a no-op.

One entry per (handler, event id), keyed ``<handler>:<event id>`` so a second insert of the same pair fails
instead of adding a row: on MongoDB and on FerretDB alike only an insert under the unique ``_id`` decides
(ADR 0013)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from binhchon_kit.events import RecordedEvent
from binhchon_kit.vietnam_time import now_utc


class Inbox(Protocol):
    async def seen(self, handler: str, event_id: str) -> bool: ...

    async def record(self, handler: str, event: RecordedEvent) -> None: ...


class MongoInbox:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], clock: Callable[[], datetime] = now_utc) -> None:
        self.collection = db["inbox"]
        self.clock = clock

    async def seen(self, handler: str, event_id: str) -> bool:
        return await self.collection.find_one({"_id": f"{handler}:{event_id}"}, projection={"_id": 1}) is not None

    async def record(self, handler: str, event: RecordedEvent) -> None:
        try:
            await self.collection.insert_one(
                {"_id": f"{handler}:{event.id}", "handler": handler, "type": event.type,
                 "subject": event.subject, "at": self.clock()}
            )
        except DuplicateKeyError:
            pass


class MemoryInbox:
    """The inbox of a process that keeps nothing (unit tests)."""

    def __init__(self) -> None:
        self.handled: set[str] = set()

    async def seen(self, handler: str, event_id: str) -> bool:
        return f"{handler}:{event_id}" in self.handled

    async def record(self, handler: str, event: RecordedEvent) -> None:
        self.handled.add(f"{handler}:{event.id}")
