"""Benchmark: submit N dossiers over HTTP to a real intake process and time each one until its CloudEvent
is read back from intake.events by a plain consumer.

    uv run python bench/intake_submit.py [--dossiers 1000] [--concurrency 16]

Prints submits per second and submit→event-on-topic latency percentiles. Uses the same infrastructure as the
tests (environment, testcontainers, or the native stack of infra/local). Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid

import httpx
from aiokafka import AIOKafkaConsumer

from binhchon_kit.auth.devtoken import ensure_keys, mint
from binhchon_kit.envelope import CloudEvent
from binhchon_kit.testing.infra import REPO, free_port, provide
from binhchon_kit.testing.samples import dossier_body, round_body
from binhchon_kit.topics import all_topics, ensure_topics


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bench(kafka: str, mongodb: str, dossiers: int, concurrency: int) -> None:
    run_id = uuid.uuid4().hex[:8]
    prefix = f"bench{run_id}."
    await ensure_topics(kafka, all_topics(prefix), partitions=6)
    private, public = ensure_keys(REPO / ".run" / f"bench-keys-{run_id}")
    port = free_port()
    env = {**os.environ, "MONGODB_URL": mongodb, "MONGODB_DATABASE": f"bench_intake_{run_id}",
           "KAFKA_BOOTSTRAP_SERVERS": kafka, "KAFKA_TOPIC_PREFIX": prefix, "AUTH_PUBLIC_KEYS_FILE": str(public),
           "HTTP_PORT": str(port), "LOG_LEVEL": "WARNING"}
    log = open(REPO / ".run" / f"bench-intake-{run_id}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "intake.main"], env=env, stdout=log, stderr=log)
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for _ in range(200):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.2)
            sec = {"Authorization": f"Bearer {mint(private.read_bytes(), subject='sec', roles=['secretariat'])}"}
            app = {"Authorization": f"Bearer {mint(private.read_bytes(), subject='prod', roles=['applicant'])}"}
            r = await client.post("/rounds", json=round_body(f"B{run_id}"), headers=sec)
            r.raise_for_status()
            round_id = r.json()["round_id"]

            consumer = AIOKafkaConsumer(f"{prefix}intake.events", bootstrap_servers=kafka,
                                        auto_offset_reset="earliest", group_id=None)
            await consumer.start()

            async def read() -> None:
                while len(arrived) < dossiers:
                    batches = await consumer.getmany(timeout_ms=100)
                    now = time.perf_counter()
                    for records in batches.values():
                        for record in records:
                            event = CloudEvent.from_bytes(record.value)
                            if event.type == "dossier.received":
                                arrived[event.subject] = now

            reader = asyncio.create_task(read())
            queue: asyncio.Queue[int] = asyncio.Queue()
            for n in range(dossiers):
                queue.put_nowait(n)

            async def worker() -> None:
                while not queue.empty():
                    n = queue.get_nowait()
                    started = time.perf_counter()
                    resp = await client.post(f"/rounds/{round_id}/dossiers", headers=app,
                                             json=dossier_body(product=f"Sản phẩm số {n}", regno=f"BN{n:06d}"))
                    resp.raise_for_status()
                    sent[resp.json()["dossier_id"]] = started

            began = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            submitted = time.perf_counter() - began
            await asyncio.wait_for(reader, timeout=300)
            drained = time.perf_counter() - began
            await consumer.stop()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    latencies = [(arrived[d] - sent[d]) * 1000 for d in sent]
    print(f"intake submit benchmark: {dossiers} dossiers, concurrency {concurrency}, Kafka {kafka}, MongoDB {mongodb}")
    print(f"  submits per second (HTTP 201 receipts): {dossiers / submitted:8.1f}  ({submitted:.2f} s)")
    print(f"  all events on the topic after:          {drained:8.2f} s")
    print(f"  submit→event-on-topic latency ms: p50 {percentile(latencies, 0.5):.1f}  "
          f"p90 {percentile(latencies, 0.9):.1f}  p99 {percentile(latencies, 0.99):.1f}  "
          f"max {max(latencies):.1f}  mean {statistics.fmean(latencies):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with provide(REPO / ".run" / f"bench-{uuid.uuid4().hex[:8]}") as infra:
        asyncio.run(bench(infra.kafka, infra.mongodb, args.dossiers, args.concurrency))


if __name__ == "__main__":
    main()
