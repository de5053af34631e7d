"""Receipt numbers without holes (README, ADR 0004) on the real store: a number claimed by a submission that
died before its dossier was stored goes to a later submission, and so does the number of one refused after
claiming it (two identical submissions racing)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from ..conftest import FixedClock, dossier_body, intake_settings, round_body, running_intake, upload_documents

pytestmark = pytest.mark.integration


class ProcessDied(Exception):
    """Stands for the process dying: what was written before stays, what would come after never happens."""


async def test_a_number_claimed_by_a_submission_that_died_before_storing_its_dossier_is_given_out_again(
        infra, unique, topic_prefix, dev_keys, auth, monkeypatch):
    clock = FixedClock()
    settings = intake_settings(infra, unique, topic_prefix, str(dev_keys[1]))
    applicant = auth("htx-1", "applicant")
    async with running_intake(settings, clock) as intake:
        await upload_documents(intake, auth("sample-uploader", "applicant"))
        r = await intake.post("/rounds", json=round_body(f"G{unique}"), headers=auth("tk-1", "secretariat"))
        assert r.status_code == 201, r.text
        round_id = r.json()["round_id"]
        store: Any = intake.app.state.runtime.store  # type: ignore[attr-defined]

        async def dies(*_: Any, **__: Any) -> None:  # between the number's claim and the dossier's event
            raise ProcessDied

        monkeypatch.setattr(store, "append", dies)
        with pytest.raises(ProcessDied):
            await intake.post(f"/rounds/{round_id}/dossiers", json=dossier_body(product="Chè Tân Cương"),
                              headers=applicant)
        monkeypatch.undo()

    clock.now += timedelta(minutes=10)  # restarted later: nothing is still writing with that number
    async with running_intake(settings, clock) as intake:
        numbers = []
        for product in ("Mật ong rừng", "Miến dong", "Chè Tân Cương"):
            r = await intake.post(f"/rounds/{round_id}/dossiers", json=dossier_body(product=product),
                                  headers=applicant)
            assert r.status_code == 201, r.text
            numbers.append(r.json()["receipt_number"])
    code = f"G{unique}".upper()
    assert sorted(numbers) == [f"{code}-00001", f"{code}-00002", f"{code}-00003"]


async def test_a_number_claimed_by_a_submission_refused_as_a_duplicate_is_given_out_again(intake, auth, unique):
    applicant = auth("htx-1", "applicant")
    r = await intake.post("/rounds", json=round_body(f"D{unique}"), headers=auth("tk-1", "secretariat"))
    assert r.status_code == 201, r.text
    round_id = r.json()["round_id"]
    same = await asyncio.gather(*(intake.post(f"/rounds/{round_id}/dossiers", json=dossier_body(product="Nem chua"),
                                              headers=applicant) for _ in range(4)))
    assert sorted(r.status_code for r in same) == [201, 409, 409, 409], [r.text for r in same]
    numbers = [r.json()["receipt_number"] for r in same if r.status_code == 201]
    for product in ("Mật ong rừng", "Miến dong", "Chè Tân Cương"):
        r = await intake.post(f"/rounds/{round_id}/dossiers", json=dossier_body(product=product), headers=applicant)
        assert r.status_code == 201, r.text
        numbers.append(r.json()["receipt_number"])
    code = f"D{unique}".upper()
    assert sorted(numbers) == [f"{code}-{n:05d}" for n in range(1, 5)]
