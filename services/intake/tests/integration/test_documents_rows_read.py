"""A dossier's documents are looked up by their SHA-256 in the unique ``filename`` index: PostgreSQL reads their
entries' pages only, however many documents are stored (issue 14; 2,000 older entries here; ``pg_stat_statements``,
binhchon_kit.testing.table_reads)."""

from __future__ import annotations

import hashlib

import pytest
from bson import ObjectId

from binhchon_kit.testing.table_reads import reads, table_pages
from intake.adapters.documents import BUCKET, Documents

pytestmark = pytest.mark.integration

OLDER = 2_000
# pages of the five lookups, measured the same on every run: 24; before (2a60ef1^1) the `$in` and the equality each
# read every entry: 366 (183 + 183)
BOUND = 60


def sha(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def entry(n: int) -> dict:
    return {"_id": ObjectId(), "filename": sha(n), "length": 10, "chunkSize": 261120,
            "metadata": {"media_type": "application/pdf", "file_name": f"{n}.pdf"}}


async def test_a_dossiers_documents_read_their_own_entries(counted_store, counted_mongo, unique):
    db = counted_mongo[f"intake_docs_{unique}"]
    documents = Documents(db)
    await documents.setup()
    await db[f"{BUCKET}.files"].insert_many([entry(n) for n in range(OLDER + 3)])
    mine = [sha(OLDER), sha(OLDER + 1), sha(OLDER + 2), sha(OLDER), sha(-1)]  # a repeat, one never stored
    found: dict = {}

    async def lookups() -> None:
        found.update(await documents.find_many(mine))
        found["one"] = await documents.find(sha(OLDER + 1))

    read = (await reads(counted_store, db.name, lookups))[f"{BUCKET}.files"]
    print(f"\npages read: documents.files {read}")
    assert sorted(k for k in found if k != "one") == sorted({sha(OLDER), sha(OLDER + 1), sha(OLDER + 2)})
    assert found["one"].file_name == f"{OLDER + 1}.pdf" and found[sha(OLDER)].sha256 == sha(OLDER)
    assert read.pages <= BOUND, read
    assert await documents.find(sha(OLDER)[:-1]) is None  # a prefix of a stored one is not it

    # the counts see a whole read: a filter no index serves touches every page of the 2,003 entries
    full = (await reads(counted_store, db.name, lambda: documents.files.count_documents({"length": 11})))
    assert full[f"{BUCKET}.files"].pages >= table_pages(counted_store, db.name, f"{BUCKET}.files") > BOUND, full
