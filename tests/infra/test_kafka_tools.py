"""Kafka's command-line tools as ops run them natively (infra/local/kafka-tool.sh, the jars install.sh caches),
against the test broker: the topic list, the console consumer, the consumer groups."""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from aiokafka import AIOKafkaProducer

from binhchon_kit.testing.infra import LOCAL

pytestmark = pytest.mark.integration


async def kafka_tool(*args: str) -> str:
    done = await asyncio.to_thread(subprocess.run, [str(LOCAL / "kafka-tool.sh"), *args],
                                   capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def ops_config(infra) -> list[str]:
    """The tools sign in as ops do, with the admin's properties file beside its password (binhchon_kit.principals)."""
    return [] if infra.kafka_credentials is None else [str(infra.kafka_credentials / "admin.properties")]


async def test_ops_list_topics_read_a_topic_and_see_its_group(infra, topic_prefix, unique):
    config = ops_config(infra)
    command_config = [arg for c in config for arg in ("--command-config", c)]
    listed = (await kafka_tool("kafka-topics", "--bootstrap-server", infra.kafka, "--list", *command_config)).split()
    assert {f"{topic_prefix}intake.events", f"{topic_prefix}notify.events.dlq"} <= set(listed)

    topic = f"{topic_prefix}intake.events"
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, **infra.kafka_client())
    await producer.start()
    try:
        await producer.send_and_wait(topic, '{"type":"round.opened","title":"Đánh giá OCOP"}'.encode(),
                                     key=b"round-1", partition=0)
    finally:
        await producer.stop()
    group = f"ops-{unique}"
    read = await kafka_tool("kafka-console-consumer", "--bootstrap-server", infra.kafka, "--topic", topic,
                            "--from-beginning", "--max-messages", "1", "--timeout-ms", "30000", "--group", group,
                            "--property", "print.key=true", *[a for c in config for a in ("--consumer.config", c)])
    assert read.splitlines() == ['round-1\t{"type":"round.opened","title":"Đánh giá OCOP"}']

    described = await kafka_tool("kafka-consumer-groups", "--bootstrap-server", infra.kafka, "--describe",
                                 "--group", group, *command_config)
    # GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...: partition 0 committed past its one message
    rows = {row[2]: row[3:6] for row in (line.split() for line in described.splitlines()) if row[:2] == [group, topic]}
    assert rows["0"] == ["1", "1", "0"], described
