"""The event store against a real MongoDB-protocol server."""

from __future__ import annotations

import asyncio

import pytest

from binhchon_kit.contracts.intake import DossierRejected
from binhchon_kit.events import Actor, Cause, NewEvent
from binhchon_kit.eventstore import AlreadyRecorded, ConcurrencyConflict, EventStore, verify_chain

pytestmark = pytest.mark.integration
ACTOR = Actor("sec-1", ("secretariat",))
CAUSE = Cause("corr-1", "http:corr-1")


@pytest.fixture
async def store(mongo, unique):
    s = EventStore(mongo[f"kit_{unique}"], source="/binhchon/test")
    await s.setup()
    return s


def rejected(reason: str, event_id: str | None = None) -> NewEvent:
    data = DossierRejected(reason=reason)
    return NewEvent(data, id=event_id) if event_id else NewEvent(data)


async def test_append_read_and_hash_chain(store):
    for n in range(3):
        await store.append("dossier-a", n, rejected(f"lý do {n}"), subject="dossier-a", actor=ACTOR, cause=CAUSE)
    events = await store.read_stream("dossier-a")
    assert [e.version for e in events] == [1, 2, 3]
    assert events[1].prev_hash == events[0].hash
    assert verify_chain(events) == []
    assert events[2].data == {"reason": "lý do 2"}


async def test_tampering_is_detected(store):
    for n in range(2):
        await store.append("dossier-b", n, rejected(f"r{n}"), subject="dossier-b", actor=ACTOR, cause=CAUSE)
    await store.events.update_one({"stream": "dossier-b", "version": 1}, {"$set": {"data.reason": "altered"}})
    problems = verify_chain(await store.read_stream("dossier-b"))
    assert problems == ["dossier-b v1: content does not match its hash"]


async def test_wrong_expected_version_is_a_conflict(store):
    await store.append("dossier-c", 0, rejected("x"), subject="dossier-c", actor=ACTOR, cause=CAUSE)
    with pytest.raises(ConcurrencyConflict) as info:
        await store.append("dossier-c", 0, rejected("y"), subject="dossier-c", actor=ACTOR, cause=CAUSE)
    assert info.value.actual_version == 1


async def test_concurrent_appends_exactly_one_wins(store):
    results = await asyncio.gather(
        *(store.append("dossier-d", 0, rejected(f"writer {n}"), subject="dossier-d", actor=ACTOR, cause=CAUSE)
          for n in range(8)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(e, ConcurrencyConflict) for e in losers)
    stored = await store.read_stream("dossier-d")
    assert len(stored) == 1 and stored[0].id == winners[0].id


async def test_same_event_id_twice_is_already_recorded(store):
    await store.append("dossier-e", 0, rejected("x", "ev-1"), subject="dossier-e", actor=ACTOR, cause=CAUSE)
    with pytest.raises(AlreadyRecorded):
        await store.append("dossier-e", 0, rejected("x", "ev-1"), subject="dossier-e", actor=ACTOR, cause=CAUSE)
    with pytest.raises(AlreadyRecorded):
        await store.append("dossier-e", 1, rejected("x", "ev-1"), subject="dossier-e", actor=ACTOR, cause=CAUSE)
    assert len(await store.read_stream("dossier-e")) == 1


async def test_read_all_is_by_stream_then_version(store):
    for stream in ("dossier-z", "dossier-m"):
        for n in range(2):
            await store.append(stream, n, rejected("x"), subject=stream, actor=ACTOR, cause=CAUSE)
    seen = [(e.stream, e.version) async for e in store.read_all()]
    assert seen == [("dossier-m", 1), ("dossier-m", 2), ("dossier-z", 1), ("dossier-z", 2)]
