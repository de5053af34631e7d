"""What a page of events is (ADR 0019), without a server: deterministic, read back as the same events, refused
when it does not read as one stream's consecutive linked events; whole aligned runs only."""

from __future__ import annotations

import dataclasses
import json
import zlib

from bson import Binary

from binhchon_kit.eventstore_codec import ROW
from binhchon_kit.eventstore_memory import MemoryEventStore
from binhchon_kit.eventstore_pages import PAGE_SIZE, full_pages, page_document, page_events, unpaged_tail
from binhchon_kit.testing.eventstore_contract import grow


async def written(count: int):
    store = MemoryEventStore("/binhchon/test")
    return await grow(store, "dossier-p", count)


async def test_a_page_reads_back_as_its_events_and_the_same_events_give_the_same_page():
    events = await written(PAGE_SIZE)
    page = page_document(events)
    assert (page["_id"], page["stream"], page["first"], page["last"]) == ("dossier-p/0000000001", "dossier-p", 1,
                                                                          PAGE_SIZE)
    assert page_events(page) == events
    assert page_document([dataclasses.replace(e) for e in events]) == page


async def test_a_page_that_is_not_its_streams_consecutive_linked_events_is_refused():
    events = await written(PAGE_SIZE)
    page = page_document(events)
    assert page_events({**page, "first": 2}) is None
    assert page_events({**page, "_id": "dossier-p/0000000002"}) is None
    assert page_events({**page, "stream": None}) is None
    assert page_events({**page, "events": Binary(b"not zlib")}) is None
    unlinked = [*events[:3], dataclasses.replace(events[3], prev_hash="0" * 64), *events[4:]]
    assert page_events(page_document(unlinked)) is None
    entries = json.loads(zlib.decompress(page["events"]))
    del entries[7][ROW.index("hash")]
    assert page_events({**page, "events": Binary(zlib.compress(json.dumps(entries).encode()))}) is None


async def test_only_whole_aligned_runs_make_pages():
    events = await written(3 * PAGE_SIZE + 5)
    assert [(p[0].version, p[-1].version) for p in full_pages(events)] == [
        (1, PAGE_SIZE), (PAGE_SIZE + 1, 2 * PAGE_SIZE), (2 * PAGE_SIZE + 1, 3 * PAGE_SIZE)]
    assert [(p[0].version, p[-1].version) for p in full_pages(events[3:])] == [
        (PAGE_SIZE + 1, 2 * PAGE_SIZE), (2 * PAGE_SIZE + 1, 3 * PAGE_SIZE)]
    gap = [*events[:PAGE_SIZE + 4], *events[PAGE_SIZE + 5:]]
    assert [(p[0].version, p[-1].version) for p in full_pages(gap)] == [(1, PAGE_SIZE)]
    assert [e.version for e in unpaged_tail(events)] == list(range(3 * PAGE_SIZE + 1, 3 * PAGE_SIZE + 6))
