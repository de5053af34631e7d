"""A product's holders found by their ``<product>|<stream>`` entries on the real store (issue 14): the holders the
query ``{product: key}`` found, those kept before entries existed included; never another product's."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from certification.service import HOLDERS_BY_PRODUCT, Certification

pytestmark = pytest.mark.integration


def holder(stream: str, product: str | None, number: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": stream, "product": product, "rank": f"2026-11-30|{stream}",
                           "registration_number": "sealed"}
    if number is not None:
        doc["number"] = number
    return doc


async def test_a_products_holders_are_those_the_query_by_product_found_kept_before_entries_included(mongo, unique):
    db = mongo[f"certification_{unique}"]
    service: Any = SimpleNamespace(rt=SimpleNamespace(db=db))
    # kept before entries: two certificates of p1 (one not numbered yet), one of a product whose key goes on past
    # "p1|", one without a product (results from before registration numbers)
    await db["holders"].insert_many([holder("cert-a", "p1", "N1"), holder("cert-b", "p1", "N2"),
                                     holder("cert-e", "p1"), holder("cert-c", "p1|x", "N3"),
                                     holder("cert-d", None, "N4")])

    async def by_query(key: str) -> set[str]:
        return {h["_id"] async for h in db["holders"].find({"product": key})}

    async def by_entries(key: str) -> set[str]:
        return {h["_id"] for h in await Certification._holders_of(service, key)}

    await Certification.setup(service)
    for key in ("p1", "p1|x", "p2"):
        assert await by_entries(key) == await by_query(key)
    assert await by_entries("p1") == {"cert-a", "cert-b", "cert-e"}

    # kept now: its entry first, then the holder; an entry whose holder a crash left unkept is nobody
    await Certification._keep_holder(service, "cert-f", {"product": "p1", "rank": "2027-01-01|cert-f"})
    await db[HOLDERS_BY_PRODUCT].insert_one({"_id": "p1|cert-g", "product": "p1", "stream": "cert-g"})
    assert await by_entries("p1") == await by_query("p1") == {"cert-a", "cert-b", "cert-e", "cert-f"}

    await db[HOLDERS_BY_PRODUCT].delete_many({})
    await Certification.setup(service)  # once per deploy: a second start reads the holders no more
    assert await by_entries("p1") == set()
