"""The event store on MongoDB: one document per event in the service's ``events`` collection.

Layout, chosen so that every hot-path access is by ``_id`` (FerretDB's SQLite backend pushes down nothing
else, and on MongoDB key lookups are the cheapest access anyway):

- ``events``: ``_id`` = ``<stream>/<version, 10 digits>``, so the primary key itself is the unique
  (stream, version) index that gives optimistic concurrency: two writers that both read version n both
  insert n+1 and exactly one succeeds. Sorting by ``_id`` is stream-then-version order. A second unique index
  on ``event_id`` makes a repeated handler (deterministic event id) collide. Inserted once, never updated.
- ``outbox`` and ``projection_queue``: an intent document (same ``_id``) inserted *before* the event. So no
  crash can leave an event that the relay or the projector will never see; an intent whose event never came
  (the writer lost the race or died) is dropped after a grace period. Both stay small: the relay deletes an
  entry once Kafka has acknowledged the event, the projector once the read model holds it.

See docs/adr/0002-event-store-layout.md for why the publication mark is not a field of the event document.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from binhchon_kit.canonical import GENESIS_HASH, chain_hash
from binhchon_kit.contracts.registry import event_model
from binhchon_kit.envelope import utc_now
from binhchon_kit.events import Actor, Cause, NewEvent, RecordedEvent, hashed_content

# An intent whose event has not appeared after this long belongs to a writer that lost its race or died.
ORPHAN_AFTER = timedelta(minutes=10)


def event_key(stream: str, version: int) -> str:
    return f"{stream}/{version:010d}"


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
        "_id": event_key(event.stream, event.version), "event_id": event.id, "stream": event.stream,
        "version": event.version, "type": event.type, "schema_version": event.schema_version,
        "subject": event.subject, "time": event.time, "data": event.data,
        "actor": {"id": event.actor.id, "roles": list(event.actor.roles)},
        "correlation_id": event.correlation_id, "causation_id": event.causation_id, "source": event.source,
        "prev_hash": event.prev_hash, "hash": event.hash,
    }


def from_document(doc: dict[str, Any]) -> RecordedEvent:
    time = doc["time"]
    return RecordedEvent(
        id=doc["event_id"], stream=doc["stream"], version=doc["version"], type=doc["type"],
        schema_version=doc["schema_version"], subject=doc["subject"],
        time=time.replace(tzinfo=UTC) if time.tzinfo is None else time,
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
        self.outbox: AsyncCollection[dict[str, Any]] = db["outbox"]
        self.projection_queue: AsyncCollection[dict[str, Any]] = db["projection_queue"]
        self.appended = asyncio.Event()  # wakes the in-process relay early

    async def setup(self) -> None:
        await self.events.create_index([("event_id", ASCENDING)], unique=True)

    async def _get(self, stream: str, version: int) -> dict[str, Any] | None:
        return await self.events.find_one({"_id": event_key(stream, version)})

    async def _last(self, stream: str, from_version: int = 0) -> dict[str, Any] | None:
        """The stream's last event, probing forward by key from a version known to exist (or 0)."""
        last = await self._get(stream, from_version) if from_version else None
        version = from_version
        while (following := await self._get(stream, version + 1)) is not None:
            last, version = following, version + 1
        return last

    async def version(self, stream: str) -> int:
        last = await self._last(stream)
        return int(last["version"]) if last else 0

    async def append(
        self, stream: str, expected_version: int, event: NewEvent, *, subject: str, actor: Actor, cause: Cause
    ) -> RecordedEvent:
        """Record ``event`` as version ``expected_version + 1`` of ``stream``.

        Raises ConcurrencyConflict when the stream is not at ``expected_version``, and AlreadyRecorded when
        an event with the same id exists (a deterministic id makes a repeated handler a no-op).
        """
        previous = await self._get(stream, expected_version) if expected_version else None
        if expected_version and previous is None:
            raise ConcurrencyConflict(stream, expected_version, await self.version(stream))
        version = expected_version + 1
        key = event_key(stream, version)
        prev_hash = previous["hash"] if previous else GENESIS_HASH
        registration = event_model(event.type)
        data = event.data.model_dump(mode="json")
        when = utc_now()
        fields: dict[str, Any] = dict(
            id=event.id, stream=stream, version=version, type=event.type,
            schema_version=registration.schema_version, subject=subject, time=when, data=data, actor=actor,
            correlation_id=cause.correlation_id, causation_id=cause.causation_id, source=self.source,
        )
        recorded = RecordedEvent(**fields, prev_hash=prev_hash, hash=chain_hash(prev_hash, hashed_content(**fields)))
        # Intents first: whichever writer wins this slot, its event is already announced to the relay and the
        # projector. A loser's intent names the same slot, so it is the winner's intent too.
        intent = {"_id": key, "stream": stream, "version": version, "at": datetime.now(UTC)}
        for queue in (self.outbox, self.projection_queue):
            try:
                await queue.insert_one(intent)
            except DuplicateKeyError:
                pass
        try:
            await self.events.insert_one(_to_document(recorded))
        except DuplicateKeyError:
            await self._raise_taken(stream, expected_version, event.id)
        self.appended.set()
        return recorded

    async def _raise_taken(self, stream: str, expected_version: int, event_id: str) -> None:
        # The rare path: tell a repeated effect (same event id anywhere) from a lost race.
        if await self.events.find_one({"event_id": event_id}, projection={"_id": 1}) is not None:
            raise AlreadyRecorded(event_id)
        raise ConcurrencyConflict(stream, expected_version, await self.version(stream))

    async def read_stream(self, stream: str) -> list[RecordedEvent]:
        events: list[RecordedEvent] = []
        while (doc := await self._get(stream, len(events) + 1)) is not None:
            events.append(from_document(doc))
        return events

    async def get(self, stream: str, version: int) -> RecordedEvent | None:
        doc = await self._get(stream, version)
        return from_document(doc) if doc else None

    async def read_all(self, batch_size: int = 500) -> AsyncIterator[RecordedEvent]:
        """Every event of every stream, stream by stream in version order: for replay, rebuild and audit.

        Ordered by key (stream, then version), never by time: concurrent writers commit out of time order.
        """
        cursor = self.events.find({}, sort=[("_id", ASCENDING)], batch_size=batch_size)
        async for doc in cursor:
            yield from_document(doc)

    # ---- the queues the relay and the projector drain ------------------------------------------------

    async def pending_events(
        self, queue: str, limit: int, older_than: timedelta | None = None
    ) -> list[RecordedEvent]:
        """The events waiting in ``queue``, in stream then version order, each stream stopping at its first
        event not written yet (its writer may still be at it). Intents too old to ever get their event are
        dropped on the way. ``older_than`` leaves recent intents to the writer that is handling them."""
        query = {"at": {"$lt": datetime.now(UTC) - older_than}} if older_than else {}
        entries = sorted(await self.db[queue].find(query, limit=limit).to_list(), key=lambda e: e["_id"])
        events: list[RecordedEvent] = []
        orphans: list[str] = []
        blocked: set[str] = set()
        now = datetime.now(UTC)
        for entry in entries:
            if entry["stream"] in blocked:
                continue
            event = await self.get(entry["stream"], entry["version"])
            if event is not None:
                events.append(event)
                continue
            at = entry["at"] if entry["at"].tzinfo else entry["at"].replace(tzinfo=UTC)
            if now - at > ORPHAN_AFTER:
                orphans.append(entry["_id"])
            else:
                blocked.add(entry["stream"])
        await self.done(queue, orphans)
        return events

    async def done(self, queue: str, keys: Sequence[str]) -> None:
        if keys:
            await self.db[queue].delete_many({"_id": {"$in": list(keys)}})


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
