"""Benchmark: submit N dossiers over HTTP to a real intake process and time each one until its CloudEvent
is read back from intake.events by a plain consumer.

    uv run python bench/intake_submit.py [--dossiers 400] [--concurrency 1,8]

One JSON line per measurement, printed, never asserted:
- ``{"bench": "raw_insert_one", "concurrency": c, "per_s": …}``: plain ``insert_one`` of a 1 KB document into a
  fresh collection of the same MongoDB-protocol server, so the submit rate can be read against what the server
  itself does on this machine in this run;
- ``{"bench": "intake_submit", "concurrency": c, "submits_per_s": …, "p50_ms": …, "p99_ms": …}``: dossiers
  submitted over HTTP to a real intake process, each timed until its CloudEvent is read back from intake.events.
Uses the same infrastructure as the tests (environment, testcontainers, or the native stack of infra/local).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid

import httpx
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient

from binhchon_kit.auth.devtoken import ensure_keys, mint
from binhchon_kit.envelope import CloudEvent
from binhchon_kit.principals import AUDITOR, client_options
from binhchon_kit.testing.documents import upload_documents
from binhchon_kit.testing.infra import REPO, free_port, provide
from binhchon_kit.testing.samples import dossier_body, round_body
from binhchon_kit.topics import all_topics, ensure_topics


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def emit(bench: str, **values: object) -> None:
    print(json.dumps({"bench": bench, **values}), flush=True)


async def raw_inserts(mongodb: str, count: int, concurrency: int) -> float:
    """The server's own pace: 1 KB documents inserted one by one, ``concurrency`` at a time; inserts per second
    (bench/pipeline.py reads its own ceiling with it)."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongodb)
    database = f"bench_raw_{uuid.uuid4().hex[:8]}"
    collection = client[database]["documents"]
    note = "Hợp tác xã Nông nghiệp Đông Hưng, xã Đông Hưng. " * 19
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def worker() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            await collection.insert_one({"_id": f"doc-{n:08d}", "n": n, "note": note})

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
        emit("raw_insert_one", concurrency=concurrency, per_s=round(count / seconds, 1), documents=count,
             seconds=round(seconds, 2))
        return count / seconds
    finally:
        await client.drop_database(database)
        await client.close()


async def bench(kafka: str, mongodb: str, dossiers: int, concurrencies: list[int]) -> None:
    emit("intake_submit_setup", kafka=kafka, mongodb=mongodb, dossiers=dossiers)
    for concurrency in concurrencies:
        await raw_inserts(mongodb, dossiers * 2, concurrency)
    for concurrency in concurrencies:
        await submits(kafka, mongodb, dossiers, concurrency)


async def submits(kafka: str, mongodb: str, dossiers: int, concurrency: int) -> None:
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
            await upload_documents(client, app)  # what every dossier lists, stored once (ADR 0045)
            round_id = r.json()["round_id"]

            consumer = AIOKafkaConsumer(f"{prefix}intake.events", bootstrap_servers=kafka,
                                        auto_offset_reset="earliest", group_id=None, **client_options(AUDITOR))
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
    emit("intake_submit", concurrency=concurrency, dossiers=dossiers,
         submits_per_s=round(dossiers / submitted, 1), all_on_topic_s=round(drained, 2),
         p50_ms=round(percentile(latencies, 0.5), 1), p90_ms=round(percentile(latencies, 0.9), 1),
         p99_ms=round(percentile(latencies, 0.99), 1), max_ms=round(max(latencies), 1),
         mean_ms=round(statistics.fmean(latencies), 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=400, help="dossiers per concurrency level")
    parser.add_argument("--concurrency", default="1,8", help="comma-separated concurrency levels")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    with provide(REPO / ".run" / f"bench-{uuid.uuid4().hex[:8]}") as infra:
        if infra.kafka_credentials is not None:  # the locked broker (ADR 0031, 0055): the topics' admin, the service
            os.environ["KAFKA_CREDENTIALS_DIR"] = str(infra.kafka_credentials)  # and the reader sign in from there
        asyncio.run(bench(infra.kafka, infra.mongodb, args.dossiers, levels))


if __name__ == "__main__":
    main()
