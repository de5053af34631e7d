"""A proposal's refresh counts its dossiers still awaiting a decision by their documents' ``_id``s: PostgreSQL
reads those rows' pages only, however many scoring documents are stored (issue 14; 2,000 older ones here;
``pg_stat_statements``, binhchon_kit.testing.table_reads)."""

from __future__ import annotations

import pytest

from binhchon_kit.testing.table_reads import reads, table_pages
from scoring.awaited import still_completed
from scoring.domain import scoring

pytestmark = pytest.mark.integration

OLDER = 2_000
# pages, measured the same on every run: 9; before (2a60ef1^1) `dossier_id $in` read every document: 75
BOUND = 20


async def test_the_count_reads_the_proposals_dossiers_only(counted_store, counted_mongo, unique):
    db = counted_mongo[f"scoring_rows_{unique}"]
    documents = db["scoring"]
    await documents.insert_many([{"_id": scoring.scoring_stream(f"dossier-old{n}"), "dossier_id": f"dossier-old{n}",
                                  "status": scoring.COMPLETED} for n in range(OLDER)])
    mine = {"dossier-a": scoring.COMPLETED, "dossier-b": "decided", "dossier-c": scoring.COMPLETED}
    await documents.insert_many([{"_id": scoring.scoring_stream(i), "dossier_id": i, "status": status}
                                 for i, status in mine.items()])
    counted: list[int] = []

    async def count() -> None:
        counted.append(await still_completed(documents, [*mine, "dossier-a", "dossier-unknown"]))

    read = (await reads(counted_store, db.name, count))["scoring"]
    print(f"\npages read: scoring {read}")
    assert counted == [2]  # each dossier once, whatever the proposal repeats; one unknown here counts nothing
    assert read.pages <= BOUND, read

    # the counts see a whole read: a filter no index serves touches every page of the 2,003 documents
    full = (await reads(counted_store, db.name, lambda: documents.count_documents({"nowhere": 1})))["scoring"]
    assert full.pages >= table_pages(counted_store, db.name, "scoring") > BOUND, full
