"""Certificates as lists: the staff listing and the public registry, filtered, counted and paged by the database.

A certificate whose ``valid_until`` has passed is expired even before the expiry sweep records it, so the
status a reader asks for is answered from the stored status and the date together."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from certification.domain import certificates as certs


class Status(StrEnum):
    VALID = certs.VALID
    SUPERSEDED = certs.SUPERSEDED
    REVOKED = certs.REVOKED
    EXPIRED = certs.EXPIRED


def status_filter(status: Status, today: date) -> dict[str, Any]:
    day = today.isoformat()
    if status is Status.VALID:
        return {"status": certs.VALID, "$or": [{"valid_until": None}, {"valid_until": {"$gte": day}}]}
    if status is Status.EXPIRED:
        return {"$or": [{"status": certs.EXPIRED}, {"status": certs.VALID, "valid_until": {"$lt": day}}]}
    return {"status": status.value}


def public(doc: dict[str, Any], today: date) -> dict[str, Any]:
    """A listed certificate: its content and lifecycle as of today, without the signature (the signed document
    is at /certificates/{number}) and without the holder's registration number (a personal identifier for a
    household producer; certificates issued before ADR 0010 carry it)."""
    doc = {k: v for k, v in doc.items() if k not in ("_id", "signature", "key_id")}
    doc["holder"] = {k: v for k, v in doc["holder"].items() if k != "registration_number"}
    if doc["status"] == certs.VALID and doc.get("valid_until") and doc["valid_until"] < today.isoformat():
        doc["status"] = certs.EXPIRED
    return doc


async def page(db: AsyncDatabase[dict[str, Any]], query: dict[str, Any], sort: list[tuple[str, int]], offset: int,
               limit: int) -> tuple[list[dict[str, Any]], int]:
    collection = db["certificates"]
    docs = await collection.find(query).sort(sort).skip(offset).limit(limit).to_list()
    return docs, await collection.count_documents(query)


async def registrations(db: AsyncDatabase[dict[str, Any]], certificates: list[dict[str, Any]]
                        ) -> dict[str, str | None]:
    """Each certificate's holder registration number, by certificate stream: from certification's own read model
    (``holders``), or for a certificate issued before it was kept there, from the certificate itself."""
    holders = await db["holders"].find({"_id": {"$in": [c["_id"] for c in certificates]}}).to_list()
    known = {h["_id"]: h.get("registration_number") for h in holders}
    return {c["_id"]: known.get(c["_id"]) or c["holder"].get("registration_number") for c in certificates}


async def staff_list(db: AsyncDatabase[dict[str, Any]], today: date, *, round_id: str | None, dossier_id: str | None,
                     status: Status | None, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    parts: list[dict[str, Any]] = [{k: v} for k, v in (("round_id", round_id), ("dossier_id", dossier_id)) if v]
    if status is not None:
        parts.append(status_filter(status, today))
    query = {"$and": parts} if parts else {}
    docs, total = await page(db, query, [("number", 1)], offset, limit)
    # staff see who holds each certificate
    held_by = await registrations(db, docs)
    items = [public(d, today) for d in docs]
    for doc, item in zip(docs, items, strict=True):
        item["holder"]["registration_number"] = held_by[doc["_id"]]
    return items, total


async def registry(db: AsyncDatabase[dict[str, Any]], today: date, filters: dict[str, Any], offset: int,
                   limit: int) -> tuple[list[dict[str, Any]], int]:
    """The public registry: valid certificates only, newest first."""
    query = {"$and": [status_filter(Status.VALID, today), *({k: v} for k, v in filters.items() if v)]}
    docs, total = await page(db, query, [("issued_on", -1), ("number", -1)], offset, limit)
    return [public(d, today) for d in docs], total


async def setup(db: AsyncDatabase[dict[str, Any]]) -> None:
    collection = db["certificates"]
    for keys in (["round_id", "number"], ["dossier_id", "number"], ["status", "valid_until"], ["number"]):
        await collection.create_index([(k, 1) for k in keys])
