"""Lists as pages the database cuts: equality filters, one sortable string key, a limit (ADR 0015).

Every list of every service is read the same way: a filter made only of top-level equalities (what FerretDB on
PostgreSQL pushes down), a bound on the list's key (``page_key``, a string stored in each read-model document,
ASCII, unique in its collection, whose byte order is the list's order), a sort on that one key and a limit. The
page's last key, encoded, is the cursor of the next page (``after``): a page never depends on how many rows came
before it, so rows inserted between two requests are neither listed twice nor make a row be skipped.

A condition that is not an equality (a certificate past its ``valid_until`` that the expiry sweep has not yet
recorded) is checked here on the rows fetched, never by loading the collection: a little more than a page is
fetched, and again from the last key scanned while rows were dropped, at most ``scans`` times. A page cut short
by that bound has fewer items than asked but still a cursor; an empty page with a cursor means "nothing here yet,
go on".
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query
from fastapi.exceptions import RequestValidationError
from pymongo.errors import DuplicateKeyError

PAGE_KEY = "page_key"
MAX_LIMIT = 200
# only printable ASCII in a key: its byte order is the same for MongoDB, PostgreSQL's C collation and Python
_ASCII = re.compile(r"^[\x20-\x7e]{1,300}$")


class BadCursor(ValueError):
    pass


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, shape: re.Pattern[str] | None = None) -> str:
    """The key a cursor stands for; BadCursor if it is not one of ours (or not of this list's ``shape``)."""
    try:
        key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("not a cursor this list gave") from None
    if not _ASCII.match(key) or (shape is not None and not shape.match(key)):
        raise BadCursor("not a cursor this list gave")
    return key


def invalid(field: str, message: str) -> RequestValidationError:
    """A 422 in FastAPI's own shape, naming the query parameter."""
    return RequestValidationError([{"type": "value_error", "loc": ("query", field), "msg": message,
                                    "input": None}])


def cursor_key(after: str | None, shape: re.Pattern[str] | None = None) -> str | None:
    """The ``after`` query parameter as a key, or a 422 naming it."""
    if after is None or after == "":
        return None
    try:
        return decode_cursor(after, shape)
    except BadCursor as exc:
        raise invalid("after", f"{exc}: pass the `next` of the previous page") from None


async def no_offset(offset: Annotated[int | None, Query(include_in_schema=False)] = None) -> None:
    """``offset`` paging is gone (ADR 0015). An old client that still sends it is told so, rather than being
    given the first page again and again."""
    if offset:
        raise invalid("offset", "paging is by `after`: pass the `next` of the previous page")


# Counting is asked for, never given by default: FerretDB counts the matching rows one by one (ADR 0016), so a
# count costs what the page avoided. Only where the list's conditions are all equalities, on its first page.
Total = Annotated[bool, Query(description="also count the list (first page only; costs a pass over the list's "
                                          "rows on FerretDB)")]
After = Annotated[str | None, Query(description="the `next` of the previous page; absent: the first page",
                                    max_length=600)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    limit: int
    next: str | None
    total: int | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"items": self.items, "limit": self.limit, "next": self.next}
        if self.total is not None:
            body["total"] = self.total
        return body


def strip(doc: Mapping[str, Any], *hidden: str) -> dict[str, Any]:
    """A read-model document as the API shows it: without its storage fields."""
    drop = {"_id", PAGE_KEY, *hidden}
    return {k: v for k, v in doc.items() if k not in drop}


async def page(collection: Any, *, equals: Mapping[str, Any], after: str | None, limit: int,
               key: str = PAGE_KEY, descending: bool = False, floor: str | None = None,
               keep: Callable[[dict[str, Any]], bool] | None = None,
               until: Callable[[dict[str, Any]], bool] | None = None,
               show: Callable[[dict[str, Any]], dict[str, Any]] = strip,
               count: bool = False, scans: int = 5, projection: Mapping[str, Any] | None = None,
               prefix: str = "") -> Page:
    """One page of ``collection``: rows matching ``equals``, in ``key`` order, after the key ``after``.

    ``floor``: a lower bound for the first page of an ascending list (``""`` leaves out the rows whose key
    is null: a key set only on the rows that belong to the list). ``keep``: a check the query could not
    make, applied to each row fetched. ``until``: the first row (in key order) for which it holds ends the
    list (a bound the database need not be told: the list is sorted by it). ``count``: add ``total`` to the first
    page, counted by the database on the equalities alone; only for lists without ``keep``, where that count is
    the list's length. ``prefix``: the list is the keys of ``key`` that start with it (a key made of a filter's
    value and the list's key, ``"24|2026-11-28|…"``): the database walks that filter's rows only, however few
    they are among all. ``after`` and ``next`` stay keys of the list without the prefix, so a cursor means the
    same place in the filtered list and in the whole one.
    """
    assert not (count and keep), "a count of the equalities alone is not the length of a list checked in Python"
    # FerretDB's cost grows with the rows a page fetches (~0.5 ms each, bench/read_models.py), and a check rarely
    # drops any: the first scan asks for the page and one more only; only when rows were dropped do the next scans
    # ask for the larger batches, up to the same rows in all (``scans`` batches) as before, so a page and its
    # cursor are what they were
    batch = limit + 1 if keep is None else limit + 1 + max(4, limit // 2)
    budget = batch * (scans if keep is not None else 1)
    kept: list[dict[str, Any]] = []
    bound, last_scanned = after, None
    exhausted = False
    scanned = 0
    # keys are printable ASCII: every key starting with the prefix is below prefix + DEL
    lowest, beyond = {"$gte": prefix}, ({"$lt": prefix + "\x7f"} if prefix else {})
    while True:
        size = min(limit + 1 if scanned == 0 else batch, budget - scanned)
        query: dict[str, Any] = dict(equals)
        if bound is not None:
            query[key] = {"$lt": prefix + bound, **lowest} if descending else {"$gt": prefix + bound, **beyond}
        elif floor is not None:
            query[key] = {"$gt": prefix + floor, **beyond}
        else:  # every key is a string >= "": the same rows, in a shape FerretDB b4 limits in PostgreSQL (ADR 0016)
            query[key] = {**lowest, **beyond}
        rows = await collection.find(query, projection=projection, sort=[(key, -1 if descending else 1)],
                                     limit=size).to_list()
        scanned += size
        for row in rows:
            if until is not None and until(row):
                exhausted = True
                break
            last_scanned = row[key][len(prefix):]
            if keep is None or keep(row):
                kept.append(row)
                if len(kept) > limit:
                    break
        if exhausted or len(kept) > limit or len(rows) < size or scanned >= budget:
            exhausted = exhausted or len(rows) < size
            break
        bound = last_scanned
    if len(kept) > limit:
        kept = kept[:limit]
        following: str | None = encode_cursor(kept[-1][key][len(prefix):])
    elif exhausted or keep is None:
        following = None
    else:  # the scans ran out with rows dropped: a short page, and where to go on from
        following = encode_cursor(last_scanned) if last_scanned is not None else None
    # counted on the first page only: FerretDB counts the matching rows one by one (ADR 0016), and a client
    # walking the pages already has the total from the first
    total = await collection.count_documents(dict(equals)) if count and after is None else None
    return Page([show(row) for row in kept], limit, following, total)


async def fill_keys(db: Any, collection: str, key_of: Callable[[dict[str, Any]], str | None],
                    key: str = PAGE_KEY, version: int = 1) -> int:
    """Give the documents stored before ``key`` existed their key, once per deploy of a key version.

    Read models get their keys from their folds; documents written by older code lack them until then. This
    sets them from the document itself (``key_of`` is the function the fold uses), once: a marker in
    ``read_model_keys`` records that it ran. Replicas racing here set the same values. Returns how many."""
    return await _fill(db, collection, {key: key_of}, version)


async def _fill(db: Any, collection: str, keys_of: Mapping[str, Callable[[dict[str, Any]], str | None]],
                version: int) -> int:
    """``fill_keys`` for several keys in one pass: the documents lacking any key whose marker is not yet set."""
    markers = {key: f"{collection}.{key}.v{version}" for key in keys_of}
    due = [key for key, marker in markers.items() if await db["read_model_keys"].find_one({"_id": marker}) is None]
    if not due:
        return 0
    filled = 0
    lacking = [{key: {"$exists": False}} for key in due]
    async for doc in db[collection].find(lacking[0] if len(lacking) == 1 else {"$or": lacking}):
        await db[collection].update_one({"_id": doc["_id"]},
                                        {"$set": {key: keys_of[key](doc) for key in due if key not in doc}})
        filled += 1
    for key in due:
        try:
            await db["read_model_keys"].replace_one({"_id": markers[key]}, {"filled": filled}, upsert=True)
        except DuplicateKeyError:
            pass  # a replica starting at the same moment ran it too and its marker won the insert: it says the same
    return filled


FilterKeys = Mapping[str, str] | Mapping[tuple[str, ...], str]


def walked_key(filter_keys: FilterKeys, equals: Mapping[str, Any]) -> tuple[str, str]:
    """The key a page walks and its prefix: the first of ``filter_keys`` (a filter field, or a combination of
    them, -> its own key; the most specific first) whose filters are all asked, with their values in that order,
    each then ``|``; otherwise the list's own key (ADR 0015). The key's values are written the same way."""
    for names, key in filter_keys.items():
        fields = (names,) if isinstance(names, str) else names
        if all(name in equals for name in fields):
            return key, "".join(f"{equals[name]}|" for name in fields)
    return PAGE_KEY, ""


async def fill_filter_keys(db: Any, collection: str, filter_keys: FilterKeys,
                           keys_of: Callable[[dict[str, Any]], Mapping[str, str]]) -> int:
    """``fill_keys`` for each filter key, from the fold's own function giving a document all of them, in one
    pass over the collection for all the keys whose fill has not run (a new key costs one scan at start-up,
    however many are added together)."""
    return await _fill(db, collection, {key: (lambda doc, key=key: keys_of(doc)[key])  # type: ignore[misc]
                                        for key in filter_keys.values()}, version=1)
