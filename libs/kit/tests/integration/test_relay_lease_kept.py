"""The relay's lease while a pass works, with two replicas on the real broker and store, on an injected clock.

Issue 14: a pass waiting out a broker outage (it awaits the sends it queued) did not renew its lease; with two
replicas the lease lapsed mid-pass, the other took it over and published the same events again. A pass now keeps
its lease alive while it works; a relay that finds its lease lost sends and marks nothing more; a relay killed
mid-pass renews nothing, and the other takes over once the lease has run out, as before (docs/adr/0041)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit import claims
from binhchon_kit.eventstore_mongo import MongoEventStore
from binhchon_kit.relay import Lease, Relay
from binhchon_kit.signing import Signer
from binhchon_kit.testing.eventstore_contract import grow
from binhchon_kit.testing.fixtures import TopicReader, eventually

pytestmark = pytest.mark.integration
TTL = timedelta(seconds=15)
SIGNER = Signer(Ed25519PrivateKey.generate())


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class StallingRelay(Relay):
    """The relay as it is; its ``stall_after``-th send queued, the pass stops there until ``resume`` is set (a
    process frozen, or waiting on the broker), and its sends and mark attempts are recorded."""

    def __init__(self, *args: Any, stall_after: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stall_after = stall_after
        self.stalled, self.resume = asyncio.Event(), asyncio.Event()
        self.sent: list[str] = []
        self.marks_tried: list[str] = []

    async def _ensure_producer(self) -> Any:
        known = self.producer
        producer = await super()._ensure_producer()
        if producer is not known:
            send = producer.send

            async def watched(*args: Any, **kwargs: Any) -> Any:
                queued = await send(*args, **kwargs)
                self.sent.append(dict(kwargs["headers"])["event-id"].decode())
                if len(self.sent) == self.stall_after:
                    self.stalled.set()
                    await self.resume.wait()
                return queued

            producer.send = watched  # type: ignore[method-assign]
        return producer


def replica(store: MongoEventStore, clock: Clock, unique: str, n: int, renew_every: float,
            **kwargs: Any) -> StallingRelay:
    relay = StallingRelay(store, kwargs.pop("kafka"), signer=SIGNER, client_id=f"relay-{unique}-{n}",
                          topic_prefix=kwargs.pop("prefix"), idle_interval=0.05, **kwargs)
    relay.lease = Lease(store.db, f"relay:{store.source}", TTL, clock=clock)
    relay.lease.renew_every = renew_every
    return relay


async def newest_until(store: MongoEventStore, owner: str) -> datetime | None:
    lease = await claims.newest(store.db["leases"], f"relay:{store.source}")
    return claims.aware(lease["until"]) if lease is not None and lease.get("owner") == owner else None


async def on_topic(kafka: str, topic: str, expected: int) -> Counter[str]:
    async with TopicReader(kafka, topic) as reader:
        await reader.wait_for(lambda es: len(es) >= expected, timeout=60, what="every event on the topic")
        await asyncio.sleep(2)  # a second copy, if one were coming, would be here by now
        await reader.poll()
        return Counter(e.id for e in reader.events())


async def unpublished_none(store: MongoEventStore) -> bool | None:
    return not await store.unpublished(500) or None


async def test_a_long_pass_keeps_its_lease_and_the_other_replica_publishes_nothing_twice(infra, mongo, unique,
                                                                                         topic_prefix):
    store = MongoEventStore(mongo[f"intake_{unique}"], source="/binhchon/intake")
    await store.setup()
    events = await grow(store, "dossier-a", 4) + await grow(store, "dossier-b", 2)
    clock = Clock()
    mark_reached, mark_may_go = asyncio.Event(), asyncio.Event()

    async def waits(_published: list[Any]) -> None:  # the pass still under way: every send delivered, not marked
        mark_reached.set()
        await mark_may_go.wait()

    holder = replica(store, clock, unique, 1, 0.05, kafka=infra.kafka, prefix=topic_prefix, before_mark=waits)
    other = replica(store, clock, unique, 2, 0.05, kafka=infra.kafka, prefix=topic_prefix)
    stop = asyncio.Event()
    running = asyncio.create_task(holder.run(stop))
    other_took_it = False
    try:
        await asyncio.wait_for(mark_reached.wait(), 60)
        for _ in range(3):  # the pass outlives its lease twice over, by the clock
            clock.now += TTL * 0.7
            until = clock.now + TTL * 0.5

            async def renewed(until: datetime = until) -> bool | None:
                held = await newest_until(store, holder.lease.owner)
                return (held is not None and held > until) or None

            try:
                await eventually(renewed, timeout=5, interval=0.05, what="the lease renewed")
            except AssertionError:
                pass  # not renewed: the other replica below finds it lapsed
            if await other.lease.acquire():  # the other replica's loop, on the same clock
                other_took_it = True
                await other.publish_pending()
        mark_may_go.set()
        await eventually(lambda: unpublished_none(store), timeout=60, what="every event marked published")
    finally:
        mark_may_go.set()
        stop.set()
        await asyncio.wait_for(running, 30)
        await other._drop_producer()

    assert not other_took_it, "the other replica took over the lease of a pass still under way"
    assert other.sent == []
    counted = await on_topic(infra.kafka, f"{topic_prefix}intake.events", len(events))
    assert counted == Counter(e.id for e in events), "an event missing or published twice"


async def test_a_relay_that_lost_its_lease_mid_pass_sends_and_marks_nothing_more(infra, mongo, unique, topic_prefix):
    store = MongoEventStore(mongo[f"intake_{unique}"], source="/binhchon/intake")
    await store.setup()
    events = await grow(store, "dossier-a", 5) + await grow(store, "dossier-b", 3)
    clock = Clock()
    # frozen (a stopped VM, a pause of the process) after its third send, for longer than its lease: its
    # renewals are frozen with it, so the other replica finds the lease lapsed and takes it over
    loser = replica(store, clock, unique, 1, 3600, kafka=infra.kafka, prefix=topic_prefix, stall_after=3)

    async def tried(published: list[Any]) -> None:
        loser.marks_tried.extend(e.id for e in published)

    loser.before_mark = tried
    winner = replica(store, clock, unique, 2, 0.05, kafka=infra.kafka, prefix=topic_prefix)
    stop = asyncio.Event()
    running = asyncio.create_task(loser.run(stop))
    try:
        await asyncio.wait_for(loser.stalled.wait(), 60)
        clock.now += TTL + timedelta(seconds=1)
        assert await winner.lease.acquire(), "the lapsed lease goes to the other replica"
        assert await winner.publish_pending() == len(events)
        loser.resume.set()  # it wakes up and goes on with its pass

        async def forgotten() -> bool | None:
            return (loser.lease.lost() and not loser.unmarked and loser.producer is None) or None

        await eventually(forgotten, timeout=60, what="the loser giving up its pass")
        assert not await loser.lease.acquire()
    finally:
        loser.resume.set()
        stop.set()
        await asyncio.wait_for(running, 30)
        await winner._drop_producer()

    assert loser.sent == [e.id for e in events[:3]], "the loser sent on after losing its lease"
    assert loser.marks_tried == [], "the loser wrote marks (or leaves) after losing its lease"
    assert await store.unpublished(500) == []
    counted = await on_topic(infra.kafka, f"{topic_prefix}intake.events", len(events) + 3)
    # what the frozen loser had queued goes out twice (at least once: readers de-duplicate by event id), the rest once
    assert counted == Counter(e.id for e in events + events[:3])


async def test_a_relay_killed_mid_pass_renews_nothing_and_the_other_takes_over_after_expiry(infra, mongo, unique,
                                                                                            topic_prefix):
    store = MongoEventStore(mongo[f"intake_{unique}"], source="/binhchon/intake")
    await store.setup()
    events = await grow(store, "dossier-a", 4)
    clock = Clock()
    killed = replica(store, clock, unique, 1, 0.05, kafka=infra.kafka, prefix=topic_prefix, stall_after=2)
    other = replica(store, clock, unique, 2, 0.05, kafka=infra.kafka, prefix=topic_prefix)
    running = asyncio.create_task(killed.run(asyncio.Event()))
    try:
        await asyncio.wait_for(killed.stalled.wait(), 60)
        running.cancel()  # killed: nothing released, nothing after this point runs
        with pytest.raises(asyncio.CancelledError):
            await running
        keepers = [t for t in asyncio.all_tasks() if "_keep_lease" in repr(t.get_coro())]
        assert keepers == [], "a renewal task outlived its pass"
        until = await newest_until(store, killed.lease.owner)
        assert until is not None

        clock.now += TTL * 0.7  # within the dead relay's lease: still its
        assert not await other.lease.acquire()
        assert await newest_until(store, killed.lease.owner) == until, "the dead relay's lease was renewed"
        clock.now += TTL * 0.4  # expired: the other takes it over and publishes everything left unmarked
        assert await other.lease.acquire()
        assert await other.publish_pending() == len(events)
    finally:
        await killed._drop_producer()
        await other._drop_producer()
    assert await store.unpublished(500) == []
    counted = await on_topic(infra.kafka, f"{topic_prefix}intake.events", len(events))
    assert set(counted) == {e.id for e in events}, "an event lost"


async def test_a_renewal_under_way_leaves_the_lease_held(mongo, unique):
    """The pass checks its lease while the renewal task is waiting on the store: it must still find it held, not
    lost (a renewal used to clear its hold before asking the store, so a pass could stop for nothing)."""
    clock = Clock()
    lease = Lease(mongo[f"kit_{unique}"], "relay:/binhchon/test", TTL, clock=clock)
    assert await lease.acquire()
    clock.now += TTL * 0.8  # a renewal is due
    renewing = asyncio.create_task(lease.acquire())
    await asyncio.sleep(0)  # the renewal started, waiting on the store
    assert not renewing.done()
    assert lease.holds() and not lease.lost()
    assert await renewing
    assert lease.held_until == clock.now + TTL
