"""The event store contract: every behaviour a driver must have, written once and run against every driver.

A driver's test module subclasses ``EventStoreContract`` as ``Test…`` and gives it two things: a ``store``
fixture (an empty store, set up) and ``tamper`` (alter one stored event's data behind the store's back, the way
an attacker with database access would); and, where the driver has them, ``reopen`` (another handle on the same
events) and ``recorded`` (what the audit reads: the record itself, never a derived copy such as the MongoDB
driver's pages, ADR 0019). The base class is not collected itself (its name has no ``Test``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from binhchon_kit.contracts.intake import DossierRejected
from binhchon_kit.events import Actor, Cause, NewEvent, RecordedEvent
from binhchon_kit.eventstore import AlreadyRecorded, ConcurrencyConflict, EventStorePort, event_key, verify_chain

ACTOR = Actor("sec-1", ("secretariat",))
LONG = 150  # events in a long stream: several of the MongoDB driver's pages (32 events) and a partial one
CAUSE = Cause("corr-1", "http:corr-1")


def rejected(reason: str, event_id: str | None = None) -> NewEvent:
    data = DossierRejected(reason=reason)
    return NewEvent(data, id=event_id) if event_id else NewEvent(data)


async def grow(store: EventStorePort, stream: str, count: int, start: int = 0) -> list[RecordedEvent]:
    return [await store.append(stream, n, rejected(f"lý do {n}"), subject=stream, actor=ACTOR, cause=CAUSE)
            for n in range(start, start + count)]


def keys(events: list[RecordedEvent]) -> list[str]:
    return [event_key(e.stream, e.version) for e in events]


async def settle(store: EventStorePort, batch: int = 100) -> None:
    """What the relay and the projector do to every waiting event within seconds: publish, then project."""
    while waiting := await store.unpublished(batch):
        await store.mark_published(keys(waiting))
    while waiting := await store.unprojected(batch):
        await store.mark_projected(keys(waiting))


def watch_updates(store: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The updates the MongoDB driver ``store`` sends its events from now on, each (query, change), as it sends
    them (its collection's ``update_one`` and ``update_many`` wrapped, on this handle only)."""
    sent: list[tuple[dict[str, Any], dict[str, Any]]] = []
    update_many, update_one = store.events.update_many, store.events.update_one

    async def many(query: dict[str, Any], change: dict[str, Any], **kw: Any) -> Any:
        sent.append((query, change))
        return await update_many(query, change, **kw)

    async def one(query: dict[str, Any], change: dict[str, Any], **kw: Any) -> Any:
        sent.append((query, change))
        return await update_one(query, change, **kw)

    store.events.update_many, store.events.update_one = many, one
    return sent


def by_stream(events: list[RecordedEvent]) -> dict[str, list[RecordedEvent]]:
    streams: dict[str, list[RecordedEvent]] = {}
    for event in events:
        streams.setdefault(event.stream, []).append(event)
    return streams


class EventStoreContract:
    """Subclass as ``Test<Driver>EventStore`` with a ``store`` fixture and ``tamper``."""

    @pytest.fixture
    async def store(self) -> EventStorePort:
        raise NotImplementedError("a driver's test case gives an empty, set-up store")

    async def tamper(self, store: EventStorePort, stream: str, version: int, reason: str) -> None:
        raise NotImplementedError("a driver's test case alters a stored event's data.reason")

    # ---- streams and the hash chain --------------------------------------------------------------------

    async def test_append_read_and_hash_chain(self, store: EventStorePort) -> None:
        await grow(store, "dossier-a", 3)
        events = await store.read_stream("dossier-a")
        assert [e.version for e in events] == [1, 2, 3]
        assert events[1].prev_hash == events[0].hash
        assert verify_chain(events) == []
        assert events[2].data == {"reason": "lý do 2"}
        assert events[0].source == store.source

    async def test_a_stream_never_written_is_empty_at_version_zero(self, store: EventStorePort) -> None:
        assert await store.read_stream("dossier-none") == []
        assert await store.version("dossier-none") == 0
        assert await store.get("dossier-none", 1) is None

    async def test_version_and_get_follow_appends(self, store: EventStorePort) -> None:
        written = await grow(store, "dossier-v", 4)
        assert await store.version("dossier-v") == 4
        assert await store.get("dossier-v", 3) == written[2]
        assert await store.get("dossier-v", 5) is None

    async def test_a_second_store_on_the_same_data_continues_the_chain(self, store: EventStorePort) -> None:
        """A writer that did not write the stream's last event (another replica) still chains to it."""
        await grow(store, "dossier-r", 2)
        other = await self.reopen(store)
        await grow(other, "dossier-r", 1, start=2)
        assert verify_chain(await store.read_stream("dossier-r")) == []

    async def reopen(self, store: EventStorePort) -> EventStorePort:
        """Another handle on the same stored events (the memory driver has only one)."""
        return store

    async def recorded(self, store: EventStorePort, stream: str) -> list[RecordedEvent]:
        """The stream as the audit reads it: the recorded events themselves."""
        return await store.read_stream(stream)

    async def test_tampering_is_detected(self, store: EventStorePort) -> None:
        await grow(store, "dossier-b", 2)
        await self.tamper(store, "dossier-b", 1, "altered")
        problems = verify_chain(await store.read_stream("dossier-b"))
        assert problems == ["dossier-b v1: content does not match its hash"]

    # ---- long streams (the MongoDB driver reads them in pages) ------------------------------------------

    async def test_a_long_stream_reads_as_its_events_one_by_one(self, store: EventStorePort) -> None:
        written = await grow(store, "dossier-long", LONG)
        for _ in range(2):  # as written, then as stored
            events = await store.read_stream("dossier-long")
            assert events == written
            assert events == [await store.get("dossier-long", v) for v in range(1, LONG + 1)]
        assert verify_chain(events) == []
        assert await store.version("dossier-long") == LONG
        assert [e async for e in store.read_all()] == written
        assert events == await self.recorded(store, "dossier-long")

    async def test_a_long_stream_grown_by_several_handles_reads_whole(self, store: EventStorePort) -> None:
        """Writers that each hold only part of a page's events (replicas, restarts) still leave a stream that
        reads whole, in order, and chained, from any handle."""
        await grow(store, "dossier-shared", 40)
        other = await self.reopen(store)
        await grow(other, "dossier-shared", 60, start=40)
        await grow(store, "dossier-shared", LONG - 100, start=100)
        for handle in (store, other, await self.reopen(store)):
            for _ in range(2):
                events = await handle.read_stream("dossier-shared")
                assert [e.version for e in events] == list(range(1, LONG + 1))
                assert verify_chain(events) == []
        assert await store.read_stream("dossier-shared") == await self.recorded(store, "dossier-shared")

    async def test_tampering_in_a_long_stream_already_read_is_found_by_the_audit(self, store: EventStorePort) -> None:
        """An event altered after its stream was read (and its pages written): the audit's read names it, and what
        the store serves is either the event as written or content that fails its hash, never altered content
        that passes for intact."""
        written = await grow(store, "dossier-late", LONG)
        await store.read_stream("dossier-late")
        await self.tamper(store, "dossier-late", 5, "altered")
        assert verify_chain(await self.recorded(store, "dossier-late")) == ["dossier-late v5: content does not match "
                                                                             "its hash"]
        served = await store.read_stream("dossier-late")
        assert all(e == w or not e.verify_hash() for e, w in zip(served, written, strict=True))

    # ---- concurrency and repeats -----------------------------------------------------------------------

    async def test_wrong_expected_version_is_a_conflict(self, store: EventStorePort) -> None:
        await store.append("dossier-c", 0, rejected("x"), subject="dossier-c", actor=ACTOR, cause=CAUSE)
        with pytest.raises(ConcurrencyConflict) as behind:
            await store.append("dossier-c", 0, rejected("y"), subject="dossier-c", actor=ACTOR, cause=CAUSE)
        assert behind.value.actual_version == 1
        with pytest.raises(ConcurrencyConflict) as ahead:
            await store.append("dossier-c", 5, rejected("z"), subject="dossier-c", actor=ACTOR, cause=CAUSE)
        assert ahead.value.actual_version == 1
        assert len(await store.read_stream("dossier-c")) == 1

    async def test_concurrent_appends_exactly_one_wins(self, store: EventStorePort) -> None:
        results = await asyncio.gather(
            *(store.append("dossier-d", 0, rejected(f"writer {n}"), subject="dossier-d", actor=ACTOR, cause=CAUSE)
              for n in range(8)),
            return_exceptions=True,
        )
        winners = [r for r in results if not isinstance(r, BaseException)]
        losers = [r for r in results if isinstance(r, BaseException)]
        assert len(winners) == 1
        assert all(isinstance(e, ConcurrencyConflict) for e in losers)
        stored = await store.read_stream("dossier-d")
        assert len(stored) == 1 and stored[0].id == winners[0].id
        assert [e.id for e in await store.unpublished(10)] == [winners[0].id]  # losers left nothing to publish

    async def test_same_event_id_twice_is_already_recorded(self, store: EventStorePort) -> None:
        await store.append("dossier-e", 0, rejected("x", "ev-1"), subject="dossier-e", actor=ACTOR, cause=CAUSE)
        with pytest.raises(AlreadyRecorded):
            await store.append("dossier-e", 0, rejected("x", "ev-1"), subject="dossier-e", actor=ACTOR, cause=CAUSE)
        with pytest.raises(AlreadyRecorded):
            await store.append("dossier-e", 1, rejected("x", "ev-1"), subject="dossier-e", actor=ACTOR, cause=CAUSE)
        with pytest.raises(AlreadyRecorded):  # anywhere in the store, not only in its first stream
            await store.append("dossier-f", 0, rejected("x", "ev-1"), subject="dossier-f", actor=ACTOR, cause=CAUSE)
        assert len(await store.read_stream("dossier-e")) == 1
        assert await store.read_stream("dossier-f") == []

    async def test_streams_whose_names_extend_each_other_stay_apart(self, store: EventStorePort) -> None:
        # the Mongo driver reads a stream as a range of keys ("<stream>/" ...): a name that extends another
        # ("dossier-a/1", "dossier-a0") must neither join nor hide it
        for stream, count in (("dossier-a", 2), ("dossier-a/1", 3), ("dossier-a0", 1), ("dossier-", 1)):
            await grow(store, stream, count)
        for stream, count in (("dossier-a", 2), ("dossier-a/1", 3), ("dossier-a0", 1), ("dossier-", 1)):
            events = await store.read_stream(stream)
            assert [(e.stream, e.version) for e in events] == [(stream, n) for n in range(1, count + 1)]
            assert await store.version(stream) == count
        assert [e.stream for e in await store.read_stream("dossier")] == []

    async def test_read_all_is_by_stream_then_version(self, store: EventStorePort) -> None:
        for stream in ("dossier-z", "dossier-m"):
            await grow(store, stream, 2)
        seen = [(e.stream, e.version) async for e in store.read_all()]
        assert seen == [("dossier-m", 1), ("dossier-m", 2), ("dossier-z", 1), ("dossier-z", 2)]

    # ---- the relay's and the projector's marks ---------------------------------------------------------

    async def test_every_event_waits_for_the_relay_in_stream_order(self, store: EventStorePort) -> None:
        await grow(store, "dossier-q", 2)
        await grow(store, "dossier-p", 1)
        await grow(store, "dossier-q", 1, start=2)
        waiting = await store.unpublished(10)
        assert [(e.stream, e.version) for e in waiting] == [("dossier-p", 1), ("dossier-q", 1), ("dossier-q", 2),
                                                            ("dossier-q", 3)]
        assert waiting == [await store.get(e.stream, e.version) for e in waiting]
        first = await store.unpublished(2)
        assert [(e.stream, e.version) for e in first] == [("dossier-p", 1), ("dossier-q", 1)]

    async def test_published_events_leave_the_relay_and_nothing_else(self, store: EventStorePort) -> None:
        events = await grow(store, "dossier-s", 3)
        await store.mark_published([*keys(events[:2]), event_key("dossier-unknown", 1)])
        assert [e.version for e in await store.unpublished(10)] == [3]
        assert [e.version for e in await store.read_stream("dossier-s")] == [1, 2, 3]  # the events stay
        assert verify_chain(await store.read_stream("dossier-s")) == []  # the marks are not hashed content

    async def test_a_crash_before_the_mark_publishes_again(self, store: EventStorePort) -> None:
        """The relay published, then died before marking: the events are still waiting (a duplicate on Kafka,
        which consumers absorb), never lost."""
        events = await grow(store, "dossier-k", 2)
        assert keys(await store.unpublished(10)) == keys(events)
        # ... published here, crash ...
        assert keys(await store.unpublished(10)) == keys(events)
        await store.mark_published(keys(events))
        await store.mark_published(keys(events))  # a second relay marking the same: harmless
        assert await store.unpublished(10) == []

    async def test_young_events_are_left_to_their_writer_for_projection(self, store: EventStorePort) -> None:
        events = await grow(store, "dossier-y", 2)
        assert await store.unprojected(10, older_than=timedelta(hours=1)) == []
        assert keys(await store.unprojected(10)) == keys(events)

    async def test_an_event_carries_the_time_of_the_stores_clock(self, store: EventStorePort) -> None:
        """The service's clock, not the machine's, stamps the event: here days ahead of any machine, with
        microseconds the store drops (MongoDB keeps milliseconds, and the hash covers the time)."""
        store.clock = lambda: datetime(2031, 2, 3, 4, 5, 6, 789654, tzinfo=UTC)
        [event] = await grow(store, "dossier-t", 1)

        assert event.time == datetime(2031, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)
        assert event.to_cloudevent().time == "2031-02-03T04:05:06.789Z"
        [read] = await store.read_stream("dossier-t")
        assert read.time == event.time and verify_chain([read]) == []

    async def test_the_projectors_wait_is_not_the_events_time(self, store: EventStorePort) -> None:
        """An event stamped by a clock that stands still, or far ahead, is still handed to the projector once it
        has waited: the wait is the process's, not a difference with the event's time."""
        store.clock = lambda: datetime(2031, 2, 3, tzinfo=UTC)
        events = await grow(store, "dossier-w", 2)
        assert await store.unprojected(10, older_than=timedelta(hours=1)) == []
        assert keys(await store.unprojected(10, older_than=timedelta(0))) == keys(events)

    async def test_an_event_is_marked_projected_only_once_published(self, store: EventStorePort) -> None:
        """Until the relay is done with an event its projection mark stays (and the projector comes back)."""
        events = await grow(store, "dossier-j", 2)
        await store.mark_projected(keys(events))
        assert keys(await store.unprojected(10)) == keys(events)
        await store.mark_published(keys(events[:1]))
        await store.mark_projected(keys(events))
        assert keys(await store.unprojected(10)) == keys(events[1:])
        assert keys(await store.unpublished(10)) == keys(events[1:])

    async def test_events_this_process_projected_leave_both_queues_when_published(self, store: EventStorePort) -> None:
        """The writer projected its stream up to a version (``projected``): when the relay, in the same process,
        marks those events published, the projector is not asked for them again; a later version, or one never
        projected here, is left to the projector as before. Replay still gives every event once."""
        events = await grow(store, "dossier-p", 3)
        others = await grow(store, "dossier-q", 1)
        store.projected("dossier-p", 2)
        assert keys(await store.unpublished(10)) == keys(events) + keys(others)
        await store.mark_published(keys(events) + keys(others))
        assert await store.unpublished(10) == []
        assert keys(await store.unprojected(10)) == keys(events[2:]) + keys(others)
        await store.mark_projected(keys(events[2:]) + keys(others))
        assert await store.unprojected(10) == []
        replayed = [e async for e in store.replay()]
        assert sorted(keys(replayed)) == sorted(keys(events) + keys(others))

    async def test_a_projection_remembered_does_not_mark_what_the_relay_has_not_published(
            self, store: EventStorePort) -> None:
        """Projected here, but not published: the mark stays until the relay marks it, whatever the projector does."""
        events = await grow(store, "dossier-r", 2)
        store.projected("dossier-r", 2)
        await store.mark_projected(keys(events))
        assert keys(await store.unprojected(10)) == keys(events)
        await store.unpublished(10)
        await store.mark_published(keys(events[:1]))
        assert keys(await store.unprojected(10)) == keys(events[1:])
        assert keys(await store.unpublished(10)) == keys(events[1:])

    async def test_the_legacy_queue_names_still_answer(self, store: EventStorePort) -> None:
        events = await grow(store, "dossier-l", 1)
        assert keys(await store.pending_events("outbox", 10)) == keys(events)
        await store.done("outbox", keys(events))
        assert await store.pending_events("outbox", 10) == []
        assert keys(await store.pending_events("projection_queue", 10)) == keys(events)
        await store.done("projection_queue", keys(events))
        assert await store.pending_events("projection_queue", 10) == []
        with pytest.raises(ValueError):
            await store.pending_events("elsewhere", 10)

    async def test_an_append_wakes_the_relay(self, store: EventStorePort) -> None:
        store.appended.clear()
        await grow(store, "dossier-w", 1)
        assert store.appended.is_set()

    # ---- replay: every event once, each stream in version order (a rebuild) ------------------------------

    async def assert_replays_the_record(self, store: EventStorePort) -> list[RecordedEvent]:
        replayed = [e async for e in store.replay()]
        recorded = [e async for e in store.read_all()]
        assert len(replayed) == len(recorded)
        assert by_stream(replayed) == by_stream(recorded)  # each stream whole, once, in version order
        return replayed

    async def test_replay_of_an_empty_store_is_empty(self, store: EventStorePort) -> None:
        assert [e async for e in store.replay()] == []

    async def test_replay_gives_every_event_once_settled_or_not(self, store: EventStorePort) -> None:
        await grow(store, "dossier-ra", 3)
        await grow(store, "dossier-rb", 2)
        await settle(store)
        await grow(store, "dossier-ra", 2, start=3)  # still waiting for the relay and the projector
        await grow(store, "dossier-rc", 1)
        await store.mark_published(keys(await store.unpublished(10)))
        await store.mark_projected(keys(await store.unprojected(1)))  # one of them settled
        await self.assert_replays_the_record(store)
        await settle(store)
        replayed = await self.assert_replays_the_record(store)
        assert [(e.stream, e.version) for e in by_stream(replayed)["dossier-ra"]] == [("dossier-ra", v)
                                                                                    for v in range(1, 6)]

    async def test_replay_of_a_long_stream_settled_in_many_batches(self, store: EventStorePort) -> None:
        for start in range(0, LONG, 50):
            await grow(store, "dossier-rl", 50, start=start)
            await grow(store, f"dossier-rs{start}", 1)
            await settle(store, batch=7)
        other = await self.reopen(store)
        await grow(other, "dossier-rl", 3, start=LONG)
        await settle(other, batch=2)
        replayed = await self.assert_replays_the_record(store)
        assert [e.version for e in by_stream(replayed)["dossier-rl"]] == list(range(1, LONG + 4))
        await self.assert_replays_the_record(other)  # any handle
