"""The event store in a process's memory: the same contract as the MongoDB driver, for tests without
infrastructure (and a service run with ``EVENT_STORE=memory``, whose events die with the process).

Same semantics: optimistic concurrency on (stream, version), ``AlreadyRecorded`` for an event id already
stored, the same hash chain (the same ``RecordedEvent`` construction), and the relay's and projector's marks.
An append is atomic with respect to other coroutines (nothing awaits between the checks and the write).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from binhchon_kit.canonical import GENESIS_HASH
from binhchon_kit.contracts.registry import event_model
from binhchon_kit.envelope import to_milliseconds
from binhchon_kit.events import Actor, Cause, NewEvent, RecordedEvent
from binhchon_kit.eventstore import (
    AlreadyRecorded,
    ConcurrencyConflict,
    ProjectedHere,
    QueueNames,
    event_key,
    in_stream_order,
)
from binhchon_kit.eventstore_waits import WaitTimes
from binhchon_kit.vietnam_time import now_utc


class MemoryEventStore(QueueNames):
    """The event store port on dicts."""

    def __init__(self, source: str, *, db: Any = None, clock: Callable[[], datetime] | None = None) -> None:
        self.source = source
        self.clock = clock or now_utc  # stamps each event's time
        self.waits = WaitTimes()
        self.db = db  # the read models' and the lease's database, when the service has one
        self.appended = asyncio.Event()
        self.streams: dict[str, list[RecordedEvent]] = {}
        self.event_ids: set[str] = set()
        self.log: list[RecordedEvent] = []  # every event in the order it was appended: the replay's order
        self.unpublished_keys: set[str] = set()
        self.unprojected_keys: set[str] = set()
        self.projected_here = ProjectedHere()

    async def setup(self) -> None:
        return None

    async def append(
        self, stream: str, expected_version: int, event: NewEvent, *, subject: str, actor: Actor, cause: Cause
    ) -> RecordedEvent:
        events = self.streams.get(stream, [])
        # checked in the MongoDB driver's order: a version ahead of the stream is a conflict (no previous event
        # to chain to); a taken slot is a repeat when the id is known, a lost race otherwise
        if expected_version > len(events):
            raise ConcurrencyConflict(stream, expected_version, len(events))
        if event.id in self.event_ids:
            raise AlreadyRecorded(event.id)
        if expected_version < len(events):
            raise ConcurrencyConflict(stream, expected_version, len(events))
        prev_hash = events[-1].hash if events else GENESIS_HASH
        fields: dict[str, Any] = dict(
            id=event.id, stream=stream, version=expected_version + 1, type=event.type,
            schema_version=event_model(event.type).schema_version, subject=subject, time=to_milliseconds(self.clock()),
            data=event.data.model_dump(mode="json"), actor=actor,
            correlation_id=cause.correlation_id, causation_id=cause.causation_id, source=self.source,
        )
        recorded = RecordedEvent(**fields, prev_hash=prev_hash, hash="").sealed()
        self.streams.setdefault(stream, []).append(recorded)
        self.event_ids.add(recorded.id)
        self.log.append(recorded)
        key = event_key(stream, recorded.version)
        self.unpublished_keys.add(key)
        self.unprojected_keys.add(key)
        self.waits.appended(key)
        self.appended.set()
        return recorded

    async def read_stream(self, stream: str) -> list[RecordedEvent]:
        return list(self.streams.get(stream, []))

    async def get(self, stream: str, version: int) -> RecordedEvent | None:
        events = self.streams.get(stream, [])
        return events[version - 1] if 0 < version <= len(events) else None

    async def version(self, stream: str) -> int:
        return len(self.streams.get(stream, []))

    async def read_all(self, batch_size: int = 500) -> AsyncIterator[RecordedEvent]:
        for stream in sorted(self.streams):
            for event in list(self.streams[stream]):
                yield event

    async def replay(self, batch_size: int = 500) -> AsyncIterator[RecordedEvent]:
        # in append order, streams interleaved: a caller that needs key order would fail here, as on segments
        for event in list(self.log):
            yield event

    def _by_key(self, key: str) -> RecordedEvent | None:
        stream, _, version = key.rpartition("/")
        events = self.streams.get(stream, [])
        return events[int(version) - 1] if version.isdigit() and 0 < int(version) <= len(events) else None

    def _waiting(self, keys: set[str], limit: int) -> list[RecordedEvent]:
        return in_stream_order([e for key in sorted(keys)[:limit] if (e := self._by_key(key)) is not None])

    async def unpublished(self, limit: int) -> list[RecordedEvent]:
        return self._waiting(self.unpublished_keys, limit)

    async def mark_published(self, keys: Sequence[str]) -> None:
        # as the MongoDB driver: an event this process's projection holds loses both marks at once
        self.unprojected_keys.difference_update(
            k for k in keys if k in self.unpublished_keys and (e := self._by_key(k)) is not None
            and self.projected_here.holds(e))
        self.unpublished_keys.difference_update(keys)

    def projected(self, stream: str, version: int) -> None:
        self.projected_here.add(stream, version)

    async def unprojected(self, limit: int, older_than: timedelta | None = None) -> list[RecordedEvent]:
        return self.waits.waited(self._waiting(self.unprojected_keys, limit), older_than)

    async def mark_projected(self, keys: Sequence[str]) -> None:
        # as the MongoDB driver: an event not yet published keeps its mark
        self.unprojected_keys.difference_update(k for k in keys if k not in self.unpublished_keys)
