"""A proposal's refresh counts its dossiers still awaiting a decision by their documents' ``_id``s: PostgreSQL
reads those rows only, however many scoring documents are stored (issue 14; 2,000 older ones here)."""

from __future__ import annotations

import pytest

from binhchon_kit.testing.rows_read import rows_read
from scoring.awaited import still_completed
from scoring.domain import scoring

pytestmark = pytest.mark.integration

OLDER = 2_000


async def test_the_count_reads_the_proposals_dossiers_only(infra, mongo, unique):
    db = mongo[f"scoring_rows_{unique}"]
    documents = db["scoring"]
    await documents.insert_many([{"_id": scoring.scoring_stream(f"dossier-old{n}"), "dossier_id": f"dossier-old{n}",
                                  "status": scoring.COMPLETED} for n in range(OLDER)])
    mine = {"dossier-a": scoring.COMPLETED, "dossier-b": "decided", "dossier-c": scoring.COMPLETED}
    await documents.insert_many([{"_id": scoring.scoring_stream(i), "dossier_id": i, "status": status}
                                 for i, status in mine.items()])
    counted: list[int] = []

    async def count() -> None:
        counted.append(await still_completed(documents, [*mine, "dossier-a", "dossier-unknown"]))

    reads = await rows_read(infra, db, "scoring", count)
    print(f"rows read: scoring {reads}")
    assert counted == [2]  # each dossier once, whatever the proposal repeats; one unknown here counts nothing
    assert reads.seq_rows == 0 and reads.rows <= 10, reads
