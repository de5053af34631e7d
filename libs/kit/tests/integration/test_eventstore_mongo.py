"""The event store contract on the MongoDB driver against a real MongoDB-protocol server (FerretDB on PostgreSQL
in the fixtures), and what only this driver has: one write per append, the layout before ADR 0014."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from binhchon_kit.eventstore import event_key
from binhchon_kit.eventstore_mongo import MongoEventStore
from binhchon_kit.projection import Projections
from binhchon_kit.testing.eventstore_contract import EventStoreContract, grow, keys, watch_updates
from binhchon_kit.testing.stored_events import alter_data

pytestmark = pytest.mark.integration


class TestMongoEventStore(EventStoreContract):
    @pytest.fixture
    async def store(self, mongo, unique):
        s = MongoEventStore(mongo[f"kit_{unique}"], source="/binhchon/test")
        await s.setup()
        return s

    async def tamper(self, store, stream, version, reason):
        await alter_data(store.events, event_key(stream, version), "reason", reason)

    async def reopen(self, store):
        return MongoEventStore(store.db, source=store.source)

    async def recorded(self, store, stream):
        return await MongoEventStore(store.db, source="audit", pages=False).read_stream(stream)


async def test_an_append_is_one_document_and_nothing_else(store):
    """The event and its two marks are one insert: no intent documents beside it (ADR 0014)."""
    before = set(await store.db.list_collection_names())
    await grow(store, "dossier-one", 2)
    assert set(await store.db.list_collection_names()) == before | {"events"}
    doc = await store.events.find_one({"_id": "dossier-one/0000000002"})
    assert doc is not None and doc["unpublished"] == doc["unprojected"] == "dossier-one/0000000002"


async def test_setup_turns_the_old_intents_into_marks_and_strands_nothing(store):
    """A database written under ADR 0002: intents in ``outbox``/``projection_queue`` beside unmarked events."""
    published, waiting = await grow(store, "dossier-old", 2)
    # as the old layout left them: no marks on the events, intents in their own collections
    await store.events.update_many({}, {"$unset": {"unpublished": "", "unprojected": ""}})
    db = store.db
    await db["outbox"].insert_one({"_id": keys([waiting])[0], "stream": waiting.stream, "version": 2,
                                   "at": datetime(2026, 11, 20, 1, 0, tzinfo=UTC)})
    await db["projection_queue"].insert_many([
        {"_id": keys([published])[0], "stream": published.stream, "version": 1, "at": datetime(2026, 11, 20, 1, 0,
                                                                                                tzinfo=UTC)},
        # its writer died before the event (long ago): dropped
        {"_id": "dossier-old/0000000009", "stream": "dossier-old", "version": 9,
         "at": datetime(2020, 1, 1, tzinfo=UTC)},
        # its writer may still be at it: kept for the next pass
        {"_id": "dossier-old/0000000003", "stream": "dossier-old", "version": 3,
         "at": datetime(2999, 1, 1, tzinfo=UTC)},
    ])
    assert await store.unpublished(10) == [] and await store.unprojected(10) == []

    await store.setup()
    await store.setup()  # idempotent
    assert keys(await store.unpublished(10)) == keys([waiting])
    assert keys(await store.unprojected(10)) == keys([published])
    assert await db["outbox"].count_documents({}) == 0
    assert [e["_id"] async for e in db["projection_queue"].find({})] == ["dossier-old/0000000003"]

    # the old writer's event arrives: the next projector pass moves its intent too
    await grow(store, "dossier-old", 1, start=2)
    await store.events.update_one({"_id": "dossier-old/0000000003"}, {"$unset": {"unprojected": ""}})
    await store.migrate_legacy_queues()
    assert await db["projection_queue"].count_documents({}) == 0
    assert "dossier-old/0000000003" in keys(await store.unprojected(10))


def fold(events):
    return {"reasons": [e.data["reason"] for e in events]}


async def test_the_projector_projects_what_a_crashed_writer_left_and_skips_what_its_writer_did(store):
    projections = Projections(store, {"dossier": ("dossiers", fold)})
    crashed = await grow(store, "dossier-crash", 2)  # the writer died before projecting
    done = await grow(store, "dossier-fine", 1)
    await projections.project("dossier-fine", done)  # its writer projected it
    await store.mark_published(keys(crashed + done))

    assert await projections.catch_up(older_than=timedelta(0)) == 1  # only the crashed writer's stream
    view = await store.db["dossiers"].find_one({"_id": "dossier-crash"})
    assert view is not None and view["version"] == 2 and view["reasons"] == ["lý do 0", "lý do 1"]
    assert await store.unprojected(10) == []


async def test_what_follows_a_projection_runs_again_until_the_mark_so_a_crash_between_them_is_mended(store):
    """A follower (a read model keyed otherwise) runs after the writer's projection; a writer that died between its
    projection and the follower leaves the event marked, and the projector's pass runs the follower before it
    marks, even though the stream's own read model already holds it; a rebuild runs it too."""
    followed: list[tuple[str, list[str]]] = []

    async def follower(stream: str, state: dict[str, Any]) -> None:
        followed.append((stream, state["reasons"]))

    projections = Projections(store, {"dossier": ("dossiers", fold)})
    projections.follow("dossier", follower)
    first = await grow(store, "dossier-f", 1)
    await projections.project("dossier-f", first)
    assert followed == [("dossier-f", ["lý do 0"])]

    # the writer's projection done, then a power cut before its follower: the stream's read model holds it
    crashed = await grow(store, "dossier-f", 1, start=1)
    unfollowed = Projections(store, {"dossier": ("dossiers", fold)})  # the writer that died
    await unfollowed.project("dossier-f")
    await store.mark_published(keys(first + crashed))
    followed.clear()
    await projections.catch_up(older_than=timedelta(0))
    assert followed == [("dossier-f", ["lý do 0", "lý do 1"])]
    assert await store.unprojected(10) == []

    followed.clear()
    await projections.rebuild()
    assert followed == [("dossier-f", ["lý do 0", "lý do 1"])]


async def test_a_follower_failing_on_one_stream_holds_back_that_stream_only(store):
    """A follower that raises on one stream (a bad document, a store error on its read model) leaves that stream's
    events marked, for the next pass; the other streams of the same pass are still projected, followed and
    marked: one stream's follower never stops the projector for every other stream."""
    followed: list[str] = []

    async def follower(stream: str, state: dict[str, Any]) -> None:
        if stream == "dossier-a-broken":
            raise RuntimeError("the follower's read model refused it")
        followed.append(stream)

    projections = Projections(store, {"dossier": ("dossiers", fold)})
    projections.follow("dossier", follower)
    broken = await grow(store, "dossier-a-broken", 1)  # sorts first in the pass
    fine = await grow(store, "dossier-b-fine", 2)
    await store.mark_published(keys(broken + fine))

    await projections.catch_up(older_than=timedelta(0))
    assert followed == ["dossier-b-fine"]
    view = await store.db["dossiers"].find_one({"_id": "dossier-b-fine"})
    assert view is not None and view["version"] == 2
    assert keys(await store.unprojected(10)) == keys(broken)  # kept for the next pass, and only it


async def test_the_projector_projects_while_kafka_is_down_and_marks_only_after_publication(store):
    projections = Projections(store, {"dossier": ("dossiers", fold)})
    events = await grow(store, "dossier-down", 1)
    assert await projections.catch_up(older_than=timedelta(0)) == 1
    assert await store.db["dossiers"].find_one({"_id": "dossier-down"}) is not None
    assert keys(await store.unprojected(10)) == keys(events)  # the relay has not published it yet
    assert await projections.catch_up(older_than=timedelta(0)) == 0  # the read model holds it: no work again
    await store.mark_published(keys(events))
    await projections.catch_up(older_than=timedelta(0))
    assert await store.unprojected(10) == []


async def test_a_run_of_one_streams_versions_is_marked_by_its_keys_and_nothing_else(store):
    """A run of consecutive versions is unset by one update of its keys (``$in``, which FerretDB b9 answers from the
    `_id` index); another stream whose keys sort inside the run's range (``a/0000000002/…``) is not among them, and
    a gap splits the run."""
    events = await grow(store, "a", 5)
    inside = await grow(store, "a/0000000002", 1)  # its key sorts between a/0000000002 and a/0000000003
    sent = watch_updates(store)

    await store.mark_published(keys([events[0], events[1], events[2], events[4]]))  # a/4 is left waiting
    updates = [query for query, _ in sent]

    assert updates == [{"_id": {"$in": ["a/0000000001", "a/0000000002", "a/0000000003"]}},
                       {"_id": "a/0000000005"}]
    assert [(e.stream, e.version) for e in await store.unpublished(10)] == [("a/0000000002", 1), ("a", 4)]
    await store.mark_published(keys([events[3], *inside]))
    await store.mark_projected(keys([*events, *inside]))
    assert await store.unpublished(10) == [] and await store.unprojected(10) == []
