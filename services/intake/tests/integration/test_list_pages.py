"""Lists are keyset pages cut by the database (ADR 0015): walking them with the `next` cursor lists each dossier
once, in receipt-number order, even while dossiers arrive between two pages; filters combine; a cursor that is
not one the list gave, or an old-style offset, is a 422 naming the parameter."""

from __future__ import annotations

import base64

import pytest

from ..conftest import dossier_body, round_body

pytestmark = pytest.mark.integration


async def submit(intake, auth, round_id, n):
    r = await intake.post(f"/rounds/{round_id}/dossiers", headers=auth(f"producer-{n}", "applicant"),
                          json=dossier_body(product=f"Sản phẩm số {n}", regno=f"24000000{n:02d}"))
    assert r.status_code == 201, r.text
    return r.json()


async def test_walking_the_pages_lists_each_dossier_once_while_more_arrive(intake, auth, unique):
    sec = auth("sec-1", "secretariat")
    round_id = (await intake.post("/rounds", json=round_body(f"P{unique}"), headers=sec)).json()["round_id"]
    before = [(await submit(intake, auth, round_id, n))["receipt_number"] for n in range(7)]

    seen: list[str] = []
    after, pages, arrived = None, 0, []
    while True:
        r = await intake.get("/dossiers", params={"round_id": round_id, "limit": 3, "total": "true",
                                                  **({"after": after} if after else {})}, headers=sec)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= 3 and "offset" not in page
        seen += [d["receipt_number"] for d in page["items"]]
        assert all("page_key" not in d and "_id" not in d for d in page["items"])
        pages += 1
        if pages == 1:  # three more dossiers arrive while the secretariat reads the first page
            assert page["total"] == 7  # equalities only: the database counts them, on the first page
            arrived = [(await submit(intake, auth, round_id, n))["receipt_number"] for n in range(7, 10)]
        after = page["next"]
        if after is None:
            break
    assert len(seen) == len(set(seen)), "a dossier listed twice"
    assert set(before) <= set(seen), "a dossier skipped"
    assert set(arrived) <= set(seen)  # they come after the cursor: receipt numbers only grow
    assert seen == sorted(seen) and pages == 4
    assert "total" not in page  # the walk has it from the first page (ADR 0015)
    unasked = (await intake.get("/dossiers", params={"round_id": round_id}, headers=sec)).json()
    assert "total" not in unasked and len(unasked["items"]) == 10  # counted only when asked: a count costs a pass


async def test_filters_combine_and_page(intake, auth, unique):
    sec = auth("sec-1", "secretariat")
    round_id = (await intake.post("/rounds", json=round_body(f"F{unique}"), headers=sec)).json()["round_id"]
    receipts = [await submit(intake, auth, round_id, n) for n in range(5)]
    for withdrawn in (receipts[1], receipts[3]):
        r = await intake.post(f"/dossiers/{withdrawn['dossier_id']}/withdraw", json={"reason": "Rút hồ sơ"},
                              headers=auth("sec-1", "secretariat"))
        assert r.status_code == 201, r.text

    async def walk(**params):
        found, after, total = [], None, None
        while True:
            page = (await intake.get("/dossiers", params={"round_id": round_id, "limit": 1, "total": "true", **params,
                                                          **({"after": after} if after else {})},
                                     headers=sec)).json()
            total = page["total"] if after is None else total  # counted on the first page
            found += [d["dossier_id"] for d in page["items"]]
            if (after := page["next"]) is None:
                return found, total

    assert await walk(status="withdrawn", province_code="24", district_code="218") == (
        [receipts[1]["dossier_id"], receipts[3]["dossier_id"]], 2)
    assert await walk(status="received", province_code="24") == (
        [receipts[n]["dossier_id"] for n in (0, 2, 4)], 3)
    assert await walk(status="received", province_code="01") == ([], 0)
    # an applicant pages through their own only
    mine = (await intake.get("/dossiers", params={"limit": 5}, headers=auth("producer-2", "applicant"))).json()
    assert [d["dossier_id"] for d in mine["items"]] == [receipts[2]["dossier_id"]] and mine["next"] is None


@pytest.mark.parametrize("after", ["not a cursor!", base64.urlsafe_b64encode(b"x|y").decode(), "%%%",
                                   base64.urlsafe_b64encode("Đ".encode()).decode()])
async def test_a_cursor_the_list_did_not_give_is_named(intake, auth, after):
    for path in ("/dossiers", "/dossiers/overdue", "/rounds"):
        r = await intake.get(path, params={"after": after}, headers=auth("sec-1", "secretariat"))
        assert r.status_code == 422, (path, r.text)
        assert r.json()["detail"][0]["loc"] == ["query", "after"] and "next" in r.json()["detail"][0]["msg"]


async def test_an_offset_is_refused_by_name_not_answered_with_the_first_page(intake, auth):
    r = await intake.get("/dossiers", params={"offset": 100}, headers=auth("sec-1", "secretariat"))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "offset"]
    assert "after" in r.json()["detail"][0]["msg"]


async def test_a_round_s_or_an_applicant_s_dossiers_walk_their_own_key_and_old_documents_get_it(
        infra, unique, topic_prefix, dev_keys, auth):
    """A round's dossiers, or an applicant's, are few among all: the list walks that filter's own key
    (``round_page_key``, ``applicant_page_key``: ADR 0015); documents stored before those keys get them at start."""
    from pymongo import AsyncMongoClient

    from ..conftest import intake_settings, running_intake, upload_documents

    settings = intake_settings(infra, unique, topic_prefix, str(dev_keys[1]))
    sec = auth("sec-1", "secretariat")

    async def walk(client, **params):
        seen, after = [], None
        while True:
            body = (await client.get("/dossiers", params={"limit": 2, **params, **({"after": after} if after
                                                                                    else {})}, headers=sec)).json()
            assert all("round_page_key" not in d and "applicant_page_key" not in d for d in body["items"])
            seen += [d["receipt_number"] for d in body["items"]]
            if (after := body["next"]) is None:
                return seen

    async with running_intake(settings) as intake:
        await upload_documents(intake, auth("sample-uploader", "applicant"))
        rounds = [(await intake.post("/rounds", json=round_body(f"K{unique}{n}"), headers=sec)).json()["round_id"]
                  for n in range(2)]
        mine: dict[str, list[str]] = {r: [] for r in rounds}
        for n in range(6):  # interleaved: every other dossier in each round
            round_id = rounds[n % 2]
            mine[round_id].append((await submit(intake, auth, round_id, n))["receipt_number"])
        for round_id in rounds:
            assert await walk(intake, round_id=round_id) == sorted(mine[round_id])
        own = (await intake.get("/dossiers", params={"limit": 5}, headers=auth("producer-3", "applicant"))).json()
        assert [d["receipt_number"] for d in own["items"]] == [mine[rounds[1]][1]] and own["next"] is None

    mongo: AsyncMongoClient = AsyncMongoClient(infra.mongodb)
    db = mongo[f"intake_{unique}"]
    await db["dossiers"].update_many({}, {"$unset": {"round_page_key": "", "applicant_page_key": ""}})
    for marker in ("dossiers.round_page_key.v1", "dossiers.applicant_page_key.v1"):
        await db["read_model_keys"].delete_one({"_id": marker})
    await mongo.close()
    async with running_intake(settings) as intake:
        assert await walk(intake, round_id=rounds[0]) == sorted(mine[rounds[0]])
