"""Scoring's reads: a round's dossiers and where their scoring is (ADR 0015). Routes call these, never the
database. The folds that make the read models are in ``scoring.domain.views``."""

from __future__ import annotations

import re
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from binhchon_kit import key_range, paging
from binhchon_kit.paging import Page
from scoring.domain import scoring
from scoring.domain.views import AWAITING_KEY, ROUND_KEY, awaiting_key, page_key, round_key

# a scoring document's key: its sample code (empty if scoring never opened it), then its dossier id
SCORING_KEY = re.compile(r"^[A-Za-z0-9._-]{0,40}\|[A-Za-z0-9._:-]+$")


def unkeyed(doc: dict[str, Any]) -> dict[str, Any]:
    """A scoring document as the API shows it: without the keys its indexes walk (storage, not the dossier)."""
    return paging.strip(doc, ROUND_KEY, AWAITING_KEY)


class Views:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.db = db

    async def round_dossiers(self, round_id: str, after: str | None, limit: int, total: bool = False) -> Page:
        """The round's dossiers by sample code; the read model holds who submitted, never a score before
        completion."""
        return await paging.page(self.db["scoring"], equals={"round_id": round_id}, limit=limit, count=total,
                                 after=paging.cursor_key(after, SCORING_KEY), key=ROUND_KEY, prefix=f"{round_id}|",
                                 show=unkeyed)


async def _in_round(db: AsyncDatabase[dict[str, Any]], round_id: str, key: str) -> list[dict[str, Any]]:
    """The round's scoring documents that ``key`` (a round key, ``<round>|…``) holds, walked in its index."""
    prefix = f"{round_id}|"
    return [doc for doc in await key_range.in_range(db["scoring"], prefix, key_range.after(prefix), field=key)
            if doc.get("round_id") == round_id]


async def of_round(db: AsyncDatabase[dict[str, Any]], round_id: str) -> list[dict[str, Any]]:
    """Every scoring document of the round, walked in the ``round_key`` index: ``{round_id: …}`` is a
    containment FerretDB answers by reading every scoring document of every round (issue 14)."""
    return await _in_round(db, round_id, ROUND_KEY)


async def awaiting_decision(db: AsyncDatabase[dict[str, Any]], round_id: str) -> list[dict[str, Any]]:
    """The round's dossiers whose scoring has completed and awaits a decision, walked in the ``awaiting_key``
    index: those alone, however many dossiers the round has had."""
    return [doc for doc in await _in_round(db, round_id, AWAITING_KEY) if doc.get("status") == scoring.COMPLETED]


async def setup(db: AsyncDatabase[dict[str, Any]]) -> None:
    """The list's indexes (the compound one serves MongoDB in production), and the keys of documents stored
    before keys existed."""
    for keys in (["page_key"], ["round_id", "page_key"], ["round_id", "status"], [ROUND_KEY], [AWAITING_KEY]):
        await db["scoring"].create_index([(k, ASCENDING) for k in keys])
    await paging.fill_keys(db, "scoring", page_key)
    await paging.fill_keys(db, "scoring", round_key, key=ROUND_KEY)
    await paging.fill_keys(db, "scoring", awaiting_key, key=AWAITING_KEY)
