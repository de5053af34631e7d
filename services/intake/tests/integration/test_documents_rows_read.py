"""A dossier's documents are looked up by their SHA-256 in the unique ``filename`` index: PostgreSQL reads their
entries only, however many documents are stored (issue 14; 2,000 older entries here)."""

from __future__ import annotations

import hashlib

import pytest
from bson import ObjectId

from binhchon_kit.testing.rows_read import rows_read
from intake.adapters.documents import BUCKET, Documents

pytestmark = pytest.mark.integration

OLDER = 2_000


def sha(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def entry(n: int) -> dict:
    return {"_id": ObjectId(), "filename": sha(n), "length": 10, "chunkSize": 261120,
            "metadata": {"media_type": "application/pdf", "file_name": f"{n}.pdf"}}


async def test_a_dossiers_documents_read_their_own_entries(infra, mongo, unique):
    db = mongo[f"intake_docs_{unique}"]
    documents = Documents(db)
    await documents.setup()
    await db[f"{BUCKET}.files"].insert_many([entry(n) for n in range(OLDER + 3)])
    mine = [sha(OLDER), sha(OLDER + 1), sha(OLDER + 2), sha(OLDER), sha(-1)]  # a repeat, one never stored
    found: dict = {}

    async def lookups() -> None:
        found.update(await documents.find_many(mine))
        found["one"] = await documents.find(sha(OLDER + 1))

    reads = await rows_read(infra, db, f"{BUCKET}.files", lookups)
    print(f"rows read: documents.files {reads}")
    assert sorted(k for k in found if k != "one") == sorted({sha(OLDER), sha(OLDER + 1), sha(OLDER + 2)})
    assert found["one"].file_name == f"{OLDER + 1}.pdf" and found[sha(OLDER)].sha256 == sha(OLDER)
    assert reads.seq_rows == 0 and reads.rows <= 10, reads
    assert await documents.find(sha(OLDER)[:-1]) is None  # a prefix of a stored one is not it
