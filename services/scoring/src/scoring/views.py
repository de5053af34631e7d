"""Scoring's reads: a round's dossiers and where their scoring is (ADR 0015). Routes call these, never the
database. The folds that make the read models are in ``scoring.domain.views``."""

from __future__ import annotations

import re
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from binhchon_kit import paging
from binhchon_kit.paging import Page
from scoring.domain.views import page_key

# a scoring document's key: its sample code (empty if scoring never opened it), then its dossier id
SCORING_KEY = re.compile(r"^[A-Za-z0-9._-]{0,40}\|[A-Za-z0-9._:-]+$")


class Views:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.db = db

    async def round_dossiers(self, round_id: str, after: str | None, limit: int, total: bool = False) -> Page:
        """The round's dossiers by sample code; the read model holds who submitted, never a score before
        completion."""
        return await paging.page(self.db["scoring"], equals={"round_id": round_id}, limit=limit, count=total,
                                 after=paging.cursor_key(after, SCORING_KEY))


async def setup(db: AsyncDatabase[dict[str, Any]]) -> None:
    """The list's indexes (the compound one serves MongoDB in production), and the keys of documents stored
    before keys existed."""
    for keys in (["page_key"], ["round_id", "page_key"], ["round_id", "status"]):
        await db["scoring"].create_index([(k, ASCENDING) for k in keys])
    await paging.fill_keys(db, "scoring", page_key)
