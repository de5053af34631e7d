"""With a backlog waiting for its facts, a fact that arrives and a pass with nothing due read what is theirs, not
the backlog (issue 14).

Under load notify parks many events for a moment (a round's ``scoring.opened`` before its panel, a result before
its contact), and it used to walk all of them for every fact that arrived (each ``dossier.received``,
``panel.formed``, ``round.opened``, ``scoring.opened``) and on every pass, which runs after each event handled. On a
store of its own (FerretDB on PostgreSQL, binhchon_kit.testing.table_reads), 400 events of other rounds wait; the
pages PostgreSQL's statements touched for ``parked`` are counted around a fact that one event awaits and around a
pass right after another, and the right event is poked and then tried.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from binhchon_kit import key_range
from binhchon_kit.testing.infra import NativeFerretDB
from binhchon_kit.testing.table_reads import Reads, reads, table_pages
from notify.waiting import AWAITED, MissingFacts, WaitingRoom, setup

from .test_notify_claims_race import waiting_event as event

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
BACKLOG = 400
# pages of ``parked`` (measured the same on every run: 15, 0); the walk of the backlog read 263 for the fact and 264
# for the pass before (5b14c01, the code before the entries and the pass's memory)
FACT_PAGES = 20
PASS_PAGES = 0


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


def _pages(read: dict[str, Reads], collection: str) -> int:
    return read.get(collection, Reads()).pages


async def test_a_fact_and_an_idle_pass_read_their_own_not_the_backlog(counted_store: NativeFerretDB,
                                                                       counted_mongo: Any, unique: str) -> None:
    db = counted_mongo[f"notify_{unique}"]
    clock = Clock()
    await setup(db)
    waiting = WaitingRoom(db, now=clock, owner="w1")
    for n in range(BACKLOG):  # other rounds' dossiers waiting for their panels
        await waiting.park(event(n, NOW), MissingFacts([f"panel:other-{n}"], [f"no panel of other-{n}"]))
    await waiting.park(event(BACKLOG, NOW), MissingFacts(["panel:r1"], ["no panel of r1"]))
    assert await waiting.take_due() == []  # nothing due for 5 s: the first pass walked to learn it

    clock.at = NOW + timedelta(seconds=1)
    read = await reads(counted_store, db.name, lambda: waiting.facts_arrived(["panel:r1"]))
    print(f"\na fact one of {BACKLOG + 1} waiting events awaits: pages read {read}")
    assert _pages(read, "parked") <= FACT_PAGES, read
    poked = await db["parked"].find({"pokes": 1}).to_list()
    assert [(d["_id"], d["next_try_at"]) for d in poked] == [(f"event-{BACKLOG}", clock.at)]
    assert await db[AWAITED].count_documents({"fact": "panel:r1"}) == 0  # its entry dropped, the others kept
    assert await db[AWAITED].count_documents({}) == BACKLOG

    [taken] = await waiting.take_due()  # poked: the next pass walks, and takes it
    assert taken["_id"] == f"event-{BACKLOG}"
    await waiting.done(taken, "handled")

    clock.at = NOW + timedelta(seconds=2)
    read = await reads(counted_store, db.name, waiting.take_due)
    print(f"a pass with nothing due: pages read {read}")
    assert _pages(read, "parked") <= PASS_PAGES, read

    clock.at = NOW + timedelta(seconds=6)  # the backlog's first tries are due: a pass walks and takes them all
    assert len(await waiting.take_due()) == BACKLOG
    # the counts see a walk of the backlog: every page of its table
    read = await reads(counted_store, db.name, lambda: db["parked"].count_documents({"reason": "nowhere"}))
    assert _pages(read, "parked") >= table_pages(counted_store, db.name, "parked") > FACT_PAGES, read


async def test_an_event_parked_by_another_replica_is_found_within_the_rewalk(mongo: Any, unique: str) -> None:
    """What this process does not know of (another replica's park, its poke) is found by the walk it makes at least
    every ``rewalk``; and an event that another replica's poke made due is taken by this one."""
    db = mongo[f"notify_{unique}"]
    clock = Clock()
    await setup(db)
    mine, theirs = WaitingRoom(db, now=clock, owner="w1"), WaitingRoom(db, now=clock, owner="w2")
    assert await mine.take_due() == []
    await theirs.park(event(1, NOW), MissingFacts(["panel:r1"], ["no panel"]))
    await theirs.facts_arrived(["panel:r1"])  # made due at once, by the other replica
    assert await mine.take_due() == []  # this one walked at NOW: it does not know yet
    clock.at = NOW + mine.rewalk
    assert [d["_id"] for d in await mine.take_due()] == ["event-1"]


async def test_a_try_that_still_lacks_its_fact_makes_no_entry_again_and_the_fact_still_finds_it(
        mongo: Any, unique: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A retry that lacks the same fact inserts nothing into ``awaited``: each try re-inserted every entry, refused
    as a duplicate (a row PostgreSQL wrote and threw away per need per try, which no statement count shows: an
    errored statement is not counted). A new need gets its entry; the arrived fact still pokes the event."""
    db = mongo[f"notify_{unique}"]
    clock = Clock()
    await setup(db)
    waiting = WaitingRoom(db, now=clock, owner="w1")
    inserts: list[str] = []
    add_entry = key_range.add_entry

    async def counted(index: Any, entry: dict[str, Any]) -> None:
        inserts.append(entry["_id"])
        await add_entry(index, entry)

    monkeypatch.setattr(key_range, "add_entry", counted)
    await waiting.park(event(1, NOW), MissingFacts(["panel:r1"], ["no panel of r1"]))
    assert inserts == ["panel:r1|event-1"]
    for tries in range(1, 4):
        clock.at += timedelta(minutes=10)
        [doc] = await waiting.take_due()
        await waiting.still_waiting(doc, MissingFacts(["panel:r1"], ["no panel of r1"]))
        assert (await db["parked"].find_one({"_id": doc["_id"]}))["tries"] == tries
    assert inserts == ["panel:r1|event-1"]  # three tries, no insert
    clock.at += timedelta(minutes=10)
    [doc] = await waiting.take_due()
    await waiting.still_waiting(doc, MissingFacts(["panel:r1", "contact:p1"], ["no panel", "no contact"]))
    assert inserts == ["panel:r1|event-1", "contact:p1|event-1"]
    assert sorted(d["fact"] for d in await db[AWAITED].find({}).to_list()) == ["contact:p1", "panel:r1"]

    clock.at += timedelta(seconds=1)
    await waiting.facts_arrived(["panel:r1"])
    [poked] = await waiting.take_due()
    assert poked["_id"] == "event-1" and poked["pokes"] == 1


async def test_a_fact_arriving_during_a_try_has_it_tried_again_at_once_one_that_came_before_does_not(
        mongo: Any, unique: str) -> None:
    """The try that lacks a fact checks whether it arrived meanwhile (its poke may be overwritten by the try's own
    backoff): then at once. A fact that arrived before the try and is lacking again (the only approver given
    another role) is waited for on the backoff: before, the event was tried again on every pass, for a day."""
    db = mongo[f"notify_{unique}"]
    clock = Clock()
    await setup(db)
    waiting = WaitingRoom(db, now=clock, owner="w1")
    await waiting.facts_arrived(["approvers"])  # an approver configured long ago, since given another role
    await waiting.park(event(1, NOW), MissingFacts(["approvers"], ["no recipient has the approver role yet"]))
    lacking = MissingFacts(["approvers"], ["no recipient has the approver role yet"])

    clock.at = NOW + timedelta(seconds=6)
    [doc] = await waiting.take_due()
    await waiting.still_waiting(doc, lacking)
    stored = await db["parked"].find_one({"_id": "event-1"})
    assert stored["next_try_at"].replace(tzinfo=UTC) == clock.at + timedelta(seconds=10)  # its backoff
    clock.at += timedelta(seconds=1)
    assert await waiting.take_due() == []  # not on the next pass

    clock.at = NOW + timedelta(seconds=20)
    [doc] = await waiting.take_due()
    clock.at += timedelta(milliseconds=300)
    await waiting.facts_arrived(["approvers"])  # configured again while the try ran, its poke then overwritten
    await waiting.still_waiting(doc, lacking)
    stored = await db["parked"].find_one({"_id": "event-1"})
    assert stored["next_try_at"].replace(tzinfo=UTC) == clock.at  # at once
    assert [d["_id"] for d in await waiting.take_due()] == ["event-1"]
