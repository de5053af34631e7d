"""On the real broker: a handler's consumer passes over the events of types it does not take without a commit
each (a round trip to the broker per event, per group, was a large share of certification's CPU in the pipeline
bench), and still leaves no lag behind: the last known record of each partition commits (binhchon_kit.consumer,
``passed_over``). The events it handles likewise, and one handled but never committed (the process died first)
comes again to no new effect."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from binhchon_kit.contracts.intake import DossierAccepted, RoundOpened
from binhchon_kit.events import RecordedEvent
from binhchon_kit.runtime import build_runtime
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.wire import round_opened
from binhchon_kit.web import create_app

pytestmark = pytest.mark.integration


async def at_the_ends(infra: Any, group: str, topic: str) -> None:
    """Wait until ``group`` has committed the ends of partitions 0 (20 records) and 2 (10) of ``topic``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka, **infra.kafka_client())
    await admin.start()
    try:
        async def caught_up() -> Any:
            try:
                offsets = await admin.list_consumer_group_offsets(group)
            except KafkaError:  # the group's coordinator not elected yet: ask again
                return None
            committed = [offsets[TopicPartition(topic, p)].offset if TopicPartition(topic, p) in offsets
                         else None for p in (0, 2)]
            return committed if committed == [20, 10] else None

        await eventually(caught_up, timeout=120, what="the group's offsets at the end of partitions 0 and 2")
    finally:
        await admin.close()


@pytest.mark.timeout(240)
async def test_events_of_other_types_are_passed_over_without_a_commit_each_and_no_lag_is_left(
        infra, unique, topic_prefix, dev_keys, monkeypatch):
    commits: list[Any] = []
    commit = AIOKafkaConsumer.commit

    async def counted(self: AIOKafkaConsumer, offsets: Any = None) -> None:
        commits.append(offsets)
        await commit(self, offsets)

    monkeypatch.setattr(AIOKafkaConsumer, "commit", counted)
    settings = ServiceSettings(service_name="scoring", mongodb_url=infra.mongodb, mongodb_database=f"pass_{unique}",
                               kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=topic_prefix,
                               auth_public_keys_file=str(dev_keys[1]), relay_enabled=False)
    runtime = build_runtime(settings, {})
    handled: list[RecordedEvent] = []

    async def accepted(event: RecordedEvent) -> None:
        handled.append(event)

    runtime.consumers.handle("intake.events", {DossierAccepted}, "accepted", accepted)
    topic = f"{topic_prefix}intake.events"
    # 30 events no handler here takes, before the consumer joins: on partitions 0 (20) and 2 (10)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, acks="all", **infra.kafka_client("intake"))
    await producer.start()
    try:
        for n in range(30):
            await producer.send_and_wait(topic, round_opened(n), key=f"r{n}".encode(), partition=0 if n < 20 else 2)
    finally:
        await producer.stop()
    async with running(create_app(runtime, title="pass"), "http://scoring"):
        await at_the_ends(infra, "scoring.accepted", topic)
    assert handled == []
    assert 2 <= len(commits) < 10, f"{len(commits)} commits for 30 events passed over"


@pytest.mark.timeout(300)
async def test_handled_events_leave_their_commit_to_a_later_record_and_one_never_committed_comes_again_to_no_effect(
        infra, unique, topic_prefix, dev_keys, monkeypatch):
    commits: list[Any] = []
    commit = AIOKafkaConsumer.commit
    reached = {"broker": False}  # the first run dies, as far as the group knows, before any commit reaches it

    async def counted(self: AIOKafkaConsumer, offsets: Any = None) -> None:
        commits.append(offsets)
        if reached["broker"]:
            await commit(self, offsets)

    monkeypatch.setattr(AIOKafkaConsumer, "commit", counted)
    settings = ServiceSettings(service_name="scoring", mongodb_url=infra.mongodb, mongodb_database=f"handled_{unique}",
                               kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=topic_prefix,
                               auth_public_keys_file=str(dev_keys[1]), relay_enabled=False)
    handled: list[str] = []

    async def opened(event: RecordedEvent) -> None:
        handled.append(event.id)

    def app() -> Any:
        runtime = build_runtime(settings, {})
        runtime.consumers.handle("intake.events", {RoundOpened}, "opened", opened)
        return create_app(runtime, title="handled")

    topic = f"{topic_prefix}intake.events"
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, acks="all", **infra.kafka_client("intake"))
    await producer.start()
    try:
        for n in range(30):  # before the consumer joins: 20 on partition 0, 10 on partition 2
            await producer.send_and_wait(topic, round_opened(n), key=f"r{n}".encode(), partition=0 if n < 20 else 2)
    finally:
        await producer.stop()

    async def all_handled() -> bool | None:
        return len(handled) == 30 or None

    async with running(app(), "http://scoring"):
        await eventually(all_handled, timeout=120, what="the 30 events handled")
    assert sorted(handled) == sorted(f"e-{n}" for n in range(30))
    assert 2 <= len(commits) < 10, f"{len(commits)} commits for 30 events handled"

    # the group has no offset: a new member reads all 30 again, finds each in the inbox, and commits to the end
    reached["broker"] = True
    async with running(app(), "http://scoring"):
        await at_the_ends(infra, "scoring.opened", topic)
    assert len(handled) == 30, f"{len(handled) - 30} events handled a second time"
