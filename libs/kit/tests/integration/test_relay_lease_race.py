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
