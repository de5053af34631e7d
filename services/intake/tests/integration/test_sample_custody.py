"""Sample custody on the real broker and store (issue 16, ADR 0046): a round's samples received, moved, used up in
tasting and handed back with the producer's confirmation, each step with who and when (the service's clock, shown
in Vietnam's time); counts never negative (409 naming what the place holds); the round refused closing while
samples are held without a reason, then closed; the custody list page by page; selection codes unique per round,
drawn at random when none is given; the handover slip and the labels printable and escaped."""

from __future__ import annotations

import json
import re

import pytest

from ..conftest import NOW, dossier_body, round_body

pytestmark = pytest.mark.integration

KHO, PHONG_HOP, TRUNG_BAY = "Kho Sở Công Thương", "Phòng họp hội đồng", "Khu trưng bày hội chợ"


async def accepted(intake, auth, sec, round_id, n, code=None):
    r = await intake.post(f"/rounds/{round_id}/dossiers", headers=auth(f"producer-{n}", "applicant"),
                          json=dossier_body(product=f"Nước mắm <b>số {n}</b>", regno=f"17000000{n:02d}"))
    assert r.status_code == 201, r.text
    dossier_id = r.json()["dossier_id"]
    body = {"product_group": "thực phẩm", **({"sample_code": code} if code else {})}
    r = await intake.post(f"/dossiers/{dossier_id}/accept", headers=sec, json=body)
    assert r.status_code == 201, r.text
    return dossier_id, r.json()


async def step(intake, sec, dossier_id, what, **body):
    return await intake.post(f"/dossiers/{dossier_id}/samples/{what}", headers=sec, json=body)


def received(count, place=KHO):
    return {"count": count, "condition": "nguyên vẹn, còn hạn sử dụng", "storage_place": place,
            "received_by": "Nguyễn Văn Nhận", "handed_over_by": "Trần Thị Giao"}


def returned(count, place):
    return {"count": count, "from_place": place, "condition": "nguyên vẹn", "returned_by": "Nguyễn Văn Nhận",
            "received_by": "Trần Thị Giao", "producer_confirmation": "Đã nhận đủ mẫu, đúng sản phẩm"}


async def test_samples_received_moved_used_up_and_handed_back_and_the_round_closes_only_then(intake, auth, unique):
    sec = auth("sct-kien-giang", "secretariat")
    body = round_body(f"SM{unique}", programme="CNNTTB", rulebook_id="cnnttb-2025")
    round_id = (await intake.post("/rounds", json=body, headers=sec)).json()["round_id"]
    first, receipt = await accepted(intake, auth, sec, round_id, 1)
    second, _ = await accepted(intake, auth, sec, round_id, 2, code="NM-02")
    code = receipt["sample_code"]
    assert re.fullmatch(r"MS-[A-Z2-9]{5}", code), code  # drawn: nothing of the receipt number in it
    assert receipt["receipt_number"].rsplit("-", 1)[-1] not in code

    # a selection code is one dossier's in its round
    _, third_receipt = await accepted(intake, auth, sec, round_id, 3)
    r = await intake.post(f"/rounds/{round_id}/dossiers", headers=auth("producer-4", "applicant"),
                          json=dossier_body(product="Mắm ruốc", regno="1700000004"))
    fourth = r.json()["dossier_id"]
    r = await intake.post(f"/dossiers/{fourth}/accept", headers=sec, json={"product_group": "thực phẩm",
                                                                           "sample_code": "NM-02"})
    assert r.status_code == 409 and "already another dossier" in r.json()["detail"], r.text

    # samples only for an accepted dossier (labelled with its code)
    r = await step(intake, sec, fourth, "received", **received(5))
    assert r.status_code == 409 and "accepted dossier" in r.json()["detail"], r.text

    r = await step(intake, sec, first, "received", **received(5))
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["actor"] == "sct-kien-giang" and got["selection_code"] == code
    assert got["at"].replace("Z", "+00:00") == NOW.isoformat()  # the service's clock, not the machine's
    assert (await step(intake, sec, second, "received", **received(3))).status_code == 201

    assert (await step(intake, sec, first, "moved", count=3, from_place=KHO, to_place=PHONG_HOP,
                       purpose="chấm điểm trực tiếp")).status_code == 201
    # more than the council room holds: refused, naming what it holds
    r = await step(intake, sec, first, "consumed", count=4, place=PHONG_HOP, note="nếm thử")
    assert r.status_code == 409, r.text
    assert r.json()["reason"] == "not_enough_samples" and r.json()["held_there"] == 3, r.text
    assert (await step(intake, sec, first, "consumed", count=2, place=PHONG_HOP, note="nếm thử")).status_code == 201
    r = await step(intake, sec, first, "returned", **returned(3, KHO))
    assert r.status_code == 409 and r.json()["held"] == {KHO: 2, PHONG_HOP: 1}, r.text
    assert (await step(intake, sec, first, "moved", count=1, from_place=PHONG_HOP, to_place=TRUNG_BAY
                       )).status_code == 201

    # the round cannot close while samples are held with no reason recorded
    r = await intake.post(f"/rounds/{round_id}/close", headers=sec, json={})
    assert r.status_code == 409, r.text
    assert {d["dossier_id"] for d in r.json()["dossiers"]} == {first, second}

    # the custody list: page by page, in selection-code order
    items, after = [], None
    while True:
        r = await intake.get(f"/rounds/{round_id}/samples", headers=sec,
                             params={"limit": 1, **({"after": after} if after else {})})
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        after = r.json()["next"]
        if after is None:
            break
    assert [i["dossier_id"] for i in items] == [d for _, d in sorted([(code, first), ("NM-02", second)])]
    one = next(i for i in items if i["dossier_id"] == first)
    assert one["held"] == [{"place": KHO, "count": 2}, {"place": TRUNG_BAY, "count": 1}]
    assert (one["received"], one["consumed"], one["returned"], one["all_returned"]) == (5, 2, 0, False)
    # the producer reads their own dossier's samples only
    mine = (await intake.get(f"/rounds/{round_id}/samples", headers=auth("producer-2", "applicant"))).json()
    assert [i["dossier_id"] for i in mine["items"]] == [second]
    assert (await intake.get(f"/dossiers/{first}/samples", headers=auth("producer-2", "applicant"))
            ).status_code == 403

    # handed back after the fair, with the producer's confirmation; the second dossier's kept for the next level
    assert (await step(intake, sec, first, "returned", **returned(2, KHO))).status_code == 201
    assert (await step(intake, sec, first, "returned", **returned(1, TRUNG_BAY))).status_code == 201
    assert (await step(intake, sec, second, "retained", reason_code="kept_for_next_level",
                       reason="Giữ lại gửi cấp quốc gia")).status_code == 201
    r = await intake.get(f"/rounds/{round_id}/samples", headers=sec)
    listing = r.json()
    print("GET /rounds/{id}/samples:", json.dumps(listing, ensure_ascii=False, indent=1))
    done = next(i for i in listing["items"] if i["dossier_id"] == first)
    assert done["all_returned"] and done["held"] == [] and done["returned"] == 3

    r = await intake.post(f"/rounds/{round_id}/close", headers=sec, json={"note": "kết thúc đợt"})
    assert r.status_code == 201, r.text
    assert r.json()["retained"] == [{"dossier_id": second, "selection_code": "NM-02", "held": 3,
                                     "reason_code": "kept_for_next_level", "reason": "Giữ lại gửi cấp quốc gia"}]
    assert (await intake.get(f"/rounds/{round_id}")).json()["status"] == "closed"
    assert (await intake.post(f"/rounds/{round_id}/close", headers=sec, json={})).status_code == 409
    # a closed round takes no more dossiers, though its submission window may still be open
    r = await intake.post(f"/rounds/{round_id}/dossiers", headers=auth("producer-5", "applicant"),
                          json=dossier_body(product="Mắm tôm", regno="1700000005"))
    assert r.status_code == 409 and "closed" in r.json()["detail"], r.text
    assert third_receipt["sample_code"] != code


async def test_the_slip_and_the_labels_print_in_vietnamese_escaped(intake, auth, unique):
    sec = auth("sct-kien-giang", "secretariat")
    round_id = (await intake.post("/rounds", json=round_body(f"SL{unique}"), headers=sec)).json()["round_id"]
    dossier_id, receipt = await accepted(intake, auth, sec, round_id, 1)
    r = await step(intake, sec, dossier_id, "received", **{**received(2), "handed_over_by": "<script>x</script>"})
    assert r.status_code == 201, r.text
    # the producer's person is sealed on the event (ADR 0035), opened for whoever reads the custody record
    [stored] = await intake.app.state.intake.store.read_stream("samples-" + dossier_id.removeprefix("dossier-"))
    assert stored.data["handed_over_by"]["enc"] == "A256GCM" and "<script>" not in str(stored.data)
    history = (await intake.get(f"/dossiers/{dossier_id}/samples", headers=sec)).json()["history"]
    assert history[0]["handed_over_by"] == "<script>x</script>" and history[0]["received_by"] == "Nguyễn Văn Nhận"
    # the command's answer shows the step as the record does (with its dossier and round), not sealed
    assert {k: r.json()[k] for k in history[0]} == history[0]
    r = await intake.get(f"/dossiers/{dossier_id}/samples/slip", headers=auth("producer-1", "applicant"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), r.text
    page = r.text
    assert "BIÊN BẢN GIAO NHẬN MẪU SẢN PHẨM" in page and "@page{size:A4" in page
    assert "<script>x" not in page and "&lt;script&gt;x" in page
    assert "&lt;b&gt;số 1&lt;/b&gt;" in page and receipt["sample_code"] in page
    assert "23/11/2026 06:26" in page  # the clock's instant, read in Vietnam
    r = await intake.get(f"/dossiers/{dossier_id}/samples/slip", params={"step": "returned"}, headers=sec)
    assert r.status_code == 404
    r = await step(intake, sec, dossier_id, "returned", **returned(2, KHO))
    assert r.status_code == 201 and r.json()["received_by"] == "Trần Thị Giao", r.text
    r = await intake.get(f"/dossiers/{dossier_id}/samples/slip", params={"step": "returned"}, headers=sec)
    assert r.status_code == 200 and "Đã nhận đủ mẫu, đúng sản phẩm" in r.text
    r = await intake.get(f"/dossiers/{dossier_id}/samples/label", headers=sec)
    assert r.status_code == 200 and r.text.count(f'class="code">{receipt["sample_code"]}<') == 2
    assert dossier_body()["producer"]["name"] not in r.text  # no producer on a label
