"""Intake stopped (ADR 0048): certification's pages that must open a household's sealed name answer 503 naming
intake, never the holder shown erased by mistake. Real store; the certificate issued by certification's own
handler from the approved result (a household's name sealed, no number: issuing needs no key)."""

from __future__ import annotations

from typing import Any

import pytest

from binhchon_kit.contracts.scoring import ResultApproved
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.intake_away import key_client_of_stopped_intake, sealed_copy
from certification.main import build

from .conftest import CertEnv, result

pytestmark = pytest.mark.integration
NAME = "Hộ kinh doanh Lương Thị Mai"


async def test_pages_needing_a_sealed_holder_answer_503_naming_intake(env: CertEnv, auth: Any) -> None:
    household = ResultApproved.model_validate({**result(f"dossier-away-{env.unique}").model_dump(mode="json"),
                                               "producer_name": sealed_copy(NAME),
                                               "producer_registration_number": None})
    app = build(env.settings(consumers_enabled=False, relay_enabled=False), clock=env.clock, now=env.clock.now,
                key_client=key_client_of_stopped_intake())
    async with running(app, "http://certification") as certification:
        await app.state.certification.on_result_approved(await env.scored(household))
        staff = auth("cert-1", "certifier")
        [number] = [c["number"] async for c in _numbers(env)]
        for page, headers in ((f"/certificates/{number}", {}), ("/registry.json", {}), (f"/verify/{number}", {}),
                              (f"/certificates/{number}.pdf", {}), ("/certificates", staff)):
            r = await certification.get(page, headers=headers)
            assert r.status_code == 503, (page, r.status_code, r.text[:500])
            assert "intake" in r.text, (page, r.text[:500])
            assert "đã xoá" not in r.text and NAME not in r.text, page
        r = await certification.get("/certificates", headers=staff)
        assert r.json()["dependency"] == "intake" and r.headers["Retry-After"], r.text


async def _numbers(env: CertEnv) -> Any:
    async for doc in env.db["certificates"].find({}, projection={"number": 1}):
        yield doc
