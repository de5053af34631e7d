"""Sequence numbers on the real store (binhchon_kit.sequence, ADR 0053): one read and one insert a claim, no
insert lost to claimants of the same process racing, and a number another replica took skipped, never handed out
twice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from binhchon_kit import sequence
from binhchon_kit.sequence import claim_id, last_number, next_number

pytestmark = pytest.mark.integration


class CountedInserts:
    """The claims collection, counting the inserts tried on it (each a row PostgreSQL writes, kept or not)."""

    def __init__(self, collection: Any) -> None:
        self.collection, self.tried = collection, 0

    async def insert_one(self, doc: dict[str, Any]) -> Any:
        self.tried += 1
        return await self.collection.insert_one(doc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.collection, name)


class Database:
    def __init__(self, db: Any) -> None:
        self.db, self.claims = db, CountedInserts(db["sequence_claims"])

    def __getitem__(self, name: str) -> Any:
        return self.claims if name == "sequence_claims" else self.db[name]


async def test_claimants_racing_in_one_process_each_get_the_next_number_with_one_insert(mongo, unique):
    db = Database(mongo[f"kit_{unique}"])
    numbers = await asyncio.gather(*(next_number(db, "receipt:r1", claimed_for=f"d{n}") for n in range(20)))  # type: ignore[arg-type]
    assert sorted(numbers) == list(range(1, 21))
    assert db.claims.tried == 20  # before: the claimants started from one hint and lost insert after insert
    assert await last_number(db.db, "receipt:r1") == 20
    assert await db.db["sequence_hints"].count_documents({}) == 0  # no hint written any more


async def test_a_number_another_replica_claimed_between_the_read_and_the_insert_is_skipped(mongo, unique, monkeypatch):
    db = mongo[f"kit_{unique}"]
    assert await next_number(db, "cert") == 1
    read = sequence.last_number

    async def stale_once(db_: Any, scope: str) -> int:
        """The other replica inserts number 2 right after this claimant read the last claim (1)."""
        last = await read(db_, scope)
        if last == 1:
            await db["sequence_claims"].insert_one({"_id": claim_id(scope, 2), "for": "the other replica"})
        return last

    monkeypatch.setattr(sequence, "last_number", stale_once)
    assert await next_number(db, "cert", claimed_for="us") == 3  # lost 2 on the unique key, read again
    monkeypatch.undo()
    claims = {c["_id"]: c["for"] async for c in db["sequence_claims"].find({})}
    assert claims == {claim_id("cert", 1): "", claim_id("cert", 2): "the other replica", claim_id("cert", 3): "us"}


async def test_scopes_whose_names_begin_alike_count_apart(mongo, unique):
    db = mongo[f"kit_{unique}"]
    for scope, count in (("r1", 3), ("r10", 12), ("r1x", 1), ("r", 2)):
        for _ in range(count):
            await next_number(db, scope)
    assert [await last_number(db, s) for s in ("r1", "r10", "r1x", "r", "r2")] == [3, 12, 1, 2, 0]
    with pytest.raises(ValueError, match="no '/'"):
        await next_number(db, "receipt/r1")
