"""Panels against their round's rulebook, and a substitute for recused members, over HTTP: intake and scoring
on the real broker and server (the round and the dossier come to scoring as intake's events).

The rulebook is a bundled one with one criterion moved to a field visit, so that the check does not depend on
which bundled rulebook happens to score in which session."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from binhchon_kit.contracts.intake import DossierAccepted
from binhchon_kit.contracts.registry import type_of
from binhchon_kit.contracts.scoring import Session
from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.documents import upload_documents
from binhchon_kit.testing.fixtures import TopicReader, eventually
from binhchon_kit.testing.infra import Infra
from binhchon_kit.testing.samples import dossier_body, round_body
from intake.main import IntakeSettings
from intake.main import build as build_intake
from scoring.adapters.rulebooks import Rulebooks
from scoring.domain.rulebook import Rulebook
from scoring.main import ScoringSettings
from scoring.main import build as build_scoring
from scoring.service import RulebookVersionMissing

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



async def submit_and_accept(intake: Any, round_id: str, auth: Any, **product: str) -> str:
    """A producer's dossier in the round (``product``: dossier_body's product and regno), accepted by the
    secretariat: scoring opens it from intake's event."""
    await upload_documents(intake, auth("htx-1", "applicant"))  # stored once: again is a 200
    receipt = (await intake.post(f"/rounds/{round_id}/dossiers", json=dossier_body(**product),
                                 headers=auth("htx-1", "applicant"))).json()
    code = f"TP-{product['regno'][-2:]}" if "regno" in product else "TP-01"
    r = await intake.post(f"/dossiers/{receipt['dossier_id']}/accept", headers=auth("tk-1", "secretariat"),
                          json={"product_group": "thực phẩm", "sample_code": code})
    assert r.status_code == 201, r.text
    return str(receipt["dossier_id"])

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


async def test_a_round_at_a_level_its_rulebook_does_not_have_is_refused_and_its_dossiers_say_why(
        services, auth, infra, unique, topic_prefix):
    """OCOP 2025 has no district level: intake (which cannot read scoring's rulebooks) opens such a round, but
    its panel is refused naming the level and the rulebook's levels, and a dossier accepted in it is recorded
    as not opened, with the reason, where the secretariat reads the round's dossiers (never a silent dead
    letter)."""
    intake, scoring = services
    sec = auth("tk-1", "secretariat")
    body = round_body(f"H{unique}", rulebook_id="ocop-2025", level="district", year=TODAY.year,
                      area={"province_code": "24", "district_code": "220"}, schedule={
        "submission_opens": (TODAY - timedelta(days=5)).isoformat(),
        "submission_closes": (TODAY + timedelta(days=20)).isoformat()})
    r = await intake.post("/rounds", json=body, headers=sec)
    assert r.status_code == 201, r.text
    round_id = r.json()["round_id"]

    async def form():
        r = await scoring.post(f"/rounds/{round_id}/panel", headers=sec, json={"name": "Hội đồng", "members": MEMBERS})
        return r if r.status_code != 409 or "has not heard" not in r.text else None

    r = await eventually(form, what="scoring to hear of the round")
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "level" and r.json()["level"] == "district"
    assert r.json()["levels"] == ["commune", "province", "national"]
    assert "no district level" in r.json()["detail"] and "ocop-2025 v2" in r.json()["detail"]

    dossier_id = await submit_and_accept(intake, round_id, auth)

    async def listed():
        docs = (await scoring.get(f"/rounds/{round_id}/dossiers", headers=sec)).json()["items"]
        return docs or None

    [row] = await eventually(listed, what="the dossier in the round's list")
    assert (row["dossier_id"], row["status"], row["reason_code"]) == (dossier_id, "not_opened",
                                                                     "level_not_in_rulebook")
    assert row["reason_params"] == {"level": "district", "levels": ["commune", "province", "national"]}
    assert (row["rulebook_id"], row["rulebook_version"], row["sample_code"]) == ("ocop-2025", 2, "TP-01")
    r = await scoring.get(f"/dossiers/{dossier_id}", headers=sec)
    assert r.status_code == 200 and r.json()["status"] == "not_opened"
    # the round has no panel (it was refused), so no judge sits on one: a sheet is refused before anything else
    r = await scoring.post(f"/dossiers/{dossier_id}/score-sheets", json={"scores": {}}, headers=auth("cm-2", "judge"))
    assert r.status_code == 403 and "own panel" in r.json()["detail"], r.text

    async with TopicReader(infra.kafka, f"{topic_prefix}scoring.events") as reader:
        events = await reader.wait_for(lambda es: any(e.type == "scoring.not_opened" for e in es),
                                       what="scoring.not_opened on the topic")
    [refused] = [e for e in events if e.type == "scoring.not_opened"]
    assert refused.subject == dossier_id and refused.data["round_id"] == round_id
    assert refused.data["product_name"] == "Mật ong rừng Lục Nam"


async def a_scorable_dossier(intake: Any, scoring: Any, auth: Any, code: str) -> tuple[str, str]:
    """A round with its panel (MEMBERS) and one accepted dossier that scoring has opened: (round, dossier)."""
    sec = auth("tk-1", "secretariat")
    round_id = (await intake.post("/rounds", json=a_round(code), headers=sec)).json()["round_id"]

    async def form():
        r = await scoring.post(f"/rounds/{round_id}/panel", headers=sec, json={"name": "Hội đồng", "members": MEMBERS})
        return r if r.status_code == 201 else None

    await eventually(form, what="the panel, once scoring has heard of the round")
    dossier_id = await submit_and_accept(intake, round_id, auth)

    async def scorable():
        r = await scoring.get(f"/dossiers/{dossier_id}", headers=sec)
        return r.json() if r.status_code == 200 else None

    await eventually(scorable, what="scoring to open the dossier")
    return round_id, dossier_id


def substitution(member_id: str, replaces: str, email: str | None = None) -> dict[str, Any]:
    return {"substitute": {"id": member_id, "name": f"Thành viên dự khuyết {member_id}",
                           "organisation": "Sở Nông nghiệp và Môi trường", "role": "member",
                           **({"email": email} if email else {})},
            "replaces": replaces, "reason": "Thành viên hội đồng xin rút vì xung đột lợi ích"}


async def test_a_chair_recused_from_a_dossier_cannot_choose_its_substitutes(services, auth, unique):
    """The chair's conflict of interest in a dossier bars them from choosing who scores it in their place (or in
    anyone's): the secretariat adds that dossier's substitutes."""
    intake, scoring = services
    sec, chair = auth("tk-1", "secretariat"), auth("cm-1", "council_chair")
    _, dossier_id = await a_scorable_dossier(intake, scoring, auth, f"R{unique}")
    r = await scoring.post(f"/dossiers/{dossier_id}/recusal", json={"reason": "Người thân của chủ thể"},
                           headers=chair)
    assert r.status_code == 201, r.text

    r = await scoring.post(f"/dossiers/{dossier_id}/substitutes", json=substitution("dk-1", "cm-1"), headers=chair)
    assert r.status_code == 403, r.text
    assert "chair is recused from this dossier" in r.json()["detail"] and r.json()["recused"] == ["cm-1"]
    view = (await scoring.get(f"/dossiers/{dossier_id}/score-sheets", headers=sec)).json()
    assert view["substitutes"] == []  # nothing recorded

    r = await scoring.post(f"/dossiers/{dossier_id}/substitutes", json=substitution("dk-1", "cm-1"), headers=sec)
    assert r.status_code == 201, r.text


async def test_substitutes_score_a_dossier_whose_members_are_all_recused(services, auth, infra, unique,
                                                                        topic_prefix):
    intake, scoring = services
    sec = auth("tk-1", "secretariat")
    chair, judge = auth("cm-1", "council_chair"), auth("cm-2", "judge")
    round_id, dossier_id = await a_scorable_dossier(intake, scoring, auth, f"U{unique}")
    r = await scoring.post(f"/dossiers/{dossier_id}/recusal", json={"reason": "Người thân của chủ thể"},
                           headers=judge)
    assert r.status_code == 201, r.text

    r = await scoring.post(f"/dossiers/{dossier_id}/substitutes", json=substitution("dk-1", "cm-2"), headers=judge)
    assert r.status_code == 403
    r = await scoring.post(f"/dossiers/{dossier_id}/substitutes", json=substitution("dk-1", "cm-2"),
                           headers=auth("cm-9", "council_chair"))  # another round's chair
    assert r.status_code == 403 and "own panel" in r.json()["detail"]  # refused before the body is read
    r = await scoring.post(f"/dossiers/{dossier_id}/substitutes", json=substitution("dk-1", "tk-1"), headers=chair)
    assert r.status_code == 422 and r.json()["field"] == "replaces"  # the secretary was never recused
    r = await scoring.post(f"/dossiers/{dossier_id}/substitutes", headers=chair,  # the chair is not recused
                           json=substitution("dk-1", "cm-2", email="dk1@sonnmt.example.vn"))
    assert r.status_code == 201, r.text

    r = await scoring.post(f"/dossiers/{dossier_id}/recusal", json={"reason": "Người thân của chủ thể"},
                           headers=chair)
    assert r.status_code == 201, r.text  # now every member of the panel is recused: only substitutes may score
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
    # what notify reads to tell a substitute (its mail needs the name and, when given, the address)
    assert substituted[0].data["substitute"] == {
        "id": "dk-1", "name": "Thành viên dự khuyết dk-1", "organisation": "Sở Nông nghiệp và Môi trường",
        "role": "member", "email": "dk1@sonnmt.example.vn"}
    assert substituted[1].data["substitute"]["email"] is None


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
            dossier_id = await submit_and_accept(intake, round_id, auth)

            async def opened():
                r = await scoring.get(f"/dossiers/{dossier_id}", headers=sec)
                return r.json() if r.status_code == 200 else None

            dossier = await eventually(opened, what="scoring to open the dossier")
            assert dossier["rulebook_version"] == first.version


# ---- the rulebook version a round is pinned to, on first use ---------------------------------------------

def two_versions() -> tuple[Rulebook, Rulebook]:
    first = with_a_field_visit(Rulebooks.load())
    return first, first.model_copy(update={"version": first.version + 1})


async def test_a_round_stored_without_a_version_keeps_the_one_its_first_dossier_opened_under(
        infra, unique, topic_prefix, dev_keys, auth):
    """A round scoring stored before versions were pinned (no ``rulebook_version``), whose first dossier opened
    under v1, scores its later dossiers under v1 after v2 is deployed; so does a round whose ``rounds``
    document is rebuilt by replaying its round.opened."""
    key = str(dev_keys[1])
    first, second = two_versions()
    sec = auth("tk-1", "secretariat")
    scoring_settings = settings(ScoringSettings, "scoring", infra, unique, topic_prefix, key)
    async with running(build_intake(settings(IntakeSettings, "intake", infra, unique, topic_prefix, key),
                                    lambda: NOW), "http://intake") as intake:

        async def accept(round_id: str, product: str, regno: str) -> str:
            return await submit_and_accept(intake, round_id, auth, product=product, regno=regno)

        async def opened_version(scoring: Any, dossier_id: str) -> int:
            async def opened():
                r = await scoring.get(f"/dossiers/{dossier_id}", headers=sec)
                return r.json() if r.status_code == 200 else None

            return int((await eventually(opened, what=f"scoring to open {dossier_id}"))["rulebook_version"])

        async with running(build_scoring(scoring_settings, Rulebooks([first])), "http://scoring") as scoring:
            round_id = (await intake.post("/rounds", json=a_round(f"P{unique}"), headers=sec)).json()["round_id"]
            early = await accept(round_id, "Mật ong rừng", "2400000001")
            assert await opened_version(scoring, early) == first.version
            db = scoring.app.state.scoring.rt.db
            # as the code before pinning left it: the round's fields, no version and no pin
            await db["rounds"].update_one({"_id": round_id}, {"$unset": {"rulebook_version": ""}})
            await db["round_pins"].delete_one({"_id": round_id})

        # scoring redeployed with v2 of the round's rulebook; a later dossier of the same round
        async with running(build_scoring(scoring_settings, Rulebooks([first, second])), "http://scoring") as scoring:
            later = await accept(round_id, "Chè Tân Cương", "2400000002")
            assert await opened_version(scoring, later) == first.version
            service = scoring.app.state.scoring
            assert (await service.rt.db["round_pins"].find_one({"_id": round_id}))["rulebook_version"] == \
                first.version

            # the rounds collection rebuilt from the topic, its pin lost too: round.opened handled again at v2's time
            await service.rt.db["rounds"].delete_one({"_id": round_id})
            await service.rt.db["round_pins"].delete_one({"_id": round_id})
            round_opened = await intake.app.state.runtime.store.get(round_id, 1)
            await service.on_round_opened(round_opened)
            assert (await service.rt.db["round_pins"].find_one({"_id": round_id}))["rulebook_version"] == \
                first.version
            r = await scoring.post(f"/rounds/{round_id}/panel", headers=sec,
                                   json={"name": "Hội đồng", "members": MEMBERS})
            assert r.status_code == 201, r.text
            assert (await scoring.get(f"/dossiers/{later}", headers=sec)).json()["rulebook_version"] == first.version

            # a round scoring never stored, and no dossier opened: the current version
            fresh = (await intake.post("/rounds", json=a_round(f"Q{unique}"), headers=sec)).json()["round_id"]
            assert await opened_version(scoring, await accept(fresh, "Mật ong rừng", "2400000003")) == second.version


def accepted_event(round_id: str, n: int) -> RecordedEvent:
    """intake's dossier.accepted for the n-th dossier of a round, as a consumer receives it."""
    dossier_id = f"dossier-{round_id.removeprefix('round-')}-{n}"
    data = DossierAccepted(round_id=round_id, rulebook_id="field-visit-test", programme="OCOP", level="province",
                           product_group="thực phẩm", sample_code=f"TP-{n:02d}", result_due_date=None,
                           product_name=f"Sản phẩm {n}", producer_name="Hợp tác xã Đông Hưng")
    return RecordedEvent(id=f"evt-{dossier_id}", stream=dossier_id, version=2, type=type_of(DossierAccepted),
                         schema_version=1, subject=dossier_id, time=NOW, data=data.model_dump(mode="json"),
                         actor=Actor("tk-1", ("secretariat",)), correlation_id="c", causation_id="c",
                         source="/binhchon/intake", prev_hash="0" * 64, hash="1" * 64)


async def test_two_replicas_using_a_round_first_at_once_pin_one_version(infra, unique, topic_prefix, dev_keys):
    """Two replicas of scoring, one still on v1's files and one already on v2 (a rolling deploy), each open a
    dossier of the same unpinned round at the same moment: both dossiers open under the one version pinned.
    Half the rounds are stored without a version (from before pinning), half not stored at all (their
    round.opened not arrived yet)."""
    key = str(dev_keys[1])
    first, second = two_versions()
    base = settings(ScoringSettings, "scoring", infra, unique, topic_prefix, key)
    quiet = base.model_copy(update={"consumers_enabled": False, "relay_enabled": False})
    async with running(build_scoring(quiet, Rulebooks([first])), "http://old") as old, \
            running(build_scoring(quiet, Rulebooks([first, second])), "http://new") as new:
        old_svc, new_svc = old.app.state.scoring, new.app.state.scoring
        for n in range(16):
            round_id = f"round-race-{unique}-{n}"
            if n % 2 == 0:
                await old_svc.rt.db["rounds"].insert_one(
                    {"_id": round_id, "round_id": round_id, "code": f"RACE{n}", "rulebook_id": "field-visit-test",
                     "programme": "OCOP", "level": "province"})
            a, b = accepted_event(round_id, 1), accepted_event(round_id, 2)
            on_old, _ = await asyncio.gather(old_svc.on_dossier_accepted(a), new_svc.on_dossier_accepted(b),
                                             return_exceptions=True)
            pinned = (await new_svc.rt.db["round_pins"].find_one({"_id": round_id}))["rulebook_version"]
            if isinstance(on_old, RulebookVersionMissing):
                # the new replica pinned v2 first: the old one cannot score under it, so it leaves the dossier
                # to the consumer's retry (refusing it would be wrong), which a v2 replica then handles
                assert pinned == second.version
                await new_svc.on_dossier_accepted(a)
            else:
                assert on_old is None, on_old
            versions = {(await new_svc.load(e.subject))[0].opened.rulebook_version for e in (a, b)}
            assert versions == {pinned}, f"round {n}: dossiers opened under {versions}, round pinned {pinned}"
