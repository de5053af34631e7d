"""Panels against their round's rulebook, and a substitute for recused members, over HTTP: intake and scoring
on the real broker and server (the round and the dossier come to scoring as intake's events).

The rulebook is a bundled one with one criterion moved to a field visit, so that the check does not depend on
which bundled rulebook happens to score in which session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from binhchon_kit.contracts.scoring import Session
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.fixtures import TopicReader, eventually
from binhchon_kit.testing.infra import Infra
from binhchon_kit.testing.samples import dossier_body, round_body
from intake.main import IntakeSettings
from intake.main import build as build_intake
from scoring.adapters.rulebooks import Rulebooks
from scoring.domain.rulebook import Rulebook
from scoring.main import ScoringSettings
from scoring.main import build as build_scoring

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 23, 26, tzinfo=UTC)  # intake's clock: 23/11 in Vietnam
TODAY = datetime(2026, 11, 23).date()
BOOK = "field-visit-test"


def with_a_field_visit(bundled: Rulebooks) -> Rulebook:
    book = bundled.current("ocop-2025")
    assert book is not None
    sheets = [sheet.model_copy(update={"criteria": [sheet.criteria[0].model_copy(
        update={"session": Session.FIELD_VISIT}), *sheet.criteria[1:]]}) for sheet in book.sheets]
    return book.model_copy(update={"id": BOOK, "sheets": sheets})


def settings(cls: Any, service: str, infra: Infra, unique: str, prefix: str, key: str) -> Any:
    return cls(mongodb_url=infra.mongodb, mongodb_database=f"{service}_{unique}", kafka_bootstrap_servers=infra.kafka,
               kafka_topic_prefix=prefix, auth_public_keys_file=key)


def a_round(code: str) -> dict[str, Any]:
    return round_body(code, rulebook_id=BOOK, year=TODAY.year, schedule={
        "submission_opens": (TODAY - timedelta(days=5)).isoformat(),
        "submission_closes": (TODAY + timedelta(days=20)).isoformat()})


MEMBERS = [{"id": "cm-1", "name": "Trần Văn Chủ", "organisation": "UBND tỉnh", "role": "chair"},
           {"id": "cm-2", "name": "Nguyễn Thị Hai", "organisation": "Sở Công Thương", "role": "member"},
           {"id": "tk-1", "name": "Lê Thị Thư Ký", "organisation": "Văn phòng điều phối", "role": "secretary"}]


@pytest.fixture
async def services(infra, unique, topic_prefix, dev_keys):
    key = str(dev_keys[1])
    bundled = Rulebooks.load()
    books = Rulebooks([*bundled.all_current(), with_a_field_visit(bundled)])
    async with running(build_intake(settings(IntakeSettings, "intake", infra, unique, topic_prefix, key),
                                    lambda: NOW), "http://intake") as intake, \
            running(build_scoring(settings(ScoringSettings, "scoring", infra, unique, topic_prefix, key), books),
                    "http://scoring") as scoring:
        yield intake, scoring


async def test_a_panel_without_the_field_visit_its_rulebook_needs_is_refused(services, auth, unique):
    intake, scoring = services
    sec = auth("tk-1", "secretariat")
    round_id = (await intake.post("/rounds", json=a_round(f"S{unique}"), headers=sec)).json()["round_id"]
    criterion = (await scoring.get(f"/rulebooks/{BOOK}")).json()["sheets"][0]["criteria"][0]

    async def form(**over: Any):
        r = await scoring.post(f"/rounds/{round_id}/panel", headers=sec,
                               json={"name": "Hội đồng", "members": MEMBERS, **over})
        return r if r.status_code != 409 or "has not heard" not in r.text else None

    r = await eventually(lambda: form(sessions=["dossier", "samples"]), what="scoring to hear of the round")
    assert r.status_code == 422, r.text
    [problem] = r.json()["problems"]
    assert problem.startswith("sessions: field_visit is missing")
    assert f"/{criterion['code']} ({criterion['label']})" in problem
    assert (await scoring.get(f"/rounds/{round_id}/panel", headers=sec)).status_code == 404  # nothing recorded

    r = await form()  # no sessions named: those the rulebook scores in
    assert r.status_code == 201, r.text
    assert "field_visit" in r.json()["sessions"] and r.json()["sessions"][0] == "dossier"


async def test_a_panel_for_a_round_scoring_never_heard_of_is_refused(services, auth):
    _, scoring = services
    scoring.app.state.scoring.round_wait = 0.3
    r = await scoring.post("/rounds/round-unheard-of/panel", headers=auth("tk-1", "secretariat"),
                           json={"name": "Hội đồng", "members": MEMBERS})
    assert r.status_code == 409 and r.json()["round_id"] == "round-unheard-of"


async def test_substitutes_score_a_dossier_whose_members_are_all_recused(services, auth, infra, unique,
                                                                        topic_prefix):
    intake, scoring = services
    sec = auth("tk-1", "secretariat")
    chair, judge = auth("cm-1", "council_chair"), auth("cm-2", "judge")
    round_id = (await intake.post("/rounds", json=a_round(f"U{unique}"), headers=sec)).json()["round_id"]

    async def form():
        r = await scoring.post(f"/rounds/{round_id}/panel", headers=sec, json={"name": "Hội đồng", "members": MEMBERS})
        return r if r.status_code == 201 else None

    await eventually(form, what="the panel, once scoring has heard of the round")
    receipt = (await intake.post(f"/rounds/{round_id}/dossiers", json=dossier_body(),
                                 headers=auth("htx-1", "applicant"))).json()
    dossier_id = receipt["dossier_id"]
    r = await intake.post(f"/dossiers/{dossier_id}/accept", headers=sec,
                          json={"product_group": "thực phẩm", "sample_code": "TP-01"})
    assert r.status_code == 201, r.text

    async def scorable():
        r = await scoring.get(f"/dossiers/{dossier_id}", headers=sec)
        return r.json() if r.status_code == 200 else None

    await eventually(scorable, what="scoring to open the dossier")
    for who in (chair, judge):
        r = await scoring.post(f"/dossiers/{dossier_id}/recusal", json={"reason": "Người thân của chủ thể"},
                               headers=who)
        assert r.status_code == 201, r.text
    r = await scoring.post(f"/dossiers/{dossier_id}/close", headers=chair)
    assert r.status_code == 409 and "quorum has not scored" in r.json()["detail"]  # stuck: nobody may score

    def substitution(member_id: str, replaces: str) -> dict[str, Any]:
        return {"substitute": {"id": member_id, "name": f"Thành viên dự khuyết {member_id}",
                               "organisation": "Sở Nông nghiệp và Môi trường", "role": "member"},
                "replaces": replaces, "reason": "Thành viên hội đồng xin rút vì xung đột lợi ích"}

    r = await scoring.post(f"/dossiers/{dossier_id}/substitutes", json=substitution("dk-1", "cm-2"), headers=judge)
    assert r.status_code == 403
    r = await scoring.post(f"/dossiers/{dossier_id}/substitutes", json=substitution("dk-1", "cm-2"),
                           headers=auth("cm-9", "council_chair"))  # another round's chair
    assert r.status_code == 403 and "chair of this round's panel" in r.json()["detail"]
    r = await scoring.post(f"/dossiers/{dossier_id}/substitutes", json=substitution("dk-1", "tk-1"), headers=chair)
    assert r.status_code == 422 and r.json()["field"] == "replaces"  # the secretary was never recused
    r = await scoring.post(f"/dossiers/{dossier_id}/substitutes", json=substitution("dk-1", "cm-2"), headers=chair)
    assert r.status_code == 201, r.text
    r = await scoring.post(f"/dossiers/{dossier_id}/substitutes", json=substitution("dk-2", "cm-1"), headers=sec)
    assert r.status_code == 201, r.text

    criteria = (await scoring.get(f"/rulebooks/{BOOK}")).json()["sheets"][0]["criteria"]
    full = {c["code"]: max(c["allowed"]) if c["allowed"] else c["maximum"] for c in criteria}
    r = await scoring.post(f"/dossiers/{dossier_id}/score-sheets", json={"scores": full},
                           headers=auth("dk-3", "judge"))
    assert r.status_code == 403  # not a substitute of this dossier
    for member_id in ("dk-1", "dk-2"):
        r = await scoring.post(f"/dossiers/{dossier_id}/score-sheets", json={"scores": full},
                               headers=auth(member_id, "judge"))
        assert r.status_code == 201, r.text

    async def completed():
        r = await scoring.get(f"/dossiers/{dossier_id}", headers=sec)
        return r.json() if r.json()["status"] == "completed" else None

    done = await eventually(completed, what="scoring to complete with the substitutes' sheets")
    assert set(done["result"]["totals"]) == {"dk-1", "dk-2"}
    sheets = (await scoring.get(f"/dossiers/{dossier_id}/score-sheets", headers=auth("dk-1", "judge"))).json()
    assert sheets["sealed"] is False and sheets["substitutes"] == ["dk-1", "dk-2"]

    async with TopicReader(infra.kafka, f"{topic_prefix}scoring.events") as reader:
        events = await reader.wait_for(
            lambda es: any(e.type == "scoring.completed" for e in es), what="the dossier's events on the topic")
    substituted = [e for e in events if e.type == "panel.member_substituted"]
    assert [(e.actorid, e.data["replaces"], e.data["substitute"]["id"]) for e in substituted] == [
        ("cm-1", "cm-2", "dk-1"), ("tk-1", "cm-1", "dk-2")]
    assert all(e.subject == dossier_id and e.data["dossier_id"] == dossier_id and e.data["round_id"] == round_id
               and e.data["reason"] for e in substituted)


async def test_a_round_keeps_the_rulebook_version_it_opened_under(infra, unique, topic_prefix, dev_keys, auth):
    """A rulebook version published while a round runs (a redeploy with a corrected sheet) must not score the
    round's later dossiers under other rules than its earlier ones: the round keeps the version current when
    scoring heard of it."""
    key = str(dev_keys[1])
    first = with_a_field_visit(Rulebooks.load())
    second = first.model_copy(update={"version": first.version + 1})
    sec = auth("tk-1", "secretariat")
    intake_app = build_intake(settings(IntakeSettings, "intake", infra, unique, topic_prefix, key), lambda: NOW)
    scoring_settings = settings(ScoringSettings, "scoring", infra, unique, topic_prefix, key)
    async with running(intake_app, "http://intake") as intake:
        async with running(build_scoring(scoring_settings, Rulebooks([first])), "http://scoring") as scoring:
            round_id = (await intake.post("/rounds", json=a_round(f"V{unique}"), headers=sec)).json()["round_id"]

            async def form():
                r = await scoring.post(f"/rounds/{round_id}/panel", headers=sec,
                                       json={"name": "Hội đồng", "members": MEMBERS})
                return r if r.status_code == 201 else None

            await eventually(form, what="the panel, once scoring has heard of the round")
        # scoring redeployed with a newer version of the round's rulebook; then a dossier is accepted
        async with running(build_scoring(scoring_settings, Rulebooks([first, second])), "http://scoring") as scoring:
            receipt = (await intake.post(f"/rounds/{round_id}/dossiers", json=dossier_body(),
                                         headers=auth("htx-1", "applicant"))).json()
            r = await intake.post(f"/dossiers/{receipt['dossier_id']}/accept", headers=sec,
                                  json={"product_group": "thực phẩm", "sample_code": "TP-01"})
            assert r.status_code == 201, r.text

            async def opened():
                r = await scoring.get(f"/dossiers/{receipt['dossier_id']}", headers=sec)
                return r.json() if r.status_code == 200 else None

            dossier = await eventually(opened, what="scoring to open the dossier")
            assert dossier["rulebook_version"] == first.version
