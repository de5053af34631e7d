"""What PostgreSQL read for one FerretDB collection: its ``pg_stat_user_tables`` counts (as bench/_store_statements.py
reads them for the pipeline), for tests and benches that must show a cost does not grow with a collection."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

from binhchon_kit.testing.infra import LOCAL

QUIET = 11  # seconds: PostgreSQL's idle interval, and one more
COUNTS = ("seq_scan", "seq_tup_read", "idx_scan", "idx_tup_fetch", "n_tup_ins")


def psql_rows(postgres_dir: Path, sql: str) -> list[list[str]]:
    """Rows of a query on the cluster in ``postgres_dir`` (infra/local/postgres.sh), as its owner."""
    out = subprocess.run([str(LOCAL / "postgres.sh"), "psql", str(postgres_dir)], input=f"COPY ({sql}) TO STDOUT;",
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def table_of(postgres_dir: Path, database: str, collection: str) -> str:
    """The table FerretDB 1.24 keeps ``collection`` of ``database`` in (a hashed name, in the database's schema)."""
    rows = psql_rows(postgres_dir, f"SELECT _jsonb->>'table' FROM \"{database}\"._ferretdb_database_metadata "
                                   f"WHERE _jsonb->>'_id' = '{collection}'")
    if not rows:
        raise LookupError(f"no collection {collection} in {database}")
    return rows[0][0]


def counts(postgres_dir: Path, database: str, table: str) -> dict[str, int]:
    row = psql_rows(postgres_dir, f"SELECT {', '.join(f'coalesce({c}, 0)' for c in COUNTS)} FROM "
                                  f"pg_stat_user_tables WHERE schemaname = '{database}' AND relname = '{table}'")[0]
    return dict(zip(COUNTS, map(int, row), strict=True))


async def settled_counts(postgres_dir: Path, database: str, table: str, timeout: float = 60) -> dict[str, int]:
    """The counts once every backend has reported. A backend reports when it goes idle, but at most once a second:
    one that reported less than a second before waits for PostgreSQL's idle interval (10 s, PGSTAT_IDLE_INTERVAL
    in pgstat.c). So: read each second until the counts have not moved for ``QUIET`` seconds."""
    deadline = time.monotonic() + timeout
    last = await asyncio.to_thread(counts, postgres_dir, database, table)
    still = time.monotonic()
    while time.monotonic() - still < QUIET:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the counts of {database}.{table} still move after {timeout} s")
        await asyncio.sleep(1)
        now = await asyncio.to_thread(counts, postgres_dir, database, table)
        if now != last:
            last, still = now, time.monotonic()
    return last
