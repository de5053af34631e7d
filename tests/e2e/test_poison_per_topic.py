"""Poison on every topic, on the real broker (issue 14; ADR 0003, 0018): an event of a type no contract names,
and one signed by its topic's owner whose data breaks its type's contract, are dead-lettered at once with the
reason (never retried, never handed to the handler, never passed over in silence), and the consumer goes on to
the next message (here bytes that are no CloudEvent, dead-lettered after them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from binhchon_kit.consumer import EventConsumers, Retry
from binhchon_kit.contracts.certification import CertificateRevoked
from binhchon_kit.contracts.intake import RoundOpened
from binhchon_kit.contracts.registry import EventData, type_of
from binhchon_kit.contracts.scoring import ResultApproved
from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.inbox import MemoryInbox
from binhchon_kit.principals import ADMIN, scram
from binhchon_kit.testing.fixtures import TopicReader
from binhchon_kit.trust import ProducerKeys, dev_log_signer, signed

pytestmark = pytest.mark.integration
AT = datetime(2026, 11, 23, 6, 26, tzinfo=UTC)

TOPICS: dict[str, tuple[str, type[EventData]]] = {  # topic: its owner, and a type a consumer takes from it
    "intake.events": ("intake", RoundOpened),
    "scoring.events": ("scoring", ResultApproved),
    "certification.events": ("certification", CertificateRevoked),
}


def owner_signed(owner: str, id_: str, type_: str, data: dict[str, Any]) -> bytes:
    """An event as the topic's owner publishes it: sealed and signed with its (development) log key."""
    recorded = RecordedEvent(
        id=id_, stream=f"{owner}-s1", version=1, type=type_, schema_version=1, subject="s1", time=AT, data=data,
        actor=Actor(f"system:{owner}", ("system",)), correlation_id="c", causation_id="c",
        source=f"/binhchon/{owner}", prev_hash="0" * 64, hash="").sealed()
    return json.dumps(signed(recorded.cloudevent_json(), dev_log_signer(owner)), ensure_ascii=False).encode()


@pytest.mark.parametrize("topic", sorted(TOPICS))
async def test_poison_on_each_topic_is_dead_lettered_at_once_with_the_reason(infra, topic_prefix, unique, topic):
    owner, handled = TOPICS[topic]
    calls: list[RecordedEvent] = []

    async def handler(event: RecordedEvent) -> None:
        calls.append(event)

    broker = KafkaBroker(infra.kafka, security=scram(infra.kafka_client(ADMIN)))
    consumers = EventConsumers(broker, MemoryInbox(), service=f"poison{unique}", topic_prefix=topic_prefix,
                               trusted=ProducerKeys.development(), retry=Retry(attempts=4, first_delay=0.5),
                               clock=lambda: AT)
    consumers.handle(topic, {handled}, "taker", handler)
    poison = [owner_signed(owner, f"unknown-{unique}", "thing.teleported", {"where": "nowhere"}),
              owner_signed(owner, f"invalid-{unique}", type_of(handled), {"dossier_id": "dossier-1"}),
              b'{"not": "a cloudevent"}']
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, **infra.kafka_client(ADMIN))
    await producer.start()
    try:
        for body in poison:  # one key: one partition, in this order
            await producer.send_and_wait(topic_prefix + topic, body, key=b"s1")
    finally:
        await producer.stop()
    await broker.start()
    try:
        async with TopicReader(infra.kafka, f"{topic_prefix}{topic}.dlq") as reader:
            letters = await reader.wait_for_records(3, timeout=60)
    finally:
        await broker.stop()
    assert [r.value for r in letters] == poison  # unchanged, in order: the consumer went on past each
    reasons = [dict((k, v.decode()) for k, v in r.headers)["dlq-reason"] for r in letters]
    assert reasons[0] == "unknown event type 'thing.teleported': not in this service's contract"
    assert reasons[1].startswith(f"the data does not match {type_of(handled)} v1: "), reasons[1]
    assert "Field required" in reasons[1]
    assert reasons[2].startswith("unparseable CloudEvent: ")
    assert all(dict((k, v.decode()) for k, v in r.headers)["dlq-handler"] == f"poison{unique}.taker"
               for r in letters)
    assert calls == []  # the handler never saw the invalid data, so nothing was retried or accepted
