"""Intake's reads: rounds, dossiers by round, status and area, the overdue list, a receipt's public status
(ADR 0015). Routes call these, never the database. Each list is one page asked of the database
(``binhchon_kit.paging``): equalities on top-level fields, one string key, a limit."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from binhchon_kit import key_range, paging
from binhchon_kit.paging import Page
from binhchon_kit.personal import KeysLookup, open_copies_with, open_with, sealed_kids
from intake.domain import bindings, dossiers
from intake.domain.errors import Refused

# a round's key is its code; a dossier's its receipt number (round code, a dash, five digits); the overdue
# list's, the day its check is due and the receipt number
ROUND_KEY = re.compile(r"^[A-Za-z0-9._-]{1,40}$")
DOSSIER_KEY = re.compile(r"^[A-Za-z0-9._-]{1,40}-\d{5,}$")
CHECK_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}\|[A-Za-z0-9._-]{1,40}-\d{5,}$")
# the selective filters of the dossier lists, each with its own key (dossiers.filter_keys), the most selective first
FILTER_KEYS = {"applicant_id": "applicant_page_key", "round_id": "round_page_key"}
HIDDEN = ("check_key", *FILTER_KEYS.values())
BINDING_KEY = re.compile(r"^binding-[0-9a-f-]{36}$")
BINDING_FILTER_KEYS = {"applicant_id": "applicant_page_key"}


def shown(doc: dict[str, Any]) -> dict[str, Any]:
    return paging.strip(doc, *HIDDEN)


class Views:
    """``keys_of``: the data subjects' keys, to show the producer's personal fields opened (or erased) to whoever
    reads a dossier here; the read model itself keeps them sealed (ADR 0035). A page of dossiers asks for the keys
    of all its items at once (ADR 0048). None: shown sealed."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], keys_of: KeysLookup | None = None) -> None:
        self.db = db
        self.keys_of = keys_of

    async def opened(self, doc: dict[str, Any]) -> dict[str, Any]:
        return (await self._opened([doc]))[0]

    async def _opened(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.keys_of is None:
            return docs
        kids = set().union(*(sealed_kids(d.get("producer")) for d in docs))
        keys = await self.keys_of(kids) if kids else {}
        return [{**d, "producer": open_with({"producer": d["producer"]}, d.get("received_event_id", ""),
                                            keys)["producer"]} if "producer" in d else d for d in docs]

    async def _opened_page(self, page: Page) -> Page:
        return replace(page, items=await self._opened(list(page.items)))

    async def rounds(self, *, programme: str | None, year: int | None, after: str | None, limit: int,
                     total: bool = False) -> Page:
        equals = {k: v for k, v in (("programme", programme), ("year", year)) if v}
        return await paging.page(self.db["rounds"], equals=equals, after=paging.cursor_key(after, ROUND_KEY),
                                 limit=limit, count=total)

    async def round(self, round_id: str) -> dict[str, Any]:
        doc = await self.db["rounds"].find_one({"_id": round_id})
        if doc is None:
            raise Refused(f"no round {round_id}", kind="not_found")
        return paging.strip(doc)

    async def dossiers(self, *, applicant_id: str | None, round_id: str | None, status: str | None,
                       province_code: str | None, district_code: str | None, after: str | None, limit: int,
                       total: bool = False) -> Page:
        """Dossiers in receipt-number order; ``applicant_id``: an applicant's own only."""
        equals = {k: v for k, v in (("applicant_id", applicant_id), ("round_id", round_id), ("status", status),
                                    ("province_code", province_code), ("district_code", district_code)) if v}
        key, prefix = paging.walked_key(FILTER_KEYS, equals)
        return await self._opened_page(await paging.page(
            self.db["dossiers"], equals=equals, after=paging.cursor_key(after, DOSSIER_KEY), key=key, prefix=prefix,
            limit=limit, count=total, show=shown))

    async def overdue(self, day: date, *, round_id: str | None, after: str | None, limit: int) -> Page:
        """Dossiers awaiting their completeness check whose due day is before ``day``, the most overdue first.
        Only those awaiting a check have a ``check_key``, so the query asks for keys above "" and the list ends
        at the first dossier not yet due: the database never hands over the dossiers that are on time."""
        bound = day.isoformat()
        return await self._opened_page(await paging.page(
            self.db["dossiers"], equals={"round_id": round_id} if round_id else {}, key="check_key", floor="",
            after=paging.cursor_key(after, CHECK_KEY), limit=limit,
            until=lambda d: str(d["check_due_date"]) >= bound, show=shown))

    async def bindings(self, *, applicant_id: str | None, registration_number: str | None, status: str | None,
                       after: str | None, limit: int) -> Page:
        """Producer bindings (ADR 0037) in id order; ``applicant_id``: one account's only."""
        # by the producer's reference: a household's number is sealed in the bindings (ADR 0048)
        ref = bindings.producer_ref(registration_number) if registration_number else None
        equals = {k: v for k, v in (("applicant_id", applicant_id), ("status", status), ("producer_ref", ref)) if v}
        key, prefix = paging.walked_key(BINDING_FILTER_KEYS, equals)
        page = await paging.page(self.db["bindings"], equals=equals, after=paging.cursor_key(after, BINDING_KEY),
                                 key=key, prefix=prefix, limit=limit,
                                 show=lambda d: paging.strip(d, *BINDING_FILTER_KEYS.values()))
        return replace(page, items=await self._copies_opened(list(page.items)))

    async def _copies_opened(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A household's number and name, kept as sealed copies in the bindings (ADR 0048), opened or erased."""
        kids = sealed_kids(docs)
        if self.keys_of is None or not kids:
            return docs
        return open_copies_with(docs, await self.keys_of(kids))  # type: ignore[no-any-return]

    async def binding(self, binding_id: str) -> dict[str, Any]:
        doc = await self.db["bindings"].find_one({"_id": binding_id}) if BINDING_KEY.match(binding_id) else None
        if doc is None:
            raise Refused(f"no binding {binding_id}", kind="not_found")
        return (await self._copies_opened([paging.strip(doc, *BINDING_FILTER_KEYS.values())]))[0]

    async def by_receipt(self, receipt_number: str) -> dict[str, Any]:
        doc = await self.db["dossiers"].find_one({"receipt_number": receipt_number.strip().upper()})
        if doc is None:
            raise Refused(f"no dossier with receipt number {receipt_number}", kind="not_found")
        return shown(doc)


async def accepted_of_product(db: AsyncDatabase[dict[str, Any]], identity: str, *, besides: str) -> bool:
    """Whether a dossier of this producer's product other than ``besides`` is accepted (one per product, ADR 0037).
    The product's dossiers are walked by their ``identity_key`` index: a containment on ``product_identity`` read
    every dossier ever stored (issue 14)."""
    prefix = f"{identity}|"
    same = await key_range.in_range(db["dossiers"], prefix, key_range.after(prefix), field="identity_key",
                                    projection={"status": 1})
    return any(d["status"] == dossiers.Status.ACCEPTED.value and d["_id"] != besides for d in same)


async def verified_for_producer(db: AsyncDatabase[dict[str, Any]], registration_number: str, *, besides: str) -> bool:
    """Whether an account other than ``besides`` is verified for the producer of this number (ADR 0037). Its bindings
    are walked by their ``producer_key`` index (``setup`` gives the ones folded before ``producer_ref`` existed
    their reference, then their key): a containment on the status read every binding (issue 14)."""
    prefix = f"{bindings.producer_ref(registration_number)}|"
    of_producer = await key_range.in_range(db["bindings"], prefix, key_range.after(prefix), field="producer_key",
                                           projection={"status": 1, "applicant_id": 1})
    return any(b["status"] == bindings.Status.VERIFIED.value and b["applicant_id"] != besides for b in of_producer)


async def setup(db: AsyncDatabase[dict[str, Any]]) -> None:
    """The lists' indexes (the compound ones serve MongoDB in production, the single-field keys FerretDB), and
    the keys of documents stored before keys existed."""
    rounds, stored = db["rounds"], db["dossiers"]
    for keys in (["page_key"], ["programme", "page_key"], ["year", "page_key"]):
        await rounds.create_index([(k, ASCENDING) for k in keys])
    for keys in (["page_key"], ["round_id", "page_key"], ["round_id", "status", "page_key"],
                 ["applicant_id", "page_key"], ["province_code", "district_code", "page_key"],
                 ["status", "page_key"], ["check_key"], ["round_id", "check_key"], ["identity_key"],
                 *([key] for key in FILTER_KEYS.values())):
        await stored.create_index([(k, ASCENDING) for k in keys])
    for keys in (["page_key"], ["applicant_page_key"], ["registration_number", "page_key"],
                 ["producer_ref", "page_key"], ["producer_key"]):
        await db["bindings"].create_index([(k, ASCENDING) for k in keys])
    async for old in db["bindings"].find({"producer_ref": {"$exists": False}}, {"registration_number": 1}):
        if isinstance(old.get("registration_number"), str):  # folded before producer_ref existed
            await db["bindings"].update_one({"_id": old["_id"]}, {"$set": {
                "producer_ref": bindings.producer_ref(old["registration_number"])}})
    await paging.fill_keys(db, "rounds", lambda d: str(d["code"]))
    await paging.fill_keys(db, "dossiers", lambda d: str(d["receipt_number"]))
    await paging.fill_keys(db, "dossiers", dossiers.check_key, key="check_key")
    # the keys the acceptance's checks walk (issue 14): after producer_ref above, which the binding's key is made of
    await paging.fill_keys(db, "dossiers", dossiers.identity_key, key="identity_key")
    await paging.fill_keys(db, "bindings", bindings.producer_key, key="producer_key")
    await paging.fill_filter_keys(db, "dossiers", FILTER_KEYS, dossiers.filter_keys)
