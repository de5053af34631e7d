"""A producer withdraws an accepted dossier: scoring stops it, on the real broker and server."""

from __future__ import annotations

import pytest

from binhchon_kit.testing.apps import running
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.samples import dossier_body, round_body
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
        await s.post(f"/rounds/{rnd['round_id']}/panel", headers=sec, json={
            "name": "Hội đồng", "members": [{"id": "cm-1", "name": "A", "organisation": "B", "role": "chair"}]})
        dossier = (await i.post(f"/rounds/{rnd['round_id']}/dossiers", json=dossier_body(), headers=producer)).json()
        await i.post(f"/dossiers/{dossier['dossier_id']}/accept", headers=sec,
                     json={"product_group": "thực phẩm", "sample_code": "TP-01"})

        async def status(wanted: str):
            r = await s.get(f"/dossiers/{dossier['dossier_id']}", headers=sec)
            return r.json() if r.status_code == 200 and r.json()["status"] == wanted else None

        await eventually(lambda: status("open"), what="scoring to open the dossier")
        r = await i.post(f"/dossiers/{dossier['dossier_id']}/withdraw", json={"reason": "Chưa đủ sản lượng"},
                         headers=producer)
        assert r.status_code == 201, r.text
        cancelled = await eventually(lambda: status("cancelled"), what="scoring to cancel it")
        assert cancelled["history"][-1]["type"] == "scoring.cancelled"
        r = await s.post(f"/dossiers/{dossier['dossier_id']}/score-sheets", json={"scores": {}},
                         headers=auth("cm-1", "council_chair"))
        assert r.status_code == 409 and r.json()["current_status"] == "cancelled"
