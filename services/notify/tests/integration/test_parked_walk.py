"""What waits is found by its ``waiting_key`` on the real store (FerretDB on PostgreSQL in the fixtures): the same
events the query on ``status`` found, in the same order, events parked before the key existed included (issue 14:
that query read every event ever parked, on every pass and every fact that arrived); and what is due to be sent,
by its ``due_key``, as the date query found it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from binhchon_kit import key_range
from notify.main import NotifySettings, build
from notify.views import delivery_key, due_fields, due_key
from notify.views import setup as setup_views
from notify.waiting import WAITING_KEY, MissingFacts, WaitingRoom, setup

from .test_notify_claims_race import waiting_event as event

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 30, 9, 0, 0, 123000, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = NOW

    def __call__(self) -> datetime:
        return self.at


def legacy(event_id: str, status: str, next_try_at: datetime, needs: list[str]) -> dict[str, Any]:
    """A parked document as notify wrote it before ``waiting_key``."""
    return {"_id": event_id, "status": status, "type": "scoring.completed", "subject": event_id, "body": b"{}",
            "topic": "", "partition": -1, "offset": -1, "key": event_id.encode(), "handler": "",
            "needs": needs, "reason": "no panel", "tries": 0, "pokes": 0, "parked_at": NOW - timedelta(hours=1),
            "give_up_at": NOW + timedelta(hours=23), "next_try_at": next_try_at}


@pytest.fixture
async def room(mongo, unique):
    db = mongo[f"notify_{unique}"]
    clock = Clock()
    # before the key: waiting and due, waiting later, finished
    await db["parked"].insert_many([
        legacy("old-due-1", "waiting", NOW - timedelta(seconds=3), ["panel:r1"]),
        legacy("old-later", "waiting", NOW + timedelta(minutes=1), ["panel:r1", "round:r1"]),
        legacy("old-handled", "handled", NOW - timedelta(seconds=10), ["panel:r1"]),
        legacy("old-due-2", "waiting", NOW - timedelta(milliseconds=1), ["contact:d9"]),
        legacy("old-dead", "dead_lettered", NOW - timedelta(days=2), ["round:r1"]),
        legacy("old-at-now", "waiting", NOW, ["approvers"])])
    waiting = WaitingRoom(db, now=clock, owner="w1")
    # and after it: one due 15 s ago, one in 5 s
    clock.at = NOW - timedelta(seconds=20)
    assert await waiting.park(event(1, clock.at), MissingFacts(["panel:r1"], ["no panel"]))
    clock.at = NOW
    assert await waiting.park(event(2, clock.at), MissingFacts(["round:r1"], ["no round"]))
    return db, clock, waiting


async def test_the_due_are_those_the_status_query_found_in_the_same_order(room):
    db, clock, waiting = room
    expected = [d["_id"] for d in await db["parked"].find({"status": "waiting", "next_try_at": {"$lte": NOW}},
                                                          sort=[("next_try_at", 1)]).to_list()]
    assert expected == ["event-1", "old-due-1", "old-due-2", "old-at-now"]

    await setup(db)
    assert [d["_id"] for d in await waiting.take_due()] == expected
    assert (await db["parked"].find_one({"_id": "old-later"}))[WAITING_KEY] == "old-later"
    assert (await db["parked"].find_one({"_id": "old-handled"}))[WAITING_KEY] is None
    await setup(db)  # once per deploy: a second start reads nothing again
    assert await db["read_model_keys"].count_documents({"_id": f"parked.{WAITING_KEY}.v1"}) == 1

    # the legacy event not yet due, and the new one, are found when they are (their leases taken meanwhile lapse)
    clock.at = NOW + timedelta(minutes=5)
    assert [d["_id"] for d in await waiting.take_due()] == [
        "event-1", "old-due-1", "old-due-2", "old-at-now", "event-2", "old-later"]


async def test_an_arrived_fact_pokes_those_the_status_query_found(room):
    db, clock, waiting = room
    facts = ["panel:r1", "approvers"]
    expected = {d["_id"] for d in await db["parked"].find({"status": "waiting", "needs": {"$in": facts}}).to_list()}
    assert expected == {"old-due-1", "old-later", "old-at-now", "event-1"}

    await setup(db)
    clock.at = NOW + timedelta(seconds=30)
    await waiting.facts_arrived(facts)
    poked = {d["_id"]: d for d in await db["parked"].find({"pokes": 1}).to_list()}
    assert set(poked) == expected
    assert {d["next_try_at"] for d in poked.values()} == {clock.at}
    assert await db["parked"].count_documents({"pokes": 0}) == 4


async def test_a_finished_event_leaves_the_walk_once_a_pass_saw_it_and_a_lost_write_brings_it_back(room):
    db, clock, waiting = room
    await setup(db)
    [first, *_] = await waiting.take_due()
    before = await db["parked"].find_one({"_id": "event-1"})
    await waiting.done(first, "handled")
    walked = {d["_id"] for d in await key_range.in_range(db["parked"], "", None, field=WAITING_KEY)}
    assert "event-1" in walked  # until a pass has seen it finished

    clock.at = NOW + timedelta(minutes=3)  # the other leases lapse: the pass takes them again
    assert "event-1" not in {d["_id"] for d in await waiting.take_due()}
    walked = {d["_id"] for d in await key_range.in_range(db["parked"], "", None, field=WAITING_KEY)}
    assert walked == {"old-due-1", "old-due-2", "old-at-now", "old-later", "event-2"}

    # a write computed from the document as it was before done (FerretDB writes it back whole) comes late
    await db["parked"].replace_one({"_id": "event-1"}, before)
    clock.at += timedelta(minutes=3)
    assert "event-1" not in {d["_id"] for d in await waiting.take_due()}  # its outcome stands
    assert (await db["parked"].find_one({"_id": "event-1"}))["status"] == "handled"


async def test_every_waiting_event_is_found_past_a_page(mongo, unique):
    db = mongo[f"notify_{unique}"]
    clock = Clock()
    waiting = WaitingRoom(db, now=clock, owner="w1")
    await setup(db)
    for n in range(key_range.PAGE * 2 + 3):
        clock.at = NOW + timedelta(milliseconds=n)
        assert await waiting.park(event(n, clock.at), MissingFacts(["panel:r1"], ["no panel"]))
    clock.at = NOW + timedelta(minutes=1)
    assert [d["_id"] for d in await waiting.take_due()] == [f"event-{n}" for n in range(key_range.PAGE * 2 + 3)]


def delivery(delivery_id: str, at: datetime, attempts: int = 0, status: str = "pending") -> dict[str, Any]:
    made = {"_id": delivery_id, "status": status, "attempts": attempts, "due_at": at, "channel": "email",
            "created_at": NOW - timedelta(days=1)}
    return {**made, "page_key": delivery_key(made)}


async def test_the_due_deliveries_are_those_the_date_query_found_in_time_order_legacy_entries_included(
        mongo, unique, infra, dev_keys):
    """The pending deliveries walked by their ``due_key`` (when, then which): those a date query on when each is
    due found, the entries of the former ``due`` collection (with the key and without) moved onto their
    deliveries at start, to the millisecond the store keeps."""
    cfg = NotifySettings(service_name="notify", mongodb_url=infra.mongodb, mongodb_database=f"notify_{unique}",
                         kafka_bootstrap_servers=infra.kafka, auth_public_keys_file=str(dev_keys[1]))
    app = build(cfg, clock=Clock())
    notify, db = app.state.notify, mongo[f"notify_{unique}"]
    zone = timezone(timedelta(hours=14))
    when = {"d-old-1": NOW - timedelta(minutes=1), "d-old-later": NOW + timedelta(days=3), "d-old-now": NOW,
            "d-keyed": NOW - timedelta(seconds=5), "d-new-1": NOW - timedelta(seconds=2),
            "d-new-ms": NOW + timedelta(milliseconds=1),  # a millisecond too late
            "d-new-zone": (NOW - timedelta(seconds=30)).astimezone(zone)}
    try:
        # the former layout: a delivery, then its entry in ``due`` (before the key: its attempt and when only)
        await db["deliveries"].insert_many(
            [delivery(d, when[d]) for d in ("d-old-1", "d-old-later", "d-keyed")]
            + [delivery("d-old-now", NOW, attempts=1), delivery("d-sent", NOW, 1, "sent")])
        await db["due"].insert_many([
            {"_id": "d-old-1", "at": when["d-old-1"], "attempt": 1},
            {"_id": "d-old-later", "at": when["d-old-later"], "attempt": 1},
            {"_id": "d-old-now", "at": NOW, "attempt": 2},
            {"_id": "d-sent", "at": NOW, "attempt": 2},  # its delivery finished: dropped
            {"_id": "d-keyed", "at": when["d-keyed"], "attempt": 1,
             "due_key": due_key({"_id": "d-keyed", "at": when["d-keyed"]})}])
        await setup_views(db)
        assert await db["due"].count_documents({}) == 0
        assert (await db["deliveries"].find_one({"_id": "d-old-now"}))["attempts"] == 1
        assert "due_key" not in await db["deliveries"].find_one({"_id": "d-sent"})
        await db["deliveries"].insert_many([{**delivery(d, when[d]), **due_fields(d, when[d])}
                                            for d in ("d-new-1", "d-new-ms", "d-new-zone")])
        for now in (NOW, NOW + timedelta(microseconds=999), NOW + timedelta(days=4)):
            expected = sorted((d for d in when if when[d] <= now), key=lambda d: (when[d], d))
            assert [d["_id"] for d in await notify.due_entries(now)] == expected
        assert [d["_id"] for d in await notify.due_entries(NOW)] == ["d-old-1", "d-new-zone", "d-keyed", "d-new-1",
                                                                      "d-old-now"]
        await setup_views(db)  # again (every start): nothing left to move, nothing changed
        assert [d["_id"] for d in await notify.due_entries(NOW)] == ["d-old-1", "d-new-zone", "d-keyed", "d-new-1",
                                                                      "d-old-now"]
    finally:
        await notify.rt.mongo.close()
