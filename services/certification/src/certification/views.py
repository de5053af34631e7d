"""Certification's reads: the public registry, the staff listing of certificates, ceremonies (ADR 0015).

Routes call these, never the database. Each list is one page asked of the database (``binhchon_kit.paging``):
equalities on top-level fields, the read model's ``page_key`` (day of issue, then number), a limit.

A certificate whose ``valid_until`` has passed is expired even before the expiry sweep records it, so the
status a reader asks for is answered from the stored status (in the query) and the date (checked on the rows
fetched: the sweep records it within a day, so few rows are ever dropped)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from datetime import date
from enum import StrEnum
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from binhchon_kit import paging
from binhchon_kit.paging import Page
from binhchon_kit.personal_keys import CopiesOpener
from certification.domain import ceremonies as rules
from certification.domain import certificates as certs
from certification.domain.errors import Refused
from certification.ledger_views import LedgerViews

# a certificate's key: its day of issue and its number; a ceremony's: its day and its id
CERTIFICATE_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}\|[A-Za-z0-9-]+$")
CEREMONY_KEY = re.compile(r"^\d{4}-\d{2}-\d{2}\|ceremony-[A-Za-z0-9-]+$")


# the registry's filters and their combinations, each with its own key (certs.filter_keys), the most specific first
FILTER_KEYS = certs.FILTER_KEYS
# what the registry's listing drops, not fetched (FerretDB's cost grows with what each row carries)
UNSHOWN = ("signature", "key_id", paging.PAGE_KEY, *FILTER_KEYS.values())


class Status(StrEnum):
    VALID = certs.VALID
    SUPERSEDED = certs.SUPERSEDED
    REVOKED = certs.REVOKED
    EXPIRED = certs.EXPIRED


def status_on(doc: Mapping[str, Any], today: date) -> str:
    if doc["status"] == certs.VALID and doc.get("valid_until") and doc["valid_until"] < today.isoformat():
        return certs.EXPIRED
    return str(doc["status"])


def public(doc: Mapping[str, Any], today: date) -> dict[str, Any]:
    """A listed certificate: its content and lifecycle as of today, without the signature (the signed document
    is at /certificates/{number}) and without the holder's registration number (a personal identifier for a
    household producer; certificates issued before ADR 0010 carry it)."""
    listed = paging.strip(doc, "signature", "key_id", *FILTER_KEYS.values())
    listed["holder"] = {k: v for k, v in doc["holder"].items() if k != "registration_number"}
    listed["status"] = status_on(doc, today)
    return listed


async def registrations(db: AsyncDatabase[dict[str, Any]], certificates: list[dict[str, Any]]
                        ) -> dict[str, str | None]:
    """Each certificate's holder registration number, by certificate stream: from certification's own read model
    (``holders``), or for a certificate issued before it was kept there, from the certificate itself. One
    lookup by ``_id`` per certificate, at once (``$in`` is not pushed down by FerretDB; a page is at most 200)."""
    holders = await asyncio.gather(*(db["holders"].find_one({"_id": c["_id"]}, projection={"registration_number": 1})
                                     for c in certificates))
    known = {c["_id"]: (h or {}).get("registration_number") for c, h in zip(certificates, holders, strict=True)}
    return {c["_id"]: known[c["_id"]] or c["holder"].get("registration_number") for c in certificates}


class Views:
    """``shown``: opens the sealed copies the certificates carry (a household's name and registration number, ADR
    0048) for every list here, or shows them erased; the registry lists an erased household's certificates with
    its holder ``[đã xoá]`` (docs/adr/0048, amendment)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], today: Callable[[], date],
                 exhibits: LedgerViews | None = None, shown: CopiesOpener | None = None) -> None:
        self.db = db
        self.today = today
        self.exhibits = exhibits or LedgerViews(db)
        self.shown = shown or CopiesOpener(None)

    async def _opened(self, page: Page) -> Page:
        return Page(await self.shown(list(page.items)), page.limit, page.next, page.total)

    async def registry(self, filters: Mapping[str, Any], after: str | None, limit: int) -> Page:
        """The public registry: valid certificates only, newest first (no total: the date check is ours)."""
        today = self.today()
        equals = {"status": certs.VALID, **{k: v for k, v in filters.items() if v is not None and v != ""}}
        # walk the key of the filters asked (a province's 2025 certificates: "24|2025|…"), not the whole list's
        key, prefix = paging.walked_key(FILTER_KEYS, equals)
        unshown = {name: 0 for name in UNSHOWN if name != key}  # but the key the page walks
        found = await paging.page(self.db["certificates"], equals=equals, descending=True, limit=limit,
                                  after=paging.cursor_key(after, CERTIFICATE_KEY), key=key, prefix=prefix,
                                  projection=unshown,
                                  keep=lambda d: status_on(d, today) == certs.VALID,
                                  show=lambda d: public(d, today))
        # where each product was displayed (trưng bày tại …, ADR 0050)
        shown = await self.exhibits.displayed_at([d["number"] for d in found.items])
        items = [{**d, "displayed_at": shown[d["number"]]} for d in found.items]
        return await self._opened(Page(items, found.limit, found.next, found.total))

    async def certificates(self, *, round_id: str | None, dossier_id: str | None, status: Status | None,
                           after: str | None, limit: int, total: bool = False) -> Page:
        """Staff: a round's or a dossier's certificates, whatever their status, in order of issue. ``valid`` and
        ``expired`` depend on today's date as well as the stored status, so those lists carry no total."""
        today = self.today()
        equals: dict[str, Any] = {k: v for k, v in (("round_id", round_id), ("dossier_id", dossier_id)) if v}
        keep: Callable[[dict[str, Any]], bool] | None = None
        if status is Status.VALID or status is Status.EXPIRED:
            if status is Status.VALID:
                equals["status"] = certs.VALID  # an expired one is stored valid or expired: no equality for it
            keep = lambda d: status_on(d, today) == status.value  # noqa: E731
        elif status is not None:
            equals["status"] = status.value
        found = await paging.page(self.db["certificates"], equals=equals, limit=limit, keep=keep,
                                  after=paging.cursor_key(after, CERTIFICATE_KEY), count=total and keep is None,
                                  show=lambda d: d)
        # staff see who holds each certificate
        held_by = await registrations(self.db, found.items)
        items = []
        for doc in found.items:
            item = public(doc, today)
            item["holder"]["registration_number"] = held_by[doc["_id"]]
            items.append(item)
        return await self._opened(Page(items, found.limit, found.next, found.total))

    async def of_dossier(self, dossier_id: str, after: str | None, limit: int) -> Page:
        """Anyone: the certificates issued on a dossier's result, whatever their status, in order of issue, as the
        registry shows them (no holder registration number). Each is public by its number already (/verify,
        /certificates/{number}); this finds the numbers of a dossier, for its applicant's result page."""
        today = self.today()
        return await self._opened(await paging.page(
            self.db["certificates"], equals={"dossier_id": dossier_id}, limit=limit,
            after=paging.cursor_key(after, CERTIFICATE_KEY), show=lambda d: public(d, today)))

    async def ceremonies(self, round_id: str | None, after: str | None, limit: int, total: bool = False) -> Page:
        return await self._opened(await paging.page(
            self.db["ceremonies"], equals={"round_id": round_id} if round_id else {},
            after=paging.cursor_key(after, CEREMONY_KEY), limit=limit, count=total))

    async def ceremony(self, ceremony_id: str) -> dict[str, Any]:
        """A ceremony with what notify sent about it (a ceremony's deliveries: its invitees' few mails)."""
        ceremony = await self.db["ceremonies"].find_one({"_id": ceremony_id})
        if ceremony is None:
            raise Refused(f"no ceremony {ceremony_id}", kind="not_found")
        deliveries = await self.db["ceremony_deliveries"].find(
            {"about_event_id": ceremony["scheduled_event_id"]}, projection={"_id": 0}).to_list()
        deliveries.sort(key=lambda d: (d["recipient"], d["template"]))
        return await self.shown(rules.with_deliveries(paging.strip(ceremony), deliveries))  # type: ignore[no-any-return]


async def setup(db: AsyncDatabase[dict[str, Any]]) -> None:
    """The lists' indexes (MongoDB in production uses the compound ones; FerretDB the single-field key), and
    the keys of documents stored before keys existed."""
    certificates = db["certificates"]
    for keys in (["page_key"], ["status", "page_key"], ["round_id", "page_key"], ["dossier_id", "page_key"],
                 ["round_id", "status", "page_key"], ["status", "province_code", "page_key"],
                 ["status", "year", "page_key"], ["status", "stars", "page_key"], ["number"],
                 ["status", "valid_until"], *([key] for key in FILTER_KEYS.values())):
        await certificates.create_index([(k, ASCENDING) for k in keys])
    for keys in (["page_key"], ["round_id", "page_key"]):
        await db["ceremonies"].create_index([(k, ASCENDING) for k in keys])
    await db["ceremony_deliveries"].create_index("about_event_id")
    await paging.fill_keys(db, "certificates", certs.page_key)
    await paging.fill_filter_keys(db, "certificates", FILTER_KEYS, certs.filter_keys)
    await paging.fill_keys(db, "ceremonies", rules.page_key)
