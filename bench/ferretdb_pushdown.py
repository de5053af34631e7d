"""FerretDB build b3 (stock pushdown + the _id patch) against b4 (keyset pages limited in PostgreSQL,
docs/adr/0016), beside raw PostgreSQL answering the equivalent SQL, on the same PostgreSQL in the same run.

For N documents of ~1.5 KB with a string key `page_key` and a few equality fields, one JSON line per query and
server: {"bench": "ferretdb_pushdown", "query": ..., "server": "b3"|"b4"|"postgresql", "n": N, "p50_ms", "p99_ms"}.
Printed, never asserted. Needs the native stack of infra/local (PostgreSQL 15, FerretDB b3 and b4 built).
    uv run python bench/ferretdb_pushdown.py [--sizes 1000,10000,50000] [--reps 30]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EQ = {"status": "valid", "area": "A"}
sys.path.insert(0, str(REPO / "libs" / "kit" / "src"))


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def line(query: str, server: str, n: int, samples: list[float]) -> None:
    p50, p99 = percentiles(samples)
    print(json.dumps({"bench": "ferretdb_pushdown", "query": query, "server": server, "n": n,
                      "p50_ms": round(p50, 2), "p99_ms": round(p99, 2), "reps": len(samples)}), flush=True)


def timed(fn: Callable[[], object], reps: int) -> list[float]:
    fn()  # warm: plans, caches
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--reps", type=int, default=30)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import pymongo

    from binhchon_kit.testing.infra import LOCAL, NativeFerretDB, NativePostgres

    env = dict(line.split("=", 1) for line in (LOCAL / "versions.env").read_text().splitlines()
               if line and not line.startswith("#"))
    cache = Path(os.environ.get("BINHCHON_CACHE", Path.home() / ".cache" / "binhchon"))
    b3 = cache / "bin" / f"ferretdb-{env['FERRETDB_VERSION']}-b3"
    base = REPO / ".run" / f"bench-pushdown-{uuid.uuid4().hex[:8]}"
    postgres = NativePostgres(base / "postgres")
    b4 = NativeFerretDB(base / "b4", postgres=postgres)
    old = NativeFerretDB(base / "b3", postgres=postgres)
    try:
        b4.start()
        db4 = pymongo.MongoClient(b4.url).bench
        pad = "x" * 1400
        for n in sizes:
            coll = db4[f"certs_{n}"]
            coll.create_index([("page_key", -1)])
            docs = [{"_id": f"c{i:06d}", "page_key": f"2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}|{i:06d}",
                     "status": "valid" if i % 5 else "revoked", "area": "ABCD"[i % 4], "round": f"r{i % 10}",
                     "pad": pad} for i in range(n)]
            for i in range(0, n, 1000):
                coll.insert_many(docs[i: i + 1000])
        os.environ["BINHCHON_FERRETDB_BIN"] = str(b3)  # the second server: the previous build
        try:
            old.start()
        finally:
            del os.environ["BINHCHON_FERRETDB_BIN"]
        db3 = pymongo.MongoClient(old.url).bench
        psql = shutil.which("psql", path=f"/usr/lib/postgresql/{env['POSTGRESQL_MAJOR']}/bin") or "psql"
        password = (postgres.dir / "password").read_text().strip()
        for n in sizes:
            cursor = f"2026-07-01|{n // 2:06d}"
            queries: dict[str, Callable[[pymongo.collection.Collection], object]] = {
                "first_page_no_range": lambda c: list(c.find(EQ).sort("page_key", -1).limit(20)),
                "first_page_gte_empty": lambda c: list(
                    c.find({**EQ, "page_key": {"$gte": ""}}).sort("page_key", -1).limit(20)),
                "keyset_page_lt_cursor": lambda c, cur=cursor: list(
                    c.find({**EQ, "page_key": {"$lt": cur}}).sort("page_key", -1).limit(20)),
                "count_documents_eq": lambda c: c.count_documents(EQ),
            }
            for name, fn in queries.items():
                for server, db in (("b4", db4), ("b3", db3)):
                    reps = args.reps if server == "b4" or n <= 1000 else max(3, args.reps * 1000 // n)
                    line(name, server, n, timed(lambda fn=fn, c=db[f"certs_{n}"]: fn(c), reps))
            table = subprocess.run(
                [psql, "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "binhchon", "-At", "-X", "ferretdb", "-c",
                 f"select _jsonb->>'table' from bench._ferretdb_database_metadata where _jsonb->>'_id' = 'certs_{n}'"],
                capture_output=True, text=True, env={**os.environ, "PGPASSWORD": password}, check=True).stdout.strip()
            where = "_jsonb->'status' = '\"valid\"' and _jsonb->'area' = '\"A\"'"
            raw = {
                "first_page_no_range": f"select _jsonb from bench.\"{table}\" where {where} "
                                       "order by _jsonb->'page_key' desc limit 20",
                "keyset_page_lt_cursor": f"select _jsonb from bench.\"{table}\" where {where} and "
                                         f"_jsonb->'page_key' < '\"{cursor}\"' "
                                         "order by _jsonb->'page_key' desc limit 20",
                "count_documents_eq": f"select count(*) from bench.\"{table}\" where {where}",
            }
            for name, sql in raw.items():
                script = "\\timing on\n\\o /dev/null\n" + (sql + ";\n") * (args.reps + 1)
                out = subprocess.run(
                    [psql, "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "binhchon", "-X", "-q", "ferretdb"],
                    input=script, capture_output=True, text=True, env={**os.environ, "PGPASSWORD": password},
                    check=True).stdout
                samples = [float(m) for m in re.findall(r"Time: ([0-9.]+) ms", out)][1:]
                line(name, "postgresql", n, samples)
    finally:
        old.stop(postgres=False)
        b4.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
