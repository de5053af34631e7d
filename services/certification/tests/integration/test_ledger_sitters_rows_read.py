"""The ledger keeps a round's sitters on each scoring.completed by reading that round's sitters only, by their keys
(``<round>|<member>``), however many sitters of other rounds are stored (issue 14): PostgreSQL's own counts of the
pages read (``pg_stat_statements``, binhchon_kit.testing.table_reads), with 2,000 older sitters."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from binhchon_kit.testing.table_reads import reads, table_pages
from certification.ledger import Ledger

pytestmark = pytest.mark.integration

OLDER = 2_000
# pages, the read and the one sitter inserted, measured the same on every run: 10; before (2a60ef1^1) the equality on
# `round_id` read every sitter: 80
BOUND = 30
ROUND = "round-5ab"


async def test_keeping_the_sitters_reads_the_rounds_own(counted_store, counted_mongo, unique):
    db = counted_mongo[f"cert_sitters_{unique}"]
    ledger = Ledger(SimpleNamespace(db=db), lambda: date(2026, 11, 23))  # type: ignore[arg-type]  # its database
    await ledger.setup()
    # rounds whose keys sort before and after this round's, and one whose id starts with this one's
    others = [f"round-{n:04d}" if n % 2 else f"round-9{n:04d}" for n in range(OLDER // 10)] + [f"{ROUND}0"]
    await db["ledger_sitters"].insert_many([{"_id": f"{r}|gk-{m}", "round_id": r, "member_id": f"gk-{m}"}
                                            for r in others for m in range(10)])
    await db["ledger_sitters"].insert_many([{"_id": f"{ROUND}|gk-{m}", "round_id": ROUND, "member_id": f"gk-{m}"}
                                            for m in (1, 2)])

    read = (await reads(counted_store, db.name, lambda: ledger._keep_sitters(ROUND, ["gk-1", "gk-2", "gk-3"])))
    print(f"\npages read: {read}")
    assert read["ledger_sitters"].pages <= BOUND, read
    kept = await db["ledger_sitters"].find({"round_id": ROUND}).to_list()
    assert sorted(d["member_id"] for d in kept) == ["gk-1", "gk-2", "gk-3"]
    assert sorted(d["member_id"] for d in await ledger._sitters(ROUND)) == ["gk-1", "gk-2", "gk-3"]

    # the counts see a whole read: a filter no index serves touches every page of the 2,000 sitters
    full = (await reads(counted_store, db.name, lambda: db["ledger_sitters"].count_documents({"nowhere": 1})))
    assert full["ledger_sitters"].pages >= table_pages(counted_store, db.name, "ledger_sitters") > BOUND, full
