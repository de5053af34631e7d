"""A whole OCOP provincial round on the real broker and server, intake and scoring together.

A 7-member council (and a secretary) scores three dossiers independently; one member is recused from one
dossier; one sheet is amended. The averages, bands and mandatory-criteria outcomes are checked against the
hand computation below; the chair's proposal and the authority's approval produce the right result events on
scoring.events; intake's escalation opens the 5-star dossier in the national round.

Hand computation (rulebook ocop-2023, province: recognises 4 stars, forwards 5 to the national level):
- Mật ong: every criterion at its maximum (100) less (k-1) points of C1 for member k. cm-7 is recused.
  cm-2 first gives C1=9 (99), then amends to C1=8 (98). Counted totals 100, 98, 98, 97, 96, 95 → 584/6 =
  97.333… → 97.33 → band 5; every mandatory criterion met → 5 stars; not recognised at province, goes up.
- Chè: base 76 (A 30, B 20, C 26); members' totals 76, 75, 77, 76, 74, 78, 75 → 531/7 = 75.857… → 75.86 → 4
  stars (C4 = 6 ≥ 5) → recognised at province, stays.
- Bánh đa: base 72 with C4 = 4 (the 4-star mandatory minimum is 5) and C5 = 1; totals 72, 71, 73, 72, 72, 72, 72 →
  504/7 = 72.00 → band 4, C4 not met → 3 stars → not recognised at province.
"""

from __future__ import annotations

from typing import Any

import pytest

from binhchon_kit.testing.apps import running
from binhchon_kit.testing.documents import upload_documents
from binhchon_kit.testing.fixtures import TopicReader, eventually
from binhchon_kit.testing.infra import Infra
from binhchon_kit.testing.samples import (
    BANH_DA,
    BANH_DA_CHANGES,
    CHE,
    CHE_CHANGES,
    MEMBERS,
    dossier_body,
    round_body,
)
from intake.main import IntakeSettings
from intake.main import build as build_intake
from scoring.main import ScoringSettings
from scoring.main import build as build_scoring

pytestmark = pytest.mark.integration

def settings(cls: Any, service: str, infra: Infra, unique: str, prefix: str, key: str) -> Any:
    return cls(mongodb_url=infra.mongodb, mongodb_database=f"{service}_{unique}", kafka_bootstrap_servers=infra.kafka,
               kafka_topic_prefix=prefix, auth_public_keys_file=key)




def panel_body() -> dict[str, Any]:
    members = [{"id": "cm-1", "name": "Trần Văn Chủ", "organisation": "UBND tỉnh", "role": "chair"}]
    members += [{"id": m, "name": f"Thành viên {m}", "organisation": "Sở Nông nghiệp và Môi trường",
                 "role": "member"} for m in MEMBERS[1:]]
    members.append({"id": "tk-1", "name": "Lê Thị Thư Ký", "organisation": "Văn phòng điều phối",
                    "role": "secretary"})
    return {"name": "Hội đồng đánh giá, phân hạng sản phẩm OCOP tỉnh Bắc Giang", "members": members,
            "quorum": {"fraction": 0.75, "chair_required": True},
            "sessions": ["dossier", "samples"], "spread_threshold": 10}


async def test_a_round_scored_proposed_approved_and_escalated(infra, unique, topic_prefix, dev_keys, auth):
    key = str(dev_keys[1])
    sec = auth("tk-intake", "secretariat")
    judge = {m: auth(m, "council_chair" if m == "cm-1" else "judge") for m in MEMBERS}
    async with running(build_intake(settings(IntakeSettings, "intake", infra, unique, topic_prefix, key)),
                       "http://intake") as intake, \
            running(build_scoring(settings(ScoringSettings, "scoring", infra, unique, topic_prefix, key)),
                    "http://scoring") as scoring:
        national = (await intake.post("/rounds", headers=sec, json=round_body(
            f"NAT{unique}", level="national", rulebook_id="ocop-2023"))).json()
        province = (await intake.post("/rounds", headers=sec, json=round_body(
            f"BG{unique}", level="province", rulebook_id="ocop-2023", parent_round_id=national["round_id"]))).json()
        round_id = province["round_id"]
        r = await scoring.post(f"/rounds/{round_id}/panel", json=panel_body(), headers=sec)
        assert r.status_code == 201, r.text

        await upload_documents(intake, auth("htx-1", "applicant"))
        ids = {}
        for n, product in enumerate(["Mật ong rừng Lục Nam", "Chè Tân Cương", "Bánh đa Kế"]):
            receipt = (await intake.post(f"/rounds/{round_id}/dossiers", json=dossier_body(product=product),
                                         headers=auth("htx-1", "applicant"))).json()
            r = await intake.post(f"/dossiers/{receipt['dossier_id']}/accept", headers=sec,
                                  json={"product_group": "thực phẩm", "sample_code": f"TP-{n + 1:02d}"})
            assert r.status_code == 201, r.text
            ids[product] = receipt["dossier_id"]
        mat_ong, che, banh_da = ids.values()

        async def scorable():
            r = await scoring.get(f"/rounds/{round_id}/dossiers", headers=sec)
            return r.json()["items"] if len(r.json()["items"]) == 3 else None

        await eventually(scorable, what="scoring to open the three accepted dossiers")
        rulebook = (await scoring.get("/rulebooks/ocop-2023")).json()
        full = {c["code"]: c["maximum"] for c in rulebook["sheets"][0]["criteria"]}

        # cm-7 declares a conflict of interest for the honey
        r = await scoring.post(f"/dossiers/{mat_ong}/recusal", json={"reason": "Người thân là thành viên HTX"},
                               headers=judge["cm-7"])
        assert r.status_code == 201, r.text

        # a sheet with problems: every one is listed
        bad = {**full, "Z9": 1, "C3": 4}
        del bad["A1"]
        r = await scoring.post(f"/dossiers/{mat_ong}/score-sheets", json={"scores": bad}, headers=judge["cm-2"])
        assert r.status_code == 422
        problems = " | ".join(r.json()["problems"])
        assert "Z9: not a criterion" in problems and "C3: 4.0 is not allowed" in problems
        assert "A1: missing" in problems

        # cm-2 scores, then amends before completion
        r = await scoring.post(f"/dossiers/{mat_ong}/score-sheets", json={"scores": {**full, "C1": 9}},
                               headers=judge["cm-2"])
        assert r.status_code == 201 and r.json()["total"] == 99
        r = await scoring.post(f"/dossiers/{mat_ong}/score-sheets", json={"scores": full}, headers=judge["cm-2"])
        assert r.status_code == 409  # final once submitted
        r = await scoring.post(f"/dossiers/{mat_ong}/score-sheets/amendment", headers=judge["cm-2"],
                               json={"scores": {**full, "C1": 8}, "reason": "Nhầm điểm cảm quan"})
        assert r.status_code == 201 and r.json()["total"] == 98

        # the recused member cannot score it
        r = await scoring.post(f"/dossiers/{mat_ong}/score-sheets", json={"scores": full}, headers=judge["cm-7"])
        assert r.status_code == 403
        # the secretary is no judge: no role
        r = await scoring.post(f"/dossiers/{mat_ong}/score-sheets", json={"scores": full},
                               headers=auth("tk-1", "secretariat"))
        assert r.status_code == 403

        for k, member in enumerate(MEMBERS[:6], start=1):
            if member == "cm-2":
                continue
            r = await scoring.post(f"/dossiers/{mat_ong}/score-sheets",
                                   json={"scores": {**full, "C1": 10 - (k - 1)}}, headers=judge[member])
            assert r.status_code == 201, r.text
            if member == "cm-3":
                sealed = (await scoring.get(f"/dossiers/{mat_ong}/score-sheets", headers=judge["cm-3"])).json()
                assert sealed["sealed"] is True
                assert [s["member_id"] for s in sealed["sheets"]] == ["cm-3"]
                chair_view = (await scoring.get(f"/dossiers/{mat_ong}/score-sheets", headers=judge["cm-1"])).json()
                assert chair_view["submitted"] == ["cm-1", "cm-2", "cm-3"]
                assert all(s["member_id"] == "cm-1" for s in chair_view["sheets"])

        for base, changes, dossier in ((CHE, CHE_CHANGES, che), (BANH_DA, BANH_DA_CHANGES, banh_da)):
            for member, change in zip(MEMBERS, changes, strict=True):
                r = await scoring.post(f"/dossiers/{dossier}/score-sheets", json={"scores": {**base, **change}},
                                       headers=judge[member])
                assert r.status_code == 201, r.text

        results = {p: (await scoring.get(f"/dossiers/{d}", headers=sec)).json() for p, d in ids.items()}
        honey = results["Mật ong rừng Lục Nam"]["result"]
        assert results["Mật ong rừng Lục Nam"]["status"] == "completed"
        assert honey["totals"] == {"cm-1": 100, "cm-2": 98, "cm-3": 98, "cm-4": 97, "cm-5": 96, "cm-6": 95}
        assert honey["average_total"] == 97.33 and honey["band_stars"] == 5 and honey["stars"] == 5
        assert {p["code"]: p["average"] for p in honey["part_averages"]} == {"A": 40, "B": 25, "C": 32.33}
        assert all(m["met"] for m in honey["mandatory"])
        assert honey["recognised_at_level"] is False and honey["goes_up_a_level"] is True
        tea = results["Chè Tân Cương"]["result"]
        assert tea["average_total"] == 75.86 and tea["stars"] == 4 and tea["recognised_at_level"] is True
        assert tea["goes_up_a_level"] is False and tea["spread"] == 4
        cake = results["Bánh đa Kế"]["result"]
        assert cake["average_total"] == 72.0 and cake["band_stars"] == 4 and cake["stars"] == 3
        assert [m["code"] for m in cake["mandatory"] if not m["met"]] == ["C4", "C5"]  # C5 counts for 5 stars
        assert cake["recognised_at_level"] is False

        unsealed = (await scoring.get(f"/dossiers/{mat_ong}/score-sheets", headers=judge["cm-3"])).json()
        assert unsealed["sealed"] is False
        assert [s["kind"] for s in unsealed["sheets"] if s["member_id"] == "cm-2"] == [
            "score.submitted", "score.amended"]  # the first sheet stays on record

        # only the chair proposes; then the table is ranked
        r = await scoring.post(f"/rounds/{round_id}/proposals", headers=judge["cm-3"])
        assert r.status_code == 403
        r = await scoring.post(f"/rounds/{round_id}/proposals", headers=judge["cm-1"])
        assert r.status_code == 201, r.text
        proposal = r.json()
        assert [row["dossier_id"] for row in proposal["rows"]] == [mat_ong, che, banh_da]
        csv_text = (await scoring.get(f"/proposals/{proposal['proposal_id']}.csv", headers=sec)).text
        assert "Mật ong rừng Lục Nam" in csv_text and "97.33" in csv_text

        decision = {"number": "1234/QĐ-UBND", "date": "2026-12-20", "signer": "Nguyễn Văn Phó Chủ tịch",
                    "authority": "UBND tỉnh Bắc Giang"}
        r = await scoring.post(f"/proposals/{proposal['proposal_id']}/approval", json={"decision": decision},
                               headers=judge["cm-1"])
        assert r.status_code == 403  # only an approver approves
        r = await scoring.post(f"/proposals/{proposal['proposal_id']}/approval", json={"decision": decision},
                               headers=auth("ubnd-1", "approver", authorities=("province:24",)))
        assert r.status_code == 201, r.text
        assert [e["type"] for e in r.json()] == ["result.approved", "result.approved", "result.not_recognised"]

        async with TopicReader(infra.kafka, f"{topic_prefix}scoring.events") as reader:
            events = await reader.wait_for(
                lambda es: sum(e.type.startswith("result.") for e in es) >= 4, what="the decisions on the topic")
        decided = {e.subject: e for e in events if e.type in ("result.approved", "result.not_recognised")}
        assert decided[mat_ong].data["rating"] == {"stars": 5, "recognised": False, "label": "5 sao"}
        assert decided[mat_ong].data["goes_up_a_level"] is True and decided[mat_ong].data["next_level"] == "national"
        assert decided[che].data["rating"]["recognised"] is True and decided[che].data["points"] == 75.86
        assert decided[che].data["decision"]["number"] == "1234/QĐ-UBND"
        assert decided[banh_da].type == "result.not_recognised"
        assert "Kiểm soát chất lượng" in decided[banh_da].data["reason"]
        assert "xuất khẩu" not in decided[banh_da].data["reason"]  # C5 only matters for 5 stars

        async def escalated():
            r = await intake.get("/dossiers", params={"round_id": national["round_id"]}, headers=sec)
            return r.json()["items"] or None

        opened = await eventually(escalated, what="intake to open the 5-star dossier in the national round")
        assert [d["escalated_from"]["dossier_id"] for d in opened] == [mat_ong]
        assert opened[0]["escalated_from"]["rating"] == "5 sao"
