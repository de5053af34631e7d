"""Documents found by a range of their ``_id``, the one lookup besides ``_id`` equality that FerretDB 1.24 answers
from an index (issue 14).

FerretDB pushes an equality on any other field down as a containment (``_jsonb->'f' @> $1``), which no btree index
serves: PostgreSQL reads the whole collection for it, a cost growing with every document ever stored. A range on
``_id`` sorted on ``_id`` with a limit is a keyset page (docs/adr/0016): both bounds go to the unique ``_id``
index and PostgreSQL stops at the limit. So documents looked up by a key they share are given ``_id``s that start
with it (``<key><separator><rest>``) and read here, a page at a time.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

Doc = dict[str, Any]
PAGE = 16


def after(prefix: str) -> str:
    """The least string greater than every string starting with ``prefix`` (ending with its last character + 1)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


async def in_range(collection: AsyncCollection[Doc], low: str, high: str, page: int = PAGE) -> list[Doc]:
    """Every document whose ``_id`` is at least ``low`` and below ``high``, in ``_id`` order."""
    docs: list[Doc] = []
    bound: dict[str, str] = {"$gte": low}
    while True:
        found = await collection.find({"_id": {**bound, "$lt": high}}, sort=[("_id", ASCENDING)],
                                      limit=page).to_list()
        docs += found
        if len(found) < page:
            return docs
        bound = {"$gt": found[-1]["_id"]}


async def with_prefix(collection: AsyncCollection[Doc], prefix: str, page: int = PAGE) -> list[Doc]:
    """Every document whose ``_id`` starts with ``prefix`` (not empty), in ``_id`` order."""
    return await in_range(collection, prefix, after(prefix), page)
