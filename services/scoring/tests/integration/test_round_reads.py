"""A round's scoring documents (the council's proposal, the version a round without a pin was first scored under)
and its listed proposals (after a decision) are read by their ``round_key`` index: PostgreSQL touches a bounded
number of pages however many rounds came before (issue 14; ADR 0053 amended 2026-11-30). Before, ``{round_id: …}``
was a containment FerretDB answered by reading every scoring document and every proposal ever stored.

The 2,000 older documents are stored as the code before left them (no ``round_key``): the deploy's fill gives them
theirs, and the round's own are found among them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from binhchon_kit import paging
from binhchon_kit.testing.table_reads import reads, table_pages
from scoring import views
from scoring.awaited import COLLECTION, AwaitedDecisions
from scoring.domain import scoring
from scoring.domain.views import page_key

pytestmark = pytest.mark.integration
OLDER = 2_000
AT = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
# pages each of the round's reads may touch, whatever OLDER: its 3 documents, its 2 listed proposals. Measured: 6
# and 6; the code before (every document, every proposal read) 358 and 145
BOUND = 40


def document(dossier_id: str, round_id: str, status: str, version: int = 1) -> dict[str, Any]:
    doc = {"_id": scoring.scoring_stream(dossier_id), "dossier_id": dossier_id, "round_id": round_id,
           "status": status, "sample_code": f"MAU-{dossier_id[-3:]}", "rulebook_version": version, "opened_at": AT,
           "product_name": "Mật ong", "result": {"average_total": 80}}
    return {**doc, "page_key": page_key(doc)}


def proposal(proposal_id: str, round_id: str, listed: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": proposal_id, "proposal_id": proposal_id, "round_id": round_id, "proposed_at": AT}
    return {**doc, paging.PAGE_KEY: f"2026-11-30T08:00:00.000Z|{proposal_id}"} if listed else doc


async def test_a_rounds_documents_and_proposals_read_a_bounded_number_of_pages(counted_store, counted_mongo, unique):
    name = f"scoring_round_{unique}"
    db = counted_mongo[name]
    older = [document(f"dossier-old{n:04d}", f"round-old{n // 40}", scoring.COMPLETED) for n in range(OLDER)]
    for start in range(0, OLDER, 500):
        await db["scoring"].insert_many(older[start:start + 500])
        await db[COLLECTION].insert_many([proposal(f"proposal-old{n}", f"round-old{n // 4}", listed=n % 2 == 0)
                                          for n in range(start, start + 500)])
    await db["scoring"].insert_many([document("dossier-a01", "round-new", scoring.COMPLETED, version=3),
                                     document("dossier-a02", "round-new", "decided", version=3),
                                     document("dossier-a03", "round-new", scoring.NOT_OPENED, version=3)])
    await db[COLLECTION].insert_many([proposal("proposal-new1", "round-new", listed=True),
                                      proposal("proposal-new2", "round-new", listed=False),
                                      proposal("proposal-new3", "round-new", listed=True)])
    # the deploy: indexes, and the keys of what was stored before them
    await views.setup(db)
    awaited = AwaitedDecisions(db, authority_of=None)  # type: ignore[arg-type]  # refreshes nothing here
    await awaited.setup()
    found: dict[str, list[str]] = {}

    async def round_documents() -> None:
        found["scoring"] = sorted(d["dossier_id"] for d in await views.of_round(db, "round-new"))

    async def round_proposals() -> None:
        found["proposals"] = sorted(d["_id"] for d in await awaited.of_round("round-new"))

    documents = (await reads(counted_store, name, round_documents))["scoring"]
    proposals = (await reads(counted_store, name, round_proposals))[COLLECTION]
    print(f"\na round's scoring documents: {documents}; its listed proposals: {proposals}")
    assert found == {"scoring": ["dossier-a01", "dossier-a02", "dossier-a03"],
                     "proposals": ["proposal-new1", "proposal-new3"]}
    assert documents.pages < BOUND and proposals.pages < BOUND, (documents, proposals)
    assert table_pages(counted_store, name, "scoring") > 5 * BOUND  # what the containment read

    # the round's list (ADR 0015) walks the same key: its first page, and the next from its cursor
    first = await views.Views(db).round_dossiers("round-new", None, 2)
    assert [d["dossier_id"] for d in first.items] == ["dossier-a01", "dossier-a02"] and first.next is not None
    rest = await views.Views(db).round_dossiers("round-new", first.next, 2)
    assert [d["dossier_id"] for d in rest.items] == ["dossier-a03"] and rest.next is None


async def test_a_proposal_reads_the_rounds_dossiers_awaiting_a_decision_not_every_dossier_it_had(
        counted_store, counted_mongo, unique):
    """At ~170 dossiers a district round (the pipeline bench's 1,000), a proposal read every one of them, the
    decided with the awaiting: 1.3 s at p50 for the chair's POST. Its read is now the ``awaiting_key`` range."""
    name = f"scoring_awaiting_{unique}"
    db = counted_mongo[name]
    decided = [document(f"dossier-d{n:04d}", "round-big", "approved") for n in range(400)]
    awaiting = [document(f"dossier-w{n}", "round-big", scoring.COMPLETED) for n in range(3)]
    await db["scoring"].insert_many([*decided[:200], *awaiting, *decided[200:],
                                     document("dossier-open", "round-big", scoring.OPEN),
                                     document("dossier-other", "round-other", scoring.COMPLETED)])
    await views.setup(db)  # stored as the code before left them: the deploy's fill gives them their keys
    found: dict[str, list[str]] = {}

    async def awaiting_decision() -> None:
        found["awaiting"] = sorted(d["dossier_id"] for d in await views.awaiting_decision(db, "round-big"))

    async def every_dossier() -> None:
        found["all"] = [d["dossier_id"] for d in await views.of_round(db, "round-big")]

    read = (await reads(counted_store, name, awaiting_decision))["scoring"]
    before = (await reads(counted_store, name, every_dossier))["scoring"]
    print(f"\nthe round's dossiers awaiting a decision: {read}; every dossier of the round: {before}")
    assert found["awaiting"] == ["dossier-w0", "dossier-w1", "dossier-w2"] and len(found["all"]) == 404
    assert read.pages < BOUND < before.pages, (read, before)
