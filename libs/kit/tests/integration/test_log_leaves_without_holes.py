"""The Merkle log's leaves stay numbered without a hole on FerretDB, whatever it does with ``ordered`` (ADR 0022).

Found by `make faults` at N=100 (scoring killed): FerretDB 1.24's insert goes on after a duplicate with its next
internal batch of 100 although ``ordered=True``. The relay, restarted, added a batch mixing events that had their
leaves (from the killed pass) with new ones: leaf 558 went in, 559 met a duplicate, 637 went in, and from then on
scoring could not sign a checkpoint ("has no leaf 559"), every pass, for ever. These run on the real store.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from binhchon_kit import merkle
from binhchon_kit.checkpoints import LEAVES, LogDamaged
from binhchon_kit.eventstore import ConcurrencyConflict, event_key
from binhchon_kit.eventstore_mongo import MongoEventStore
from binhchon_kit.leaf_holes import MOVING
from binhchon_kit.leaf_ids import holder, holding, leaf_id, leaf_index
from binhchon_kit.testing.eventstore_contract import grow
from binhchon_kit.transparency import event_leaf

pytestmark = pytest.mark.integration


async def _events(store: MongoEventStore, count: int) -> list[Any]:
    streams = [f"dossier-{n}" for n in range(count // 30 + 1)]
    events = [e for s in streams for e in await grow(store, s, 30)]
    return sorted(events, key=lambda e: event_key(e.stream, e.version))[:count]  # the relay's order


async def _leaf_docs(db: Any) -> list[dict[str, Any]]:
    return await db[LEAVES].find({}, sort=[("_id", 1)]).to_list()  # type: ignore[no-any-return]


def _assert_whole(docs: list[dict[str, Any]], events: list[Any]) -> None:
    assert [leaf_index(d["_id"]) for d in docs] == list(range(len(docs))), "leaves are numbered without a hole"
    keys = [d["event"] for d in docs]
    assert sorted(keys) == sorted(event_key(e.stream, e.version) for e in events), "every event, each once"


async def test_a_batch_mixing_events_with_leaves_and_new_ones_leaves_no_hole(merkle_log):
    """The restart after the kill: 230 events, the killed pass gave leaves to the first 40 and to 60 scattered
    further on; the restarted relay adds all 230 in one batch, so FerretDB's first internal batch of 100 meets
    a duplicate and its next ones go on."""
    store, db, process = merkle_log
    events = await _events(store, 230)
    had = events[:40] + events[45:105:1]  # the killed pass's leaves, in its own order
    await process().add(had)
    await process().add(events)  # the restarted relay: what it read as unpublished, in key order

    docs = await _leaf_docs(db)
    _assert_whole(docs, events)
    new = [e for e in events if e not in had]
    assert [d["event"] for d in docs] == [event_key(e.stream, e.version) for e in had + new], "publication order"
    recorded = await process().record()
    assert recorded is not None and recorded.data["tree_size"] == 230
    assert recorded.data["root_hash"] == merkle.root([event_leaf(e.hash) for e in had + new]).hex()


async def test_two_relays_adding_overlapping_batches_at_once_leave_no_hole_once_signed(merkle_log):
    """A lease taken over: two processes add overlapping batches of more than 100 at once, from the same size.
    Whatever the server let through, every event ends with one leaf and the next checkpoint is signed over leaves
    without a hole (the recorder closes what a race left open)."""
    store, db, process = merkle_log
    events = await _events(store, 260)
    await process().add(events[:10])
    await asyncio.gather(process().add(events[10:200]), process().add(events[60:260]),
                         process().add(list(reversed(events[150:260]))))
    recorded = await process().record()
    assert recorded is not None and recorded.data["tree_size"] == 260
    _assert_whole(await _leaf_docs(db), events)


async def _holed(store: MongoEventStore, db: Any, process: Any) -> list[Any]:
    """A log as the old code left it: 20 leaves and a checkpoint over them, then leaves 20..29, a hole at 30..44
    and leaves 45..69 after it (every event with its one leaf)."""
    events = await _events(store, 55)
    await process().add(events[:20])
    assert (await process().record()) is not None  # checkpoint 1: 20 leaves; its own event takes no leaf here
    await process().add(events[20:30])
    for i, event in enumerate(events[30:55]):
        doc = {"_id": leaf_id(45 + i), "event": event_key(event.stream, event.version), "event_id": event.id,
               "hash": event.hash}
        await db[LEAVES].insert_one(doc)
    return events


async def test_a_log_holed_before_the_fix_is_closed_by_the_next_checkpoint(merkle_log):
    store, db, process = merkle_log
    events = await _holed(store, db, process)
    recorder = process()
    with pytest.raises(LogDamaged, match="has no leaf 30"):
        await recorder.leaf_hashes(70)  # what every pass met, for ever
    recorded = await recorder.record_if_grown()
    assert recorded is not None and recorded.data["tree_size"] == 55
    docs = await _leaf_docs(db)
    _assert_whole(docs, events)
    assert [d["event"] for d in docs] == [event_key(e.stream, e.version) for e in events], "the order kept"
    # the relay goes on after the closed leaves, and the next checkpoint extends this one
    more = await grow(store, "dossier-late", 3)
    await process().add(more)
    assert [d["_id"] for d in await _leaf_docs(db)] == [leaf_id(i) for i in range(58)]
    assert (await recorder.record()).data["tree_size"] == 58  # type: ignore[union-attr]


async def test_a_hole_below_a_signed_checkpoint_is_damage_and_stays_refused(merkle_log):
    """Closing holes is for leaves no checkpoint signed yet: a leaf missing from a signed tree was removed."""
    store, db, process = merkle_log
    await process().add(await _events(store, 12))
    assert (await process().record()) is not None
    await db[LEAVES].delete_one({"_id": leaf_id(4)})
    with pytest.raises(LogDamaged, match="has no leaf 4"):
        await process().record()
    assert await db[LEAVES].find_one({"_id": leaf_id(4)}) is None and await db[LEAVES].count_documents({}) == 11


@pytest.mark.parametrize("crash", ["after the mark", "after the copy"])
async def test_a_recorder_killed_while_moving_a_leaf_loses_and_doubles_nothing(merkle_log, crash):
    """Moving leaf 45 to 30 is three writes: mark it moving, insert its copy at 30, delete the marked one. Killed
    after the first or the second, the next recorder finishes (or undoes) the move: the event keeps one leaf."""
    store, db, process = merkle_log
    events = await _holed(store, db, process)
    key = event_key(events[30].stream, events[30].version)
    await db[LEAVES].update_one({"_id": leaf_id(45)}, {"$set": {"event": MOVING + key}})
    if crash == "after the copy":
        doc = await db[LEAVES].find_one({"_id": leaf_id(45)})
        await db[LEAVES].insert_one({**doc, "_id": leaf_id(30), "event": key})
    with pytest.raises(LogDamaged):
        await process().leaf_hashes(70)  # never signed with a leaf on its way
    # two recorders at once, as two replicas' timers: one checkpoint, the other meets the first's
    # (or one met the other's move half done: refused, never signed over it)
    results = await asyncio.gather(process().record(), process().record(), return_exceptions=True)
    assert all(not isinstance(r, BaseException) or isinstance(r, ConcurrencyConflict | LogDamaged)
               for r in results), results
    recorded = await process().record()
    assert recorded is not None and recorded.data["tree_size"] == 55
    docs = await _leaf_docs(db)
    _assert_whole(docs, events)
    assert [d["event"] for d in docs] == [event_key(e.stream, e.version) for e in events]


async def test_an_event_is_found_to_have_its_leaf_when_other_keys_sort_among_its_streams(merkle_log):
    """"Has this event a leaf" is one range of the event index per stream, limited to its versions: keys of other
    streams that sort inside that range (a stream named like another's key) take places in the page and the next
    page finds the rest."""
    _, db, _ = merkle_log
    keys = ["s/0000000001", "s/0000000001/0000000001", "s/0000000001x/0000000007", "s/0000000002",
            "s/0000000002/0000000009", "s/0000000003", "t/0000000002"]
    await db[LEAVES].insert_many([{"_id": leaf_id(i), "event": k, "event_id": f"e{i}", "hash": "h"}
                                  for i, k in enumerate(keys)])
    asked = ["s/0000000001", "s/0000000002", "s/0000000003", "s/0000000004", "t/0000000001", "t/0000000002"]
    found = await holding(db[LEAVES], asked)
    assert sorted(found) == ["s/0000000001", "s/0000000002", "s/0000000003", "t/0000000002"]
    assert await holder(db[LEAVES], "s/0000000002") is not None and await holder(db[LEAVES], "s/0000000004") is None
