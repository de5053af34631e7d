"""On the real broker: a handler registered for every replica (``every_replica=True``) runs in each process of a
service, not in the one its consumer group would hand the event to (ADR 0048, second amendment of 2026-11-29: an erased
key dropped from every replica's cache at once); a handler of the group still runs once."""

from __future__ import annotations

import contextlib

import pytest
from aiokafka import AIOKafkaProducer

from binhchon_kit.contracts.intake import RoundOpened
from binhchon_kit.events import RecordedEvent
from binhchon_kit.runtime import build_runtime
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.wire import round_opened
from binhchon_kit.web import create_app

pytestmark = pytest.mark.integration


@pytest.mark.timeout(240)
async def test_every_replica_hears_the_event_and_the_group_once(infra, unique, topic_prefix, dev_keys):
    heard: dict[int, list[str]] = {0: [], 1: []}
    grouped: list[str] = []
    runtimes = []
    for replica in (0, 1):
        settings = ServiceSettings(service_name="scoring", mongodb_url=infra.mongodb,
                                   mongodb_database=f"replicas_{unique}", kafka_bootstrap_servers=infra.kafka,
                                   kafka_topic_prefix=topic_prefix, auth_public_keys_file=str(dev_keys[1]),
                                   relay_enabled=False)
        runtime = build_runtime(settings, {})

        async def mine(event: RecordedEvent, replica: int = replica) -> None:
            heard[replica].append(event.id)

        async def once(event: RecordedEvent) -> None:
            grouped.append(event.id)

        runtime.consumers.handle("intake.events", {RoundOpened}, "erasures", mine, every_replica=True)
        runtime.consumers.handle("intake.events", {RoundOpened}, "rounds", once)
        runtimes.append(runtime)
    async with contextlib.AsyncExitStack() as stack:
        for i, runtime in enumerate(runtimes):
            await stack.enter_async_context(running(create_app(runtime, title="r"), f"http://scoring-{i}"))
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, acks="all", **infra.kafka_client("intake"))
        await producer.start()
        try:
            # sent until both replicas have heard one (each starts from the end of the topic, once positioned)
            async def both() -> bool | None:
                n = len(grouped) + len(heard[0]) + len(heard[1])
                await producer.send_and_wait(f"{topic_prefix}intake.events", round_opened(n), key=b"r")
                return True if heard[0] and heard[1] else None

            await eventually(both, interval=0.5, what="both replicas to hear an event")
            last = round_opened(999)
            await producer.send_and_wait(f"{topic_prefix}intake.events", last, key=b"r")
        finally:
            await producer.stop()

        async def each_heard_the_last() -> bool | None:
            return True if all("e-999" in ids for ids in heard.values()) and "e-999" in grouped else None

        await eventually(each_heard_the_last, what="each replica to hear the last event, and the group once")
        assert grouped.count("e-999") == 1, grouped
