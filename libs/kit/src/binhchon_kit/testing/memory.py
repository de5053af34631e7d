"""A service's Runtime with no server behind it, for unit tests of its service layer (issue 10).

The read models live in an in-memory MongoDB twin (mongomock-motor: the same collection calls, unique indexes
raising pymongo's DuplicateKeyError), and so does the event store. The Kafka broker is built but never
started, no relay or projector task runs, and nothing reads the machine's clock (the store stamps an event's
time with the runtime's clock: pass the test's own, ``memory_runtime(..., clock=clock)``).
A test builds the service object on this runtime, as its composition root does, and calls its commands and
handlers directly:

    clock = FixedClock(...)
    runtime = memory_runtime(ServiceSettings(service_name="intake"), {"dossier": ("dossiers", fold_dossier)}, clock)
    intake = Intake(runtime, clock)

Events from another service come in as that service's store records them (``foreign_store``), handed over as
the consumer would after Kafka (``delivered``: through the CloudEvent form).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mongomock_motor import AsyncMongoMockClient

from binhchon_kit.auth.tokens import TokenVerifier
from binhchon_kit.canonical import GENESIS_HASH
from binhchon_kit.contracts.registry import EventData, registration_of
from binhchon_kit.events import Actor, Cause, NewEvent, RecordedEvent
from binhchon_kit.eventstore import AlreadyRecorded, EventStorePort
from binhchon_kit.eventstore_memory import MemoryEventStore
from binhchon_kit.projection import Fold
from binhchon_kit.runtime import Runtime, build_runtime
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.vietnam_time import now_utc

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
# Where the never-started broker and relay would connect: nothing listens there, and nothing tries.
NOWHERE = "127.0.0.1:9"


class FixedClock:
    """The instant a service takes as now, set by the test (and moved by it, never by the machine).

    ``clock()`` is the aware instant (intake's and notify's clock), ``today()`` its date in Vietnam
    (certification's clock), ``in_vietnam()`` the instant in Vietnam (certification's ``now``)."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("a fixed clock needs an aware instant")
        self.now = now.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def today(self) -> date:
        return self.now.astimezone(VIETNAM).date()

    def in_vietnam(self) -> datetime:
        return self.now.astimezone(VIETNAM)

    def advance(self, by: timedelta) -> None:
        self.now += by


def memory_database(name: str = "unit") -> Any:
    """A fresh in-memory database (a new client each time: tests share nothing)."""
    return AsyncMongoMockClient(tz_aware=True)[name]


def memory_store(db: Any, source: str, clock: Callable[[], datetime] | None = None) -> EventStorePort:
    """The in-memory event store driver (``event_store="memory"``), its read models beside it in ``db``."""
    return MemoryEventStore(source, db=db, clock=clock)


def memory_runtime(settings: ServiceSettings, folds: dict[str, tuple[str, Fold]],
                   clock: Callable[[], datetime] | None = None) -> Runtime:
    """What the composition root builds for ``settings.service_name``, with nothing that connects anywhere: its
    own ``build_runtime`` given an in-memory database client and store, and a verifier with no keys (a unit test
    drives the service object, never a route with a bearer token). ``clock``: the service's now, which stamps
    its events (the machine's when None)."""
    settings = settings.model_copy(update={"kafka_bootstrap_servers": NOWHERE, "relay_enabled": False,
                                           "consumers_enabled": False})
    mongo: Any = AsyncMongoMockClient(tz_aware=True)  # answers pymongo's async calls, though not its classes
    clock = clock or now_utc
    return build_runtime(settings, folds, mongo=mongo, clock=clock,
                         store=memory_store(mongo[settings.database_name], f"/binhchon/{settings.service_name}", clock),
                         verifier=TokenVerifier(keys=[], issuer=settings.auth_issuer, audience=settings.auth_audience))


def foreign_store(service: str) -> EventStorePort:
    """Another service's event store (its own in-memory database), to record the events it would publish."""
    return memory_store(memory_database(service), f"/binhchon/{service}")


async def append(store: EventStorePort, stream: str, data: EventData, *, subject: str | None = None,
                 actor: Actor | None = None, event_id: str | None = None) -> RecordedEvent:
    """Record ``data`` at the end of ``stream`` as its service would, and hand it over as a consumer gets it."""
    event = NewEvent(data, id=event_id) if event_id else NewEvent(data)
    service = store.source.rsplit("/", 1)[-1]
    recorded = await store.append(stream, await store.version(stream), event, subject=subject or stream,
                                  actor=actor or Actor.system(service), cause=Cause(f"corr-{stream}", f"test-{stream}"))
    return delivered(recorded)


def delivered(event: RecordedEvent) -> RecordedEvent:
    """The event as a Kafka handler receives it: through its CloudEvent form, as the consumer parses it."""
    return RecordedEvent.from_cloudevent(event.to_cloudevent())


async def consume(handler: Callable[[RecordedEvent], Awaitable[None]], event: RecordedEvent) -> None:
    """Run a Kafka handler on ``event`` as the consumer does: an AlreadyRecorded out of it means an earlier
    delivery stored the effect, and the message counts as handled (binhchon_kit.consumer)."""
    try:
        await handler(event)
    except AlreadyRecorded:
        pass


def recorded_at(at: datetime, source: str, stream: str, data: EventData, *, version: int = 1,
                prev_hash: str = GENESIS_HASH, subject: str | None = None, event_id: str | None = None,
                actor: Actor | None = None) -> RecordedEvent:
    """An event another service recorded at ``at`` (a time the test chooses, where a handler's decision depends
    on the event's age), chained and hashed as its store would, as its consumer receives it."""
    registration = registration_of(type(data))
    fields: dict[str, Any] = dict(
        id=event_id or f"{stream}-{version}", stream=stream, version=version, type=registration.type,
        schema_version=registration.schema_version, subject=subject or stream,
        time=at.astimezone(UTC).replace(microsecond=at.microsecond // 1000 * 1000),
        data=data.model_dump(mode="json"), actor=actor or Actor.system(source), correlation_id=f"corr-{stream}",
        causation_id=f"test-{stream}", source=f"/binhchon/{source}")
    return delivered(RecordedEvent(**fields, prev_hash=prev_hash, hash="").sealed())


def interleaved(target: Any, *methods: str) -> None:
    """Make these async methods of ``target`` yield to the event loop before they run. The in-memory database
    answers without ever suspending, so two commands gathered would otherwise run one after the other; with
    this, they interleave at every such call, as two replicas do against a real server."""
    for name in methods:
        method = getattr(target, name)

        async def yielding(*args: Any, _method: Any = method, **kwargs: Any) -> Any:
            await asyncio.sleep(0)
            return await _method(*args, **kwargs)

        setattr(target, name, yielding)


def types_of(events: Sequence[RecordedEvent]) -> list[str]:
    return [e.type for e in events]


__all__ = ["NOWHERE", "FixedClock", "append", "consume", "delivered", "foreign_store", "interleaved", "memory_database",
           "memory_runtime", "memory_store", "recorded_at", "types_of"]
