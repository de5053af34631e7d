"""Our FerretDB build pushes string ranges, the sort and limit of keyset pages, and `_id` among a list of strings
or ObjectIds (build b9) down to PostgreSQL (infra/local/patch_ferretdb.py, docs/adr/0016). These tests run the
same finds on that build and on the same binary started with ``--test-disable-pushdown`` (FerretDB's own flag:
everything filtered and sorted in Go), over the same PostgreSQL data, and require the same answers: the
reference is FerretDB's own semantics.

The data is built to trip a wrong pushdown: the sorted field missing, null, a number, a boolean, a date, an
ObjectId whose hex reads like a key, an array of strings, an empty array, an array of documents, a sub-document; the
equality field as an array, an array of documents, a number, missing; keys in several scripts, astral characters,
upper and lower case, and a tie.
"""

from __future__ import annotations

import random
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymongo
import pytest
from bson import Int64, ObjectId

from binhchon_kit.testing.infra import REPO, NativeFerretDB, NativePostgres

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

KEYS = ["a", "B", "b", "ba", "z", "Z9", "0", "9|x", "2026-11|000001", "2026-11|000002", "2026-12|000001",
        "Đà Nẵng", "Đồng Nai", "Hà Nội", "Huế", "Cần Thơ", "e\u0301", "é", "ǅ", "ß", "ẞ", "中文", "日本",
        "\ue000", "\uffef", "\U0001f600", "\U0001f600a", "\U00010000", "~", "", " ", "a b", "a\u00a0b",
        "ObjectId", "666f6f626172666f6f626172", "ffffffffffffffffffffffff"]
STRANGE_KEYS: list[Any] = [None, 42, -1.5, True, datetime(2026, 11, 28, tzinfo=UTC),
                           ObjectId("666f6f626172666f6f626172"), ["m", "c"], ["Huế", 7], [], [{"k": "a"}],
                           {"k": "a"}, ["zz", "zy"], [None]]
# the registry filters on integers (stars, year): every numeric type, and what only looks like the number
STARS: list[Any] = [4, 4, Int64(4), 4.0, 4.5, 3, 5, Int64(2026), 2026, 2026.0, "4", [4, 5], [3], ["4"], [4.0], [],
                    None, True, -0.0, 0, datetime(1970, 1, 1, 0, 0, 0, 4000, tzinfo=UTC), {"n": 4}, 1e300,
                    Int64(2**53), float(2**53)]
STATUSES: list[Any] = ["valid", "valid", "valid", "revoked", ["valid", "x"], ["x"], [{"v": "valid"}], 1, None,
                       ObjectId("76616c69640000000000aaaa")]


def documents() -> list[dict[str, Any]]:
    rng = random.Random(10)
    docs: list[dict[str, Any]] = []
    for i, key in enumerate(KEYS * 3):
        docs.append({"_id": f"s{i:03d}", "page_key": f"{key}#{i // len(KEYS)}", "status": rng.choice(STATUSES),
                     "area": rng.choice(["A", "B"]), "n": i, **({"stars": rng.choice(STARS)} if i % 7 else {})})
    for i, key in enumerate(STRANGE_KEYS):
        docs.append({"_id": f"t{i:03d}", "page_key": key, "status": "valid", "area": "A", "n": 1000 + i})
    docs.append({"_id": "u000", "status": "valid", "area": "A", "n": 2000})  # no page_key at all
    docs.append({"_id": "u001", "page_key": "tie", "status": "valid", "area": "A", "n": 2001})
    docs.append({"_id": "u002", "page_key": "tie", "status": "valid", "area": "A", "n": 2002})
    docs.append({"_id": "u003", "page_key": "tie", "status": "valid", "area": "B", "n": 2003})
    docs.append({"_id": "u004", "page_key": "Huế#0x", "area": "A", "n": 2004})  # no status
    return docs


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[pymongo.MongoClient, pymongo.MongoClient]]:
    # under the checkout's .run, as the session's stack: PostgreSQL's user must be able to reach it
    base: Path = REPO / ".run" / f"test-pushdown-{uuid.uuid4().hex[:8]}"
    postgres = NativePostgres(base / "postgres")
    patched = NativeFerretDB(base / "patched", postgres=postgres)
    reference = NativeFerretDB(base / "reference", postgres=postgres, flags=("--test-disable-pushdown",))
    patched.start()
    try:
        client = pymongo.MongoClient(patched.url)
        db = client.pushdown
        db.asc.create_index([("page_key", 1)])
        db.desc.create_index([("page_key", -1)])
        db.plain.insert_many(documents())  # no index at all: the same answers from a sequential scan
        db.asc.insert_many(documents())
        db.desc.insert_many(documents())
        db.words.create_index([("page_key", 1)])
        db.words.insert_many([{"_id": i, "page_key": key} for i, key in enumerate(KEYS)])
        # documents whose `_id` is not a string: an ObjectId, a number, a sub-document, a date
        db.ids.insert_many([{"_id": ObjectId("666f6f626172666f6f626172"), "n": 1}, {"_id": 7, "n": 2},
                            {"_id": "7", "n": 3}, {"_id": {"k": "s001"}, "n": 4}, {"_id": "s001", "n": 5},
                            {"_id": datetime(2026, 11, 30, tzinfo=UTC), "n": 6}, {"_id": "", "n": 7}])
        db.many.insert_many([{"_id": f"c{i:05d}", "n": i} for i in range(3000)])
        # started after the data is written: it reads the collections' metadata once, when first used
        reference.start()
        try:
            yield client, pymongo.MongoClient(reference.url)
        finally:
            reference.stop(postgres=False)
    finally:
        patched.stop()
        shutil.rmtree(base, ignore_errors=True)


def _group(value: Any) -> str:
    return repr(value)


def assert_same_page(patched: list[dict[str, Any]], everything: list[dict[str, Any]], field: str,
                     skip: int, limit: int) -> None:
    """``patched`` is the page [skip, skip + limit) of ``everything`` (the reference's full answer in its order):
    the same documents, except that documents tied on the sort field may stand in for each other."""
    expected = everything[skip: skip + limit] if limit else everything[skip:]
    assert len(patched) == len(expected)
    assert len({d["_id"] for d in patched}) == len(patched)
    groups = {d["_id"]: _group(d.get(field, "<missing>")) for d in everything}
    assert [groups.get(d["_id"]) for d in patched] == [_group(d.get(field, "<missing>")) for d in expected]
    for got in patched:
        assert got == next(d for d in everything if d["_id"] == got["_id"])


FILTERS: list[dict[str, Any]] = [
    {"page_key": {"$lt": "m"}},
    {"page_key": {"$lte": "Huế#1"}},
    {"page_key": {"$gt": "Huế#1"}},
    {"page_key": {"$gte": ""}},
    {"page_key": {"$gt": "b", "$lt": "中"}},
    {"page_key": {"$gte": "\U0001f600"}},
    {"page_key": {"$lt": "\ue000"}},
    {"page_key": {"$gt": "tie"}},
    {"page_key": {"$lte": "tie"}},
    {"status": "valid", "page_key": {"$lt": "zz"}},
    {"status": {"$eq": "valid"}, "area": "A", "page_key": {"$gte": "0"}},
    {"status": "valid", "page_key": {"$gt": "", "$lte": "m"}},
    {"status": "x", "page_key": {"$gte": ""}},
    {"area": "B", "page_key": {"$lt": "ẞ"}, "$comment": "keyset"},
    {"page_key": {"$eq": "tie", "$gte": "tie"}},
    {"page_key": {"$lt": 5}},                        # not a string operand: FerretDB's own way
    {"status": "valid"},                             # no range: FerretDB's own way
    {"status": "valid", "page_key": {"$in": ["a#0", "tie"]}},
    {"status": "valid", "n": {"$gte": 0}, "page_key": {"$lt": "z"}},
    {"stars": 4, "page_key": {"$gte": ""}},               # an integer equality: pushed down (build b5)
    {"stars": Int64(4), "status": "valid", "page_key": {"$lt": "zz"}},
    {"stars": 2026, "area": "A", "page_key": {"$gte": ""}},
    {"stars": 0, "page_key": {"$gte": ""}},               # -0.0 and 0
    {"stars": 3, "page_key": {"$gt": "b"}},
    {"stars": Int64(2**53), "page_key": {"$gte": ""}},    # at the bound: pushed down
    {"stars": Int64(2**53 + 1), "page_key": {"$gte": ""}},  # beyond: FerretDB's own way
    {"stars": 4.0, "page_key": {"$gte": ""}},             # a double operand: FerretDB's own way
    # `_id` among a list (build b9): strings and ObjectIds pushed down; any other list FerretDB's own way
    {"_id": {"$in": ["s001", "t003", "u002", "nope", "S001"]}},
    {"_id": {"$in": ["s001", "t003"]}, "status": "valid"},
    {"_id": {"$in": ["s001", "s002"]}, "page_key": {"$gte": ""}},
    {"_id": {"$in": [ObjectId("666f6f626172666f6f626172"), "666f6f626172666f6f626172", "s005"]}},
    {"_id": {"$in": ["s001", 1, "s002"]}},               # a number among them: FerretDB's own way
    # a list refused at its last member, then conditions pushed after it: their placeholders are numbered from $1
    {"_id": {"$in": ["s001", "s002", None]}, "status": "valid", "page_key": {"$gte": "", "$lt": "t"}},
    {"status": "valid", "_id": {"$in": ["s001", "s002", 2]}, "area": "A"},
    {"_id": {"$in": ["s001", None]}},
    {"_id": {"$in": []}},
    {"_id": {"$in": [f"s{i:03d}" for i in range(1100)]}},  # over 1,000 members: FerretDB's own way
    {"_id": {"$in": [f"s{i:03d}" for i in range(0, 120, 2)]}, "area": "A"},
    {"_id": {"$in": ["s001", "s002"], "$gte": "s002"}},
    {"n": {"$in": [1, 2]}, "_id": {"$in": ["s001", "s002", "s003"]}},
    {"page_key": {"$in": ["a#0", "tie"]}, "_id": {"$in": ["u001", "s000"]}},
]


@pytest.mark.parametrize("collection", ["asc", "desc", "plain"])
@pytest.mark.parametrize("query", FILTERS, ids=repr)
def test_finds_answer_as_without_pushdown(servers, collection: str, query: dict[str, Any]):
    patched, reference = (client.pushdown[collection] for client in servers)
    for direction in (1, -1):
        everything = list(reference.find(query).sort("page_key", direction))
        assert_same_page(list(patched.find(query).sort("page_key", direction)), everything, "page_key", 0, 0)
        for skip, limit in [(0, 1), (0, 5), (0, 20), (3, 7), (0, 500)]:
            page = list(patched.find(query).sort("page_key", direction).skip(skip).limit(limit))
            assert_same_page(page, everything, "page_key", skip, limit)
    unsorted = sorted(reference.find(query), key=lambda d: d["_id"])
    assert sorted(patched.find(query), key=lambda d: d["_id"]) == unsorted
    assert patched.count_documents(query) == reference.count_documents(query) == len(unsorted)


IDS_FILTERS: list[dict[str, Any]] = [
    {"_id": {"$in": ["s001", "7", ""]}},
    {"_id": {"$in": [ObjectId("666f6f626172666f6f626172")]}},
    {"_id": {"$in": ["666f6f626172666f6f626172", "k", "s001"]}},
    {"_id": {"$in": [7, "7"]}},
    {"_id": {"$in": [{"k": "s001"}]}},
    # a string PostgreSQL's jsonb cannot hold (NUL): matches nothing, as FerretDB answers it unpushed
    {"_id": {"$in": ["s001", "a\x00b"]}},
    # wrapped, negated, beside other operators on `_id`, a dot path into a sub-document `_id`, inside $or / $and
    {"_id": {"$nin": ["s001", "7"]}},
    {"_id": {"$not": {"$in": ["s001", ObjectId("666f6f626172666f6f626172")]}}},
    {"_id": {"$in": ["s001", "7", ""], "$ne": "7"}},
    {"_id": {"$in": ["s001", "7"], "$nin": ["s001"]}},
    {"_id": {"$in": ["s001", "7"], "$eq": "7"}},
    {"_id": {"$in": ["s001", "7"], "$gt": "6"}},
    {"_id.k": {"$in": ["s001"]}},
    {"$or": [{"_id": {"$in": ["s001"]}}, {"n": 2}]},
    {"$and": [{"_id": {"$in": ["s001", "7"]}}, {"_id": {"$in": ["7", 7]}}]},
    {"_id": {"$in": ["s001", "7"]}, "n": {"$in": [5]}},
]


@pytest.mark.parametrize("query", IDS_FILTERS, ids=repr)
def test_ids_of_every_kind_answer_as_without_pushdown(servers, query: dict[str, Any]):
    patched, reference = (client.pushdown.ids for client in servers)
    expected = sorted(reference.find(query), key=lambda d: d["n"])
    assert sorted(patched.find(query), key=lambda d: d["n"]) == expected
    assert patched.count_documents(query) == len(expected)


@pytest.mark.parametrize("query", IDS_FILTERS, ids=repr)
def test_updates_by_ids_touch_what_the_reference_finds(servers, query: dict[str, Any]):
    """An update and a delete run the same pushed-down condition before FerretDB filters the rows: they must touch
    exactly the documents the reference finds (the delete on a copy, so the data stays the same for the others)."""
    patched, reference = (client.pushdown for client in servers)
    expected = sorted(d["n"] for d in reference.ids.find(query))
    try:
        assert patched.ids.update_many(query, {"$inc": {"touched": 1}}).matched_count == len(expected)
        assert sorted(d["n"] for d in patched.ids.find({"touched": 1})) == expected
    finally:
        patched.ids.update_many({}, {"$unset": {"touched": ""}})
    copy = patched[f"ids_{uuid.uuid4().hex[:8]}"]
    copy.insert_many(list(patched.ids.find()))
    assert copy.delete_many(query).deleted_count == len(expected)
    assert sorted(d["n"] for d in copy.find()) == sorted(set(range(1, 8)) - set(expected))
    copy.drop()


def test_ids_among_a_list_are_looked_up_in_the_id_index(servers):
    """A page's twenty ids (the registry's displays, ADR 0050) are one condition PostgreSQL answers from the
    unique `_id` index, not a scan of the table that FerretDB then filters in Go."""
    db = servers[0].pushdown
    wanted = [f"c{i:05d}" for i in range(5, 3000, 150)]
    assert [d["n"] for d in db.many.find({"_id": {"$in": wanted}}).sort("n", 1)] == list(range(5, 3000, 150))
    explained = db.command("explain", {"find": "many", "filter": {"_id": {"$in": wanted}}})
    assert explained["filterPushdown"] is True
    plan = repr(explained["queryPlanner"])
    assert "Index" in plan and "Seq Scan" not in plan, plan
    stock = db.command("explain", {"find": "many", "filter": {"_id": {"$in": [*wanted, 7]}}})
    assert stock["filterPushdown"] is False  # a number among them: FerretDB's own way, as before


@pytest.mark.parametrize("direction", [1, -1])
def test_a_keyset_walk_meets_every_document_once_in_order(servers, direction: int):
    """Pages of 7 after the last key seen, as the read models ask them, give the reference's whole list."""
    patched, reference = (client.pushdown.asc for client in servers)
    base = {"status": "valid"}
    everything = [d for d in reference.find({**base, "page_key": {"$gte": ""}}).sort("page_key", direction)
                  if isinstance(d["page_key"], str) and d["page_key"] != "tie"]
    walked: list[dict[str, Any]] = []
    cursor: dict[str, Any] = {"$gte": ""}
    while True:
        page = list(patched.find({**base, "page_key": cursor}).sort("page_key", direction).limit(7))
        page = [d for d in page if isinstance(d["page_key"], str) and d["page_key"] != "tie"]
        if not page:
            break
        walked += page
        cursor = {"$gt" if direction == 1 else "$lt": page[-1]["page_key"]}
    assert [d["_id"] for d in walked] == [d["_id"] for d in everything]


def test_string_order_of_the_database_is_code_point_order(servers):
    """Keys compare in PostgreSQL's collation (C.UTF-8 from initdb); FerretDB and MongoDB compare UTF-8 bytes.
    Walked one key at a time, each page is the database's next key in its index: the walk must meet the keys in
    code point order (the order of their UTF-8 bytes). A cluster in another locale would fail here."""
    patched = servers[0].pushdown.words
    expected = sorted(KEYS, key=lambda s: s.encode())
    assert expected == sorted(KEYS)  # code point order is UTF-8 byte order
    for direction, op in ((1, "$gt"), (-1, "$lt")):
        walked: list[str] = []
        cursor: dict[str, str] = {"$gte": ""} if direction == 1 else {"$gt": ""}
        while page := list(patched.find({"page_key": cursor}).sort("page_key", direction).limit(1)):
            walked.append(page[0]["page_key"])
            cursor = {op: walked[-1]}
        assert walked == (expected if direction == 1 else expected[::-1])
