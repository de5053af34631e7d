"""What ops see at /metrics (ADR 0040), on the real broker and store: a poison message counted as a dead letter of
its topic and reason; a consumer group's lag per partition rising while its consumer is stopped; events stored while
the relay is stopped counted as the outbox's backlog, with the age of the oldest by the service's clock; and the
readiness of each dependency."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from binhchon_kit.contracts.intake import DossierAccepted
from binhchon_kit.events import RecordedEvent
from binhchon_kit.runtime import build_runtime
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.clock import Clock
from binhchon_kit.testing.eventstore_contract import grow
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.web import create_app

pytestmark = pytest.mark.integration


async def scraped(client: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample /metrics serves, by its name and labels."""
    r = await client.get("/metrics")
    assert r.status_code == 200
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def test_ops_see_dead_letters_lag_the_outbox_and_readiness(infra, unique, topic_prefix, dev_keys):
    # scoring's principal, as a service consuming intake.events under a group of its own (scoring.watched)
    settings = ServiceSettings(service_name="scoring", mongodb_url=infra.mongodb, mongodb_database=f"ops_{unique}",
                               kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=topic_prefix,
                               auth_public_keys_file=str(dev_keys[1]), relay_enabled=False,
                               metrics_interval_seconds=0.2)
    runtime = build_runtime(settings, {})
    handled: list[RecordedEvent] = []

    async def watched(event: RecordedEvent) -> None:
        handled.append(event)

    runtime.consumers.handle("intake.events", {DossierAccepted}, "watched", watched)
    clock = Clock()
    assert runtime.gauges is not None
    runtime.gauges.clock = clock
    topic, group = f"{topic_prefix}intake.events", "scoring.watched"
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, acks="all", **infra.kafka_client("intake"))
    await producer.start()
    try:
        async with running(create_app(runtime, title="ops"), "http://scoring") as scoring:
            # a poison message (no JSON at all) on partition 1: dead-lettered, counted by topic and reason class
            await producer.send_and_wait(topic, b"not json {", key=b"d-1", partition=1)

            async def dead_lettered_and_caught_up() -> Any:
                samples = await scraped(scoring)
                lags = [value(samples, "binhchon_consumer_lag_messages", service="scoring", group=group, topic=topic,
                              partition=str(p)) for p in range(3)]
                dead = value(samples, "binhchon_dead_letters_total", service="scoring", topic=topic,
                             reason="unparseable")
                # one pass measures readiness before lag: the pass that sees no lag may have measured the broker
                # a moment before the consumer joined, so readiness is awaited like the rest
                ready = [value(samples, "binhchon_dependency_ready", service="scoring", dependency=d)
                         for d in ("store", "broker")]
                return samples if dead == 1 and lags == [0, 0, 0] and ready == [1, 1] else None

            await eventually(dead_lettered_and_caught_up, what="one dead letter, no lag, both dependencies ready")

            # the consumer stops; messages pile up on partitions 0 and 2 (what they hold does not matter to lag)
            await runtime.broker.stop()
            runtime.broker_ready = False
            for partition, count in ((0, 4), (2, 2)):
                for n in range(count):
                    await producer.send_and_wait(topic, b"{}", key=f"d-{n}".encode(), partition=partition)

            async def lagging() -> Any:
                samples = await scraped(scoring)
                lags = [value(samples, "binhchon_consumer_lag_messages", service="scoring", group=group, topic=topic,
                              partition=str(p)) for p in range(3)]
                broker = value(samples, "binhchon_dependency_ready", service="scoring", dependency="broker")
                return samples if lags == [4, 0, 2] and broker == 0 else None

            await eventually(lagging, what="the lag of the stopped consumer per partition, the broker not ready")

            # events stored while the relay is stopped wait in the outbox; their age is by the service's clock
            async def outbox(count: int, age: float) -> Any:
                samples = await scraped(scoring)
                return samples if (value(samples, "binhchon_outbox_backlog_events", service="scoring"),
                                   value(samples, "binhchon_outbox_oldest_age_seconds", service="scoring")) \
                    == (count, age) else None

            await eventually(lambda: outbox(0, 0.0), what="an empty outbox")
            stored = await grow(runtime.store, f"dossier-{unique}", 3)
            oldest = min(e.time for e in stored)
            clock.move_to(max(clock.now, oldest) + timedelta(minutes=10))
            await eventually(lambda: outbox(3, (clock.now - oldest).total_seconds()),
                             what="three events waiting, the oldest's age")
            assert handled == []  # nothing here was an event the handler takes
    finally:
        await producer.stop()
