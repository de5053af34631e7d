"""Sample custody's edges on the real broker and store (issue 16, ADR 0046 amendments): a closed round takes no
more samples in and moves none (handing back and keeping with a reason stay open); a reason for keeping samples
does not cover samples received after it."""

from __future__ import annotations

import pytest

from ..conftest import round_body
from .test_sample_custody import KHO, PHONG_HOP, accepted, received, returned, step

pytestmark = pytest.mark.integration


async def kept(intake, auth, sec, code, count, reason_code, reason):
    """A new round with one accepted dossier whose ``count`` samples are held, kept with a reason."""
    round_id = (await intake.post("/rounds", json=round_body(code), headers=sec)).json()["round_id"]
    dossier_id, _ = await accepted(intake, auth, sec, round_id, 1)
    assert (await step(intake, sec, dossier_id, "received", **received(count))).status_code == 201
    assert (await step(intake, sec, dossier_id, "retained", reason_code=reason_code, reason=reason)).status_code == 201
    return round_id, dossier_id


async def test_a_closed_round_takes_no_samples_in_and_moves_none_but_hands_back(intake, auth, unique):
    sec = auth("sct-kien-giang", "secretariat")
    round_id, dossier_id = await kept(intake, auth, sec, f"SC{unique}", 4, "not_collected", "Chủ thể chưa đến nhận")
    assert (await intake.post(f"/rounds/{round_id}/close", headers=sec, json={})).status_code == 201

    for what, body in (("received", received(2)),
                       ("moved", {"count": 1, "from_place": KHO, "to_place": PHONG_HOP}),
                       ("consumed", {"count": 1, "place": KHO, "note": "nếm thử"})):
        r = await step(intake, sec, dossier_id, what, **body)
        assert r.status_code == 409, (what, r.text)
        assert r.json()["current_status"] == "closed" and "is closed" in r.json()["detail"], r.text
    # the custody ends after the close: handed back, the rest kept with a reason
    assert (await step(intake, sec, dossier_id, "returned", **returned(3, KHO))).status_code == 201
    assert (await step(intake, sec, dossier_id, "retained", reason_code="other",
                       reason="Một mẫu giữ làm lưu")).status_code == 201
    doc = (await intake.get(f"/dossiers/{dossier_id}/samples", headers=sec)).json()
    assert (doc["received"], doc["returned"], doc["held_total"]) == (4, 3, 1)


async def test_a_reason_for_keeping_does_not_cover_samples_received_after_it(intake, auth, unique):
    sec = auth("sct-kien-giang", "secretariat")
    round_id, dossier_id = await kept(intake, auth, sec, f"SR{unique}", 2, "kept_for_next_level", "Gửi cấp quốc gia")
    assert (await step(intake, sec, dossier_id, "received", **received(3))).status_code == 201

    r = await intake.post(f"/rounds/{round_id}/close", headers=sec, json={})
    assert r.status_code == 409, r.text
    assert r.json()["reason"] == "samples_held" and [d["dossier_id"] for d in r.json()["dossiers"]] == [dossier_id]
    assert (await intake.get(f"/dossiers/{dossier_id}/samples", headers=sec)).json()["retained"] is None

    # a reason recorded after they arrived covers them all
    assert (await step(intake, sec, dossier_id, "retained", reason_code="kept_for_next_level",
                       reason="Gửi cấp quốc gia cả 5 mẫu")).status_code == 201
    r = await intake.post(f"/rounds/{round_id}/close", headers=sec, json={})
    assert r.status_code == 201, r.text
    assert r.json()["retained"][0]["held"] == 5


async def test_a_retried_return_notice_tells_no_one_twice_and_a_changed_one_is_new(intake, auth, unique):
    sec = auth("sct-kien-giang", "secretariat")
    round_id = (await intake.post("/rounds", json=round_body(f"SN{unique}"), headers=sec)).json()["round_id"]
    first, _ = await accepted(intake, auth, sec, round_id, 1)
    second, _ = await accepted(intake, auth, sec, round_id, 2)
    for dossier_id in (first, second):
        assert (await step(intake, sec, dossier_id, "received", **received(2))).status_code == 201
    notice = {"place": KHO, "from_date": "2026-12-10", "until_date": "2026-12-20",
              "occasion": "kết thúc hội chợ triển lãm"}

    async def notices(dossier_id):
        history = (await intake.get(f"/dossiers/{dossier_id}/samples", headers=sec)).json()["history"]
        return [h for h in history if h["type"] == "samples.return_due"]

    r = await intake.post(f"/rounds/{round_id}/samples/return-notice", headers=sec, json=notice)
    assert r.status_code == 201 and sorted(r.json()["notified"]) == sorted([first, second]), r.text
    r = await intake.post(f"/rounds/{round_id}/samples/return-notice", headers=sec, json=notice)
    assert r.status_code == 201 and r.json()["notified"] == [], r.text
    assert [len(await notices(d)) for d in (first, second)] == [1, 1]

    # a changed notice is a new one; so is the same one once the count held changed
    r = await intake.post(f"/rounds/{round_id}/samples/return-notice", headers=sec,
                          json={**notice, "until_date": "2026-12-31"})
    assert sorted(r.json()["notified"]) == sorted([first, second]), r.text
    assert (await step(intake, sec, first, "returned", **returned(1, KHO))).status_code == 201
    r = await intake.post(f"/rounds/{round_id}/samples/return-notice", headers=sec,
                          json={**notice, "until_date": "2026-12-31"})
    assert r.json()["notified"] == [first], r.text
    assert [len(await notices(d)) for d in (first, second)] == [3, 2]
