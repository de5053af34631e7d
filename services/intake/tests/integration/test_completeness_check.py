"""The one-stop-shop completeness check over HTTP, against the real stack."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from binhchon_kit.testing.documents import listed, sample_pdf
from binhchon_kit.workdays import add_working_days

from ..conftest import TODAY, dossier_body, round_body, upload_documents

pytestmark = pytest.mark.integration


@pytest.fixture
async def opened(intake, auth, unique):
    sec = auth("sec-1", "secretariat")
    r = await intake.post("/rounds", json=round_body(f"C{unique}"), headers=sec)
    assert r.status_code == 201, r.text
    return r.json()


async def submit(intake, auth, round_id, who="producer-1", **kw):
    return await intake.post(f"/rounds/{round_id}/dossiers", json=dossier_body(**kw), headers=auth(who, "applicant"))


async def test_receipt_due_date_counts_vietnamese_working_days(intake, auth, opened):
    r = await submit(intake, auth, opened["round_id"])
    receipt = r.json()
    today = intake.app.state.intake.today()
    assert receipt["check_due_date"] == add_working_days(today, 3).isoformat()


async def test_supplement_once_then_accept(intake, auth, opened):
    sec = auth("sec-1", "secretariat")
    dossier_id = (await submit(intake, auth, opened["round_id"])).json()["dossier_id"]
    request = {"items": [{"document_kind": "quality_declaration", "description": "Bản tự công bố chất lượng"},
                         {"description": "Giấy chứng nhận đăng ký kinh doanh (bản sao)"}],
               "reason": "Hồ sơ còn thiếu giấy tờ bắt buộc"}
    r = await intake.post(f"/dossiers/{dossier_id}/supplement-request", json=request, headers=sec)
    assert r.status_code == 201, r.text
    assert len(r.json()["data"]["items"]) == 2

    # written once: a second request is refused, naming the state
    r = await intake.post(f"/dossiers/{dossier_id}/supplement-request", json=request, headers=sec)
    assert r.status_code == 409
    assert r.json()["current_status"] == "supplement_requested"

    # accept is illegal while waiting for the producer
    r = await intake.post(f"/dossiers/{dossier_id}/accept", json={"product_group": "thực phẩm",
                                                                  "sample_code": "TP-01"}, headers=sec)
    assert r.status_code == 409 and r.json()["current_status"] == "supplement_requested"

    # another applicant cannot supplement someone else's dossier
    declaration = sample_pdf("Ban tu cong bo chat luong")
    doc = listed("quality_declaration", "tu-cong-bo.pdf", declaration)
    await upload_documents(intake, auth("producer-1", "applicant"), [("tu-cong-bo.pdf", declaration)])
    r = await intake.post(f"/dossiers/{dossier_id}/supplements", json={"documents": [doc]},
                          headers=auth("intruder", "applicant"))
    assert r.status_code == 403 and r.json()["detail"] == "this is open to own dossier only"  # existing or not
    r = await intake.post(f"/dossiers/{dossier_id}/supplements", json={"documents": [doc], "note": "Đã bổ sung"},
                          headers=auth("producer-1", "applicant"))
    assert r.status_code == 201, r.text

    r = await intake.post(f"/dossiers/{dossier_id}/supplement-request", json=request, headers=sec)
    assert r.status_code == 409  # still only one request in this round

    r = await intake.post(f"/dossiers/{dossier_id}/accept", json={"product_group": "thực phẩm",
                                                                  "sample_code": "TP-01"}, headers=sec)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "accepted"
    assert r.json()["result_due_date"] == opened["schedule"]["council_date"]

    detail = (await intake.get(f"/dossiers/{dossier_id}", headers=sec)).json()
    assert [h["type"] for h in detail["history"]] == [
        "dossier.received", "dossier.supplement_requested", "dossier.supplemented", "dossier.accepted"]
    assert detail["classification"] == {"product_group": "thực phẩm", "sample_code": "TP-01"}
    assert detail["history"][1]["actor"] == "sec-1"

    r = await intake.post(f"/dossiers/{dossier_id}/reject", json={"reason": "x"}, headers=sec)
    assert r.status_code == 409 and r.json()["current_status"] == "accepted"


async def test_reject_and_withdraw(intake, auth, opened):
    sec = auth("sec-1", "secretariat")
    a = (await submit(intake, auth, opened["round_id"], product="Gạo nếp cái hoa vàng")).json()["dossier_id"]
    b = (await submit(intake, auth, opened["round_id"], product="Bánh chưng Tranh")).json()["dossier_id"]
    r = await intake.post(f"/dossiers/{a}/reject", json={"reason": "Sản phẩm không thuộc bộ sản phẩm OCOP"},
                          headers=sec)
    assert r.status_code == 201
    r = await intake.post(f"/dossiers/{a}/withdraw", json={}, headers=auth("producer-1", "applicant"))
    assert r.status_code == 409 and r.json()["current_status"] == "rejected"
    r = await intake.post(f"/dossiers/{b}/withdraw", json={"reason": "Chưa đủ sản lượng"},
                          headers=auth("producer-1", "applicant"))
    assert r.status_code == 201
    listed = (await intake.get("/dossiers", params={"round_id": opened["round_id"], "status": "withdrawn"},
                               headers=sec)).json()
    assert [d["dossier_id"] for d in listed["items"]] == [b]


async def test_duplicate_product_is_409_naming_no_dossier(intake, auth, opened):
    first = (await submit(intake, auth, opened["round_id"])).json()
    r = await submit(intake, auth, opened["round_id"], product="  MẬT ONG rừng lục nam ")
    assert r.status_code == 409
    # the dossier met may be another account's: the answer names none (ADR 0037)
    assert r.json() == {"detail": f"this producer already has a dossier for this product in round "
                                  f"{opened['code']}", "reason": "duplicate"}
    assert first["dossier_id"] not in r.text
    # a different product of the same producer is fine, and numbering has no gap
    r = await submit(intake, auth, opened["round_id"], product="Mật ong hoa vải")
    assert r.status_code == 201
    assert r.json()["receipt_number"].endswith("-00002")


async def test_invalid_input_names_each_field(intake, auth, opened):
    body = dossier_body()
    body["producer"]["kind"] = "corporation"
    body["product"]["sample_count"] = -1
    body["documents"][0]["sha256"] = "xyz"
    del body["producer"]["contact"]
    r = await intake.post(f"/rounds/{opened['round_id']}/dossiers", json=body, headers=auth("p", "applicant"))
    assert r.status_code == 422
    locations = {tuple(e["loc"][1:]) for e in r.json()["detail"]}
    assert {("producer", "kind"), ("product", "sample_count"), ("documents", 0, "sha256"),
            ("producer", "contact")} <= locations
    assert all(e["msg"] for e in r.json()["detail"])
    stored = await intake.get("/dossiers", params={"round_id": opened["round_id"], "total": "true"},
                              headers=auth("s", "secretariat"))
    assert stored.json()["total"] == 0 and stored.json()["items"] == []


async def test_auth_is_enforced(intake, auth, opened):
    r = await intake.post(f"/rounds/{opened['round_id']}/dossiers", json=dossier_body())
    assert r.status_code == 401
    r = await intake.post("/rounds", json=round_body("X1"), headers=auth("p", "applicant"))
    assert r.status_code == 403
    r = await intake.post(f"/rounds/{opened['round_id']}/dossiers", json=dossier_body(),
                          headers={"Authorization": "Bearer not.a.token"})
    assert r.status_code == 401


async def test_overdue_and_apology_reschedule(intake, auth, opened):
    sec = auth("sec-1", "secretariat")
    receipt = (await submit(intake, auth, opened["round_id"])).json()
    dossier_id = receipt["dossier_id"]
    detail = (await intake.get(f"/dossiers/{dossier_id}", headers=sec)).json()
    due = date.fromisoformat(detail["check_due_date"])
    day_after = (due + timedelta(days=1)).isoformat()
    overdue = (await intake.get("/dossiers/overdue", params={"as_of": day_after}, headers=sec)).json()
    assert [d["dossier_id"] for d in overdue["items"]] == [dossier_id] and overdue["next"] is None
    on_time = (await intake.get("/dossiers/overdue", params={"as_of": due.isoformat()}, headers=sec)).json()
    assert on_time["items"] == []

    new_date = (due + timedelta(days=7)).isoformat()
    r = await intake.post(f"/dossiers/{dossier_id}/reschedule", headers=sec, json={
        "which": "check", "new_date": new_date,
        "apology_note": "Xin lỗi ông/bà vì hồ sơ được kiểm tra chậm; hẹn lại ngày trả kết quả."})
    assert r.status_code == 201, r.text
    assert r.json()["data"]["previous_date"] == due.isoformat()
    overdue = (await intake.get("/dossiers/overdue", params={"as_of": day_after}, headers=sec)).json()
    assert overdue["items"] == []
    public = (await intake.get(receipt["status_url"])).json()
    assert public["check_due_date"] == new_date
    r = await intake.post(f"/dossiers/{dossier_id}/reschedule", headers=sec, json={
        "which": "check", "new_date": due.isoformat(), "apology_note": "lùi"})
    assert r.status_code == 422 and r.json()["field"] == "new_date"


async def test_round_rules(intake, auth, unique):
    sec = auth("sec-1", "secretariat")
    r = await intake.post("/rounds", json=round_body(f"D{unique}"), headers=sec)
    assert r.status_code == 201
    r = await intake.post("/rounds", json=round_body(f"d{unique}"), headers=sec)
    assert r.status_code == 409 and r.json()["round_id"]
    body = round_body(f"E{unique}")
    body["schedule"]["submission_closes"] = "2000-01-01"
    r = await intake.post("/rounds", json=body, headers=sec)
    assert r.status_code == 422
    r = await intake.post("/rounds", json=round_body(f"F{unique}", parent_round_id="round-nope"), headers=sec)
    assert r.status_code == 404
    # a window still to come opens; a dossier before it opens is refused with the dates
    later = round_body(f"G{unique}", today=TODAY + timedelta(days=20))
    later["schedule"]["submission_opens"] = (TODAY + timedelta(days=1)).isoformat()
    r = await intake.post("/rounds", json=later, headers=sec)
    assert r.status_code == 201, r.text
    r = await intake.post(f"/rounds/{r.json()['round_id']}/dossiers", json=dossier_body(),
                          headers=auth("p", "applicant"))
    assert r.status_code == 409 and "takes dossiers" in r.json()["detail"]
    assert r.json()["today"] == TODAY.isoformat()


async def test_concurrent_submissions_get_distinct_receipt_numbers(intake, auth, opened):
    import asyncio

    responses = await asyncio.gather(*(
        submit(intake, auth, opened["round_id"], who=f"p-{n}", product=f"Sản phẩm {n}", regno=f"RN{n:05d}")
        for n in range(12)))
    assert all(r.status_code == 201 for r in responses)
    numbers = sorted(int(r.json()["receipt_number"].rsplit("-", 1)[1]) for r in responses)
    assert numbers == list(range(1, 13))
