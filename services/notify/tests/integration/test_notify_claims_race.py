"""Replicas racing for the same claim on the real store (FerretDB on PostgreSQL in the fixtures): a delivery
attempt whose claim expired, and a parked event due for a try, are each taken by exactly one replica (ADR 0013).
FerretDB's conditional updates are not compare-and-set, so a claim decided by one let several replicas win."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from binhchon_kit.events import Actor, RecordedEvent
from notify.main import NotifySettings, build
from notify.waiting import MissingFacts

from .support import Clock

pytestmark = pytest.mark.integration
REPLICAS = 8
ROUNDS = 8
LEASE = timedelta(minutes=2)


@pytest.fixture
async def replicas(infra, unique, dev_keys):
    clock = Clock()
    cfg = NotifySettings(service_name="notify", mongodb_url=infra.mongodb, mongodb_database=f"notify_{unique}",
                         kafka_bootstrap_servers=infra.kafka, auth_public_keys_file=str(dev_keys[1]))
    apps = [build(cfg, clock=clock) for _ in range(REPLICAS)]
    yield clock, [app.state.notify for app in apps]
    for app in apps:
        await app.state.notify.rt.mongo.close()


async def test_an_expired_delivery_claim_is_taken_over_by_one_replica(replicas):
    clock, notifies = replicas
    for n in range(ROUNDS):
        entry = {"_id": f"delivery-{n}"}
        assert await notifies[0]._claim(entry, 1)  # the first claimer, which then dies mid-send
        assert not any(await asyncio.gather(*(x._claim(entry, 1) for x in notifies[1:])))
        clock.move_to(clock.now + LEASE + timedelta(seconds=1))
        won = [c is not None for c in await asyncio.gather(*(x._claim(entry, 1) for x in notifies[1:]))]
        assert sum(won) == 1, f"round {n}: {sum(won)} replicas took over one expired claim"
        # the next attempt of the same delivery is a claim of its own
        # (its first generation, one insert each: exactly one wins)
        second = await asyncio.gather(*(x._claim(entry, 2) for x in notifies))
        assert sum(c is not None for c in second) == 1


async def test_a_first_claim_made_again_after_a_takeover_pruned_it_loses(replicas):
    """An attempt's first claim is one insert (ADR 0054); a takeover prunes it, so a replica that read the due entry
    before could insert it again: it checks the chain, finds the takeover, and gives its insert up."""
    clock, notifies = replicas
    entry = {"_id": "delivery-pruned"}
    assert await notifies[0]._claim(entry, 1) is not None
    clock.move_to(clock.now + LEASE + timedelta(seconds=1))
    taken = await notifies[1]._claim(entry, 1)
    assert taken is not None and taken["gen"] == 1
    assert await notifies[0].db["claims"].find_one({"_id": "delivery-pruned:1"}) is None  # the first one pruned

    assert await notifies[2]._claim(entry, 1) is None  # inserted the first generation again, and lost
    again = await notifies[0].db["claims"].find_one({"_id": "delivery-pruned:1"})
    assert again is not None and again["released"] is True
    assert await asyncio.gather(*(x._claim(entry, 1) for x in notifies[3:])) == [None] * (REPLICAS - 3)


def waiting_event(n: int, at: datetime) -> RecordedEvent:
    return RecordedEvent(id=f"event-{n}", stream=f"scoring-dossier-{n}", version=1, type="scoring.completed",
                         schema_version=1, subject=f"dossier-{n}", time=at,
                         data={"dossier_id": f"dossier-{n}", "round_id": f"round-{n}"},
                         actor=Actor.system("scoring"), correlation_id="c", causation_id="c",
                         source="/binhchon/scoring", prev_hash="", hash="h")


async def test_a_parked_event_due_for_a_try_is_leased_to_one_replica(replicas):
    clock, notifies = replicas
    rooms = [x.waiting for x in notifies]
    for n in range(ROUNDS):
        event = waiting_event(n, clock.now.astimezone(UTC))
        assert await rooms[0].park(event, MissingFacts([f"panel:round-{n}"], [f"no panel.formed for round-{n}"]))
        clock.move_to(clock.now + rooms[0].first_retry)
        taken = await asyncio.gather(*(room.take_due() for room in rooms))
        assert sum(len(t) for t in taken) == 1, f"round {n}: {[len(t) for t in taken]} replicas leased it"

        # the holder dies with it; once its lease has run out, one other replica takes it
        holder = next(i for i, t in enumerate(taken) if t)
        clock.move_to(clock.now + LEASE + timedelta(seconds=1))
        others = [room for i, room in enumerate(rooms) if i != holder]
        taken = await asyncio.gather(*(room.take_due() for room in others))
        assert sum(len(t) for t in taken) == 1, f"round {n}: {[len(t) for t in taken]} replicas took it over"

        # the taker gives up on it at once (a dead letter): nobody takes it again, though a pass saw it waiting
        taker = others[next(i for i, t in enumerate(taken) if t)]
        await taker.done(taken[next(i for i, t in enumerate(taken) if t)][0], "dead_lettered", "gave up")
        clock.move_to(clock.now + LEASE + timedelta(seconds=1))
        await rooms[0].parked.update_one({"_id": event.id}, {"$set": {"status": "waiting"}})  # a lost update
        assert sum(len(t) for t in await asyncio.gather(*(room.take_due() for room in rooms))) == 0
        assert (await rooms[0].parked.find_one({"_id": event.id}))["status"] == "dead_lettered"
