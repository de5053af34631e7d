"""Reading the service topics from their earliest offsets up to where they ended when the read began.

The audit's copy of the log is Kafka's: every record of every partition, in partition order, with no consumer
group (nothing is committed, nothing is skipped). The end is fixed at the start (the partitions' end offsets
then), so a read finishes on a live cluster and two reads of the same snapshot see the same records.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from binhchon_kit.principals import AUDITOR, client_options
from binhchon_kit.topics import SERVICE_TOPICS


@dataclass(frozen=True, slots=True)
class Record:
    """One message as it sits on a topic: where it is, and its value (a structured-mode CloudEvent, we hope)."""

    topic: str
    partition: int
    offset: int
    value: bytes
    timestamp: int = 0  # the producer's, in ms (CreateTime): when the relay sent it, which orders a service's log


def service_topics(prefix: str = "", topics: list[str] | None = None) -> list[str]:
    return [prefix + t for t in (topics or SERVICE_TOPICS)]


def unprefixed(topic: str, prefix: str) -> str:
    return topic.removeprefix(prefix)


async def read_records(bootstrap: str, topics: list[str], *, batch_records: int = 5000,
                       on_start: Callable[[int], None] | None = None,
                       on_missing: Callable[[str], None] | None = None) -> AsyncIterator[list[Record]]:
    """Every record of ``topics`` from the earliest offsets, in batches; ``on_start`` learns how many there are.

    A topic that does not exist is read as empty, and named to ``on_missing``."""
    # signed in as the auditor (KAFKA_SASL_* or KAFKA_CREDENTIALS_DIR): read-only on the broker (docs/adr/0031)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                **client_options(AUDITOR), auto_offset_reset="earliest", max_poll_records=batch_records,
                                fetch_max_bytes=64 * 1024 * 1024, max_partition_fetch_bytes=16 * 1024 * 1024)
    await consumer.start()
    try:
        # the cluster's metadata as fetched now (``consumer.topics()`` gives only the names, and the consumer's
        # own metadata knows only topics it subscribed to)
        cluster = await consumer._client.fetch_all_metadata()
        partitions = [TopicPartition(t, p) for t in topics if t in cluster.topics()
                      for p in sorted(cluster.partitions_for_topic(t) or ())]
        if on_missing:
            for topic in topics:
                if topic not in cluster.topics():
                    on_missing(topic)
        if not partitions:
            if on_start:
                on_start(0)
            return
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        if on_start:
            on_start(sum(ends[tp] - starts[tp] for tp in partitions))
        left = {tp for tp in partitions if ends[tp] > starts[tp]}
        while left:
            batches = await consumer.getmany(*left, timeout_ms=1000, max_records=batch_records)
            out: list[Record] = []
            for tp, messages in batches.items():
                end = ends[tp]
                out.extend(Record(tp.topic, tp.partition, m.offset, m.value or b"", m.timestamp)
                           for m in messages if m.offset < end)
                if messages and messages[-1].offset >= end - 1:
                    left.discard(tp)
            for tp in list(left):  # a partition ending in transaction markers has no message at end - 1
                if await consumer.position(tp) >= ends[tp]:
                    left.discard(tp)
            if out:
                yield out
    finally:
        await consumer.stop()
