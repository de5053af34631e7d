"""The topics binhchon uses, created the same way by `make up`, the tests and compose's topic-init job.

Every topic keeps its history forever (retention.ms=-1): the topics are a replayable audit log. Each service
topic has a dead-letter topic ``<topic>.dlq`` for messages its consumers could not parse or handle.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

# log.checkpoints: every service's signed checkpoints of its own log (ADR 0022), read by auditors only
SERVICE_TOPICS = ("intake.events", "scoring.events", "certification.events", "notify.events", "log.checkpoints")
# The one service that writes each service topic: consumers act only on events it produced and signed (ADR 0026).
# log.checkpoints has no single owner (every service writes its own stream there) and no service consumes it.
TOPIC_OWNERS = {"intake.events": "intake", "scoring.events": "scoring", "certification.events": "certification",
                "notify.events": "notify"}
FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}

log = logging.getLogger("binhchon.topics")


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


def source_of(service: str) -> str:
    """The CloudEvents ``source`` of the events a service records."""
    return f"/binhchon/{service}"


def owner_of(topic: str) -> str | None:
    """The service that alone publishes on ``topic`` (unprefixed), or None for a topic no single service owns."""
    return TOPIC_OWNERS.get(topic)


def all_topics(prefix: str = "") -> list[str]:
    """Every topic name, optionally prefixed (tests use a unique prefix per run)."""
    names = [prefix + t for t in SERVICE_TOPICS]
    return names + [dead_letter_topic(t) for t in names]


async def ensure_topics(
    bootstrap_servers: str, topics: list[str], *, partitions: int = 6, replication_factor: int = 1,
    timeout: float = 60.0, security: dict[str, Any] | None = None,
) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created. Waits for the broker up to ``timeout``.

    Signed in (``security``, else the environment's admin credentials): also grants each service and the auditor
    their access to these topics (binhchon_kit.principals, docs/adr/0031)."""
    from binhchon_kit import principals  # it builds on this module's topic table

    security = principals.client_options(principals.ADMIN) if security is None else security
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="binhchon-topics", **security)
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(1)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            new = [NewTopic(t, num_partitions=partitions, replication_factor=replication_factor, topic_configs=FOREVER)
                   for t in missing]
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another process created it between list and create
        if security:
            await principals.grant(admin, principals.grants(topics))
        return missing
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Create binhchon's Kafka topics (idempotent).")
    parser.add_argument("--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser.add_argument("--partitions", type=int, default=int(os.environ.get("KAFKA_TOPIC_PARTITIONS", "6")))
    parser.add_argument("--replication-factor", type=int,
                        default=int(os.environ.get("KAFKA_TOPIC_REPLICATION_FACTOR", "1")))
    parser.add_argument("--prefix", default=os.environ.get("KAFKA_TOPIC_PREFIX", ""))
    args = parser.parse_args(argv)
    created = asyncio.run(ensure_topics(args.bootstrap_servers, all_topics(args.prefix), partitions=args.partitions,
                                        replication_factor=args.replication_factor))
    for t in all_topics(args.prefix):
        print(f"[topics] {t}: {'created' if t in created else 'exists'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
