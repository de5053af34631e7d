"""A stream's reads and marks read rows of its own stream only, however many other events are stored (issue 14):
PostgreSQL's own counts of the rows it read from the events' table, with 2,000 older events of other streams."""

from __future__ import annotations

import pytest

from binhchon_kit.eventstore_mongo import MongoEventStore
from binhchon_kit.testing.eventstore_contract import grow, keys
from binhchon_kit.testing.rows_read import rows_read

pytestmark = pytest.mark.integration

OLDER = 2_000
BOUND = 40  # a handful of index entries and rows per operation: the target stream's 12 events and its neighbours


@pytest.fixture
async def crowded(mongo, unique) -> MongoEventStore:
    """A store holding 2,000 events of 200 other streams, half of whose keys sort before the target's, half after
    (a one-sided range either way reads a thousand)."""
    store = MongoEventStore(mongo[f"kit_rows_{unique}"], source="/binhchon/test", pages=False)
    await store.setup()
    docs = []
    for s in range(OLDER // 10):
        stream = f"dossier-{9 if s % 2 else 0}{s:04d}"
        for v in range(1, 11):
            key = f"{stream}/{v:010d}"
            docs.append({"_id": key, "event_id": f"e-{key}", "stream": stream, "version": v, "body": "{}"})
    await store.events.insert_many(docs)
    return store


async def test_a_streams_reads_and_marks_read_its_own_rows(infra, crowded):
    store = crowded
    events = await grow(store, "dossier-50001", 12)

    version = await rows_read(infra, store.db, "events", lambda: store.version("dossier-50001"))
    stream = await rows_read(infra, store.db, "events", lambda: store.read_stream("dossier-50001"))
    # a run of consecutive versions of one stream: the relay's marks (one update over the run)
    marks = await rows_read(infra, store.db, "events", lambda: store.mark_published(keys(events[2:10])))

    print(f"rows read: version {version}, read_stream {stream}, mark_published {marks}")
    for what, reads in {"version": version, "read_stream": stream, "mark_published": marks}.items():
        assert reads.seq_rows == 0, (what, reads)
        assert reads.rows <= BOUND, (what, reads)
    assert await store.version("dossier-50001") == 12
    assert [e.version for e in await store.read_stream("dossier-50001")] == list(range(1, 13))
    waiting = await store.events.find({"stream": "dossier-50001", "unpublished": {"$exists": True}}).to_list()
    assert [d["version"] for d in waiting] == [1, 2, 11, 12]
