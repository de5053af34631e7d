"""Where personal data could leak, read back in full by the erasure tests (ADR 0035, 0048): every record of
every topic as raw bytes, every collection of every database of a run, searched for a value in each way it can be
written down."""

from __future__ import annotations

import json
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from bson import json_util

from binhchon_kit.principals import AUDITOR, client_options
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.infra import Infra
from binhchon_kit.topics import all_topics


def forms(value: str) -> list[bytes]:
    """The ways a value can be written down: UTF-8 as is, and JSON-escaped (``\\u1ec5``)."""
    return [value.encode("utf-8"), json.dumps(value)[1:-1].encode("ascii")]


def leaks(blob: bytes, fields: dict[str, str]) -> list[str]:
    return [name for name, value in fields.items() if any(form in blob for form in forms(value))]


async def everything_on_the_topics(infra: Infra, prefix: str) -> list[bytes]:
    """Every record of every topic of this run, key, value and headers, read to the end as the auditor."""
    topics = all_topics(prefix)
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.kafka, auto_offset_reset="earliest", group_id=None,
                                enable_auto_commit=False, **client_options(AUDITOR))
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or
                                                                      await _partitions(consumer, t))]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        blobs: list[bytes] = []

        async def drained() -> bool | None:
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for r in records:
                    blobs.append(b"|".join([r.key or b"", r.value or b"", *(v for _, v in r.headers)]))
            done = all([await consumer.position(tp) >= ends[tp] for tp in partitions])
            return True if done else None

        await eventually(drained, timeout=60, what="every topic read to its end")
        return blobs
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


async def every_database(mongo: Any, unique: str) -> dict[str, bytes]:
    """Every collection of every database of this run's services, dumped as extended JSON."""
    dumps: dict[str, bytes] = {}
    for name in await mongo.list_database_names():
        if not name.endswith(unique):
            continue
        for collection in await mongo[name].list_collection_names():
            docs = await mongo[name][collection].find({}).to_list()
            dumps[f"{name}.{collection}"] = json_util.dumps(docs, ensure_ascii=False).encode("utf-8")
    return dumps


