"""What PostgreSQL read for each FerretDB collection while a step ran, for tests that must show a cost does not grow
with a collection (issue 14).

The measure is ``pg_stat_statements``: per statement, the shared buffer pages it touched (``shared_blks_hit +
shared_blks_read``: heap and index pages, found in memory or read) and its calls. Its counters are added as each
statement ends, before the client is told it has (unlike ``pg_stat_user_tables``, which a backend publishes at most
once a second, else after 10 s idle): a reading is exact as soon as the step returns, with no wait. A filter no
index serves reads every page of the collection (2,000 small documents: tens of pages, more for larger ones); an
index lookup touches a handful (the index's root, a leaf, the row's page).

The library must be loaded as PostgreSQL starts, so it is loaded only in a store of these tests' own
(:func:`counted_store`, the ``counted_store`` fixture), never in the suite's; ``pg_stat_statements_reset()``
before each step empties every count of that cluster: nothing else may use the store meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from binhchon_kit.testing.infra import LOCAL, NativeFerretDB, private_store

# appended to the store's PostgreSQL configuration (infra/local/postgres.sh, BINHCHON_PG_SETTINGS); planning counted
# not: a plan reads catalogue pages, more or fewer by which of FerretDB's pooled connections planned it before
SETTINGS = ("shared_preload_libraries = 'pg_stat_statements'\n"
            "pg_stat_statements.track = all\npg_stat_statements.track_planning = off\n"
            "pg_stat_statements.track_utility = off\n"
            "pg_stat_statements.max = 10000")
TABLE = re.compile(r'"([^"]+)"\."([^"]+)"')  # FerretDB names its tables "schema"."hashed_name" in its statements


@dataclass(frozen=True)
class Reads:
    """What the statements naming one collection's table cost: shared buffer pages touched, and calls."""

    pages: int = 0
    calls: int = 0


def psql_rows(postgres_dir: Path, sql: str) -> list[list[str]]:
    """Rows of a query on the cluster in ``postgres_dir`` (infra/local/postgres.sh), as its owner."""
    out = subprocess.run([str(LOCAL / "postgres.sh"), "psql", str(postgres_dir)], input=f"COPY ({sql}) TO STDOUT;",
                         capture_output=True, text=True, timeout=60, check=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


@contextlib.contextmanager
def counted_store(name: str) -> Iterator[NativeFerretDB]:
    """A private store (FerretDB on a PostgreSQL of its own) with ``pg_stat_statements`` loaded and its view made."""
    with private_store(name, pg_settings=SETTINGS) as store:
        store.postgres.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements;")
        yield store


def collections(postgres_dir: Path, database: str) -> dict[str, str]:
    """Table → collection for ``database``: FerretDB 1.24 keeps a database in a schema of its name and each collection
    in a table of a hashed name, listed in the schema's metadata table."""
    rows = psql_rows(postgres_dir, f"SELECT _jsonb->>'table', _jsonb->>'_id' FROM \"{database}\"."
                                   "_ferretdb_database_metadata")
    return {table: collection for table, collection in rows}


def table_pages(store: NativeFerretDB, database: str, collection: str) -> int:
    """The pages of ``collection``'s table (its rows, not its indexes): what a read of every row touches at least."""
    table = {c: t for t, c in collections(store.postgres.dir, database).items()}[collection]
    rows = psql_rows(store.postgres.dir, f"SELECT pg_relation_size('\"{database}\".\"{table}\"') / "
                                         "current_setting('block_size')::int")
    return int(rows[0][0])


def _spent(postgres_dir: Path, database: str) -> dict[str, Reads]:
    names = collections(postgres_dir, database)
    rows = psql_rows(postgres_dir, "SELECT query, calls, shared_blks_hit + shared_blks_read FROM pg_stat_statements "
                                   "WHERE calls > 0")
    pages: dict[str, int] = defaultdict(int)
    calls: dict[str, int] = defaultdict(int)
    for query, n, blocks in rows:
        # a statement naming two tables (none of FerretDB's do, today) counts whole for each
        for schema, table in {(m[1], m[2]) for m in TABLE.finditer(query)}:
            if schema == database and table in names:
                pages[names[table]] += int(blocks)
                calls[names[table]] += int(n)
    return {name: Reads(pages[name], calls[name]) for name in pages}


async def reads(store: NativeFerretDB, database: str, step: Callable[[], Awaitable[Any]]) -> dict[str, Reads]:
    """What PostgreSQL read for each collection of ``database`` while ``step`` ran, by collection name (a collection
    not read is absent). ``store`` is a :func:`counted_store`."""
    await asyncio.to_thread(psql_rows, store.postgres.dir, "SELECT pg_stat_statements_reset()")
    await step()
    return await asyncio.to_thread(_spent, store.postgres.dir, database)
