"""A claim's generations on the real store (binhchon_kit.claims, ADR 0013): found by their ``_id``s, a range the
unique index answers (issue 14: a lookup by the ``claim`` field read the whole collection on FerretDB), neither
missing one of theirs nor taking another key's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from binhchon_kit import claims

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


async def test_a_claims_generations_are_its_own_and_all_of_them(mongo, unique):
    c = mongo[f"kit_{unique}"]["claims"]
    key = "delivery-1:1"
    await c.insert_many([
        {"_id": key, "claim": key, "gen": 0},
        {"_id": claims.generation_id(key, 1), "claim": key, "gen": 1},
        {"_id": claims.generation_id(key, 2), "claim": key, "gen": 2},
        # neighbours in the index: a key it is a prefix of, before and after its generations, and their chains
        {"_id": "delivery-1:10", "claim": "delivery-1:10", "gen": 0},
        {"_id": claims.generation_id("delivery-1:10", 1), "claim": "delivery-1:10", "gen": 1},
        {"_id": "delivery-1:1 ", "claim": "delivery-1:1 ", "gen": 0},
        {"_id": "delivery-1:", "claim": "delivery-1:", "gen": 0},
    ])
    assert [d["_id"] for d in await claims.generations(c, key)] == [key, f"{key}\x1f1", f"{key}\x1f2"]
    assert (await claims.newest(c, key) or {})["gen"] == 2
    assert [d["_id"] for d in await claims.generations(c, "delivery-1:10")] == ["delivery-1:10", "delivery-1:10\x1f1"]
    assert await claims.generations(c, "delivery-2:1") == []


async def test_a_first_generation_written_before_generations_were_kept_is_found_and_pruned(mongo, unique):
    c = mongo[f"kit_{unique}"]["leases"]
    await c.insert_one({"_id": "lease", "owner": "old", "until": NOW - timedelta(minutes=1)})  # no claim, no gen
    assert [d["owner"] for d in await claims.generations(c, "lease")] == ["old"]
    taken = await claims.take(c, "lease", {"owner": "new", "until": NOW + timedelta(minutes=2)},
                              free=claims.lapsed("until", NOW))
    assert taken is not None and taken["gen"] == 1
    assert [d["_id"] for d in await c.find({}).to_list()] == ["lease\x1f1"]  # the expired one pruned


async def test_an_expired_claim_is_taken_over_by_exactly_one_of_many(mongo, unique):
    c = mongo[f"kit_{unique}"]["leases"]
    assert await claims.take(c, "k", {"owner": "a", "until": NOW - timedelta(seconds=1)},
                             free=claims.lapsed("until", NOW)) is not None
    won = await asyncio.gather(*(claims.take(c, "k", {"owner": f"w{n}", "until": NOW + timedelta(minutes=2)},
                                             free=claims.lapsed("until", NOW)) for n in range(8)))
    winners = [w for w in won if w is not None]
    assert len(winners) == 1 and winners[0]["gen"] == 1
    held = await claims.newest(c, "k")
    assert held is not None and held["owner"] == winners[0]["owner"]
    # held and not expired: nobody else takes it
    assert await claims.take(c, "k", {"owner": "late", "until": NOW}, free=claims.lapsed("until", NOW)) is None


async def test_a_long_chain_is_read_page_by_page_whole(mongo, unique, monkeypatch):
    """The index at work is measured by bench/pipeline.py (``store_seq_scans``: FerretDB's explain does not take
    the keyset path the find takes); here, that pages of the range miss no generation and take no neighbour's."""
    c = mongo[f"kit_{unique}"]["claims"]
    await c.insert_many([{"_id": f"d{n:03}:1", "claim": f"d{n:03}:1", "gen": 0} for n in range(40)]
                        + [{"_id": claims.generation_id("d007:1", g), "claim": "d007:1", "gen": g}
                           for g in range(1, 6)])
    monkeypatch.setattr(claims, "GENERATIONS_PAGE", 2)  # 6 generations read 2 by 2, then an empty page
    assert [d["gen"] for d in await claims.generations(c, "d007:1")] == [0, 1, 2, 3, 4, 5]
    assert [d["gen"] for d in await claims.generations(c, "d039:1")] == [0]


async def test_a_claim_likely_new_is_inserted_first_and_otherwise_decided_by_its_chain(mongo, unique):
    """``likely_new`` (notify's key per attempt): a fresh key is held at its first insert; a key held and not free
    stays another's; an expired one is taken over as usual; a first generation inserted again after a takeover
    pruned it loses (released), whoever inserts it."""
    c = mongo[f"kit_{unique}"]["claims"]
    lease = {"until": NOW + timedelta(minutes=1)}
    free = claims.lapsed("until", NOW)
    first = await claims.take(c, "a:1", {**lease, "owner": "w1"}, free, likely_new=True)
    assert first is not None and first["_id"] == "a:1" and first["gen"] == 0
    assert await claims.take(c, "a:1", {**lease, "owner": "w2"}, free, likely_new=True) is None
    await c.update_one({"_id": "a:1"}, {"$set": {"until": NOW - timedelta(seconds=1)}})
    over = await claims.take(c, "a:1", {**lease, "owner": "w2"}, free, likely_new=True)
    assert over is not None and over["gen"] == 1
    assert [d["_id"] for d in await c.find({}).to_list()] == ["a:1\x1f1"]  # the first pruned
    late = await claims.take(c, "a:1", {**lease, "owner": "w3"}, free, likely_new=True)  # inserts gen 0 again
    assert late is None and (await c.find_one({"_id": "a:1"}) or {}).get("released") is True
    assert (await claims.newest(c, "a:1") or {})["owner"] == "w2"
