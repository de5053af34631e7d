"""The acceptance's two checks (ADR 0037: one accepted dossier per producer's product, one verified account per
producer) read the product's dossiers and the producer's bindings only, however many others are stored (issue 14):
PostgreSQL's own counts of the pages read (``pg_stat_statements``, binhchon_kit.testing.table_reads), with 2,000 older
dossiers and bindings; and documents stored before the
keys existed are found once ``views.setup`` has given them their keys."""

from __future__ import annotations

import pytest

from binhchon_kit.testing.table_reads import reads, table_pages
from intake import views
from intake.domain import bindings, dossiers

pytestmark = pytest.mark.integration

OLDER = 2_000
# pages per check, measured the same on every run: 5 and 5; the queries before (2a60ef1^1), each a sequential scan of
# the collection: 154 of dossiers, 212 of bindings
BOUND = 20


def dossier(n: int, identity: str, status: str) -> dict:
    doc = {"_id": f"dossier-{n:06d}", "product_identity": identity, "status": status,
           "receipt_number": f"R-{n:06d}", "page_key": f"R-{n:06d}"}
    return {**doc, "identity_key": dossiers.identity_key(doc)}


def binding(n: int, number: str, status: str, applicant: str) -> dict:
    doc = {"_id": f"binding-{n:06d}", "binding_id": f"binding-{n:06d}", "applicant_id": applicant, "status": status,
           "registration_number": number, "producer_ref": bindings.producer_ref(number), "page_key": f"b{n:06d}"}
    return {**doc, "producer_key": bindings.producer_key(doc)}


@pytest.fixture
async def db(counted_mongo, unique):
    db = counted_mongo[f"intake_rows_{unique}"]
    await views.setup(db)
    await db["dossiers"].insert_many([dossier(n, f"dossier-other{n:06d}", "accepted") for n in range(OLDER)])
    await db["bindings"].insert_many([binding(n, f"OTHER{n:06d}", "verified", f"acc-{n}") for n in range(OLDER)])
    return db


async def test_the_checks_read_the_products_dossiers_and_the_producers_bindings_only(counted_store, db):
    await db["dossiers"].insert_many([dossier(OLDER, "dossier-mine", "accepted"),
                                      dossier(OLDER + 1, "dossier-mine", "received")])
    await db["bindings"].insert_many([binding(OLDER, "0101234567", "verified", "acc-real"),
                                      binding(OLDER + 1, "0101234567", "requested", "acc-fake")])
    found: dict[str, bool] = {}

    async def accepted() -> None:
        found["accepted"] = await views.accepted_of_product(db, "dossier-mine", besides="dossier-002001")

    async def verified() -> None:
        found["verified"] = await views.verified_for_producer(db, " 0101234567 ", besides="acc-fake")

    dossier_reads = (await reads(counted_store, db.name, accepted))["dossiers"]
    binding_reads = (await reads(counted_store, db.name, verified))["bindings"]
    print(f"\npages read: dossiers {dossier_reads}, bindings {binding_reads}")
    assert found == {"accepted": True, "verified": True}
    assert dossier_reads.pages <= BOUND and binding_reads.pages <= BOUND, (dossier_reads, binding_reads)
    # the answers the old queries gave: itself is not a duplicate; the account verified is not "another"
    assert not await views.accepted_of_product(db, "dossier-mine", besides="dossier-002000")
    assert not await views.verified_for_producer(db, "0101234567", besides="acc-real")
    assert not await views.accepted_of_product(db, "dossier-none", besides="x")

    # the counts see a whole read: a filter no index serves touches every page of the 2,000 dossiers
    full = (await reads(counted_store, db.name, lambda: db["dossiers"].count_documents({"nowhere": 1})))["dossiers"]
    assert full.pages >= table_pages(counted_store, db.name, "dossiers") > BOUND, full


async def test_documents_stored_before_the_keys_are_found_after_setup(db):
    """Read models folded by older code: no key (and a binding without its producer_ref); ``setup`` fills them
    once per deploy, and the checks find them."""
    old_dossier = dossier(OLDER, "dossier-old", "accepted")
    del old_dossier["identity_key"]
    old_binding = binding(OLDER, "0107654321", "verified", "acc-old")
    del old_binding["producer_key"], old_binding["producer_ref"]
    await db["dossiers"].insert_one(old_dossier)
    await db["bindings"].insert_one(old_binding)
    # as in a database set up before these keys existed
    await db["read_model_keys"].delete_many({"_id": {"$in": ["dossiers.identity_key.v1", "bindings.producer_key.v1"]}})
    assert not await views.accepted_of_product(db, "dossier-old", besides="x")
    await views.setup(db)
    assert await views.accepted_of_product(db, "dossier-old", besides="x")
    assert await views.verified_for_producer(db, "0107654321", besides="acc-new")
