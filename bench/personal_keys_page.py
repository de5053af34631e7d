"""Benchmark: opening a dossier list page's sealed personal fields (ADR 0048), on the real store.

    uv run python bench/personal_keys_page.py [--pages 20,50,100] [--samples 30]

A page of P dossiers from P different producers (the worst case: no key shared), their keys in intake's key
store (``personal_keys``, wrapped by a master key). Three ways, in the same run on the same server:
- ``per_item``: what the lists did before ADR 0048, one key-store query and one AES unwrap per dossier;
- ``page_cold``: one ``$in`` query for the page and an unwrap per key, nothing cached (a new process);
- ``page_warm``: the same page again within the cache's 30 s (the next request of someone paging a round).
Prints one JSON line per measurement (p50 and p95 in ms); never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo import AsyncMongoClient

from binhchon_kit.personal import MasterKey, new_data_key
from binhchon_kit.personal_keys import COLLECTION, SubjectKeys
from binhchon_kit.testing.infra import REPO, provide


async def timed(call: Callable[[], Awaitable[Any]], samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        await call()
        out.append((time.perf_counter() - start) * 1000)
    return out


def line(bench: str, page: int, timings: list[float]) -> None:
    cut = statistics.quantiles(timings, n=20)
    print(json.dumps({"bench": bench, "page": page, "samples": len(timings),
                      "p50_ms": round(statistics.median(timings), 2), "p95_ms": round(cut[18], 2)}), flush=True)


async def measure(mongodb: str, pages: list[int], samples: int) -> None:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb, tz_aware=True)
    try:
        collection = mongo[f"bench_keys_{uuid.uuid4().hex[:8]}"][COLLECTION]
        master = MasterKey(new_data_key())
        store = SubjectKeys(collection, master)
        await store.setup()
        kids = [(await store.for_subject(f"producer:HKD-{n:05d}"))[0] for n in range(max(pages))]
        for page in pages:
            wanted = kids[:page]

            async def per_item(wanted: list[str] = wanted) -> None:
                for kid in wanted:  # as before: find_one and unwrap, per dossier
                    found = await collection.find_one({"_id": kid})
                    assert found is not None
                    master.unwrap(kid, found["wrapped"])

            async def page_cold(wanted: list[str] = wanted) -> None:
                await SubjectKeys(collection, master).many(wanted)

            warm = SubjectKeys(collection, master)
            await warm.many(wanted)

            async def page_warm(wanted: list[str] = wanted, warm: SubjectKeys = warm) -> None:
                await warm.many(wanted)

            for name, call in (("per_item", per_item), ("page_cold", page_cold), ("page_warm", page_warm)):
                line(f"personal_keys_{name}", page, await timed(call, samples))
        await collection.database.drop_collection(COLLECTION)
    finally:
        await mongo.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", default="20,50,100")
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    pages = [int(p) for p in args.pages.split(",")]
    with provide(REPO / ".run" / f"bench-{uuid.uuid4().hex[:8]}") as infra:
        asyncio.run(measure(infra.mongodb, pages, args.samples))


if __name__ == "__main__":
    main()
