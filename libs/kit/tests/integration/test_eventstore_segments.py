"""The MongoDB driver's segments (ADR 0024) on FerretDB on PostgreSQL: a replay gives every event once, each
stream in version order, whatever copies, order, crashes and losses the segments went through; an old database
is backfilled; the audit names a segment that differs from the record."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime

import pytest
from bson import Binary
from pymongo.errors import AutoReconnect

from binhchon_kit.eventstore import event_key
from binhchon_kit.eventstore_codec import decode_events, encode_events
from binhchon_kit.eventstore_mongo import MongoEventStore
from binhchon_kit.eventstore_segments import SEGMENTS_READY, segment_document
from binhchon_kit.testing.eventstore_contract import by_stream, grow, keys, settle, watch_updates

pytestmark = pytest.mark.integration


def handle(store, *, pages=True):
    """Another process on the same database: nothing remembered."""
    return MongoEventStore(store.db, source=store.source, pages=pages)


async def replayed(store):
    return [e async for e in handle(store).replay()]


async def recorded(store):
    return [e async for e in handle(store, pages=False).read_all()]


async def assert_exact_replay(store):
    """Every recorded event once, each stream in version order; returns the replay."""
    events = await replayed(store)
    record = await recorded(store)
    assert len(events) == len(record)
    assert by_stream(events) == by_stream(record)
    return events


async def segment_ids(store):
    return [d["_id"] async for d in store.segments.find({}, projection={"_id": 1}, sort=[("_id", 1)])]


async def settled_store(store):
    """Three streams settled in small batches: several segments, a stream spread over them."""
    for n in range(3):
        await grow(store, "dossier-x", 4, start=4 * n)
        await grow(store, f"dossier-y{n}", 2)
        await settle(store, batch=3)
    return await recorded(store)


async def test_a_new_database_is_complete_and_a_settled_store_replays_from_segments(store):
    assert await store.meta.find_one({"_id": SEGMENTS_READY}) is not None  # setup on an empty database
    record = await settled_store(store)
    assert await store.events.count_documents({"unprojected": {"$exists": True}}) == 0
    ids = await segment_ids(store)
    assert len(ids) >= 6
    # every event is in exactly one segment (settled once each), and the replay needs nothing else: with
    # the event documents gone from its view it still gives the record
    copies = [e for doc in await store.segments.find({}).to_list() for e in decode_events(doc)]
    assert sorted(event_key(c.stream, c.version) for c in copies) == sorted(keys(record))
    reader = handle(store)
    reader.events = store.db["no_events_here"]
    replay = [e async for e in reader.replay()]
    assert by_stream(replay) == by_stream(record)


async def test_copies_of_segments_are_dropped(store):
    await settled_store(store)
    for doc in await store.segments.find({}).to_list():  # every segment twice, the copy sorted first
        await store.segments.insert_one({**doc, "_id": f"0{doc['_id']}"})
    await assert_exact_replay(store)


async def test_segments_in_any_order_give_each_stream_in_version_order(store):
    written = await grow(store, "dossier-late", 6)
    await store.mark_published(keys(written))
    at = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    # the later versions in the segment that sorts first, the earlier ones split after it
    await store.segments.insert_many([segment_document(written[3:][::-1], at),
                                      segment_document(written[1:3], at.replace(hour=11)),
                                      segment_document(written[:1], at.replace(hour=12))])
    await store.events.update_many({}, {"$unset": {"unprojected": ""}})  # settled by those segments
    events = await assert_exact_replay(store)
    assert events == written


async def test_a_crash_between_the_segment_and_the_marks_replays_once_and_settles_later(store, monkeypatch):
    written = await grow(store, "dossier-crash", 3)
    await store.mark_published(keys(written))
    projector = handle(store)
    waiting = await projector.unprojected(10)

    async def crash(*args, **kwargs):
        raise AutoReconnect("the projector died after the segment's insert")

    monkeypatch.setattr(projector, "_unset", crash)
    with pytest.raises(AutoReconnect):
        await projector.mark_projected(keys(waiting))
    assert len(await segment_ids(store)) == 1
    assert keys(await store.unprojected(10)) == keys(written)  # still marked: offered again
    assert await replayed(store) == written  # in the segment and marked: once
    await settle(handle(store))  # the next projector pass: a second segment of the same events
    assert len(await segment_ids(store)) == 2
    assert await replayed(store) == written


async def test_a_failed_segment_insert_unsets_no_mark(store, monkeypatch):
    written = await grow(store, "dossier-nosegment", 2)
    await store.mark_published(keys(written))

    async def unreachable(document):
        raise AutoReconnect("the server went away")

    monkeypatch.setattr(store.segments, "insert_one", unreachable)
    with pytest.raises(AutoReconnect):
        await store.mark_projected(keys(await store.unprojected(10)))
    assert keys(await store.unprojected(10)) == keys(written)  # the events are offered again
    assert await replayed(store) == written


async def test_a_missing_segment_is_filled_from_the_record(store):
    """A segment lost in the middle of a stream (its later events are in later segments): the gap shows, and the
    replay reads the stream from the record from there. (A lost segment holding a stream's last events shows no
    gap: the audit names those events, see below.)"""
    for start in (0, 3, 6):
        await grow(store, "dossier-x", 3, start=start)
        await settle(store, batch=3)
    await grow(store, "dossier-y", 1)
    await settle(store)
    ids = await segment_ids(store)
    assert len(ids) == 4
    await store.segments.delete_one({"_id": ids[1]})  # dossier-x v4..v6
    events = await assert_exact_replay(store)
    assert [e.version for e in by_stream(events)["dossier-x"]] == list(range(1, 10))
    assert await handle(store).verify_segments() == [f"dossier-x/{v:010d}: settled, and in no segment"
                                                     for v in (4, 5, 6)]


async def test_an_unreadable_segment_finishes_the_replay_from_the_record(store):
    await settled_store(store)
    ids = await segment_ids(store)
    await store.segments.update_one({"_id": ids[2]}, {"$set": {"events": Binary(b"not zlib")}})
    await assert_exact_replay(store)
    problems = await handle(store, pages=False).verify_pages()
    assert problems == [f"segment {ids[2]}: does not read as events"] + [
        f"{key}: settled, and in no segment" for key in sorted(await keys_only_in(store, ids[2]))]


async def keys_only_in(store, segment_id):
    """Keys a replay can find only in this segment (the audit's view once it is unreadable)."""
    others: set[str] = set()
    mine: set[str] = set()
    for doc in await store.segments.find({}).to_list():
        found = {event_key(c.stream, c.version) for c in decode_events(doc)} \
            if doc["_id"] != segment_id else set()
        others |= found
    async for doc in store.events.find({}):
        if doc["_id"] not in others:
            mine.add(doc["_id"])
    return mine


async def test_an_event_appended_during_a_replay(store):
    record = await settled_store(store)
    reader = handle(store)
    replay = reader.replay()
    first = [await anext(replay) for _ in range(5)]
    late = await grow(store, "dossier-x", 1, start=12) + await grow(store, "dossier-new", 1)
    await settle(store)
    events = first + [e async for e in replay]
    streams = by_stream(events)
    # every event recorded before the replay began, once, each stream in order; the late ones at most once,
    # in their place
    for stream, before in by_stream(record).items():
        assert streams[stream][:len(before)] == before
    assert len(events) - len(record) <= len(late)
    assert streams["dossier-x"] in (by_stream(record)["dossier-x"], by_stream(record)["dossier-x"] + late[:1])
    await assert_exact_replay(store)


async def test_replicas_setting_up_one_new_database_at_once_all_start(mongo, unique):
    # two replicas of a service started together (compose's ha profile): each finds a new database and marks its
    # segments complete; the upsert that loses the race must not stop that replica's start
    db = mongo[f"kit_{unique}"]
    replicas = [MongoEventStore(db, source="/binhchon/test") for _ in range(4)]
    await asyncio.gather(*(r.setup() for r in replicas))
    assert all([await r.segments_complete() for r in replicas])
    assert await db["event_store_meta"].count_documents({"_id": SEGMENTS_READY}) == 1


async def test_an_old_database_is_backfilled_by_its_first_replay(store):
    written = await grow(store, "dossier-old", 5) + await grow(store, "dossier-older", 2)
    # as a database written before segments: settled events (no marks), no segment, no completeness
    await store.events.update_many({}, {"$unset": {"unpublished": "", "unprojected": ""}})
    await store.drop_segments()
    await grow(store, "dossier-old", 1, start=5)  # one still waiting
    reader = handle(store)
    assert not await reader.segments_complete()
    first = [e async for e in reader.replay()]
    assert [(e.stream, e.version) for e in first] == sorted((e.stream, e.version) for e in first)  # key order
    assert await reader.segments_complete()
    assert await store.meta.find_one({"_id": SEGMENTS_READY}) is not None
    assert len(first) == len(written) + 1
    assert await handle(store).verify_segments() == []
    await settle(store)
    await assert_exact_replay(store)  # now from the segments (the backfill's, and the projector's copies)


async def test_the_audits_handle_replays_the_record_and_writes_no_segment(store):
    await grow(store, "dossier-b", 2)
    await grow(store, "dossier-a", 1)
    await store.drop_segments()
    audit = handle(store, pages=False)
    assert [(e.stream, e.version) async for e in audit.replay()] == [("dossier-a", 1), ("dossier-b", 1),
                                                                     ("dossier-b", 2)]
    assert await segment_ids(store) == []
    assert not await audit.segments_complete()


async def test_an_altered_segment_is_named_by_the_audit(store):
    await settled_store(store)
    assert await handle(store, pages=False).verify_pages() == []
    doc = await store.segments.find_one({}, sort=[("_id", 1)])
    entries = decode_events(doc)
    entries[0] = dataclasses.replace(entries[0], data={**entries[0].data, "reason": "altered"})
    await store.segments.update_one({"_id": doc["_id"]}, {"$set": encode_events(entries)})
    altered = f"{entries[0].stream} v{entries[0].version}"
    assert await handle(store, pages=False).verify_pages() == [f"segment {doc['_id']}: {altered} differs from "
                                                               "its event"]


async def test_a_settled_event_in_no_segment_is_named_by_the_audit(store):
    written = await grow(store, "dossier-lost", 2)
    await settle(store)
    await store.segments.delete_many({})
    problems = await handle(store, pages=False).verify_segments()
    assert problems == [f"{key}: settled, and in no segment" for key in keys(written)]


async def test_mark_projected_of_keys_it_did_not_read_copies_them_from_the_record(store):
    written = await grow(store, "dossier-direct", 2)
    await store.mark_published(keys(written))
    await handle(store).mark_projected([*keys(written), event_key("dossier-unknown", 1)])
    assert await store.unprojected(10) == []
    assert await replayed(store) == written
    assert await store.verify_segments() == []


async def test_while_kafka_is_down_the_projector_copies_nothing_again_and_again(store):
    """Unpublished events keep their marks, so they go into no segment: passes every few seconds while the relay
    is stuck leave no pile of copies; once published, the next pass copies and settles them once."""
    written = await grow(store, "dossier-down", 2)
    for _ in range(3):
        await store.mark_projected(keys(await store.unprojected(10)))
    assert await segment_ids(store) == []
    assert keys(await store.unprojected(10)) == keys(written)
    waiting = await store.unprojected(10)  # read while unpublished ...
    await store.mark_published(keys(written[:1]))  # ... then the relay publishes the first
    await store.mark_projected(keys(waiting))
    assert keys(await store.unprojected(10)) == keys(written[1:])
    assert len(await segment_ids(store)) == 1
    await assert_exact_replay(store)


async def test_events_projected_here_are_settled_by_the_relays_one_write_into_a_segment(store, monkeypatch):
    """The writer projected its stream (``projected``): the relay's mark, in the same process, clears both marks
    in one update per run, after copying those events into a segment, so the replay from segments alone still gives
    them; the projector finds nothing left. A segment that cannot be written leaves them to the projector, marked
    published only, never unmarked without their segment."""
    events = await grow(store, "dossier-w", 3)
    store.projected("dossier-w", 3)
    sent = watch_updates(store)
    await store.mark_published(keys(await store.unpublished(10)))
    assert [change for _, change in sent] == [{"$unset": {"unpublished": "", "unprojected": ""}}]  # one statement
    assert await store.unprojected(10) == []
    copies = [e for doc in await store.segments.find({}).to_list() for e in decode_events(doc)]
    assert keys(copies) == keys(events)
    reader = handle(store)
    reader.events = store.db["no_events_here"]
    assert keys([e async for e in reader.replay()]) == keys(events)

    later = await grow(store, "dossier-w", 2, start=3)
    store.projected("dossier-w", 5)

    async def refused(_events):
        raise AutoReconnect("the store went away mid-write")

    monkeypatch.setattr(store, "_write_segment", refused)
    await store.mark_published(keys(await store.unpublished(10)))
    assert await store.unpublished(10) == []
    assert keys(await store.unprojected(10)) == keys(later)  # the projector settles them, as before
