"""Intake stopped (ADR 0048): scoring's pages that must open a household's sealed name answer 503 naming intake,
never the name shown erased by mistake; the pages that open nothing still answer. Real store, scoring's own
handler for the accepted dossier."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from binhchon_kit.contracts.intake import DossierAccepted
from binhchon_kit.contracts.registry import type_of
from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.intake_away import key_client_of_stopped_intake, sealed_copy
from scoring.main import ScoringSettings
from scoring.main import build as build_scoring

pytestmark = pytest.mark.integration
NAME = "Hộ kinh doanh Lương Thị Mai"


def accepted(round_id: str, dossier_id: str) -> RecordedEvent:
    data = DossierAccepted.model_validate({
        "round_id": round_id, "rulebook_id": "ocop-2023", "programme": "OCOP", "level": "province",
        "product_group": "thực phẩm", "sample_code": "TP-01", "result_due_date": None, "product_name": "Chè Tân Cương",
        "producer_name": sealed_copy(NAME), "province_code": "24",
        "producer_registration_number": sealed_copy("HKD-24-0001", path="producer.registration_number")})
    return RecordedEvent(id=f"evt-{dossier_id}", stream=dossier_id, version=2, type=type_of(DossierAccepted),
                         schema_version=2, subject=dossier_id, time=datetime(2026, 5, 4, 9, tzinfo=UTC),
                         data=data.model_dump(mode="json"), actor=Actor("tk-1", ("secretariat",)),
                         correlation_id="c", causation_id="c", source="/binhchon/intake", prev_hash="0" * 64,
                         hash="1" * 64)


async def test_pages_needing_a_sealed_name_answer_503_naming_intake(infra, unique, topic_prefix, dev_keys, auth):
    settings = ScoringSettings(mongodb_url=infra.mongodb, mongodb_database=f"scoring_{unique}",
                               kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=topic_prefix,
                               auth_public_keys_file=str(dev_keys[1]), consumers_enabled=False, relay_enabled=False)
    round_id, dossier_id = f"round-away-{unique}", f"dossier-away-{unique}"
    app = build_scoring(settings, key_client=key_client_of_stopped_intake())
    async with running(app, "http://scoring") as scoring:
        await app.state.scoring.on_dossier_accepted(accepted(round_id, dossier_id))
        sec = auth("tk-1", "secretariat")
        for page in (f"/rounds/{round_id}/dossiers", f"/dossiers/{dossier_id}"):
            r = await scoring.get(page, headers=sec)
            assert r.status_code == 503, (page, r.status_code, r.text)
            assert r.json()["dependency"] == "intake" and "intake" in r.json()["detail"], r.text
            assert r.headers["Retry-After"], page
            assert "đã xoá" not in r.text and NAME not in r.text
        assert (await scoring.get("/rulebooks", headers=sec)).status_code == 200  # opens nothing: answers
