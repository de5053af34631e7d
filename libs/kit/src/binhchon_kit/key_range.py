"""Documents found by a range of their ``_id``, the one lookup besides ``_id`` equality that FerretDB 1.24 answers
from an index (issue 14).

FerretDB pushes an equality on any other field down as a containment (``_jsonb->'f' @> $1``), which no btree index
serves: PostgreSQL reads the whole collection for it, a cost growing with every document ever stored. A range on
``_id`` sorted on ``_id`` with a limit is a keyset page (docs/adr/0016): both bounds go to the unique ``_id``
index and PostgreSQL stops at the limit. So documents looked up by a key they share are given ``_id``s that start
with it (``<key><separator><rest>``) and read here, a page at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

Doc = dict[str, Any]
PAGE = 16


def after(prefix: str) -> str:
    """The least string greater than every string starting with ``prefix`` (ending with its last character + 1)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


async def in_range(collection: AsyncCollection[Doc], low: str, high: str | None, page: int = PAGE,
                   field: str = "_id", projection: Doc | None = None) -> list[Doc]:
    """Every document whose ``field`` (``_id``, or a top-level string field with an index of its own) is a string
    at least ``low`` and below ``high`` (None: no upper bound), in that field's order. A document whose field is
    missing, null or not a string is not one of them."""
    docs: list[Doc] = []
    bound: dict[str, str] = {"$gte": low}
    upper = {} if high is None else {"$lt": high}
    shown = None if projection is None else {**projection, field: 1}  # the next page starts after the last key
    while True:
        found = await collection.find({field: {**bound, **upper}}, projection=shown,
                                      sort=[(field, ASCENDING)], limit=page).to_list()
        docs += found
        if len(found) < page:
            return docs
        bound = {"$gt": found[-1][field]}


async def first_equal(collection: AsyncCollection[Doc], field: str, value: str,
                      projection: Doc | None = None) -> Doc | None:
    """The first document whose ``field`` (a top-level string field with an index of its own) equals ``value``: an
    equality FerretDB would send as a containment, that reads every document, asked as a keyset page instead."""
    found = await collection.find({field: {"$gte": value, "$lte": value}}, projection=projection,
                                  sort=[(field, ASCENDING)], limit=1).to_list()
    return found[0] if found else None


async def with_prefix(collection: AsyncCollection[Doc], prefix: str, page: int = PAGE) -> list[Doc]:
    """Every document whose ``_id`` starts with ``prefix`` (not empty), in ``_id`` order."""
    return await in_range(collection, prefix, after(prefix), page)


async def add_entry(index: AsyncCollection[Doc], entry: Doc) -> None:
    """Insert an entry of an index collection (``_id`` ``<key>|<id>``, found by ``with_prefix``); one already
    there (a redelivery, a racing replica, a fill) is the same entry."""
    try:
        await index.insert_one(entry)
    except DuplicateKeyError:
        pass


async def fill_entries(index: AsyncCollection[Doc], source: AsyncCollection[Doc], query: Doc,
                       entry_of: Callable[[Doc], Doc | list[Doc]], version: int = 1) -> int:
    """The entries of the ``source`` documents stored before ``index`` existed, once per deploy of ``version``
    (a marker in ``read_model_keys``, as ``paging.fill_keys``); one pass over those matching ``query``, each giving
    one entry or a list of them. Inserts only: a fill that rewrote the documents could, on FerretDB (which writes
    back the document it read), undo a write made meanwhile. Returns how many documents it read."""
    markers = index.database["read_model_keys"]
    marker = f"{index.name}.v{version}"
    if await markers.find_one({"_id": marker}) is not None:
        return 0
    filled = 0
    async for doc in source.find(query):
        entries = entry_of(doc)
        for entry in entries if isinstance(entries, list) else [entries]:
            await add_entry(index, entry)
        filled += 1
    await add_entry(markers, {"_id": marker, "filled": filled})
    return filled
