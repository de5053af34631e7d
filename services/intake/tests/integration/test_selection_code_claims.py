"""Selection-code claims that outlive a failed acceptance, on the real broker and store (issue 16, ADR 0046
amendment): a refused acceptance gives its claim back at once; a claim a crash left (no acceptance holds it) is
taken over once stale, never while fresh, and never from an accepted dossier; a store restored from its topic
(ADR 0047) gets the claims back from its acceptances."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from datetime import timedelta
from functools import partial

import pytest

from binhchon_kit import restore
from binhchon_kit.personal_keys import COLLECTION
from binhchon_kit.testing.fixtures import eventually
from intake.domain.errors import Refused
from intake.main import IntakeSettings
from intake.main import build as build_intake

from ..conftest import NOW, dossier_body, intake_settings, round_body, running_intake, upload_documents

pytestmark = pytest.mark.integration


async def filed(intake, auth, round_id, n):
    r = await intake.post(f"/rounds/{round_id}/dossiers", headers=auth(f"producer-{n}", "applicant"),
                          json=dossier_body(product=f"Nước mắm số {n}", regno=f"17100000{n:02d}"))
    assert r.status_code == 201, r.text
    return r.json()["dossier_id"]


async def accept(intake, sec, dossier_id, code):
    return await intake.post(f"/dossiers/{dossier_id}/accept", headers=sec,
                             json={"product_group": "thực phẩm", "sample_code": code})


async def test_a_claim_left_by_a_failed_acceptance_does_not_block_the_code(intake, auth, unique, monkeypatch):
    sec = auth("sct-kien-giang", "secretariat")
    round_id = (await intake.post("/rounds", json=round_body(f"CL{unique}"), headers=sec)).json()["round_id"]
    first, second, third = [await filed(intake, auth, round_id, n) for n in (1, 2, 3)]
    service = intake.app.state.intake
    codes = service.rt.db["selection_codes"]

    # refused between the claim and the event (here: a concurrent change decided against it): the claim goes back
    async def refused_once(*args, **kwargs):
        monkeypatch.undo()
        raise Refused("the dossier changed meanwhile")

    monkeypatch.setattr(service, "act", refused_once)
    assert (await accept(intake, sec, first, "NM-09")).status_code == 409
    assert await codes.find_one({"_id": f"{round_id}|NM-09"}) is None
    assert (await accept(intake, sec, second, "NM-09")).status_code == 201

    # a crash between the claim and the event left the claim: fresh, it may still be on its way; stale, it is free
    await codes.insert_one({"_id": f"{round_id}|NM-10", "dossier_id": first, "claimed_at": NOW})
    r = await accept(intake, sec, third, "nm-10")
    assert r.status_code == 409 and r.json()["reason"] == "selection_code_taken", r.text
    await codes.update_one({"_id": f"{round_id}|NM-10"}, {"$set": {"claimed_at": NOW - timedelta(minutes=3)}})
    r = await accept(intake, sec, third, "nm-10")
    assert r.status_code == 201 and r.json()["sample_code"] == "nm-10", r.text
    assert (await codes.find_one({"_id": f"{round_id}|NM-10"}))["dossier_id"] == third

    # an accepted dossier's code is never taken over, however old its claim
    await codes.update_one({"_id": f"{round_id}|NM-09"}, {"$set": {"claimed_at": NOW - timedelta(days=30)}})
    r = await accept(intake, sec, first, "NM-09")
    assert r.status_code == 409 and r.json()["reason"] == "selection_code_taken", r.text
    assert (await accept(intake, sec, first, "NM-11")).status_code == 201


async def test_a_store_restored_from_its_topic_gets_its_selection_codes_back(infra, unique, topic_prefix, dev_keys,
                                                                             auth, mongo):
    settings = intake_settings(infra, unique, topic_prefix, str(dev_keys[1]))
    sec = auth("sct-kien-giang", "secretariat")
    async with running_intake(settings) as intake:
        await upload_documents(intake, auth("sample-uploader", "applicant"))
        round_id = (await intake.post("/rounds", json=round_body(f"RC{unique}"), headers=sec)).json()["round_id"]
        first, second = [await filed(intake, auth, round_id, n) for n in (1, 2)]
        assert (await accept(intake, sec, first, "NM-07")).status_code == 201
        store = intake.app.state.intake.store

        async def published() -> bool:
            return not await store.unpublished(1)

        await eventually(published, what="intake's relay to publish everything")

    # lost entirely but for its key store, which has its own backup (docs/personal-data.md): without it, the
    # producers' sealed numbers could be opened no more, and no dossier accepted (ADR 0048, fourth amendment)
    keys = await mongo[settings.mongodb_database][COLLECTION].find({}).to_list()
    await mongo.drop_database(settings.mongodb_database)
    out = io.StringIO()
    options = settings.model_dump(include={"mongodb_url", "mongodb_database", "kafka_bootstrap_servers",
                                           "kafka_topic_prefix", "auth_public_keys_file"})
    with contextlib.redirect_stdout(out):
        code = await asyncio.to_thread(restore.main, ["--accept-losses", "--keep-offsets"], build_intake,
                                       partial(IntakeSettings, **options))
    assert code == 0
    assert json.loads(out.getvalue())["rebuilt"] == {"selection_codes": 1}
    claim = await mongo[settings.mongodb_database]["selection_codes"].find_one({"_id": f"{round_id}|NM-07"})
    assert claim is not None and claim["dossier_id"] == first
    await mongo[settings.mongodb_database][COLLECTION].insert_many(keys)

    async with running_intake(settings) as intake:
        r = await accept(intake, sec, second, "NM-07")
        assert r.status_code == 409 and r.json()["reason"] == "selection_code_taken", r.text
