"""What the pipeline bench's store spends its time on: PostgreSQL's own statistics under FerretDB, named by
collection.

- ``pg_stat_statements`` (loaded at the bench's PostgreSQL start through ``BINHCHON_PG_SETTINGS``, so the tests'
  clusters are untouched): the statements with most execution time and most calls, per dossier, their FerretDB
  tables (``"schema"."hashed_name"``) written as ``service.collection``;
- ``pg_stat_user_tables``: sequential scans and the rows they read per collection (a filter FerretDB did not push
  down reads the whole table; so does one no index answers), and rows written per collection.
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from binhchon_kit.testing.infra import LOCAL

if TYPE_CHECKING:
    from faults.system import System

# appended to the bench's PostgreSQL configuration (infra/local/postgres.sh); planning counted too: FerretDB's
# statements are planned again on each new connection
SETTINGS = ("shared_preload_libraries = 'pg_stat_statements'\n"
            "pg_stat_statements.track = all\npg_stat_statements.track_planning = on\n"
            "pg_stat_statements.max = 10000")
TABLE = re.compile(r'"([^"]+)"\."([^"]+)"')


def psql(system: System, sql: str) -> list[str]:
    """Rows of a query on the store's PostgreSQL, as its owner, one tab-separated line each."""
    out = subprocess.run([str(LOCAL / "postgres.sh"), "psql", str(system.store.postgres.dir)],
                         input=f"COPY ({sql}) TO STDOUT;", capture_output=True, text=True, timeout=60,
                         check=True).stdout
    return [line for line in out.splitlines() if line]


def enable(system: System) -> None:
    """The extension's view in FerretDB's database (the library itself was loaded at start)."""
    system.store.postgres.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements;")


def reset(system: System) -> None:
    psql(system, "SELECT pg_stat_statements_reset()")


def table_names(system: System) -> dict[tuple[str, str], str]:
    """(schema, table) → ``service.collection``, through FerretDB's metadata table of each database's schema
    (FerretDB 1.24 keeps a collection in a table of a hashed name)."""
    services = {database: service for service, database in system.databases.items()}
    schemas = [r for r in psql(system, "SELECT DISTINCT schemaname FROM pg_stat_user_tables "
                                       "WHERE relname = '_ferretdb_database_metadata'")]
    names: dict[tuple[str, str], str] = {}
    if schemas:
        union = " UNION ALL ".join(
            f"SELECT '{s}', _jsonb->>'table', _jsonb->>'_id' FROM \"{s}\"._ferretdb_database_metadata"
            for s in schemas)
        for line in psql(system, union):
            schema, table, collection = line.split("\t")
            names[(schema, table)] = f"{services.get(schema, schema)}.{collection}"
    for schema in schemas:
        names[(schema, "_ferretdb_database_metadata")] = f"{services.get(schema, schema)}.*"
    return names


def named(names: dict[tuple[str, str], str], schema: str, table: str) -> str:
    return names.get((schema, table), f"{schema}.{table}")


Counts = dict[tuple[str, str], dict[str, int]]


def tables(system: System) -> Counts:
    """Per table, PostgreSQL's counts so far: rows written, sequential scans and the rows they read, index scans
    (its statistics, flushed within 1 s)."""
    rows = psql(system, "SELECT schemaname, relname, n_tup_ins + n_tup_upd + n_tup_del, seq_scan, seq_tup_read, "
                        "coalesce(idx_scan, 0) FROM pg_stat_user_tables")
    counts: Counts = {}
    for line in rows:
        schema, table, written, seq, seq_read, idx = line.split("\t")
        counts[(schema, table)] = {"written": int(written), "seq_scan": int(seq), "seq_tup_read": int(seq_read),
                                   "idx_scan": int(idx)}
    return counts


def between(before: Counts, after: Counts, names: dict[tuple[str, str], str]) -> dict[str, dict[str, int]]:
    """What each collection's counts grew by between two readings."""
    spent: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, c in after.items():
        for k, v in c.items():
            spent[named(names, *key)][k] += v - before.get(key, {}).get(k, 0)
    return {n: dict(c) for n, c in spent.items()}


def scans(spent: dict[str, dict[str, int]], per: float, top: int) -> dict[str, Any]:
    """Sequential scans per dossier: the rows they read in all, and the ``top`` collections that read most."""
    worst = sorted(((n, c) for n, c in spent.items() if c["seq_scan"]), key=lambda x: -x[1]["seq_tup_read"])[:top]
    return {"seq_tup_read_per_dossier": round(sum(c["seq_tup_read"] for c in spent.values()) / per, 1),
            "seq_scan_per_dossier": round(sum(c["seq_scan"] for c in spent.values()) / per, 1),
            "by_collection": {n: {k: round(c[k] / per, 2) for k in ("seq_scan", "seq_tup_read", "idx_scan")}
                              for n, c in worst}}


def statements(system: System, names: dict[tuple[str, str], str], per: float, top: int) -> dict[str, Any]:
    """The ``top`` statements by total time (execution + planning) and by calls since the last reset, per
    dossier, with the share of the whole store's statement time each takes."""
    rows = psql(system, "SELECT regexp_replace(query, '\\s+', ' ', 'g'), calls, total_exec_time, total_plan_time, "
                        "rows FROM pg_stat_statements WHERE calls > 0")
    stats = []
    for line in rows:
        query, calls, exec_ms, plan_ms, n = line.split("\t")
        text = TABLE.sub(lambda m: f"<{named(names, m[1], m[2])}>", query.replace("\\\\", "\\"))
        stats.append((text, int(calls), float(exec_ms) + float(plan_ms), int(n)))
    total = sum(s[2] for s in stats) or 1.0

    def line(s: tuple[str, int, float, int]) -> dict[str, Any]:
        text, calls, ms, n = s
        return {"query": text[:300], "calls": round(calls / per, 2), "ms": round(ms / per, 3),
                "share": round(ms / total, 3), "rows_per_call": round(n / max(calls, 1), 1)}

    return {"ms_per_dossier": round(total / per, 2),
            "calls_per_dossier": round(sum(s[1] for s in stats) / per, 1),
            "by_time": [line(s) for s in sorted(stats, key=lambda s: -s[2])[:top]],
            "by_calls": [line(s) for s in sorted(stats, key=lambda s: -s[1])[:top]]}
