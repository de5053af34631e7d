"""A receipt shows when the dossier was received in Vietnam's time, whatever the machine's time zone.

The service's clock says 23:26 UTC on 22/11/2026: in Hà Nội the dossier was received at 06:26 on 23/11."""

from __future__ import annotations

import pytest

from ..conftest import dossier_body, round_body

pytestmark = pytest.mark.integration

IN_VIETNAM = "2026-11-23T06:26:00+07:00"


async def test_the_receipt_and_the_public_page_show_vietnam_time(intake, auth, unique):
    sec = auth("sec-1", "secretariat")
    round_ = (await intake.post("/rounds", json=round_body(f"T{unique}"), headers=sec)).json()
    r = await intake.post(f"/rounds/{round_['round_id']}/dossiers", json=dossier_body(),
                          headers=auth("producer-1", "applicant"))
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert receipt["received_at"] == IN_VIETNAM
    # counted from Vietnam's 23/11 (a Monday; 24/11 is Vietnam Cultural Day, a holiday): 3 working days
    assert receipt["check_due_date"] == "2026-11-27"

    public = (await intake.get(receipt["status_url"])).json()
    assert public["received_at"] == IN_VIETNAM

    page = await intake.get(receipt["status_url"], headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Thời điểm tiếp nhận</th><td>23/11/2026 06:26<" in page.text
    assert "27/11/2026" in page.text and "2026-11-22" not in page.text and "22/11" not in page.text

    accepted = await intake.post(f"/dossiers/{receipt['dossier_id']}/accept", headers=sec,
                                 json={"product_group": "thực phẩm", "sample_code": "TP-01"})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["received_at"] == IN_VIETNAM
