"""An erasure reaches every replica of scoring at once (ADR 0048, second amendment of 2026-11-29): two scoring processes
share a store and a consumer group, each with its own key cache; a household's dossier is opened in both, then
erased in intake. The clock stands still (no cached key expires), yet both replicas show ``[đã xoá]`` as soon as
they have read ``personal_data.erased``: each hears it, not only the one the group would have handed it to."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from binhchon_kit.personal import ERASED
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.clock import Clock
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.personal import household_accepted, intake_keys, master_key_in
from binhchon_kit.testing.samples import round_body
from intake.main import IntakeSettings
from intake.main import build as build_intake
from scoring.main import ScoringSettings
from scoring.main import build as build_scoring

pytestmark = pytest.mark.integration
PANEL = {"name": "Hội đồng OCOP tỉnh Bắc Giang",
         "members": [{"id": "cm-1", "name": "Trần Văn Chủ", "organisation": "UBND tỉnh", "role": "chair"},
                     {"id": "cm-2", "name": "Nguyễn Thị Hai", "organisation": "Sở Nông nghiệp", "role": "member"}]}


@pytest.mark.timeout(240)
async def test_two_scoring_replicas_both_show_the_household_erased_at_once(
        infra, unique, topic_prefix, dev_keys, auth, token, tmp_path):
    name, number = f"Hộ kinh doanh Lương Thị Mai {unique}", f"HKD-{unique}".upper()
    clock = Clock()
    common: dict[str, Any] = dict(mongodb_url=infra.mongodb, kafka_bootstrap_servers=infra.kafka,
                                  kafka_topic_prefix=topic_prefix, auth_public_keys_file=str(dev_keys[1]))
    intake_app = build_intake(IntakeSettings(mongodb_database=f"intake_{unique}",
                                             personal_data_master_key_file=str(master_key_in(tmp_path)), **common),
                              clock=clock)
    service_token = token("scoring", "service")
    replicas = [build_scoring(ScoringSettings(mongodb_database=f"scoring_{unique}", **common), clock=clock,
                              key_client=intake_keys(intake_app, service_token, clock)) for _ in range(2)]
    sec = auth("tk-1", "secretariat")
    async with contextlib.AsyncExitStack() as stack:
        intake = await stack.enter_async_context(running(intake_app, "http://intake"))
        first, second = [await stack.enter_async_context(running(app, f"http://scoring-{i}"))
                         for i, app in enumerate(replicas)]
        round_id = (await intake.post("/rounds", headers=sec, json=round_body(
            f"ER{unique}", rulebook_id="ocop-2023", today=clock.today()))).json()["round_id"]

        async def panel() -> Any:
            r = await first.post(f"/rounds/{round_id}/panel", json=PANEL, headers=sec)
            return r if r.status_code != 409 or "has not heard" not in r.text else None

        assert (await eventually(panel, what="scoring to hear of the round")).status_code == 201
        await household_accepted(intake, round_id, name, number, auth("mai", "applicant"), sec)

        def shown_by(replica: Any, expected: str) -> Any:
            async def check() -> bool | None:
                items = (await replica.get(f"/rounds/{round_id}/dossiers", headers=sec)).json()["items"]
                return True if [d["producer_name"] for d in items] == [expected] else None
            return check

        # each replica, once its consumers are started (before, it caches no key), opens the name, and so caches
        # the household's key (60 s, and the clock stands still)
        for i, replica in enumerate((first, second)):
            async def ready(replica: Any = replica) -> bool | None:
                return True if (await replica.get("/readyz")).status_code == 200 else None

            await eventually(ready, timeout=60, what=f"replica {i}'s consumers to start")
        for i, replica in enumerate((first, second)):
            await eventually(shown_by(replica, name), what=f"replica {i} to show the household's name")

        r = await intake.post(f"/producers/{number}/erasure", headers=sec)
        assert r.status_code == 201, r.text
        for i, replica in enumerate((first, second)):
            await eventually(shown_by(replica, ERASED), timeout=20, what=f"replica {i} to show the household erased")
