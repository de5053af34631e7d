"""The verify of ``bench/audit_replay.py`` without Kafka in the loop: cheap to repeat, to profile where its CPU goes.

    uv run --no-sync python bench/audit_replay_offline.py make --events 100000 [--log .run/audit-log-100000.bin]
    uv run --no-sync python bench/audit_replay_offline.py run [--workers 2] [--profile FILE] [--out FILE.jsonl]

``make`` writes the bench's own log (its ``produce``, with a producer that keeps the values instead of sending
them) to a file once: each record's topic, partition (the key's, as Kafka's default partitioner would spread
them: 6 per topic), offset, producer timestamp and value. ``run`` feeds those records to ``verify`` in the
batches a Kafka read gives (5,000 records, partition by partition), in this process, and prints one JSON line:
wall seconds, events/s, CPU seconds of the main process and of the worker processes, peak memory. Profile the
main process with ``--profile`` (cProfile) or all of them with py-spy:

    uv run --no-sync --with py-spy py-spy record --subprocesses -o verify.svg -- \
        python bench/audit_replay_offline.py run

A rate here is the verify's CPU bound, not the bench's: the bench's own line (with the raw aiokafka read beside it)
is the one that counts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import resource
import sys
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import audit_replay

from binhchon_kit.testing.infra import REPO
from binhchon_kit.topic_history import Record

PARTITIONS = 6
PREFIX = "offline."


class KeptProducer:
    """What the bench's ``Log`` sends to, keeping each record as a topic would hold it."""

    def __init__(self, *_: Any, **__: Any) -> None:
        self.records: list[Record] = []
        self.offsets: dict[tuple[str, int], int] = defaultdict(int)
        self.clock_ms = int(datetime(2026, 11, 20, 1, tzinfo=UTC).timestamp() * 1000)

    async def start(self) -> None:
        KeptProducer.last = self

    async def stop(self) -> None:
        pass

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[None]:
        partition = zlib.crc32(key) % PARTITIONS
        offset = self.offsets[(topic, partition)]
        self.offsets[(topic, partition)] += 1
        self.clock_ms += 1
        self.records.append(Record(topic, partition, offset, value, self.clock_ms))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    last: KeptProducer


def make(events: int, path: Path) -> None:
    audit_replay.AIOKafkaProducer = KeptProducer  # type: ignore[misc,assignment]
    asyncio.run(audit_replay.produce("offline:0", PREFIX, events))
    records = KeptProducer.last.records
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps([(r.topic, r.partition, r.offset, r.value, r.timestamp) for r in records]))
    print(f"{len(records)} records written to {path}")


def load(path: Path) -> list[Record]:
    return [Record(*row) for row in pickle.loads(path.read_bytes())]


def batches_of(records: list[Record], size: int = 5000) -> list[list[Record]]:
    """The records as a Kafka read hands them over: partition by partition, in offset order, ``size`` at a time."""
    by_partition: dict[tuple[str, int], list[Record]] = defaultdict(list)
    for record in records:
        by_partition[(record.topic, record.partition)].append(record)
    out: list[list[Record]] = []
    batch: list[Record] = []
    for key in sorted(by_partition):
        for record in by_partition[key]:
            batch.append(record)
            if len(batch) == size:
                out.append(batch)
                batch = []
    if batch:
        out.append(batch)
    return out


def fed(batches: list[list[Record]]) -> Callable[..., AsyncIterator[list[Record]]]:
    async def read_records(_: str, __: list[str], *, on_start: Callable[[int], None] | None = None,
                           on_missing: Callable[[str], None] | None = None, **___: Any
                           ) -> AsyncIterator[list[Record]]:
        if on_start:
            on_start(sum(map(len, batches)))
        for batch in batches:
            yield batch
            await asyncio.sleep(0)
    return read_records


def run(path: Path, workers: int, profile: str) -> dict[str, Any]:
    from binhchon_tools import audit_verify
    from binhchon_tools.audit_topics import service_topics

    audit_verify.read_records = fed(batches_of(load(path)))  # type: ignore[assignment]
    measured = audit_replay.verified("offline:0", service_topics(PREFIX), PREFIX, workers, profile)
    return {"bench": "audit_replay_offline", "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "workers": workers, **measured,
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "loadavg_1m": round(os.getloadavg()[0], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["make", "run"])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--log", type=Path, default=None, help="the log's file (default .run/audit-log-N.bin)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", default="", help="cProfile the main process, stats saved to this file")
    parser.add_argument("--out", type=Path, default=None, help="also append the JSON line to this file")
    args = parser.parse_args()
    path = args.log or REPO / ".run" / f"audit-log-{args.events}.bin"
    if args.what == "make":
        make(args.events, path)
        return
    audit_replay.emit({**run(path, args.workers, args.profile), "log": str(path)}, args.out)


if __name__ == "__main__":
    main()
