"""The relay's lease against the real store (FerretDB on PostgreSQL in the fixtures): replicas racing for it, on
a fresh database and for a lease left to expire by a dead replica, leave exactly one of them relaying (ADR 0013)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from binhchon_kit.relay import Lease

pytestmark = pytest.mark.integration
REPLICAS = 8
ROUNDS = 10


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_replicas_racing_for_the_relay_lease_leave_one_relaying(mongo, unique):
    clock = Clock()
    ttl = timedelta(seconds=15)
    for n in range(ROUNDS):
        db = mongo[f"kit_{unique}_{n}"]
        # nobody holds it yet: all start at once
        replicas = [Lease(db, "relay:/binhchon/test", ttl, clock=clock) for _ in range(REPLICAS)]
        won = await asyncio.gather(*(r.acquire() for r in replicas))
        assert sum(won) == 1, f"round {n}: {sum(won)} replicas relay on a fresh database"
        holder = replicas[won.index(True)]
        assert await holder.acquire()  # and it keeps it
        assert not any(await asyncio.gather(*(r.acquire() for r in replicas if r is not holder)))

        # the holder dies; once its lease has run out, the others race to take it over
        clock.now += ttl + timedelta(seconds=1)
        others = [r for r in replicas if r is not holder] + [Lease(db, "relay:/binhchon/test", ttl, clock=clock)
                                                            for _ in range(3)]
        won = await asyncio.gather(*(r.acquire() for r in others))
        assert sum(won) == 1, f"round {n}: {sum(won)} replicas took over the expired lease"
        new_holder = others[won.index(True)]
        # renewing (a third of the lease left) keeps it the holder's; the old holder comes back and does not relay
        clock.now += ttl * 0.7
        assert await new_holder.acquire()
        assert not await holder.acquire()
        clock.now += ttl * 0.5
        assert await new_holder.acquire(), "a renewed lease is still the holder's"
        assert not any(await asyncio.gather(*(r.acquire() for r in others if r is not new_holder)))
        await new_holder.release()
        assert sum(await asyncio.gather(*(r.acquire() for r in others))) == 1, "a released lease goes to one"


class LandsFirst:
    """The leases collection with an insert of this process's landing just before the one asked: the renewal a
    cancelled pass had sent, arriving between the next acquire's read of the chain and its insert."""

    def __init__(self, collection, owner: str) -> None:
        self.collection, self.owner, self.armed = collection, owner, True

    def __getattr__(self, name):
        return getattr(self.collection, name)

    async def insert_one(self, doc, *args, **kwargs):
        if self.armed:
            self.armed = False
            await self.collection.insert_one({**doc, "owner": self.owner})
        return await self.collection.insert_one(doc, *args, **kwargs)


async def test_a_relay_whose_cancelled_renewal_landed_late_still_holds_its_lease(mongo, unique):
    # the review of the renewals (2026-11-30): the renewal task is cancelled with its pass after its insert was sent;
    # the relay's next acquire read the chain before that insert landed and met it as a duplicate: it took the lease
    # for another replica's, forgot the events it had published but not marked, and nobody else held the lease
    clock = Clock()
    ttl = timedelta(seconds=15)
    db = mongo[f"kit_{unique}_late"]
    lease = Lease(db, "relay:/binhchon/test", ttl, clock=clock)
    assert await lease.acquire()
    clock.now += ttl + timedelta(seconds=1)  # lapsed while the pass waited: the relay takes it again
    lease.collection = LandsFirst(lease.collection, lease.owner)
    assert await lease.acquire(), "the generation that beat this insert is this process's own"
    assert lease.holds() and not lease.lost()
    other = Lease(db, "relay:/binhchon/test", ttl, clock=clock)
    assert not await other.acquire(), "and no other replica takes it while it holds"
