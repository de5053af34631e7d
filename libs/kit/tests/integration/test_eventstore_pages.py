"""The MongoDB driver's pages of events (ADR 0019) on FerretDB on PostgreSQL: who writes them, what a crash
between an event and its page leaves, and what happens to a page when the events it copies are altered."""

from __future__ import annotations

import dataclasses

import pytest
from bson import Binary
from pymongo.errors import AutoReconnect

import binhchon_kit.eventstore_mongo
from binhchon_kit.eventstore import event_key, verify_chain
from binhchon_kit.eventstore_codec import decode_events, encode_events
from binhchon_kit.eventstore_mongo import STREAM_LIMIT, MongoEventStore
from binhchon_kit.eventstore_pages import PAGE_SIZE
from binhchon_kit.testing.eventstore_contract import grow
from binhchon_kit.testing.stored_events import alter_data

pytestmark = pytest.mark.integration

STREAM = "dossier-paged"


def handle(store, *, pages=True):
    """Another process on the same database: nothing remembered."""
    return MongoEventStore(store.db, source=store.source, pages=pages)


async def page_ids(store):
    return [p["_id"] async for p in store.pages.find({}, projection={"_id": 1}, sort=[("_id", 1)])]


class CrashedBeforeItsPages(MongoEventStore):
    """A writer that dies after each event's insert and before any page insert."""

    async def _write_pages(self, pages):
        return None


async def test_the_writer_of_a_pages_last_event_writes_it_and_reads_use_it(store):
    written = await grow(store, STREAM, 2 * PAGE_SIZE + 3)
    assert await page_ids(store) == [event_key(STREAM, 1), event_key(STREAM, PAGE_SIZE + 1)]
    page = await store.pages.find_one({"_id": event_key(STREAM, 1)})
    assert page is not None and (page["first"], page["last"]) == (1, PAGE_SIZE)
    assert await handle(store).read_stream(STREAM) == written
    # the record is untouched: one document per event, with its marks
    assert await store.events.count_documents({"stream": STREAM}) == 2 * PAGE_SIZE + 3


class CountingReads(MongoEventStore):
    """A handle that counts its queries of event documents (pages are asked beside them, at once)."""

    reads = 0

    async def _read_events(self, stream, start, limit=STREAM_LIMIT):
        self.reads += 1
        return await super()._read_events(stream, start, limit)


async def test_a_stream_reads_in_one_query_of_events_beside_its_pages_and_a_stale_guess_still_reads_it_whole(store):
    written = await grow(store, STREAM, PAGE_SIZE + 5)
    short = await grow(store, "dossier-short", 3)
    reader = CountingReads(store.db, source=store.source)
    assert await reader.read_stream("dossier-short") == short and reader.reads == 1  # unknown, never paged
    assert await reader.read_stream(STREAM) == written and reader.reads == 3  # unknown and paged: 33 events, then
    assert await reader.read_stream(STREAM) == written and reader.reads == 4  # known: from its last page on
    # another process grows the stream past two more page boundaries: this reader's guess is behind
    written += await grow(handle(store), STREAM, 2 * PAGE_SIZE, start=PAGE_SIZE + 5)
    assert await reader.read_stream(STREAM) == written and reader.reads == 5
    assert await handle(store).read_stream(STREAM) == written


async def test_a_crash_between_the_events_and_their_pages_loses_nothing(store):
    crashed = CrashedBeforeItsPages(store.db, source=store.source)
    written = await grow(crashed, STREAM, 2 * PAGE_SIZE + 1)
    assert await page_ids(store) == []  # the events are recorded, no page was
    reader = handle(store)
    assert await reader.read_stream(STREAM) == written  # from the events
    assert await page_ids(store) == [event_key(STREAM, 1), event_key(STREAM, PAGE_SIZE + 1)]  # the reader's
    assert await handle(store).read_stream(STREAM) == written  # from the pages


async def test_a_missing_page_in_the_middle_is_read_from_the_events_and_written_again(store):
    written = await grow(store, STREAM, 3 * PAGE_SIZE)
    await store.pages.delete_one({"_id": event_key(STREAM, PAGE_SIZE + 1)})
    assert await handle(store).read_stream(STREAM) == written
    assert len(await page_ids(store)) == 3
    assert await store.verify_pages() == []


async def test_a_failed_page_write_does_not_fail_the_append(store, monkeypatch):
    async def unreachable(document):
        raise AutoReconnect("the server went away after the event's insert")

    monkeypatch.setattr(store.pages, "insert_one", unreachable)
    written = await grow(store, STREAM, PAGE_SIZE)
    assert written[-1].version == PAGE_SIZE
    monkeypatch.undo()
    assert await handle(store).read_stream(STREAM) == written
    assert await page_ids(store) == [event_key(STREAM, 1)]


async def test_a_page_of_events_altered_later_serves_the_original_and_the_audit_names_both(store):
    written = await grow(store, STREAM, PAGE_SIZE + 2)
    await alter_data(store.events, event_key(STREAM, 5), "reason", "sửa lén")

    # the services' read: the page, as the events were written (the altered document is not served)
    assert await handle(store).read_stream(STREAM) == written
    # the audit's read: the record, where the alteration is
    audit = handle(store, pages=False)
    assert verify_chain(await audit.read_stream(STREAM)) == [f"{STREAM} v5: content does not match its hash"]
    assert await audit.verify_pages() == [f"page {event_key(STREAM, 1)}: {STREAM} v5 differs from its event"]
    assert await page_ids(audit) == [event_key(STREAM, 1)]  # the audit wrote no page

    # erasure, or a page found wrong: drop the pages; readers then read (and page again) what the record says
    assert await store.drop_pages(STREAM) == 1
    served = await handle(store).read_stream(STREAM)
    assert served[4].data == {"reason": "sửa lén"} and not served[4].verify_hash()
    assert await audit.verify_pages() == []


async def test_an_altered_page_is_named_by_the_audit(store):
    await grow(store, STREAM, PAGE_SIZE)
    page = await store.pages.find_one({"_id": event_key(STREAM, 1)})
    entries = decode_events(page)
    entries[9] = dataclasses.replace(entries[9], data={**entries[9].data, "reason": "sửa lén"})
    await store.pages.update_one({"_id": page["_id"]}, {"$set": encode_events(entries)})
    assert await handle(store, pages=False).verify_pages() == [f"page {event_key(STREAM, 1)}: {STREAM} v10 differs "
                                                               "from its event"]


async def test_pages_that_do_not_lead_to_the_events_after_them_are_not_believed(store):
    """Pages left from events since rewritten with a new chain (an erasure that re-hashed them, a restore of
    another copy): the first event after the pages does not link to them, so the stream is read from the events."""
    first = await grow(store, STREAM, PAGE_SIZE + 1)
    await store.events.delete_many({"stream": STREAM})
    rewritten = await grow(handle(store), STREAM, PAGE_SIZE + 1)
    assert rewritten[0].hash != first[0].hash  # the old page is still there
    assert await handle(store).read_stream(STREAM) == rewritten


async def test_an_unreadable_page_is_not_believed(store):
    written = await grow(store, STREAM, PAGE_SIZE + 1)
    await store.pages.update_one({"_id": event_key(STREAM, 1)}, {"$set": {"events": Binary(b"not zlib")}})
    assert await handle(store).read_stream(STREAM) == written
    assert await handle(store, pages=False).verify_pages() == [f"page {event_key(STREAM, 1)}: does not read as "
                                                               "consecutive linked events"]


async def test_the_audit_reads_and_writes_no_page(store):
    crashed = CrashedBeforeItsPages(store.db, source=store.source)
    written = await grow(crashed, STREAM, PAGE_SIZE)
    assert await handle(store, pages=False).read_stream(STREAM) == written
    assert await page_ids(store) == []


async def test_pages_whose_events_are_gone_are_not_served(store):
    """The record decides: pages left behind by events deleted since (a restore of an older backup of ``events``)
    are not read as events."""
    await grow(store, STREAM, PAGE_SIZE)
    await store.events.delete_many({"stream": STREAM})
    assert await handle(store).read_stream(STREAM) == []
    assert await handle(store).version(STREAM) == 0


async def test_pages_read_over_several_queries_stop_at_a_missing_one_and_the_events_fill_from_there(store, monkeypatch):
    # two pages per query: the stream's five pages take three queries, the next asked while one's pages decode
    monkeypatch.setattr("binhchon_kit.eventstore_mongo.PAGES_PER_QUERY", 2)
    written = await grow(store, STREAM, 5 * PAGE_SIZE + 3)
    # a stream whose pages' keys fall within this one's key range: the `stream` equality keeps them out of every query
    await grow(store, f"{STREAM}/1", 3 * PAGE_SIZE)
    assert await handle(store).read_stream(STREAM) == written
    assert await handle(store)._read_pages(STREAM) == written[:5 * PAGE_SIZE]
    # the fourth page gone (in the second query's answer): the pages stop before it, the events follow
    await store.pages.delete_one({"_id": event_key(STREAM, 3 * PAGE_SIZE + 1)})
    assert await handle(store)._read_pages(STREAM) == written[:3 * PAGE_SIZE]
    assert await handle(store).read_stream(STREAM) == written


async def test_a_process_decodes_a_page_once_and_again_only_when_its_bytes_changed(store, monkeypatch):
    """The writer keeps the events of the pages it wrote, a reader those it decoded (ADR 0033, "append"): a page
    read again with the same stored bytes is not decoded again; one altered or made unreadable since is read as a
    process that never saw it reads it."""
    decoded: list[str] = []
    real = binhchon_kit.eventstore_mongo.page_events

    def counting(doc):
        decoded.append(doc["_id"])
        return real(doc)

    monkeypatch.setattr(binhchon_kit.eventstore_mongo, "page_events", counting)
    written = await grow(store, STREAM, 2 * PAGE_SIZE + 3)
    reader = handle(store)
    for _ in range(2):
        assert await store.read_stream(STREAM) == written
        assert await reader.read_stream(STREAM) == written
    assert decoded == [event_key(STREAM, 1), event_key(STREAM, PAGE_SIZE + 1)]  # the reader's, once each

    # the second page altered in place: both decode it again and serve what a new process serves
    page = await store.pages.find_one({"_id": event_key(STREAM, PAGE_SIZE + 1)})
    entries = decode_events(page)
    entries[2] = dataclasses.replace(entries[2], data={**entries[2].data, "reason": "sửa lén"})
    await store.pages.update_one({"_id": page["_id"]}, {"$set": encode_events(entries)})
    fresh = await handle(store).read_stream(STREAM)
    assert fresh[PAGE_SIZE + 2].data["reason"] == "sửa lén"
    assert await store.read_stream(STREAM) == fresh
    assert await reader.read_stream(STREAM) == fresh

    # made unreadable: not believed by either, the events are read instead
    await store.pages.update_one({"_id": page["_id"]}, {"$set": {"events": Binary(b"not zlib")}})
    assert await store.read_stream(STREAM) == written
    assert await reader.read_stream(STREAM) == written
