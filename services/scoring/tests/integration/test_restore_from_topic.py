"""Scoring's database lost entirely and written back from its topic (ADR 0047), on the real broker and store: after
``restore-from-topic`` every read answers as before (the dossiers, the sheets, the panel, the proposal, the log's
checkpoints and proofs), the audit's compare of store and topic finds nothing, the relay publishes nothing again,
the log has the same leaves (so the service signs its next checkpoint over them), and a second restore into the
now full database is refused."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest

from binhchon_kit import restore
from binhchon_kit.checkpoints import LEAVES
from binhchon_kit.restore_topic import read_copies
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.documents import upload_documents
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.samples import department_round_body, dossier_body
from binhchon_tools.audit_store import compare
from intake.main import IntakeSettings
from intake.main import build as build_intake
from scoring.main import ScoringSettings
from scoring.main import build as build_scoring

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 23, 26, tzinfo=UTC)  # intake's clock: 23/11 in Vietnam
TODAY = datetime(2026, 11, 23).date()
MEMBERS = [{"id": "cm-1", "name": "Trần Văn Chủ", "organisation": "UBND tỉnh", "role": "chair"},
           {"id": "cm-2", "name": "Nguyễn Thị Hai", "organisation": "Sở Công Thương", "role": "member"}]


def options(service: str, infra: Any, unique: str, prefix: str, key: str) -> dict[str, Any]:
    return dict(mongodb_url=infra.mongodb, mongodb_database=f"{service}_{unique}", kafka_bootstrap_servers=infra.kafka,
                kafka_topic_prefix=prefix, auth_public_keys_file=key)


async def season(intake: Any, scoring: Any, auth: Any, code: str) -> dict[str, Any]:
    """A round, a panel, two dossiers scored to completion, the chair's proposal, the authority's decision."""
    sec = auth("tk-1", "secretariat")
    r = await intake.post("/rounds", headers=sec, json=department_round_body(code, TODAY))
    assert r.status_code == 201, r.text
    round_id = r.json()["round_id"]

    async def panel() -> Any:
        r = await scoring.post(f"/rounds/{round_id}/panel", headers=sec, json={"name": "Hội đồng", "members": MEMBERS})
        return r if r.status_code != 409 or "has not heard" not in r.text else None

    assert (await eventually(panel, what="scoring to hear of the round")).status_code == 201
    sheet = (await scoring.get("/rulebooks/ocop-2023")).json()["sheets"][0]["criteria"]
    await upload_documents(intake, auth("htx-0", "applicant"))
    dossiers = []
    for n in range(2):
        receipt = (await intake.post(f"/rounds/{round_id}/dossiers", json=dossier_body(regno=f"240012345{n}"),
                                     headers=auth(f"htx-{n}", "applicant"))).json()
        dossier_id = receipt["dossier_id"]
        r = await intake.post(f"/dossiers/{dossier_id}/accept", headers=sec,
                              json={"product_group": "thực phẩm", "sample_code": f"TP-0{n}"})
        assert r.status_code == 201, r.text

        async def opened(dossier_id: str = dossier_id) -> bool:
            return (await scoring.get(f"/dossiers/{dossier_id}", headers=sec)).status_code == 200

        await eventually(opened, what="scoring to open the dossier")
        for member, role in (("cm-1", "council_chair"), ("cm-2", "judge")):
            r = await scoring.post(f"/dossiers/{dossier_id}/score-sheets", headers=auth(member, role),
                                   json={"scores": {c["code"]: c["maximum"] for c in sheet}})
            assert r.status_code == 201, r.text
        dossiers.append(dossier_id)
    r = await scoring.post(f"/rounds/{round_id}/proposals", headers=auth("cm-1", "council_chair"))
    assert r.status_code == 201, r.text
    proposal_id = r.json()["proposal_id"]
    return {"round_id": round_id, "dossiers": dossiers, "proposal_id": proposal_id}


async def settled(runtime: Any) -> None:
    """Everything scoring recorded is on its topic and has its leaf."""
    async def published() -> bool:
        return not await runtime.store.unpublished(1)

    await eventually(published, what="scoring's relay to publish everything")


async def reads(scoring: Any, auth: Any, got: dict[str, Any], event_ids: list[str]) -> dict[str, Any]:
    """Every read of scoring this season touches, as answered (status, body)."""
    sec, chair, auditor = auth("tk-1", "secretariat"), auth("cm-1", "council_chair"), auth("kt-1", "auditor")
    paths = [(f"/rounds/{got['round_id']}/panel", sec), (f"/rounds/{got['round_id']}/dossiers", sec),
             (f"/proposals/{got['proposal_id']}.json", sec), (f"/proposals/{got['proposal_id']}.csv", sec),
             ("/log/checkpoints", auditor), ("/log/checkpoints/latest", auditor), ("/log/jwks.json", None)]
    paths += [(f"/dossiers/{d}", sec) for d in got["dossiers"]]
    paths += [(f"/dossiers/{d}/score-sheets", chair) for d in got["dossiers"]]
    size = (await scoring.get("/log/checkpoints/latest", headers=auditor)).json()["tree_size"]
    paths += [(f"/log/proofs/inclusion?event_id={i}&tree_size={size}", auditor) for i in event_ids]
    paths += [(f"/log/proofs/consistency?first={n}&second={size}", auditor) for n in (1, size // 2, size)]
    answers = {}
    for path, headers in paths:
        r = await scoring.get(path, headers=headers or {})
        assert r.status_code == 200, (path, r.text)  # a read that answers, not an error answered twice alike
        answers[path] = r.text
    return answers


async def test_scoring_restored_from_its_topic_answers_every_read_as_before(infra, unique, topic_prefix, dev_keys,
                                                                            auth, mongo):
    key = str(dev_keys[1])
    scoring_options = options("scoring", infra, unique, topic_prefix, key)
    database = scoring_options["mongodb_database"]
    async with running(build_intake(IntakeSettings(**options("intake", infra, unique, topic_prefix, key)),
                                    lambda: NOW), "http://intake") as intake:
        async with running(build_scoring(ScoringSettings(**scoring_options)), "http://scoring") as scoring:
            runtime = scoring.app.state.runtime  # type: ignore[attr-defined]
            got = await season(intake, scoring, auth, f"RS{unique}")
            await settled(runtime)
            await runtime.checkpoints.record()  # a checkpoint over the season, then more events after it
            r = await scoring.post(f"/proposals/{got['proposal_id']}/approval",
                                   headers=auth("ubnd-bg", "approver", authorities=("province:24",)),
                                   json={"decision": {"number": "88/QĐ-UBND", "date": TODAY.isoformat(),
                                                      "signer": "Phó Chủ tịch UBND tỉnh"}})
            assert r.status_code == 201, r.text
            await settled(runtime)
            await runtime.checkpoints.record()
            await settled(runtime)
            stored = [e async for e in runtime.store.read_all()]
            some = [e.id for e in stored[:: max(1, len(stored) // 6)]]
            before = await reads(scoring, auth, got, some)
            leaves = await mongo[database][LEAVES].find({}, sort=[("_id", 1)]).to_list()
        on_topic, _, _ = await read_copies(infra.kafka, topic_prefix, "scoring",
                                                 ScoringSettings(**scoring_options).kafka_security())

        await mongo.drop_database(database)  # lost entirely
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = await asyncio.to_thread(restore.main, [], build_scoring, partial(ScoringSettings, **scoring_options))
        assert code == 0
        done = json.loads(out.getvalue())
        assert done["events"] == done["written"] == len(stored)
        assert done["leaves"] == len(leaves) and done["checkpoints_matched"] == 2
        assert done["read_models"]["scoring"] == len(got["dossiers"])
        assert done["groups_rewound"], "scoring's consumer groups were not rewound"
        assert await mongo[database][LEAVES].find({}, sort=[("_id", 1)]).to_list() == leaves

        refused = await asyncio.to_thread(restore.main, [], build_scoring, partial(ScoringSettings, **scoring_options))
        assert refused == 3, "a restore into a database with events must be refused"

        async with running(build_scoring(ScoringSettings(**scoring_options)), "http://scoring") as scoring:
            runtime = scoring.app.state.runtime  # type: ignore[attr-defined]
            assert not await runtime.store.unpublished(1), "the relay would publish the restored events again"
            assert [e async for e in runtime.store.read_all()] == stored

            async def same() -> dict[str, Any] | None:
                after = await reads(scoring, auth, got, some)
                return after if after == before else None

            after = await eventually(same, timeout=60, what="every read as before the loss")
            assert after == before
            # the log goes on: the service signs a checkpoint over the restored leaves (LogDamaged otherwise)
            assert await runtime.checkpoints.record() is not None
            await settled(runtime)

        findings = await compare(infra.kafka, topic_prefix, infra.mongodb, {"scoring": database})
        assert findings.ok, findings.discrepancies
        again, _, _ = await read_copies(infra.kafka, topic_prefix, "scoring",
                                        ScoringSettings(**scoring_options).kafka_security())
        # nothing published twice: scoring's only new record is the checkpoint signed after the restore
        assert len(again) == len(on_topic) + 1 and len(on_topic) == len(stored)
