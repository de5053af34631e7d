"""The proposals awaiting their authority's decision: an approver's start list (issue 15).

One document per proposal in ``awaited_decisions``, recomputed whole from what scoring holds — the proposal, its
round's approving authority, its dossiers' status in the ``scoring`` read model — whenever one of those changes
here: when the chair proposes, after each decision on it (inside the decision's lease, so two recomputations of
one proposal never cross), and at start-up for every proposal a crash left unrecomputed. A proposal is awaited
while one of its dossiers has completed scoring and is not decided; only then does its document carry the list's
keys (``page_key``: proposed at, then its id; ``authority_key``: the authority, then ``page_key``), so the list
reads keyed rows only (ADR 0015). Oldest first: the proposal that has waited longest is on top.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, Awaitable, Callable
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from binhchon_kit import key_range, paging
from binhchon_kit.contracts.intake import ApprovingAuthority
from binhchon_kit.contracts.scoring import ResultProposed
from binhchon_kit.envelope import format_time
from binhchon_kit.paging import Page
from scoring.domain import scoring
from scoring.domain.errors import Refused

COLLECTION = "awaited_decisions"
AUTHORITY_KEY = "authority_key"
ROUND_KEY = "round_key"  # the round, then the proposal: a listed proposal's round is one range of this key's index
# a key of the list: the proposal's time (CloudEvents form, milliseconds), then its stream id
AWAITED_KEY = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\|proposal-[0-9a-f-]{36}$")

AuthorityOf = Callable[[str], Awaitable[ApprovingAuthority]]


def list_keys(authority_id: str, proposed_at: datetime, proposal_id: str) -> dict[str, str]:
    key = f"{format_time(proposed_at)}|{proposal_id}"
    return {paging.PAGE_KEY: key, AUTHORITY_KEY: f"{authority_id}|{key}"}


def round_key(doc: dict[str, Any]) -> str | None:
    """Set on a proposal's document while it is listed (then its round holds no ``|``); None otherwise."""
    return f"{doc['round_id']}|{doc['_id']}" if doc.get(paging.PAGE_KEY) and doc.get("round_id") else None


IDS_PER_QUERY = 1_000  # FerretDB b9 answers an `_id $in` of up to 1,000 strings from the `_id` index


async def still_completed(documents: AsyncCollection[dict[str, Any]], dossier_ids: list[str]) -> int:
    """How many of these dossiers' scoring documents are completed (awaiting a decision). Asked by their ``_id``s
    (``scoring-<dossier>``), which FerretDB b9 answers from the `_id` index: ``dossier_id $in`` is not pushed down
    and read every scoring document (issue 14)."""
    keys = sorted({scoring.scoring_stream(i) for i in dossier_ids})
    waiting = 0
    for start in range(0, len(keys), IDS_PER_QUERY):
        found = await documents.find({"_id": {"$in": keys[start:start + IDS_PER_QUERY]}},
                                     projection={"status": 1}).to_list()
        waiting += sum(1 for d in found if d.get("status") == scoring.COMPLETED)
    return waiting


class AwaitedDecisions:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], authority_of: AuthorityOf) -> None:
        self.db = db
        self.rows = db[COLLECTION]
        self.authority_of = authority_of  # the round's approving authority (Refused while its round is unknown)

    async def setup(self) -> None:
        for key in (paging.PAGE_KEY, AUTHORITY_KEY, "round_id", ROUND_KEY):
            await self.rows.create_index([(key, ASCENDING)])
        await paging.fill_keys(self.db, COLLECTION, round_key, key=ROUND_KEY)

    async def refresh(self, proposal: ResultProposed, proposed_at: datetime) -> dict[str, Any]:
        """Recompute the proposal's document from what scoring holds now; answers it."""
        ids = [row.dossier_id for row in proposal.rows]
        waiting = await still_completed(self.db["scoring"], ids)
        round_ = await self.db["rounds"].find_one({"_id": proposal.round_id}) or {}
        try:
            authority: ApprovingAuthority | None = await self.authority_of(proposal.round_id)
        except Refused:
            authority = None  # its round.opened has not come: listed for no one until it has (and a refresh)
        doc: dict[str, Any] = {
            "proposal_id": proposal.proposal_id, "round_id": proposal.round_id, "round_code": round_.get("code"),
            "round_title": round_.get("title"), "programme": round_.get("programme"), "level": round_.get("level"),
            "authority_id": authority.id if authority else None,
            "authority_name": authority.name if authority else None,
            "dossiers": len(ids), "undecided": waiting, "proposed_at": proposed_at}
        if waiting and authority is not None:
            doc.update(list_keys(authority.id, proposed_at, proposal.proposal_id))
            doc[ROUND_KEY] = round_key({**doc, "_id": proposal.proposal_id})
        await self.rows.replace_one({"_id": proposal.proposal_id}, doc, upsert=True)
        return doc

    async def of_round(self, round_id: str) -> list[dict[str, Any]]:
        """The round's proposals still listed (a decision may settle dossiers several of them hold), walked in the
        ``round_key`` index: ``{round_id: …}`` read every proposal ever made (issue 14)."""
        prefix = f"{round_id}|"
        return [row for row in await key_range.in_range(self.rows, prefix, key_range.after(prefix), field=ROUND_KEY)
                if row.get("round_id") == round_id and row.get(paging.PAGE_KEY)]

    async def listed(self) -> list[dict[str, Any]]:
        """Every proposal still awaited (its ids only), read by the list's key."""
        return await key_range.in_range(self.rows, "", None, field=paging.PAGE_KEY, projection={"_id": 1})

    async def repair(self, proposals: AsyncIterable[tuple[ResultProposed, datetime]]) -> int:
        """Recompute those not known here, or known as still awaited: what a crash between a proposal (or a
        decision) and its recomputation left. Returns how many were recomputed."""
        listed = {row["_id"]: bool(row.get(paging.PAGE_KEY)) async for row in self.rows.find(
            {}, projection={"_id": 1, paging.PAGE_KEY: 1})}
        done = 0
        async for proposal, at in proposals:
            if listed.get(proposal.proposal_id, True):
                await self.refresh(proposal, at)
                done += 1
        return done

    async def page(self, authorities: frozenset[str], after: str | None, limit: int) -> Page:
        """The proposals awaiting a decision of one of ``authorities``, oldest first."""
        after = paging.cursor_key(after, AWAITED_KEY)
        show = lambda row: paging.strip(row, AUTHORITY_KEY)  # noqa: E731
        if not authorities:
            return Page([], limit, None)
        if len(authorities) == 1:  # the usual approver: the database walks that authority's rows only
            [authority] = authorities
            return await paging.page(self.rows, equals={}, after=after, limit=limit, key=AUTHORITY_KEY,
                                     prefix=f"{authority}|", show=show)
        return await paging.page(self.rows, equals={}, after=after, limit=limit, floor="", show=show,
                                 keep=lambda row: row.get("authority_id") in authorities)
