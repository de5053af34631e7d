"""Exclusive claims on a store without compare-and-set (ADR 0013).

FerretDB 1.24 — what ``make up``, the tests and small deployments run — does a conditional update as a read
followed by a write by ``_id``, with no lock: two replicas updating ``{owner: None}`` (or an expired lease) can
both "win". Only an insert under a unique ``_id`` picks exactly one winner, on FerretDB and on MongoDB alike.

So a claim is a chain of generations, each one document inserted and never taken back: ``<key>`` is the first,
``<key>\\x1f<g>`` the g-th. To take a claim over (its newest generation expired or was released), insert the
next generation: whoever inserts it first holds the claim, the others meet ``DuplicateKeyError``. Only a
generation's owner writes to it afterwards (its renewal, its release, what it produced), so those writes race
with nobody. A taker prunes the generations older than its own; because of that a very slow taker could still
insert a generation that was pruned, so each taker checks, after inserting, that no newer one exists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from binhchon_kit import key_range

Doc = dict[str, Any]
SEPARATOR = "\x1f"  # never part of a key the services make, so ``<key>\x1f<g>`` cannot be another key's first
AFTER_SEPARATOR = chr(ord(SEPARATOR) + 1)  # a key's generations sort between it and it followed by this
GENERATIONS_PAGE = 16  # more than a pruned chain ever holds: one query nearly always


def generation_id(key: str, gen: int) -> str:
    return key if gen == 0 else f"{key}{SEPARATOR}{gen}"


def generation(doc: Mapping[str, Any]) -> int:
    return int(doc.get("gen", 0))  # a claim written before generations is the first


async def generations(collection: AsyncCollection[Doc], key: str) -> list[Doc]:
    """The claim's stored generations, oldest first (a few: takers prune the older ones).

    Found by their ``_id``s (``<key>``, then ``<key>\x1f<g>``: a range from the key to the key followed by the
    character after the separator, kept to those two forms), read a keyset page at a time (binhchon_kit.key_range).
    Not by the ``claim`` field: FerretDB pushes an equality on any other field down as a containment (``@>``) that
    no btree index serves, so PostgreSQL read the whole collection for each lookup (issue 14: most of the rows the
    store scanned per dossier were notify's claims, a number growing with every mail ever sent). The first
    generation of a claim written before generations were kept has no ``claim`` field and is found the same way."""
    docs = await key_range.in_range(collection, key, key + AFTER_SEPARATOR, GENERATIONS_PAGE)
    return sorted((d for d in docs if d["_id"] == key or str(d["_id"]).startswith(key + SEPARATOR)),
                  key=generation)


async def newest(collection: AsyncCollection[Doc], key: str) -> Doc | None:
    docs = await generations(collection, key)
    return docs[-1] if docs else None


async def take(collection: AsyncCollection[Doc], key: str, fields: Mapping[str, Any],
               free: Callable[[Doc], bool], *, likely_new: bool = False) -> Doc | None:
    """Insert the claim's next generation (with ``fields``) if it has none or ``free(newest)``. Returns the
    inserted document if this caller holds the claim now, None if another does.

    ``likely_new``: the key is nearly always claimed for the first time (a key per attempt, as notify's deliveries):
    its first generation is inserted before the chain is read, so the usual claim is one write and one read; a key
    claimed before answers ``DuplicateKeyError`` and the chain decides as for any other (ADR 0054)."""
    if likely_new and (first := await _inserted(collection, key, fields, 0)) is not None:
        return await _kept(collection, key, first)  # a first generation since pruned by a takeover is not ours
    latest = await newest(collection, key)
    if latest is not None and not free(latest):
        return None
    gen = generation(latest) + 1 if latest is not None else 0
    doc = await _inserted(collection, key, fields, gen)
    if doc is None or gen == 0:
        return doc
    return await _kept(collection, key, doc)


async def _inserted(collection: AsyncCollection[Doc], key: str, fields: Mapping[str, Any], gen: int) -> Doc | None:
    """The generation ``gen`` inserted, or None if it exists (another caller inserted it first)."""
    doc = {**fields, "_id": generation_id(key, gen), "claim": key, "gen": gen}
    try:
        await collection.insert_one(doc)
    except DuplicateKeyError:
        return None
    return doc


async def _kept(collection: AsyncCollection[Doc], key: str, doc: Doc) -> Doc | None:
    """``doc``, just inserted, if no newer generation exists (else it was pruned before: released, None); the
    older ones pruned, each by ``_id`` (answered by the index)."""
    gen = generation(doc)
    chain = await generations(collection, key)
    if generation(chain[-1] if chain else doc) > gen:  # inserted a pruned one, too late
        await collection.update_one({"_id": doc["_id"]}, {"$set": {"released": True}})
        return None
    for older in chain:
        if generation(older) < gen:
            await collection.delete_one({"_id": older["_id"]})
    return doc


def lapsed(until_field: str, now: datetime) -> Callable[[Doc], bool]:
    """``free`` for a lease: released by its holder, or its ``until`` passed."""
    def free(doc: Doc) -> bool:
        return bool(doc.get("released")) or aware(doc[until_field]) <= now
    return free


def aware(moment: datetime) -> datetime:
    """The store gives back naive UTC datetimes."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


__all__ = ["aware", "generation", "generation_id", "generations", "lapsed", "newest", "take"]
