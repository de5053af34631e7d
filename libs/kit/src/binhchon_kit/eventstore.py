"""The event store port: what services, the relay, the projector and the audit tool ask of an event store.

Two drivers implement it (docs/adr/0014-event-store-port-and-drivers.md):
``binhchon_kit.eventstore_mongo`` (MongoDB, and FerretDB on PostgreSQL where we run natively) and
``binhchon_kit.eventstore_memory`` (a process's memory: unit tests without infrastructure). ``open_event_store``
picks one from the ``EVENT_STORE`` setting. Both pass the same contract tests
(``binhchon_kit.testing.eventstore_contract``).

Every event is born *unpublished* and *unprojected*: the relay takes the unpublished ones in stream order and
marks them published once Kafka has them; the projector takes the unprojected ones that have waited a while
(the writer projects its own event at once) and marks them projected once they are, or were already, in the read
model. A mark lost to a crash means the work is done again (consumers and projections are idempotent), never
skipped.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from binhchon_kit.canonical import GENESIS_HASH
from binhchon_kit.events import Actor, Cause, NewEvent, RecordedEvent

if TYPE_CHECKING:
    from binhchon_kit.settings import ServiceSettings

# The legacy queue names (ADR 0002) that ``pending_events``/``done`` still accept.
RELAY_QUEUE = "outbox"
PROJECTION_QUEUE = "projection_queue"


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


class EventStorePort(Protocol):
    """Append-only event streams with optimistic concurrency, a per-stream hash chain, and the two marks."""

    source: str
    appended: asyncio.Event  # set on every append: wakes the in-process relay early
    # what stamps an event's time: the service's clock (build_runtime gives it; a test fixes it), not the machine's
    clock: Callable[[], datetime]

    async def setup(self) -> None:
        """Declare what the driver needs (indexes) and bring an older layout up to date; idempotent."""

    async def append(
        self, stream: str, expected_version: int, event: NewEvent, *, subject: str, actor: Actor, cause: Cause
    ) -> RecordedEvent:
        """Record ``event`` as version ``expected_version + 1`` of ``stream``.

        Raises ConcurrencyConflict when the stream is not at ``expected_version``, and AlreadyRecorded when an
        event with the same id exists anywhere in the store (a deterministic id makes a repeated handler a
        no-op)."""
        ...

    async def read_stream(self, stream: str) -> list[RecordedEvent]:
        """The stream's events in version order (empty for a stream never written)."""
        ...

    async def get(self, stream: str, version: int) -> RecordedEvent | None: ...

    async def version(self, stream: str) -> int:
        """The stream's last version, 0 when it has none."""
        ...

    def read_all(self, batch_size: int = 500) -> AsyncIterator[RecordedEvent]:
        """Every event, stream by stream (in key order) and version by version, from the record itself: the
        audit. (A rebuild wants ``replay``.)"""
        ...

    def replay(self, batch_size: int = 1000) -> AsyncIterator[RecordedEvent]:
        """Every event once, each stream's in version order, the streams interleaved in no promised order: what a
        rebuild needs, read the fastest way the driver has (the MongoDB driver's segments, ADR 0024). Events
        appended meanwhile may or may not be in it, as with ``read_all``."""
        ...

    async def unpublished(self, limit: int) -> list[RecordedEvent]:
        """Up to ``limit`` events the relay has not marked published, in stream then version order."""
        ...

    async def mark_published(self, keys: Sequence[str]) -> None:
        """The events of these keys are on Kafka (an unknown key is ignored)."""

    async def unprojected(self, limit: int, older_than: timedelta | None = None) -> list[RecordedEvent]:
        """Up to ``limit`` events not marked projected that have waited more than ``older_than`` (younger ones are
        being projected by their writer), in stream then version order. The wait is measured on this process's
        monotonic clock from the append, or from when this handle first saw the event waiting: not from the
        event's time, which is the service's clock's and may stand still (a test) or far ahead."""
        ...

    async def mark_projected(self, keys: Sequence[str]) -> None:
        """The events of these keys are in the read models (an unknown key is ignored). An event the relay has not
        published yet keeps its mark and is offered again: on FerretDB the relay may be writing its document."""

    def projected(self, stream: str, version: int) -> None:
        """This process's projection holds ``stream`` up to ``version`` (its read model and what follows it): the
        relay's ``mark_published`` of those events, in this process, clears their projected mark with the published
        one, in the same write (ADR 0014, 2026-11-30). Remembered in memory only: forgotten, the projector marks
        them as before."""

    async def pending_events(
        self, queue: str, limit: int, older_than: timedelta | None = None
    ) -> list[RecordedEvent]:
        """The events waiting in ``queue`` ("outbox": the relay's, "projection_queue": the projector's)."""
        ...

    async def done(self, queue: str, keys: Sequence[str]) -> None:
        """Mark these keys done for ``queue``."""


class ProjectedHere:
    """What this process's projections hold, stream by stream (``EventStorePort.projected``): the newest streams
    only (``limit``), as a writer's events are published within moments of its projection."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._through: OrderedDict[str, int] = OrderedDict()

    def add(self, stream: str, version: int) -> None:
        if self._through.get(stream, 0) < version:
            self._through[stream] = version
        self._through.move_to_end(stream)
        while len(self._through) > self.limit:
            self._through.popitem(last=False)

    def holds(self, event: RecordedEvent) -> bool:
        return self._through.get(event.stream, 0) >= event.version


class QueueNames:
    """``pending_events``/``done`` by the queue names of ADR 0002, over the two marks (kept for callers that
    name a queue)."""

    async def unpublished(self, limit: int) -> list[RecordedEvent]:
        raise NotImplementedError

    async def mark_published(self, keys: Sequence[str]) -> None:
        raise NotImplementedError

    async def unprojected(self, limit: int, older_than: timedelta | None = None) -> list[RecordedEvent]:
        raise NotImplementedError

    async def mark_projected(self, keys: Sequence[str]) -> None:
        raise NotImplementedError

    async def pending_events(
        self, queue: str, limit: int, older_than: timedelta | None = None
    ) -> list[RecordedEvent]:
        if queue == RELAY_QUEUE:
            return await self.unpublished(limit)
        if queue == PROJECTION_QUEUE:
            return await self.unprojected(limit, older_than)
        raise ValueError(f"no queue {queue!r}")

    async def done(self, queue: str, keys: Sequence[str]) -> None:
        if queue == RELAY_QUEUE:
            await self.mark_published(keys)
        elif queue == PROJECTION_QUEUE:
            await self.mark_projected(keys)
        else:
            raise ValueError(f"no queue {queue!r}")


def in_stream_order(events: Sequence[RecordedEvent]) -> list[RecordedEvent]:
    return sorted(events, key=lambda e: event_key(e.stream, e.version))


def verify_chain(events: Sequence[RecordedEvent]) -> list[str]:
    """Problems with one stream's chain (empty when intact): altered content, a gap, a broken link."""
    problems: list[str] = []
    prev = GENESIS_HASH
    for expected_version, event in enumerate(events, start=1):
        if event.version != expected_version:
            problems.append(f"{event.stream}: version {event.version} where {expected_version} was expected")
        if event.prev_hash != prev:
            problems.append(f"{event.stream} v{event.version}: previous hash does not match")
        computed = event.computed_hash()  # under the event's own scheme: older events keep the legacy one
        if computed is None:
            problems.append(f"{event.stream} v{event.version}: unknown hash scheme {event.hash_alg!r}")
        elif computed != event.hash:
            problems.append(f"{event.stream} v{event.version}: content does not match its hash")
        prev = event.hash
    return problems


def open_event_store(settings: ServiceSettings, db: Any,
                     clock: Callable[[], datetime] | None = None) -> EventStorePort:
    """The driver ``settings.event_store`` names, for the service ``settings.service_name``, stamping its events
    with ``clock`` (the service's; the machine's when None).

    ``db`` is the service's MongoDB database: the Mongo driver keeps its events there; the memory driver keeps
    them in the process and only remembers ``db`` for the read models and the relay's lease beside it."""
    source = f"/binhchon/{settings.service_name}"
    if settings.event_store == "memory":
        from binhchon_kit.eventstore_memory import MemoryEventStore

        return MemoryEventStore(source, db=db, clock=clock)
    from binhchon_kit.eventstore_mongo import MongoEventStore

    return MongoEventStore(db, source, clock=clock)


def __getattr__(name: str) -> Any:
    # ``EventStore(db, source)`` is the MongoDB driver, as before the port existed: tests and tools build it so.
    if name == "EventStore":
        from binhchon_kit.eventstore_mongo import MongoEventStore

        return MongoEventStore
    raise AttributeError(name)
