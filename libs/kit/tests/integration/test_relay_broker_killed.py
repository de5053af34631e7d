"""The broker SIGKILLed while the relay publishes a batch, on a broker of the test's own: a send of the batch fails
part way (the producer's buffer for a partition full, nothing drained, KafkaTimeoutError) while the sends before it
wait in the producer. When the broker is back every event is on its topic exactly once and marked published.

Issue 14 (``make faults``, "broker SIGKILLed for 60 s while writes go on"): 43 intake events went out twice. The
failed pass dropped its producer without awaiting what it had queued; aiokafka's ``stop()`` flushed those once the
broker came back, and the next pass's new producer published the same events again, under another producer id
that idempotence cannot match. A broker kill must publish nothing twice (docs/adr/0041)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit.eventstore_mongo import MongoEventStore
from binhchon_kit.relay import Relay
from binhchon_kit.signing import Signer
from binhchon_kit.testing.eventstore_contract import grow
from binhchon_kit.testing.fixtures import TopicReader, eventually
from binhchon_kit.testing.infra import REPO, NativeKafka
from binhchon_kit.topics import all_topics, ensure_topics

pytestmark = pytest.mark.integration


@pytest.fixture
async def own_kafka(infra: Any, unique: str) -> AsyncIterator[NativeKafka]:
    kafka = NativeKafka(REPO / ".run" / f"relay-broker-{unique}", credentials=infra.kafka_credentials)
    await asyncio.to_thread(kafka.start)
    try:
        yield kafka
    finally:
        await asyncio.to_thread(kafka.stop)
        shutil.rmtree(kafka.dir, ignore_errors=True)  # a broker's data of its own: nothing to keep


class WatchedRelay(Relay):
    """The relay as it is, its producers' failed sends seen (when the batch broke part way), nothing changed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.send_failed = asyncio.Event()
        self.producers = 0

    async def _ensure_producer(self) -> Any:
        known = self.producer
        producer = await super()._ensure_producer()
        if producer is not known:
            self.producers += 1
            send = producer.send

            async def watched(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await send(*args, **kwargs)
                except Exception:
                    self.send_failed.set()
                    raise

            producer.send = watched  # type: ignore[method-assign]
        return producer


def kill(kafka: NativeKafka) -> None:
    """SIGKILL, as the fault suite does: no clean shutdown, the data kept for the restart."""
    os.kill(int((kafka.dir / "kafka.pid").read_text().strip()), signal.SIGKILL)


@pytest.mark.timeout(900)
async def test_a_broker_killed_mid_batch_publishes_each_event_once(own_kafka, mongo, unique):
    prefix = f"k{unique}."
    await ensure_topics(own_kafka.bootstrap, all_topics(prefix), partitions=3)
    store = MongoEventStore(mongo[f"intake_{unique}"], source="/binhchon/intake")
    await store.setup()
    relay = WatchedRelay(store, own_kafka.bootstrap, signer=Signer(Ed25519PrivateKey.generate()),
                         client_id=f"relay-{unique}", topic_prefix=prefix, idle_interval=0.1)
    warm = await grow(store, "dossier-warm", 1)
    assert await relay.publish_pending() == 1  # a producer started, the topic's partitions and leader known

    # one partition's share of the batch is several of the producer's 16 KiB batches: with the broker gone the
    # first is retried, the rest wait behind it, and a send finds no room within the request timeout
    events = await grow(store, "dossier-a", 120) + await grow(store, "dossier-b", 4)
    await asyncio.to_thread(kill, own_kafka)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.wait_for(relay.send_failed.wait(), 120)
        assert not running.done()
        await asyncio.to_thread(own_kafka.start)  # back on the same port, its data kept

        async def all_marked() -> bool | None:
            return not await store.unpublished(500) or None

        await eventually(all_marked, timeout=240, interval=0.5, what="every event marked published")
    finally:
        stop.set()
        await asyncio.wait_for(running, 60)
    assert relay.producers >= 2  # the failed pass's producer was dropped and another took over

    async with TopicReader(own_kafka.bootstrap, f"{prefix}intake.events") as reader:
        await reader.wait_for(lambda es: len(es) >= len(warm) + len(events), timeout=60,
                              what="every event on the topic")
        await asyncio.sleep(2)  # a second copy, if one were coming, would be here by now
        await reader.poll()
        on_topic = Counter(e.id for e in reader.events())
    twice = sorted(n for n, count in on_topic.items() if count > 1)
    assert not twice, f"{len(twice)} event(s) on the topic more than once"
    assert on_topic == Counter(e.id for e in warm + events), "an event missing or published twice"
