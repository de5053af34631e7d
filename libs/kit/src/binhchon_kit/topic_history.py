"""Reading topics from their earliest offsets up to where they ended when the read began.

Every record of every partition, in partition order, with no consumer group (nothing is committed, nothing is
skipped). The end is fixed at the start (the partitions' end offsets then), so a read finishes on a live cluster
and two reads of the same snapshot see the same records. The audit (binhchon_tools), a store's restore from its
topic (restore_topic) and the re-applying of erasures (personal_erasures) all read history this way.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition


@dataclass(frozen=True, slots=True)
class Record:
    """One message as it sits on a topic: where it is, and its value (a structured-mode CloudEvent, we hope)."""

    topic: str
    partition: int
    offset: int
    value: bytes
    timestamp: int = 0  # the producer's, in ms (CreateTime): when the relay sent it, which orders a service's log


async def read_records(bootstrap: str | list[str], topics: list[str], options: dict[str, Any], *,
                       client_id: str | None = None, batch_records: int = 5000, timeout: float | None = None,
                       on_start: Callable[[int], None] | None = None,
                       on_missing: Callable[[str], None] | None = None) -> AsyncIterator[list[Record]]:
    """Every record of ``topics`` from the earliest offsets, in batches, read with ``options`` (the principal's
    sign-in); ``on_start`` learns how many there are. A topic that does not exist (or that this principal may not
    see) is read as empty, and named to ``on_missing``. Past ``timeout`` seconds: TimeoutError."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                auto_offset_reset="earliest", max_poll_records=batch_records,
                                fetch_max_bytes=64 * 1024 * 1024, max_partition_fetch_bytes=16 * 1024 * 1024,
                                **({"client_id": client_id} if client_id else {}), **options)
    await consumer.start()
    deadline = None if timeout is None else time.monotonic() + timeout
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
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"{', '.join(topics)} could not be read to their end in {timeout:.0f} s")
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
