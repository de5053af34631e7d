"""A producer withdraws an accepted dossier: scoring stops it, on the real broker and server."""

from __future__ import annotations

import pytest

from binhchon_kit.testing.apps import running
from binhchon_kit.testing.documents import upload_documents
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.samples import CHE, dossier_body, round_body
from intake.main import IntakeSettings
from intake.main import build as build_intake
from scoring.main import ScoringSettings
from scoring.main import build as build_scoring

pytestmark = pytest.mark.integration


async def test_withdrawn_after_acceptance_scoring_is_cancelled(infra, unique, topic_prefix, dev_keys, auth):
    common = dict(mongodb_url=infra.mongodb, kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=topic_prefix,
                  auth_public_keys_file=str(dev_keys[1]))
    sec, producer = auth("sec", "secretariat"), auth("htx", "applicant")
    async with running(build_intake(IntakeSettings(mongodb_database=f"intake_{unique}", **common)), "http://i") as i, \
            running(build_scoring(ScoringSettings(mongodb_database=f"scoring_{unique}", **common)), "http://s") as s:
        rnd = (await i.post("/rounds", json=round_body(f"WD{unique}", rulebook_id="ocop-2023"), headers=sec)).json()
        members = [{"id": m, "name": m, "organisation": "B", "role": "chair" if m == "cm-1" else "member"}
                   for m in ("cm-1", "cm-2", "cm-3", "cm-4")]

        async def panel():
            r = await s.post(f"/rounds/{rnd['round_id']}/panel", headers=sec,
                             json={"name": "Hội đồng", "members": members})
            return r if r.status_code == 201 else None

        await eventually(panel, what="scoring to hear of the round")
        await upload_documents(i, producer)
        dossier = (await i.post(f"/rounds/{rnd['round_id']}/dossiers", json=dossier_body(), headers=producer)).json()
        await i.post(f"/dossiers/{dossier['dossier_id']}/accept", headers=sec,
                     json={"product_group": "thực phẩm", "sample_code": "TP-01"})

        async def status(wanted: str):
            r = await s.get(f"/dossiers/{dossier['dossier_id']}", headers=sec)
            return r.json() if r.status_code == 200 and r.json()["status"] == wanted else None

        await eventually(lambda: status("open"), what="scoring to open the dossier")
        # half scored: the chair and cm-2 have scored, cm-3 is recused; the quorum (3 of the 3 left) is not met
        dossier_id = dossier["dossier_id"]
        chair, judge, recused = auth("cm-1", "council_chair"), auth("cm-2", "judge"), auth("cm-3", "judge")
        for who in (chair, judge):
            r = await s.post(f"/dossiers/{dossier_id}/score-sheets", json={"scores": CHE}, headers=who)
            assert r.status_code == 201, r.text
        r = await s.post(f"/dossiers/{dossier_id}/recusal", json={"reason": "Người nhà"}, headers=recused)
        assert r.status_code == 201, r.text
        r = await i.post(f"/dossiers/{dossier['dossier_id']}/withdraw", json={"reason": "Chưa đủ sản lượng"},
                         headers=producer)
        assert r.status_code == 201, r.text
        cancelled = await eventually(lambda: status("cancelled"), what="scoring to cancel it")
        assert cancelled["history"][-1]["type"] == "scoring.cancelled"
        r = await s.post(f"/dossiers/{dossier['dossier_id']}/score-sheets", json={"scores": {}},
                         headers=auth("cm-1", "council_chair"))
        assert r.status_code == 409 and r.json()["current_status"] == "cancelled"

        # withdrawn while scored halfway: the marks stay sealed for good (issue 13): each member sees their own
        # sheet, the secretariat and the chair who has scored, the recused member nothing at all
        view = (await s.get(f"/dossiers/{dossier_id}/score-sheets", headers=judge)).json()
        assert view["sealed"] is True and [x["member_id"] for x in view["sheets"]] == ["cm-2"]
        view = (await s.get(f"/dossiers/{dossier_id}/score-sheets", headers=sec)).json()
        assert view["sealed"] is True and view["sheets"] == [] and view["submitted"] == ["cm-1", "cm-2"]
        r = await s.get(f"/dossiers/{dossier_id}/score-sheets", headers=recused)
        assert r.status_code == 403
        # a producer, a certifier, a judge of no panel of this round: refused before anything is read
        for outsider in (producer, auth("cert", "certifier"), auth("cm-9", "judge")):
            r = await s.get(f"/dossiers/{dossier_id}", headers=outsider)
            assert r.status_code == 403, r.text
