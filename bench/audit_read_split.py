"""A prototype's measure for ADR 0059's next step: the verify's read phase if each worker read its own partitions.

    uv run --no-sync python bench/audit_read_split.py [--events 100000]

Two processes, each an aiokafka consumer over half the partitions of the bench's 100,000 events, the compiled
reader (``read_batch``) on each batch, and what the main process would still need sent over a pipe: the packed
answers, each record's place, and the raw values (the kept types are most of the volume). Beside it, in the same
run: one consumer alone (the raw ceiling), the same split without sending the raws back (as if the workers kept
the scoring streams), and the verify as it is (its ``read_seconds``). JSON lines, printed; nothing asserted.
Not the verify: nothing here checks a chain or a decision."""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import pickle
import sys
import time
import uuid
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import audit_replay as ar
from aiokafka import AIOKafkaConsumer, TopicPartition

from binhchon_kit.principals import AUDITOR, client_options
from binhchon_kit.testing.infra import REPO, provide
from binhchon_kit.topics import all_topics, ensure_topics
from binhchon_tools.audit_topics import service_topics


async def consume(kafka: str, topics: list[str], share: int, of: int, conn: Any, send_raws: bool, go: Any) -> None:
    from binhchon_tools.audit_chain import read_batch
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False, group_id=None,
                                **client_options(AUDITOR), fetch_max_bytes=64 * 1024 * 1024,
                                max_partition_fetch_bytes=16 * 1024 * 1024)
    await consumer.start()
    cluster = await consumer._client.fetch_all_metadata()
    parts = [TopicPartition(t, p) for t in topics for p in sorted(cluster.partitions_for_topic(t) or ())]
    mine = parts[share::of]
    consumer.assign(mine)
    await consumer.seek_to_beginning(*mine)
    ends = await consumer.end_offsets(mine)
    conn.send("ready")
    go.wait()
    started = time.perf_counter()
    left = {tp for tp in mine if ends[tp] > 0}
    n = 0
    while left:
        for tp, messages in (await consumer.getmany(*left, timeout_ms=1000, max_records=5000)).items():
            values = [m.value for m in messages]
            packed, python_left = read_batch(values)
            metas = [(tp.topic, tp.partition, m.offset, m.timestamp) for m in messages]
            conn.send_bytes(pickle.dumps((packed, python_left, metas, values if send_raws else None)))
            n += len(messages)
            if messages and messages[-1].offset >= ends[tp] - 1:
                left.discard(tp)
    conn.send_bytes(b"done")
    await consumer.stop()
    conn.send((n, time.perf_counter() - started))


def worker(kafka: str, topics: list[str], share: int, of: int, conn: Any, send_raws: bool, go: Any) -> None:
    asyncio.run(consume(kafka, topics, share, of, conn, send_raws, go))


def split(kafka: str, topics: list[str], send_raws: bool, of: int = 2) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    pipes, procs = [], []
    for k in range(of):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=worker, args=(kafka, topics, k, of, child, send_raws, go))
        p.start()
        pipes.append(parent)
        procs.append(p)
    for c in pipes:
        assert c.recv() == "ready"
    started = time.perf_counter()
    go.set()
    open_, received = set(pipes), 0
    while open_:
        for c in wait(list(open_)):
            data = c.recv_bytes()
            if data == b"done":
                open_.discard(c)
            else:
                _packed, _left, metas, _values = pickle.loads(data)
                received += len(metas)
    seconds = time.perf_counter() - started
    results = [c.recv() for c in pipes]
    for p in procs:
        p.join()
    return {"records": received, "seconds": round(seconds, 3), "per_s": int(received / seconds),
            "send_raws": send_raws, "workers": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="events produced, then read")
    args = parser.parse_args()
    with provide(Path(REPO / ".run" / f"proto-{uuid.uuid4().hex[:8]}")) as infra:
        if infra.kafka_credentials is not None:
            os.environ["KAFKA_CREDENTIALS_DIR"] = str(infra.kafka_credentials)
        prefix = f"proto{uuid.uuid4().hex[:8]}."
        asyncio.run(ensure_topics(infra.kafka, all_topics(prefix), partitions=6))
        asyncio.run(ar.produce(infra.kafka, prefix, args.events))
        ar.compile_bytecode()
        topics = service_topics(prefix)
        print(json.dumps({"raw_one_consumer": ar.measure("raw", infra.kafka, prefix, 2)}), flush=True)
        print(json.dumps({"split_2_with_raws": split(infra.kafka, topics, True)}), flush=True)
        print(json.dumps({"split_2_no_raws": split(infra.kafka, topics, False)}), flush=True)
        print(json.dumps({"verify_now": ar.measure("verify", infra.kafka, prefix, 2)}), flush=True)
        print(json.dumps({"split_2_with_raws_again": split(infra.kafka, topics, True)}), flush=True)


if __name__ == "__main__":
    main()
