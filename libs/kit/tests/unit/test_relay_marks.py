"""The relay's two steps, publish then mark, when the store fails in between (issue 14: after a store outage,
scoring published five events twice): the published events are remembered and only their mark is retried, so
nothing goes out twice unless the process itself dies in that window. The broker here is a recorder of sends;
the same on the real broker and store: libs/kit/tests/integration/test_relay_store_outage.py."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo.errors import AutoReconnect

from binhchon_kit.eventstore_memory import MemoryEventStore
from binhchon_kit.relay import Relay
from binhchon_kit.signing import Signer
from binhchon_kit.testing.eventstore_contract import grow
from binhchon_kit.testing.fixtures import eventually

SIGNER = Signer(Ed25519PrivateKey.generate())


class StoreThatGoesDown(MemoryEventStore):
    """Reads and appends as usual; while ``down``, clearing a mark fails as pymongo does when the server is gone."""

    down = False
    marks_tried = 0

    async def mark_published(self, keys: Sequence[str]) -> None:
        self.marks_tried += 1
        if self.down:
            raise AutoReconnect("connection refused (the store is down)")
        await super().mark_published(keys)

    async def unpublished(self, limit: int) -> list[Any]:
        if self.down:
            raise AutoReconnect("connection refused (the store is down)")
        return await super().unpublished(limit)


class RecordingProducer:
    """What the relay sent, by event id; every send acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, topic: str, *, value: bytes, key: bytes, headers: list[tuple[str, bytes]]) -> Any:
        self.sent.append(dict(headers)["event-id"].decode())
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def stop(self) -> None:
        return None


def relay_on(store: MemoryEventStore, producer: RecordingProducer | BufferingProducer, **kwargs: Any) -> Relay:
    relay = Relay(store, "127.0.0.1:9", signer=SIGNER, client_id="test-relay", security={}, **kwargs)
    relay.producer = producer  # type: ignore[assignment]
    return relay


async def test_a_store_down_between_publish_and_mark_retries_the_mark_alone():
    store, producer = StoreThatGoesDown("/binhchon/scoring"), RecordingProducer()
    events = await grow(store, "dossier-a", 3) + await grow(store, "dossier-b", 2)

    async def store_goes_down(_published: list[Any]) -> None:
        store.down = True

    relay = relay_on(store, producer, before_mark=store_goes_down)
    with pytest.raises(AutoReconnect):
        await relay.publish_pending()
    assert sorted(producer.sent) == sorted(e.id for e in events)
    assert len(relay.unmarked) == 5

    relay.before_mark = None
    for _ in range(3):  # the store still down: each pass fails on the mark, and publishes nothing again
        with pytest.raises(AutoReconnect):
            await relay.publish_pending()
    assert len(producer.sent) == 5

    store.down = False  # back: the mark goes through, nothing is waiting, nothing was sent twice
    assert await relay.publish_pending() == 0
    assert relay.unmarked == []
    assert await store.unpublished(100) == []
    assert len(producer.sent) == len(set(producer.sent)) == 5

    later = await grow(store, "dossier-a", 1, start=3)  # and the relay goes on with new events
    assert await relay.publish_pending() == 1
    assert producer.sent[-1] == later[0].id


async def test_the_running_relay_rides_out_the_outage_and_marks_without_publishing_again():
    store, producer = StoreThatGoesDown("/binhchon/scoring"), RecordingProducer()
    events = await grow(store, "dossier-a", 4)
    outage_over = asyncio.Event()

    async def store_goes_down(_published: list[Any]) -> None:
        if not outage_over.is_set():
            store.down = True

    relay = relay_on(store, producer, before_mark=store_goes_down, idle_interval=0.05)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    for _ in range(200):  # several failed tries of the mark while the store is down (10 s at most)
        if store.marks_tried >= 3:
            break
        await asyncio.sleep(0.05)
    outage_over.set()
    store.down = False
    for _ in range(600):  # the relay's backoff is 10 s at most
        if not await store.unpublished(100):
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the events are still waiting 30 s after the store came back")
    stop.set()
    await asyncio.wait_for(running, 10)
    assert producer.sent == [e.id for e in events]  # each once, in stream order


async def test_a_process_dying_between_publish_and_mark_publishes_again_the_one_duplicate_documented():
    store, producer = StoreThatGoesDown("/binhchon/scoring"), RecordingProducer()
    events = await grow(store, "dossier-a", 2)

    async def store_goes_down(_published: list[Any]) -> None:
        store.down = True

    with pytest.raises(AutoReconnect):
        await relay_on(store, producer, before_mark=store_goes_down).publish_pending()
    store.down = False  # the relay's process is gone with what it remembered; a new one starts
    assert await relay_on(store, producer).publish_pending() == 2
    assert producer.sent == [e.id for e in events] * 2  # the same ids: a reader de-duplicates by event id


class BrokerGone:
    """What reached the topic over every producer, by event id; ``back`` set when the broker answers again."""

    def __init__(self) -> None:
        self.delivered: list[str] = []
        self.back = asyncio.Event()


class BufferingProducer:
    """aiokafka's producer while the broker is gone: each send is queued and delivered once the broker is back
    (the idempotent producer retries it until then); past ``room`` queued sends, a send finds no room and fails
    (KafkaTimeoutError); ``stop()`` flushes what is queued, as aiokafka's does."""

    def __init__(self, broker: BrokerGone, room: int) -> None:
        self.broker, self.room = broker, room
        self.queued: list[asyncio.Task[None]] = []
        self.failed = asyncio.Event()

    async def send(self, topic: str, *, value: bytes, key: bytes, headers: list[tuple[str, bytes]]) -> Any:
        if len(self.queued) >= self.room:
            self.failed.set()
            raise KafkaTimeoutError()
        self.queued.append(asyncio.create_task(self._deliver(dict(headers)["event-id"].decode())))
        return self.queued[-1]

    async def _deliver(self, event_id: str) -> None:
        await self.broker.back.wait()
        self.broker.delivered.append(event_id)

    async def stop(self) -> None:
        await asyncio.gather(*self.queued)


async def test_a_send_failing_part_way_marks_the_sends_queued_before_it_and_publishes_nothing_twice():
    store, broker = MemoryEventStore("/binhchon/intake"), BrokerGone()
    events = await grow(store, "dossier-a", 3) + await grow(store, "dossier-b", 2)
    first = BufferingProducer(broker, room=3)
    relay = relay_on(store, first)
    failed_pass = asyncio.create_task(relay.publish_pending())
    await asyncio.wait_for(first.failed.wait(), 10)  # the fourth send found no room
    broker.back.set()
    with pytest.raises(KafkaTimeoutError):
        await asyncio.wait_for(failed_pass, 10)
    # the three queued before it were awaited and marked before the pass failed
    assert [e.id for e in await store.unpublished(100)] == [e.id for e in events[3:]]

    await relay._drop_producer()  # what run() does after a failed pass: the old producer's stop() flushes
    relay.producer = BufferingProducer(broker, room=100)  # type: ignore[assignment]
    assert await relay.publish_pending() == 2
    assert Counter(broker.delivered) == Counter(e.id for e in events)  # each once, over both producers
    assert await store.unpublished(100) == []


# the relay's idle pause ends as soon as an event is appended, even one appended while the pass that found nothing
# was still reading (2026-11-30, issue 14's latency at low load: the wake was cleared after that pass, so such an
# event waited out the whole idle interval)
class StoreAppendedToDuringARead(MemoryEventStore):
    """The first read that finds nothing has an event appended just after it read (another request's append
    landing while the relay's pass is in flight)."""

    landed: list[Any] | None = None

    async def unpublished(self, limit: int) -> list[Any]:
        found = await super().unpublished(limit)
        if not found and self.landed is None:
            self.landed = await grow(self, "dossier-late", 1)
        return found


async def test_an_event_appended_during_an_empty_pass_wakes_the_relay_at_once() -> None:
    store, producer = StoreAppendedToDuringARead("/binhchon/scoring"), RecordingProducer()
    relay = relay_on(store, producer, idle_interval=3600)  # without the wake, an hour's pause
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    async def sent() -> bool:
        return store.landed is not None and store.landed[0].id in producer.sent

    try:
        await eventually(sent, timeout=5, interval=0.01, what="the event appended during the empty pass, sent")
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=5)
    assert producer.sent == [store.landed[0].id]
    assert await store.unpublished(10) == []  # published and marked
