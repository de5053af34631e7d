"""The event store on MongoDB: one document per event in the service's ``events`` collection.

The unique index on (stream, version) is the only concurrency control: two writers that both read version n
both try to insert n+1 and exactly one succeeds. The document is never updated afterwards except for its
``published``/``projected`` marks, so the store is also the outbox the relay drains.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from binhchon_kit.canonical import GENESIS_HASH, chain_hash
from binhchon_kit.contracts.registry import event_model
from binhchon_kit.envelope import utc_now
from binhchon_kit.events import Actor, Cause, NewEvent, RecordedEvent, hashed_content


class ConcurrencyConflict(Exception):
    """The stream moved on since the caller read it (HTTP 409)."""

    def __init__(self, stream: str, expected_version: int, actual_version: int) -> None:
        super().__init__(
            f"stream {stream} is at version {actual_version}, the command expected {expected_version}"
        )
        self.stream = stream
        self.expected_version = expected_version
        self.actual_version = actual_version


class AlreadyRecorded(Exception):
    """An event with this id is already in the store: the effect happened before (idempotent retry)."""

    def __init__(self, event_id: str) -> None:
        super().__init__(f"event {event_id} is already recorded")
        self.event_id = event_id


def _to_document(event: RecordedEvent) -> dict[str, Any]:
    return {
        "_id": event.id, "stream": event.stream, "version": event.version, "type": event.type,
        "schema_version": event.schema_version, "subject": event.subject, "time": event.time,
        "data": event.data, "actor": {"id": event.actor.id, "roles": list(event.actor.roles)},
        "correlation_id": event.correlation_id, "causation_id": event.causation_id, "source": event.source,
        "prev_hash": event.prev_hash, "hash": event.hash, "published": False, "projected": False,
    }


def from_document(doc: dict[str, Any]) -> RecordedEvent:
    return RecordedEvent(
        id=doc["_id"], stream=doc["stream"], version=doc["version"], type=doc["type"],
        schema_version=doc["schema_version"], subject=doc["subject"],
        time=doc["time"].replace(tzinfo=UTC) if doc["time"].tzinfo is None else doc["time"],
        data=doc["data"], actor=Actor(doc["actor"]["id"], tuple(doc["actor"]["roles"])),
        correlation_id=doc["correlation_id"], causation_id=doc["causation_id"], source=doc["source"],
        prev_hash=doc["prev_hash"], hash=doc["hash"],
    )


class EventStore:
    """Append-only event streams with optimistic concurrency and a per-stream hash chain."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], source: str) -> None:
        self.db = db
        self.source = source
        self.events: AsyncCollection[dict[str, Any]] = db["events"]
        self.appended = asyncio.Event()  # wakes the in-process relay and projector early

    async def setup(self) -> None:
        await self.events.create_index([("stream", ASCENDING), ("version", ASCENDING)], unique=True)
        await self.events.create_index([("published", ASCENDING), ("stream", ASCENDING), ("version", ASCENDING)])
        await self.events.create_index([("projected", ASCENDING), ("stream", ASCENDING)])

    async def append(
        self, stream: str, expected_version: int, event: NewEvent, *, subject: str, actor: Actor, cause: Cause
    ) -> RecordedEvent:
        """Record ``event`` as version ``expected_version + 1`` of ``stream``.

        Raises ConcurrencyConflict when the stream is not at ``expected_version``, and AlreadyRecorded when
        an event with the same id exists (a deterministic id makes a repeated handler a no-op).
        """
        last = await self.events.find_one({"stream": stream}, sort=[("version", DESCENDING)])
        actual = last["version"] if last else 0
        if actual != expected_version:
            if await self.events.find_one({"_id": event.id}, projection={"_id": 1}):
                raise AlreadyRecorded(event.id)
            raise ConcurrencyConflict(stream, expected_version, actual)
        prev_hash = last["hash"] if last else GENESIS_HASH
        registration = event_model(event.type)
        data = event.data.model_dump(mode="json")
        when = utc_now()
        content = hashed_content(
            id=event.id, stream=stream, version=expected_version + 1, type=event.type,
            schema_version=registration.schema_version, subject=subject, time=when, data=data, actor=actor,
            correlation_id=cause.correlation_id, causation_id=cause.causation_id, source=self.source,
        )
        recorded = RecordedEvent(
            id=event.id, stream=stream, version=expected_version + 1, type=event.type,
            schema_version=registration.schema_version, subject=subject, time=when, data=data, actor=actor,
            correlation_id=cause.correlation_id, causation_id=cause.causation_id, source=self.source,
            prev_hash=prev_hash, hash=chain_hash(prev_hash, content),
        )
        try:
            await self.events.insert_one(_to_document(recorded))
        except DuplicateKeyError:
            if await self.events.find_one({"_id": event.id}, projection={"_id": 1}):
                raise AlreadyRecorded(event.id) from None
            latest = await self.version(stream)
            raise ConcurrencyConflict(stream, expected_version, latest) from None
        self.appended.set()
        return recorded

    async def version(self, stream: str) -> int:
        last = await self.events.find_one({"stream": stream}, sort=[("version", DESCENDING)], projection={"version": 1})
        return int(last["version"]) if last else 0

    async def read_stream(self, stream: str) -> list[RecordedEvent]:
        cursor = self.events.find({"stream": stream}, sort=[("version", ASCENDING)])
        return [from_document(doc) async for doc in cursor]

    async def get(self, event_id: str) -> RecordedEvent | None:
        doc = await self.events.find_one({"_id": event_id})
        return from_document(doc) if doc else None

    async def streams(self) -> list[str]:
        return sorted(await self.events.distinct("stream"))

    async def read_all(self, batch_size: int = 500) -> AsyncIterator[RecordedEvent]:
        """Every event of every stream, stream by stream in version order: for replay, rebuild and audit.

        Ordered by (stream, version), never by time: concurrent writers commit out of time order.
        """
        cursor = self.events.find({}, sort=[("stream", ASCENDING), ("version", ASCENDING)], batch_size=batch_size)
        async for doc in cursor:
            yield from_document(doc)

    async def unpublished(self, limit: int) -> list[RecordedEvent]:
        cursor = self.events.find(
            {"published": False}, sort=[("stream", ASCENDING), ("version", ASCENDING)], limit=limit
        )
        return [from_document(doc) async for doc in cursor]

    async def mark_published(self, event_ids: Sequence[str]) -> None:
        if event_ids:
            await self.events.update_many(
                {"_id": {"$in": list(event_ids)}}, {"$set": {"published": True, "published_at": datetime.now(UTC)}}
            )

    async def unprojected_streams(self, limit: int) -> list[str]:
        cursor = self.events.find({"projected": False}, projection={"stream": 1}, limit=limit)
        return sorted({doc["stream"] async for doc in cursor})

    async def mark_projected(self, stream: str, up_to_version: int) -> None:
        await self.events.update_many(
            {"stream": stream, "version": {"$lte": up_to_version}, "projected": False}, {"$set": {"projected": True}}
        )


def verify_chain(events: Sequence[RecordedEvent]) -> list[str]:
    """Problems with one stream's chain (empty when intact): altered content, a gap, a broken link."""
    problems: list[str] = []
    prev = GENESIS_HASH
    for expected_version, event in enumerate(events, start=1):
        if event.version != expected_version:
            problems.append(f"{event.stream}: version {event.version} where {expected_version} was expected")
        if event.prev_hash != prev:
            problems.append(f"{event.stream} v{event.version}: previous hash does not match")
        if not event.verify_hash():
            problems.append(f"{event.stream} v{event.version}: content does not match its hash")
        prev = event.hash
    return problems
