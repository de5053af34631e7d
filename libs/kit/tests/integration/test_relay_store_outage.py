"""The store stopped between the relay's publish and its mark, on the real broker and a store of the test's own
(FerretDB on PostgreSQL): the relay keeps running, retries the mark alone while the store is down, and when it is
back every event is on its topic exactly once (issue 14: scoring published five events twice after an outage)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo import AsyncMongoClient

from binhchon_kit.eventstore_mongo import MongoEventStore
from binhchon_kit.relay import Lease, Relay
from binhchon_kit.signing import Signer
from binhchon_kit.testing.eventstore_contract import grow
from binhchon_kit.testing.fixtures import TopicReader, eventually
from binhchon_kit.testing.infra import private_store

pytestmark = pytest.mark.integration


@pytest.fixture
def own_store(unique):
    with private_store(f"relay-outage-{unique}") as store:
        yield store


async def test_the_store_down_between_publish_and_mark_publishes_each_event_once(infra, own_store, unique,
                                                                                  topic_prefix):
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(own_store.url, tz_aware=True,
                                                                serverSelectionTimeoutMS=1000)
    store = MongoEventStore(client[f"intake_{unique}"], source="/binhchon/intake")
    await store.setup()
    events = await grow(store, "dossier-a", 3) + await grow(store, "dossier-b", 3)
    stopped = asyncio.Event()

    async def store_stops(published: list[Any]) -> None:
        if not stopped.is_set():  # the first batch is on the broker; its mark is not cleared yet
            assert len(published) == len(events)
            await asyncio.to_thread(own_store.stop, postgres=False)
            stopped.set()

    relay = Relay(store, infra.kafka, signer=Signer(Ed25519PrivateKey.generate()), client_id=f"relay-{unique}",
                  topic_prefix=topic_prefix, before_mark=store_stops, idle_interval=0.1)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.wait_for(stopped.wait(), 60)
        await asyncio.sleep(5)  # the relay retries through the outage
        assert not running.done()
        assert [e.id for e in relay.unmarked] == [e.id for e in events]  # remembered, not yet marked

        await asyncio.to_thread(own_store.start)  # back, the relay untouched
        await eventually(lambda: _nothing_waiting(store), timeout=60, interval=0.5, what="the marks cleared")
        assert relay.unmarked == []
        later = await grow(store, "dossier-a", 2, start=3)  # and it goes on with what comes next
        await eventually(lambda: _nothing_waiting(store), timeout=60, interval=0.5, what="the new events")
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await client.close()

    assert await on_topic(infra.kafka, topic_prefix, len(events + later)) == Counter(e.id for e in events + later), \
        "an event missing or published twice"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class ForgetfulRelay(Relay):
    """The relay as it is, recording what it forgot (published events it left to another replica to publish)."""

    forgotten: list[str]

    def forget_unmarked(self) -> None:
        self.forgotten = getattr(self, "forgotten", []) + [e.id for e in self.unmarked]
        super().forget_unmarked()


async def test_one_relay_whose_lease_lapsed_while_the_store_was_down_publishes_each_event_once(
        infra, own_store, unique, topic_prefix):
    """The fault suite's case, one replica: the store gone (30 s by the service's clock, twice the lease) between
    the publish and the mark. The relay's lease lapses with nobody else around; once the store is back it takes its
    own lease again, marks what it published and publishes nothing twice (the amended run loop no longer marks
    before taking the lease: ADR 0041, 2026-11-30)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(own_store.url, tz_aware=True,
                                                                serverSelectionTimeoutMS=1000)
    store = MongoEventStore(client[f"intake_{unique}"], source="/binhchon/intake")
    await store.setup()
    events = await grow(store, "dossier-a", 3) + await grow(store, "dossier-b", 3)
    clock = Clock()
    ttl = timedelta(seconds=15)
    stopped = asyncio.Event()

    async def store_stops(published: list[Any]) -> None:
        if not stopped.is_set():
            await asyncio.to_thread(own_store.stop, postgres=False)
            clock.now += 2 * ttl  # down 30 s by the service's clock: the lease lapsed meanwhile
            stopped.set()

    relay = ForgetfulRelay(store, infra.kafka, signer=Signer(Ed25519PrivateKey.generate()),
                           client_id=f"relay-{unique}", topic_prefix=topic_prefix, before_mark=store_stops,
                           idle_interval=0.1, lease=Lease(store.db, f"relay:{store.source}", ttl, clock=clock,
                                                          renew_every=0.2))
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.wait_for(stopped.wait(), 60)
        await asyncio.sleep(4)  # the relay and its renewals retry through the outage
        assert not running.done()
        assert relay.lease.lost(), "the lease did not lapse by the clock"
        assert [e.id for e in relay.unmarked] == [e.id for e in events]  # remembered, not yet marked

        await asyncio.to_thread(own_store.start)
        await eventually(lambda: _nothing_waiting(store), timeout=60, interval=0.5, what="the marks cleared")
        assert relay.unmarked == [] and relay.lease.holds()
        later = await grow(store, "dossier-a", 2, start=3)
        await eventually(lambda: _nothing_waiting(store), timeout=60, interval=0.5, what="the new events")
    finally:
        stop.set()
        await asyncio.wait_for(running, 30)
        await client.close()

    assert [t for t in asyncio.all_tasks() if "_keep_lease" in repr(t.get_coro())] == [], "a renewal outlived it"
    assert getattr(relay, "forgotten", []) == [], "one replica forgot what it had published"
    assert await on_topic(infra.kafka, topic_prefix, len(events + later)) == Counter(e.id for e in events + later), \
        "an event missing or published twice"


async def on_topic(kafka: str, topic_prefix: str, expected: int) -> Counter[str]:
    """Each event id on intake's topic, counted once ``expected`` are there (and a second copy had time to come)."""
    async with TopicReader(kafka, f"{topic_prefix}intake.events") as reader:
        await reader.wait_for(lambda es: len(es) >= expected, what="every event on the topic")
        await asyncio.sleep(2)
        await reader.poll()
        return Counter(e.id for e in reader.events())


async def _nothing_waiting(store: MongoEventStore) -> bool | None:
    try:
        return not await store.unpublished(100) or None
    except Exception:  # the store still coming back
        return None
