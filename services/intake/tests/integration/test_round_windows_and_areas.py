"""Opening rounds over HTTP against the real stack: a window already over, a parent round that only receives
escalated dossiers, and what each level's area names (a region round its region and provinces)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from binhchon_kit.relay import Relay
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.trust import dev_log_signer

from ..conftest import TODAY, dossier_body, round_body
from .test_escalation_and_duplicates import _approved_result

pytestmark = pytest.mark.integration

NORTH = {"region_code": "MB", "region": "Khu vực phía Bắc", "province_codes": ["24", "01", "25", "26"]}


def closed_window(code: str, **over: Any) -> dict[str, Any]:
    body = round_body(code, **over)
    body["schedule"] = {"submission_opens": (TODAY - timedelta(days=40)).isoformat(),
                        "submission_closes": (TODAY - timedelta(days=1)).isoformat(),
                        "council_date": (TODAY + timedelta(days=20)).isoformat()}
    return body


async def test_a_round_whose_window_has_closed_is_refused_naming_the_dates(intake, auth, unique):
    sec = auth("sec-1", "secretariat")
    body = closed_window(f"W{unique}")
    r = await intake.post("/rounds", json=body, headers=sec)
    assert r.status_code == 422, r.text
    problem = " ".join(r.json()["problems"])
    assert "schedule.submission_closes" in problem
    assert body["schedule"]["submission_opens"] in problem and body["schedule"]["submission_closes"] in problem
    assert "escalations_only" in problem
    r = await intake.get("/rounds", headers=sec)
    assert [x["code"] for x in r.json()["items"]] == []  # nothing recorded


async def test_the_last_day_of_the_window_in_vietnam_still_opens(intake, auth, unique):
    # the service's today is 23/11 in Hà Nội while UTC still says 22/11: a window closing 23/11 is open today
    body = round_body(f"L{unique}")
    body["schedule"]["submission_closes"] = TODAY.isoformat()
    r = await intake.post("/rounds", json=body, headers=auth("sec-1", "secretariat"))
    assert r.status_code == 201, r.text
    r = await intake.post(f"/rounds/{r.json()['round_id']}/dossiers", json=dossier_body(),
                          headers=auth("producer-1", "applicant"))
    assert r.status_code == 201, r.text


async def test_an_escalations_only_region_round_takes_escalated_dossiers_and_refuses_direct_ones(
        intake, auth, infra, mongo, unique, topic_prefix):
    sec = auth("sec-1", "secretariat")
    region = closed_window(f"R{unique}", level="region", programme="CNNTTB", rulebook_id="cnnttb-2025",
                           area=NORTH, receives="escalations_only")
    r = await intake.post("/rounds", json=region, headers=sec)
    assert r.status_code == 201, r.text
    parent = r.json()
    assert parent["receives"] == "escalations_only" and parent["area"]["province_codes"] == NORTH["province_codes"]
    assert parent["area"]["province_code"] is None

    r = await intake.post(f"/rounds/{parent['round_id']}/dossiers", json=dossier_body(),
                          headers=auth("producer-1", "applicant"))
    assert r.status_code == 409
    assert r.json()["receives"] == "escalations_only" and "child rounds" in r.json()["detail"]

    child = (await intake.post("/rounds", headers=sec, json=round_body(
        f"P{unique}", programme="CNNTTB", rulebook_id="cnnttb-2025", parent_round_id=parent["round_id"]))).json()
    receipt = (await intake.post(f"/rounds/{child['round_id']}/dossiers", json=dossier_body(),
                                 headers=auth("producer-1", "applicant"))).json()
    store = await _approved_result(mongo, unique, receipt["dossier_id"], child["round_id"], goes_up=True)
    relay = Relay(store, infra.kafka, client_id="scoring-relay", topic_prefix=topic_prefix,
                  signer=dev_log_signer("scoring"))
    assert await relay.publish_pending() == 1
    await relay._drop_producer()

    async def escalated():
        r = await intake.get("/dossiers", params={"round_id": parent["round_id"]}, headers=sec)
        return r.json()["items"] or None

    [dossier] = await eventually(escalated, what="the dossier escalated to the region round")
    assert dossier["escalated_from"]["dossier_id"] == receipt["dossier_id"]
    assert (dossier["level"], dossier["status"]) == ("region", "received")


@pytest.mark.parametrize(("level", "area", "field"), [
    ("province", {}, "area.province_code"),
    ("district", {"district_code": "218"}, "area.province_code"),
    ("commune", {}, "area.province_code"),
    ("district", {"province_code": "24"}, "area.district_code"),  # its UBND decides (ADR 0029)
    ("commune", {"province_code": "24"}, "area.commune_code"),
    ("province", {"province_code": "24", **NORTH}, "area.region_code"),
    ("region", {**NORTH, "province_codes": []}, "area.province_codes"),
    ("region", {"region": "Khu vực phía Bắc", "province_codes": ["24"]}, "area.region_code"),
    ("region", {**NORTH, "province_code": "24"}, "area.province_code"),
], ids=["province", "district", "commune", "district-no-district", "commune-no-commune",
        "province-with-region", "region-no-provinces", "region-no-code",
        "region-one-province"])
async def test_each_level_names_its_area(intake, auth, unique, level, area, field):
    r = await intake.post("/rounds", json=round_body(f"A{unique}", level=level, area=area),
                          headers=auth("sec-1", "secretariat"))
    assert r.status_code == 422, r.text
    assert any(p.startswith(field + ":") for p in r.json()["problems"]), r.json()


async def test_a_region_round_opens_without_a_province_and_a_national_round_without_an_area(intake, auth, unique):
    sec = auth("sec-1", "secretariat")
    r = await intake.post("/rounds", json=round_body(f"R{unique}", level="region", area=NORTH), headers=sec)
    assert r.status_code == 201, r.text
    got = (await intake.get(f"/rounds/{r.json()['round_id']}", headers=sec)).json()
    assert got["area"] == {**NORTH, "province_code": None, "district_code": None, "commune_code": None}
    assert got["approving_authority"] == {"id": "region:MB", "name": got["organiser"]}
    assert got["receives"] == "all"
    r = await intake.post("/rounds", json=round_body(f"N{unique}", level="national", area={}), headers=sec)
    assert r.status_code == 201, r.text


async def test_a_child_round_must_lie_in_its_region_and_below_its_parent(intake, auth, unique):
    sec = auth("sec-1", "secretariat")
    region = (await intake.post("/rounds", json=round_body(f"R{unique}", level="region", area=NORTH),
                                headers=sec)).json()
    r = await intake.post("/rounds", headers=sec, json=round_body(
        f"H{unique}", area={"province_code": "79"}, parent_round_id=region["round_id"]))
    assert r.status_code == 422
    assert any(p.startswith("area.province_code: province 79 is not among") for p in r.json()["problems"])
    province = (await intake.post("/rounds", headers=sec, json=round_body(f"P{unique}"))).json()
    r = await intake.post("/rounds", headers=sec, json=round_body(
        f"Q{unique}", level="region", area=NORTH, parent_round_id=province["round_id"]))
    assert r.status_code == 422
    assert any(p.startswith("parent_round_id:") for p in r.json()["problems"])
