"""The ledger keeps a round's sitters on each scoring.completed by reading that round's sitters only, by their keys
(``<round>|<member>``), however many sitters of other rounds are stored (issue 14): PostgreSQL's own counts of the
rows read, with 2,000 older sitters."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from binhchon_kit.testing.rows_read import rows_read
from certification.ledger import Ledger

pytestmark = pytest.mark.integration

OLDER = 2_000
ROUND = "round-5ab"


async def test_keeping_the_sitters_reads_the_rounds_own(infra, mongo, unique):
    db = mongo[f"cert_sitters_{unique}"]
    ledger = Ledger(SimpleNamespace(db=db), lambda: date(2026, 11, 23))  # type: ignore[arg-type]  # its database
    await ledger.setup()
    # rounds whose keys sort before and after this round's, and one whose id starts with this one's
    others = [f"round-{n:04d}" if n % 2 else f"round-9{n:04d}" for n in range(OLDER // 10)] + [f"{ROUND}0"]
    await db["ledger_sitters"].insert_many([{"_id": f"{r}|gk-{m}", "round_id": r, "member_id": f"gk-{m}"}
                                            for r in others for m in range(10)])
    await db["ledger_sitters"].insert_many([{"_id": f"{ROUND}|gk-{m}", "round_id": ROUND, "member_id": f"gk-{m}"}
                                            for m in (1, 2)])

    reads = await rows_read(infra, db, "ledger_sitters", lambda: ledger._keep_sitters(ROUND, ["gk-1", "gk-2", "gk-3"]))
    print(f"rows read: ledger_sitters {reads}")
    assert reads.seq_rows == 0 and reads.rows <= 10, reads
    kept = await db["ledger_sitters"].find({"round_id": ROUND}).to_list()
    assert sorted(d["member_id"] for d in kept) == ["gk-1", "gk-2", "gk-3"]
    assert sorted(d["member_id"] for d in await ledger._sitters(ROUND)) == ["gk-1", "gk-2", "gk-3"]
