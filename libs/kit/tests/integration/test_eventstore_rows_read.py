"""A stream's reads and marks read pages of its own stream only, however many other events are stored (issue 14):
PostgreSQL's own counts for the events' table (``pg_stat_statements``: the pages its statements touched,
binhchon_kit.testing.table_reads), with 2,000 older events of other streams."""

from __future__ import annotations

import pytest

from binhchon_kit.eventstore import AlreadyRecorded, ConcurrencyConflict
from binhchon_kit.eventstore_mongo import MongoEventStore
from binhchon_kit.testing.eventstore_contract import ACTOR, CAUSE, grow, keys, rejected
from binhchon_kit.testing.table_reads import reads, table_pages

pytestmark = pytest.mark.integration

OLDER = 2_000
# pages per operation, whatever OLDER, measured the same on every run: version() 5, read_stream() 6 (one bounded
# range, before as after); the marks of a run of 8: 144, mostly the 8 events written back through their indexes, where
# the range update before (2a60ef1^1) walked the `_id` index from one bound to the end of the table: 250; a lost race
# or a repeat: 9 and 5 (117 and 112 by the event_id equality before)
BOUND = 40
MARKS = 180


@pytest.fixture
async def crowded(counted_mongo, unique) -> MongoEventStore:
    """A store holding 2,000 events of 200 other streams, half of whose keys sort before the target's, half after
    (a one-sided range either way reads a thousand)."""
    store = MongoEventStore(counted_mongo[f"kit_rows_{unique}"], source="/binhchon/test", pages=False)
    await store.setup()
    docs = []
    for s in range(OLDER // 10):
        stream = f"dossier-{9 if s % 2 else 0}{s:04d}"
        for v in range(1, 11):
            key = f"{stream}/{v:010d}"
            docs.append({"_id": key, "event_id": f"e-{key}", "stream": stream, "version": v, "body": "{}"})
    await store.events.insert_many(docs)
    return store


async def test_a_streams_reads_and_marks_read_its_own_pages(counted_store, crowded):
    store = crowded
    name = store.db.name
    events = await grow(store, "dossier-50001", 12)

    version = (await reads(counted_store, name, lambda: store.version("dossier-50001")))["events"]
    stream = (await reads(counted_store, name, lambda: store.read_stream("dossier-50001")))["events"]
    # a run of consecutive versions of one stream: the relay's marks (one update over the run)
    marks = (await reads(counted_store, name, lambda: store.mark_published(keys(events[2:10]))))["events"]

    print(f"\npages read: version {version}, read_stream {stream}, mark_published {marks}")
    assert version.pages <= BOUND and stream.pages <= BOUND, (version, stream)
    assert marks.pages <= MARKS, marks
    assert await store.version("dossier-50001") == 12
    assert [e.version for e in await store.read_stream("dossier-50001")] == list(range(1, 13))
    waiting = await store.events.find({"stream": "dossier-50001", "unpublished": {"$exists": True}}).to_list()
    assert [d["version"] for d in waiting] == [1, 2, 11, 12]

    # the counts see a whole read: a filter no index serves touches every page of the 2,000 events
    full = (await reads(counted_store, name, lambda: store.events.count_documents({"body": "nowhere"})))["events"]
    print(f"a read of every event: {full}")
    assert full.pages >= table_pages(counted_store, name, "events") > 100, full


async def test_a_lost_race_is_told_from_a_repeat_by_the_event_id_index(counted_store, crowded):
    """An append at a taken version asks whether its event id is stored anywhere (a repeated effect) or not (a lost
    race): by the event_id index, not an equality that read all 2,000 other events on every lost race."""
    store = crowded
    first = (await grow(store, "dossier-50001", 2))[0]

    async def lose() -> None:
        with pytest.raises(ConcurrencyConflict):
            await store.append("dossier-50001", 0, rejected("muộn"), subject="dossier-50001", actor=ACTOR, cause=CAUSE)

    async def repeat() -> None:
        with pytest.raises(AlreadyRecorded):
            await store.append("dossier-50001", 0, rejected("lại", first.id), subject="dossier-50001", actor=ACTOR,
                               cause=CAUSE)

    lost = (await reads(counted_store, store.db.name, lose))["events"]
    repeated = (await reads(counted_store, store.db.name, repeat))["events"]
    print(f"\npages read: a lost race {lost}, a repeat {repeated}")
    # the equality before read every page of the 2,000 events (over 100) on each
    assert lost.pages <= BOUND and repeated.pages <= BOUND, (lost, repeated)
    assert [e.version for e in await store.read_stream("dossier-50001")] == [1, 2]
