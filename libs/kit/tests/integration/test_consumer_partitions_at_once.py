"""On the real broker and store: a handler registered with ``partitions_at_once`` works on several partitions at
the same time, yet each stream's events (one key, one partition) are handled in their order, and a process stopped
with handlers in flight (their tasks cancelled, as a crash leaves them) has committed no offset past an event it did
not handle: the next process handles exactly what was left, once (ADR 0058, ADR 0060)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from binhchon_kit.contracts.intake import RoundOpened
from binhchon_kit.events import RecordedEvent
from binhchon_kit.runtime import Runtime, build_runtime
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.wire import round_opened
from binhchon_kit.web import create_app

pytestmark = pytest.mark.integration
PARTITIONS = 3  # the test topics' (binhchon_kit.testing.fixtures)
GROUP = "scoring.rounds"


def runtime_for(infra: Any, unique: str, topic_prefix: str, dev_keys: Any) -> Runtime:
    settings = ServiceSettings(service_name="scoring", mongodb_url=infra.mongodb, mongodb_database=f"par_{unique}",
                               kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=topic_prefix,
                               auth_public_keys_file=str(dev_keys[1]), relay_enabled=False)
    return build_runtime(settings, {})


async def produce(infra: Any, topic: str, versions: int) -> None:
    """Stream ``s<p>`` on partition ``p``, ``versions`` events each, interleaved as a busy topic holds them."""
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, acks="all", **infra.kafka_client("intake"))
    await producer.start()
    try:
        for version in range(1, versions + 1):
            for p in range(PARTITIONS):
                await producer.send_and_wait(topic, round_opened(p * 100 + version, subject=f"s{p}", version=version),
                                             key=f"s{p}".encode(), partition=p)
    finally:
        await producer.stop()


async def committed(infra: Any, topic: str) -> list[int | None]:
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka, **infra.kafka_client())
    await admin.start()
    try:
        async def ask() -> dict[Any, Any] | None:
            try:
                return await admin.list_consumer_group_offsets(GROUP)
            except KafkaError:  # the group's coordinator not elected yet: ask again
                return None

        offsets = await eventually(ask, timeout=60, what="the group's offsets")
    finally:
        await admin.close()
    tp = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    return [offsets[t].offset if t in offsets else None for t in tp]


def per_stream(handled: list[RecordedEvent]) -> dict[str, list[int]]:
    streams: dict[str, list[int]] = {}
    for event in handled:
        streams.setdefault(event.subject, []).append(event.version)
    return streams


@pytest.mark.timeout(300)
async def test_partitions_are_handled_at_once_and_each_streams_events_in_order(infra, unique, topic_prefix, dev_keys):
    topic = f"{topic_prefix}intake.events"
    await produce(infra, topic, versions=5)
    runtime = runtime_for(infra, unique, topic_prefix, dev_keys)
    handled: list[RecordedEvent] = []
    in_flight, most = 0, 0

    async def rounds(event: RecordedEvent) -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            await asyncio.sleep(0.05)  # a handler's store round trips: the others' partitions go on meanwhile
            handled.append(event)
        finally:
            in_flight -= 1

    runtime.consumers.handle("intake.events", {RoundOpened}, "rounds", rounds, partitions_at_once=PARTITIONS)
    async with running(create_app(runtime, title="par"), "http://scoring"):
        await eventually(lambda: asyncio.sleep(0, len(handled) >= 5 * PARTITIONS), timeout=180,
                         what="every event handled")
        assert await eventually(lambda: _at(infra, topic, [5] * PARTITIONS), timeout=60, what="offsets at the end")
    assert per_stream(handled) == {f"s{p}": [1, 2, 3, 4, 5] for p in range(PARTITIONS)}
    assert most > 1, "one partition at a time"


async def _at(infra: Any, topic: str, expected: list[int]) -> bool:
    return await committed(infra, topic) == expected


@pytest.mark.timeout(300)
async def test_a_process_stopped_mid_batch_leaves_what_it_did_not_handle_to_the_next_once(
        infra, unique, topic_prefix, dev_keys):
    topic = f"{topic_prefix}intake.events"
    await produce(infra, topic, versions=4)
    handled: list[RecordedEvent] = []
    stuck: set[str] = set()
    never = asyncio.Event()

    async def crashing(event: RecordedEvent) -> None:
        # streams s0 and s1 hang at their third event (the store stops answering, the process is then killed)
        if event.subject in {"s0", "s1"} and event.version == 3:
            stuck.add(event.subject)
            await never.wait()
        handled.append(event)

    first = runtime_for(infra, unique, topic_prefix, dev_keys)
    first.consumers.handle("intake.events", {RoundOpened}, "rounds", crashing, partitions_at_once=PARTITIONS)
    async with running(create_app(first, title="par"), "http://scoring"):
        # the third partition went on to its end while two handlers hung
        await eventually(lambda: asyncio.sleep(0, len(handled) == 4 + 2 * 2 and len(stuck) == 2),
                         timeout=180, what="a partition handled, two hanging at their third event")
        async def third_at_its_end() -> list[int | None] | None:
            offsets = await committed(infra, topic)
            return offsets if offsets[2] == 4 else None

        await eventually(third_at_its_end, timeout=60, what="the partition handled to its end committed")
    # stopped with two handlers in flight (cancelled): nothing committed past them. What they handled before may
    # still wait for a later record's commit (ADR 0060): the next process then finds it in the inbox.
    offsets = await committed(infra, topic)
    assert offsets[2] == 4 and all(offset is None or offset <= 2 for offset in offsets[:2]), offsets
    before = len(handled)

    async def rounds(event: RecordedEvent) -> None:
        handled.append(event)

    second = runtime_for(infra, unique, topic_prefix, dev_keys)
    second.consumers.handle("intake.events", {RoundOpened}, "rounds", rounds, partitions_at_once=PARTITIONS)
    async with running(create_app(second, title="par"), "http://scoring"):
        await eventually(lambda: _at(infra, topic, [4] * PARTITIONS), timeout=180, what="every partition's end")
    assert sorted((e.subject, e.version) for e in handled[before:]) == [
        (f"s{p}", v) for p in range(2) for v in (3, 4)]
    assert per_stream(handled) == {f"s{p}": [1, 2, 3, 4] for p in range(PARTITIONS)}
    assert set(Counter(e.id for e in handled).values()) == {1}


def test_an_every_replica_handler_is_never_handled_partitions_at_once(infra, unique, topic_prefix, dev_keys):
    runtime = runtime_for(infra, unique, topic_prefix, dev_keys)

    async def rounds(event: RecordedEvent) -> None:
        return None

    with pytest.raises(ValueError, match="one message at a time"):
        runtime.consumers.handle("intake.events", {RoundOpened}, "rounds", rounds, every_replica=True,
                                 partitions_at_once=2)
