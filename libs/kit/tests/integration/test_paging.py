"""Keyset pages on the real MongoDB-protocol server (ADR 0015): descending order, rows dropped by a check the
query cannot make (short pages keep a cursor, never a skip), a list that ends at a key, the one-time fill of
keys on documents stored before keys existed, and which key a filtered page walks."""

from __future__ import annotations

import asyncio

import pytest

from binhchon_kit import paging

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(mongo, unique):
    return mongo[f"kit_paging_{unique}"]


async def walk(collection, **kw):
    pages, after = [], None
    while True:
        found = await paging.page(collection, after=paging.cursor_key(after), **kw)
        pages.append([d["n"] for d in found.items])
        if (after := found.next) is None:
            return pages


async def test_newest_first_with_rows_the_query_cannot_drop(db):
    rows = db["rows"]
    await rows.insert_many([{"_id": f"r{n}", "n": n, "kind": "a" if n % 2 else "b", "valid": n % 5 != 0,
                             "page_key": f"2026-01-{n:02d}|r{n}"} for n in range(1, 29)])
    # every fifth row is dropped by the check: pages may come short, none is lost or repeated
    pages = await walk(rows, equals={"kind": "a"}, limit=3, descending=True, keep=lambda d: d["valid"])
    listed = [n for p in pages for n in p]
    assert listed == [n for n in range(28, 0, -1) if n % 2 and n % 5], pages
    assert all(len(p) <= 3 for p in pages)
    # a check that keeps nothing: bounded scans, a cursor to go on, and the walk ends with nothing listed
    found = await paging.page(rows, equals={}, after=None, limit=2, keep=lambda d: False, scans=2)
    assert found.items == [] and found.next is not None
    # 28 rows, 7 fetched per scan, 2 scans per page: two empty pages with a cursor, then the end
    assert await walk(rows, equals={}, limit=2, keep=lambda d: False, scans=2) == [[], [], []]


async def test_a_list_that_ends_at_a_key_and_leaves_out_rows_without_one(db):
    rows = db["due"]
    await rows.insert_many([{"_id": n, "n": n, "round": n % 2, "check_key": f"2026-11-{n:02d}|R-{n:05d}"
                             if n % 3 else None} for n in range(1, 21)])
    pages = await walk(rows, equals={"round": 1}, key="check_key", floor="", limit=2,
                       until=lambda d: d["check_key"] >= "2026-11-15")
    assert [n for p in pages for n in p] == [1, 5, 7, 11, 13]


async def test_keys_are_filled_once_for_documents_stored_before(db):
    await db["old"].insert_many([{"_id": f"d{n}", "code": f"C{n:03d}"} for n in range(5)])
    assert await paging.fill_keys(db, "old", lambda d: d["code"]) == 5
    await db["old"].insert_one({"_id": "late", "code": "C999", "page_key": "C999"})
    assert await paging.fill_keys(db, "old", lambda d: d["code"]) == 0  # marked done: no second scan
    pages = await paging.page(db["old"], equals={}, after=None, limit=10, show=lambda d: d)
    assert [d["page_key"] for d in pages.items] == ["C000", "C001", "C002", "C003", "C004", "C999"]


async def test_replicas_filling_keys_at_once_all_start(db):
    # compose's ha profile starts two replicas together: both fill, both mark; the marker's losing insert must not
    # stop the replica's start (it did, with E11000 on read_model_keys)
    await db["old"].insert_many([{"_id": f"d{n}", "code": f"C{n:03d}"} for n in range(5)])
    await asyncio.gather(*(paging.fill_keys(db, "old", lambda d: d["code"]) for _ in range(4)))
    assert await db["read_model_keys"].count_documents({}) == 1
    assert await db["old"].count_documents({"page_key": {"$exists": True}}) == 5


async def test_filter_keys_added_later_are_filled_together_in_one_pass(db):
    # a key whose fill already ran is left alone; the keys added since are filled on one pass over the documents
    # that lack any of them (a document stored by new code has them all and is not touched)
    def keys_of(doc):
        return {"a_key": f"{doc['a']}|{doc['code']}", "b_key": f"{doc['b']}|{doc['code']}",
                "a_b_key": f"{doc['a']}|{doc['b']}|{doc['code']}"}

    await db["old"].insert_many([{"_id": f"d{n}", "code": f"C{n:03d}", "a": n % 2, "b": n % 3,
                                  "a_key": f"{n % 2}|C{n:03d}"} for n in range(6)])
    await db["old"].insert_one({"_id": "new", "code": "C999", "a": 1, "b": 2, **keys_of({"a": 1, "b": 2,
                                                                                           "code": "C999"})})
    await db["read_model_keys"].insert_one({"_id": "old.a_key.v1", "filled": 6})
    keys = {"a": "a_key", "b": "b_key", ("a", "b"): "a_b_key"}
    assert await paging.fill_filter_keys(db, "old", keys, keys_of) == 6
    assert await paging.fill_filter_keys(db, "old", keys, keys_of) == 0  # every marker set: no scan
    async for doc in db["old"].find():
        assert {k: doc[k] for k in keys.values()} == keys_of(doc), doc
    assert await db["read_model_keys"].count_documents({}) == 3


def test_a_page_walks_the_key_of_exactly_the_filters_it_is_asked():
    keys = {("province", "year"): "province_year_key", "province": "province_key", ("year",): "year_key"}
    assert paging.walked_key(keys, {"status": "valid", "year": 2025, "province": "24"}) == (
        "province_year_key", "24|2025|")
    assert paging.walked_key(keys, {"year": 2025, "stars": 4}) == ("year_key", "2025|")
    assert paging.walked_key(keys, {"province": "24"}) == ("province_key", "24|")
    assert paging.walked_key(keys, {"stars": 4}) == (paging.PAGE_KEY, "")


def test_a_cursor_is_the_key_and_nothing_else():
    key = "2026-11-28|OCOP-X-2026-00001"
    assert paging.decode_cursor(paging.encode_cursor(key)) == key
    for bad in ("***", "4pyT", ""):
        with pytest.raises(paging.BadCursor):
            paging.decode_cursor(bad)
