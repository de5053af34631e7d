"""Rows PostgreSQL read for a collection under FerretDB while an operation ran (issue 14's measure in a test).

``pg_stat_user_tables`` per table: ``seq_tup_read`` (rows read by sequential scans: a filter FerretDB did not push
down, or that no index serves, reads the whole collection) and ``idx_tup_fetch`` (rows fetched through an index).
A test stores many older documents, then asks that an operation read a number of rows that does not grow with
them. PostgreSQL publishes a backend's counts when it goes idle, at most once a second (else 10 s later): after
the operation each poll waits past that second and sends a query through every connection of FerretDB's pool
(``NUDGES`` at once), each of which then goes idle again and publishes; the counts are taken once two polls agree.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from binhchon_kit.testing.infra import LOCAL, Infra

NUDGE = "rows_read_nudge"
NUDGES = 24  # more than FerretDB's pool of PostgreSQL connections holds idle


@dataclass(frozen=True)
class Reads:
    seq_scans: int
    seq_rows: int
    idx_scans: int
    idx_rows: int

    def __sub__(self, other: Reads) -> Reads:
        return Reads(self.seq_scans - other.seq_scans, self.seq_rows - other.seq_rows,
                     self.idx_scans - other.idx_scans, self.idx_rows - other.idx_rows)

    @property
    def rows(self) -> int:
        """Every row read, by either path."""
        return self.seq_rows + self.idx_rows


def _psql(infra: Infra, sql: str) -> list[str]:
    if infra.postgres is None:
        raise RuntimeError("rows read are PostgreSQL's statistics: these tests need the native store (infra/local)")
    out = subprocess.run([str(LOCAL / "postgres.sh"), "psql", str(infra.postgres)],
                         input=f"COPY ({sql}) TO STDOUT;", capture_output=True, text=True, timeout=60, check=True)
    return [line for line in out.stdout.splitlines() if line]


def _table(infra: Infra, database: str, collection: str) -> str:
    """FerretDB 1.24 keeps a database in a schema of its name and a collection in a table of a hashed name."""
    name = collection.replace("'", "''")
    rows = _psql(infra, f"SELECT _jsonb->>'table' FROM \"{database}\"._ferretdb_database_metadata "
                        f"WHERE _jsonb->>'_id' = '{name}'")
    assert len(rows) == 1, f"no table for {database}.{collection}"
    return rows[0]


def _reads(infra: Infra, database: str, table: str) -> Reads:
    row = _psql(infra, "SELECT seq_scan, seq_tup_read, coalesce(idx_scan, 0), coalesce(idx_tup_fetch, 0) "
                       f"FROM pg_stat_user_tables WHERE schemaname = '{database}' AND relname = '{table}'")
    seq, seq_rows, idx, idx_rows = (int(v) for v in row[0].split("\t"))
    return Reads(seq, seq_rows, idx, idx_rows)


async def _settled(db: AsyncDatabase[Any], infra: Infra, table: str, polls: int = 15) -> Reads:
    last: Reads | None = None
    for _ in range(polls):
        await asyncio.sleep(1.1)  # past PostgreSQL's once-a-second publication of a backend's counts
        await asyncio.gather(*(db[NUDGE].find_one({"_id": "nudge"}) for _ in range(NUDGES)))
        now = await asyncio.to_thread(_reads, infra, db.name, table)
        if now == last:
            return now
        last = now
    raise AssertionError(f"the statistics of {db.name}.{table} did not settle")


async def rows_read(infra: Infra, db: AsyncDatabase[Any], collection: str,
                    operation: Callable[[], Awaitable[Any]]) -> Reads:
    """What PostgreSQL read of ``collection`` while ``operation`` ran (nothing else may use it meanwhile)."""
    table = await asyncio.to_thread(_table, infra, db.name, collection)
    # a find in a collection that does not exist never reaches PostgreSQL
    await db[NUDGE].update_one({"_id": "nudge"}, {"$set": {"n": 1}}, upsert=True)
    before = await _settled(db, infra, table)
    await operation()
    return await _settled(db, infra, table) - before
