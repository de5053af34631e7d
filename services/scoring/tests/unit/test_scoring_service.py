"""Scoring's service layer with no server: what it learns from intake, the round's panel, sealed sheets that
complete a dossier, the chair closing at quorum, the council's proposal and the authority's approval, each
redelivery or repeat harmless and each refusal clear.

Intake's events come from an in-memory intake store through their CloudEvent form, as the consumer hands them
over; assertions read what callers meet: returned events, the ``scoring``/``panels`` read models, the store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from binhchon_kit.auth import Principal, Role
from binhchon_kit.contracts.common import Level
from binhchon_kit.contracts.intake import DossierAccepted, RoundOpened
from binhchon_kit.errors import UnderWay
from binhchon_kit.events import Actor, Cause, RecordedEvent
from binhchon_kit.eventstore import EventStore
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.testing.memory import (
    FixedClock,
    append,
    consume,
    foreign_store,
    interleaved,
    memory_runtime,
    types_of,
)
from scoring.decision_leases import DECISION_LEASE
from scoring.domain import scoring
from scoring.domain.authority import DecisionInput
from scoring.domain.errors import Refused
from scoring.domain.scoring import scoring_stream
from scoring.domain.views import fold_first, fold_scoring
from scoring.service import Scoring

from .scoring_builders import panel, rulebook, rulebooks, scorer_ids, with_total

ROUND = "round-unit-1"
BOOK = rulebook("ocop-2025")
GROUP = BOOK.product_groups[0].label
CAUSE = Cause("corr-unit", "http:corr-unit")
CHAIR = Actor("chair", ("judge",))
APPROVER = Principal("approver-1", frozenset({Role.APPROVER}), authorities=frozenset({"province:24"}))


def decision(authority: str | None = None) -> DecisionInput:
    return DecisionInput(number="123/QĐ-UBND", date="2026-07-01", signer="Nguyễn Văn A", authority=authority)


@pytest.fixture
async def svc() -> Scoring:
    runtime = memory_runtime(ServiceSettings(service_name="scoring"),
                             {"scoring": ("scoring", fold_scoring), "panel": ("panels", fold_first),
                              "proposal": ("proposals", fold_first)})
    service = Scoring(runtime, rulebooks(), round_wait=0)  # a round not heard of is refused at once
    await service.setup()
    return service


@pytest.fixture
def intake() -> EventStore:
    return foreign_store("intake")


def round_opened(round_id: str = ROUND) -> RoundOpened:
    return RoundOpened.model_validate({
        "round_id": round_id, "code": "BG-OCOP-2026-1", "title": "Đánh giá sản phẩm OCOP tỉnh Bắc Giang",
        "programme": "OCOP", "rulebook_id": BOOK.id, "level": "province", "area": {"province_code": "24"},
        "year": 2026, "batch": 1, "organiser": "UBND tỉnh Bắc Giang",
        "schedule": {"submission_opens": "2026-03-02", "submission_closes": "2026-04-30",
                     "council_date": "2026-06-15"}})


def dossier_accepted(product: str, group: str = GROUP) -> DossierAccepted:
    return DossierAccepted(round_id=ROUND, rulebook_id=BOOK.id, programme=BOOK.programme, level=Level.PROVINCE,
                           product_group=group, sample_code="MAU-001", result_due_date=None, product_name=product,
                           producer_name="Hợp tác xã Nông nghiệp Đông Hưng", producer_registration_number="2400123456")


async def heard_of_round(svc: Scoring, intake: EventStore) -> None:
    await svc.on_round_opened(await append(intake, ROUND, round_opened()))


async def with_panel(svc: Scoring, intake: EventStore) -> None:
    await heard_of_round(svc, intake)
    fields = panel(5).model_dump(mode="json", exclude={"panel_id", "round_id", "sessions"})
    await svc.form_panel(ROUND, fields, Actor("secretariat-1", ("secretariat",)), CAUSE)


async def accepted(intake: EventStore, dossier_id: str, product: str = "Mật ong rừng Lục Nam",
                   group: str = GROUP) -> RecordedEvent:
    return await append(intake, dossier_id, dossier_accepted(product, group))


async def opened(svc: Scoring, intake: EventStore, dossier_id: str, product: str = "Mật ong rừng Lục Nam") -> None:
    await svc.on_dossier_accepted(await accepted(intake, dossier_id, product))


async def score(svc: Scoring, dossier_id: str, member_id: str, wanted: float) -> RecordedEvent:
    state, _ = await svc.load(dossier_id)
    sheet = svc.rulebook(state.opened.rulebook_id, state.opened.rulebook_version).sheet(state.opened.sheet_id)
    scores = with_total(sheet, wanted)
    return await svc.act(dossier_id, lambda s, p, r, k: scoring.submit(s, p, r, member_id, scores, "", k),
                         Actor(member_id, ("judge",)), CAUSE)


async def read_model(svc: Scoring, dossier_id: str) -> dict[str, Any]:
    doc = await svc.rt.db["scoring"].find_one({"_id": scoring_stream(dossier_id)})
    assert doc is not None, dossier_id
    return doc


async def test_a_round_gets_one_panel_and_a_second_is_refused(svc: Scoring, intake: EventStore) -> None:
    await with_panel(svc, intake)

    formed = await svc.panel(ROUND)
    assert [m.id for m in formed.members][:2] == ["chair", "m1"]
    assert formed.sessions  # none named: the sessions its rulebook scores in
    assert (await svc.rt.db["panels"].find_one({"round_id": ROUND}) or {})["recorded_by"] == "secretariat-1"
    with pytest.raises(Refused) as refused:
        await svc.form_panel(ROUND, panel(3).model_dump(mode="json", exclude={"panel_id", "round_id", "sessions"}),
                             CHAIR, CAUSE)
    assert refused.value.detail == {"panel_id": formed.panel_id}


async def test_a_panel_for_a_round_scoring_never_heard_of_is_refused(svc: Scoring) -> None:
    with pytest.raises(Refused) as refused:
        await svc.form_panel("round-unheard", panel(5).model_dump(mode="json", exclude={"panel_id", "round_id"}),
                             CHAIR, CAUSE)

    assert refused.value.detail == {"round_id": "round-unheard"}
    assert "has not heard of round" in refused.value.message


async def test_an_accepted_dossier_opens_once_under_the_pinned_rulebook(svc: Scoring, intake: EventStore) -> None:
    await with_panel(svc, intake)
    event = await accepted(intake, "dossier-a")

    await consume(svc.on_dossier_accepted, event)
    await consume(svc.on_dossier_accepted, event)  # a redelivery

    assert types_of(await svc.store.read_stream(scoring_stream("dossier-a"))) == ["scoring.opened"]
    doc = await read_model(svc, "dossier-a")
    assert (doc["status"], doc["rulebook_version"], doc["product_group"]) == (scoring.OPEN, BOOK.version, GROUP)
    assert (await svc.rt.db["round_pins"].find_one({"_id": ROUND}) or {})["rulebook_version"] == BOOK.version


async def test_two_replicas_opening_one_dossier_at_once_record_it_once(svc: Scoring, intake: EventStore) -> None:
    await with_panel(svc, intake)
    event = await accepted(intake, "dossier-race")
    interleaved(svc.store, "append", "read_stream", "get")

    await asyncio.gather(consume(svc.on_dossier_accepted, event), consume(svc.on_dossier_accepted, event))

    assert types_of(await svc.store.read_stream(scoring_stream("dossier-race"))) == ["scoring.opened"]


async def test_a_product_group_the_rulebook_lacks_is_recorded_as_not_opened_with_the_reason(
        svc: Scoring, intake: EventStore) -> None:
    await with_panel(svc, intake)

    await svc.on_dossier_accepted(await accepted(intake, "dossier-odd", group="vật liệu xây dựng"))

    doc = await read_model(svc, "dossier-odd")
    assert (doc["status"], doc["reason_code"]) == (scoring.NOT_OPENED, "product_group_not_in_rulebook")
    with pytest.raises(Refused) as refused:  # scoring it is refused, saying why
        await score(svc, "dossier-odd", "m1", 80)
    assert refused.value.detail["reason_code"] == "product_group_not_in_rulebook"


async def test_a_sheet_from_every_member_completes_scoring_and_is_final(svc: Scoring, intake: EventStore) -> None:
    await with_panel(svc, intake)
    await opened(svc, intake, "dossier-b")

    for member_id in scorer_ids(panel(5)):
        await score(svc, "dossier-b", member_id, 80)

    doc = await read_model(svc, "dossier-b")
    assert doc["status"] == scoring.COMPLETED
    assert doc["submitted"] == sorted(scorer_ids(panel(5)))
    assert doc["result"]["average_total"] == 80
    assert types_of(await svc.store.read_stream(scoring_stream("dossier-b")))[-1] == "scoring.completed"
    with pytest.raises(Refused) as refused:
        await score(svc, "dossier-b", "m1", 90)
    assert "completed" in refused.value.message


async def test_the_chair_closes_at_quorum_and_not_before(svc: Scoring, intake: EventStore) -> None:
    await with_panel(svc, intake)  # five scoring members at three quarters, the chair required: four sheets
    await opened(svc, intake, "dossier-c")
    for member_id in ("chair", "m1", "m2"):
        await score(svc, "dossier-c", member_id, 70)

    with pytest.raises(Refused) as early:
        await svc.evaluate("dossier-c", CAUSE, closing=True, actor=CHAIR)
    assert "3 of the 4 sheets needed" in early.value.message
    await score(svc, "dossier-c", "m3", 72)
    closed = await svc.evaluate("dossier-c", CAUSE, closing=True, actor=CHAIR)

    assert closed is not None and closed.type == "scoring.completed"
    assert (await read_model(svc, "dossier-c"))["result"]["average_total"] == 70.5


async def test_judges_submitting_at_once_both_count_and_complete_once(svc: Scoring, intake: EventStore) -> None:
    await with_panel(svc, intake)
    await opened(svc, intake, "dossier-d")
    for member_id in ("chair", "m1", "m2"):
        await score(svc, "dossier-d", member_id, 75)
    interleaved(svc.store, "append", "read_stream")  # both read the stream at the same version

    await asyncio.gather(score(svc, "dossier-d", "m3", 75), score(svc, "dossier-d", "m4", 75))

    types = types_of(await svc.store.read_stream(scoring_stream("dossier-d")))
    assert types.count("score.submitted") == 5 and types.count("scoring.completed") == 1
    assert (await read_model(svc, "dossier-d"))["status"] == scoring.COMPLETED


async def test_the_chair_proposes_and_a_repeated_approval_decides_nothing_twice(svc: Scoring,
                                                                              intake: EventStore) -> None:
    await with_panel(svc, intake)
    for dossier_id, product, total in (("dossier-low", "Trà xanh", 60), ("dossier-high", "Mật ong", 90)):
        await opened(svc, intake, dossier_id, product)
        for member_id in scorer_ids(panel(5)):
            await score(svc, dossier_id, member_id, total)

    with pytest.raises(Refused) as refused:
        await svc.propose(ROUND, Actor("m1", ("judge",)), CAUSE)
    assert refused.value.kind == "forbidden"
    proposal = await svc.propose(ROUND, CHAIR, CAUSE)
    assert [(r["rank"], r["dossier_id"]) for r in proposal.data["rows"]] == [(1, "dossier-high"), (2, "dossier-low")]

    first = await svc.approve(proposal.stream, decision(), None, APPROVER, CAUSE)
    again = await svc.approve(proposal.stream, decision(), None, APPROVER, CAUSE)

    assert len(first) == 2 and again == []
    assert {e.subject for e in first} == {"dossier-high", "dossier-low"}
    high = await read_model(svc, "dossier-high")
    assert high["status"] in (scoring.APPROVED, scoring.NOT_RECOGNISED) and high["decision"] is not None
    with pytest.raises(Refused) as unknown:
        await svc.approve(proposal.stream, decision(), ["dossier-not-proposed"], APPROVER, CAUSE)
    assert unknown.value.detail == {"dossier_ids": ["dossier-not-proposed"]}


async def proposed_round(svc: Scoring, intake: EventStore) -> RecordedEvent:
    await with_panel(svc, intake)
    await opened(svc, intake, "dossier-a", "Mật ong")
    for member_id in scorer_ids(panel(5)):
        await score(svc, "dossier-a", member_id, 90)
    return await svc.propose(ROUND, CHAIR, CAUSE)


@pytest.mark.parametrize("authorities", [frozenset(), frozenset({"province:66"}), frozenset({"district:218"})],
                         ids=["none", "another-province", "a-district-of-it"])
async def test_an_approver_of_another_authority_decides_nothing(svc: Scoring, intake: EventStore,
                                                                authorities: frozenset[str]) -> None:
    proposal = await proposed_round(svc, intake)
    other = Principal("ubnd-dak-lak", frozenset({Role.APPROVER}), authorities=authorities)
    with pytest.raises(Refused) as refused:
        await svc.approve(proposal.stream, decision(), None, other, CAUSE)
    assert refused.value.kind == "forbidden" and refused.value.detail["authority_id"] == "province:24"
    assert (await read_model(svc, "dossier-a"))["status"] == scoring.COMPLETED  # nothing decided


async def test_the_decision_is_the_rounds_authority_whatever_the_approver_types(svc: Scoring,
                                                                              intake: EventStore) -> None:
    proposal = await proposed_round(svc, intake)
    with pytest.raises(Refused) as refused:
        await svc.approve(proposal.stream, decision("UBND tỉnh Đắk Lắk"), None, APPROVER, CAUSE)
    assert refused.value.kind == "invalid" and refused.value.detail["field"] == "decision.authority"

    [decided] = await svc.approve(proposal.stream, decision(" ubnd  tỉnh Bắc Giang"), None, APPROVER, CAUSE)
    assert decided.data["decision"]["authority"] == "UBND tỉnh Bắc Giang"
    assert decided.data["decision"]["authority_id"] == "province:24"


async def test_a_round_heard_of_before_v3_is_decided_by_the_authority_over_its_area(svc: Scoring,
                                                                                   intake: EventStore) -> None:
    proposal = await proposed_round(svc, intake)
    # the read model as an older scoring stored a v2 round.opened: no approving authority in it
    await svc.rt.db["rounds"].update_one({"_id": ROUND}, {"$unset": {"approving_authority": ""}})
    assert "approving_authority" not in (await svc.rt.db["rounds"].find_one({"_id": ROUND}) or {})

    [decided] = await svc.approve(proposal.stream, decision(), None, APPROVER, CAUSE)
    assert decided.data["decision"]["authority_id"] == "province:24"
    assert decided.data["decision"]["authority"] == "UBND tỉnh Bắc Giang"  # its organiser


async def test_an_admin_passes_the_role_check_but_decides_for_no_authority_it_is_not_given(
        svc: Scoring, intake: EventStore) -> None:
    proposal = await proposed_round(svc, intake)
    admin = Principal("root", frozenset({Role.ADMIN}))
    with pytest.raises(Refused) as refused:
        await svc.approve(proposal.stream, decision(), None, admin, CAUSE)
    assert refused.value.kind == "forbidden"


async def test_a_decision_cut_part_way_keeps_its_lease_and_scoring_finishes_it_once_the_lease_lapses(
        intake: EventStore) -> None:
    """A power cut between two dossiers' results (here the store failing at the second): the lease stays, so the
    same approval asked meanwhile is told to come back when it lapses (``UnderWay``: 503 with Retry-After), another
    is refused (409); once it has lapsed scoring finishes the decision by itself, each dossier decided once."""
    clock = FixedClock(datetime(2026, 7, 1, 2, 0, tzinfo=UTC))
    svc = Scoring(memory_runtime(ServiceSettings(service_name="scoring"),
                                 {"scoring": ("scoring", fold_scoring), "panel": ("panels", fold_first),
                                  "proposal": ("proposals", fold_first)}, clock), rulebooks(), round_wait=0)
    await svc.setup()
    await with_panel(svc, intake)
    for dossier_id in ("dossier-a", "dossier-b"):
        await opened(svc, intake, dossier_id)
        for member_id in scorer_ids(panel(5)):
            await score(svc, dossier_id, member_id, 90)
    proposal = await svc.propose(ROUND, CHAIR, CAUSE)
    real, calls = svc.rulebook, []

    def cut(rulebook_id: str, version: int | None = None) -> Any:
        calls.append(rulebook_id)
        if len(calls) == 2:
            raise ConnectionError("the power went")
        return real(rulebook_id, version)

    svc.rulebook = cut  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await svc.approve(proposal.stream, decision(), None, APPROVER, CAUSE)
    svc.rulebook = real  # type: ignore[method-assign]
    clock.now += timedelta(seconds=12)
    with pytest.raises(UnderWay) as under_way:
        await svc.approve(proposal.stream, decision(), None, APPROVER, CAUSE)
    assert under_way.value.retry_after == 18
    other = DecisionInput(number="124/QĐ-UBND", date="2026-07-01", signer="Nguyễn Văn A")
    with pytest.raises(Refused) as refused:
        await svc.approve(proposal.stream, other, None, APPROVER, CAUSE)
    assert refused.value.kind == "conflict"
    assert await svc.finish_left_decisions() == 0  # its lease holds

    clock.now += DECISION_LEASE
    assert await svc.finish_left_decisions() == 1
    for dossier_id in ("dossier-a", "dossier-b"):
        decided = [e for e in await svc.store.read_stream(scoring_stream(dossier_id)) if "decision" in e.data]
        assert [e.data["decision"]["number"] for e in decided] == ["123/QĐ-UBND"], dossier_id
    assert await svc.finish_left_decisions() == 0  # released: nothing left
    assert await svc.approve(proposal.stream, decision(), None, APPROVER, CAUSE) == []
    assert (await svc.awaited.rows.find_one({"_id": proposal.stream}) or {})["undecided"] == 0


def second_replica(svc: Scoring) -> Scoring:
    """Another scoring process on the same store and read models, with its own memory of the streams."""
    return Scoring(svc.rt, svc.rulebooks, round_wait=0, sealing=svc.sealing)


def counting_reads(svc: Scoring) -> list[str]:
    reads: list[str] = []
    read_stream = svc.store.read_stream

    async def counted(stream: str) -> list[RecordedEvent]:
        reads.append(stream)
        return await read_stream(stream)

    svc.store.read_stream = counted  # type: ignore[method-assign]
    return reads


async def test_a_judges_next_sheet_is_decided_on_the_stream_this_replica_just_wrote(svc: Scoring,
                                                                                    intake: EventStore) -> None:
    await with_panel(svc, intake)
    await opened(svc, intake, "dossier-recent")
    reads = counting_reads(svc)

    for member_id in ("chair", "m1"):
        await score_without_load(svc, "dossier-recent", member_id, 80)

    assert reads == []  # opened and scored by this replica: the append's check was enough
    assert types_of(await svc.store.read_stream(scoring_stream("dossier-recent"))) == [
        "scoring.opened", "score.submitted", "score.submitted"]


async def test_a_stale_stream_loses_the_append_and_no_sheet_is_lost(svc: Scoring, intake: EventStore) -> None:
    await with_panel(svc, intake)
    await opened(svc, intake, "dossier-stale")  # replica A remembers the stream at version 1
    other = second_replica(svc)
    await score(other, "dossier-stale", "m1", 70)  # replica B writes version 2
    reads = counting_reads(svc)

    await score_without_load(svc, "dossier-stale", "m2", 90)  # A decides on version 1: conflict, then reads

    assert reads == [scoring_stream("dossier-stale")]
    doc = await read_model(svc, "dossier-stale")
    assert doc["submitted"] == ["m1", "m2"]
    types = types_of(await svc.store.read_stream(scoring_stream("dossier-stale")))
    assert types == ["scoring.opened", "score.submitted", "score.submitted"]


async def test_a_stale_stream_does_not_let_a_judge_submit_twice(svc: Scoring, intake: EventStore) -> None:
    await with_panel(svc, intake)
    await opened(svc, intake, "dossier-twice")
    await score(second_replica(svc), "dossier-twice", "m1", 70)  # A does not know m1 has submitted

    with pytest.raises(Refused) as refused:
        await score_without_load(svc, "dossier-twice", "m1", 90)

    assert "already submitted" in refused.value.message
    sheets = [e for e in await svc.store.read_stream(scoring_stream("dossier-twice")) if e.type == "score.submitted"]
    assert len(sheets) == 1


async def test_replicas_taking_turns_on_one_dossier_complete_it_once(svc: Scoring, intake: EventStore) -> None:
    await with_panel(svc, intake)
    await opened(svc, intake, "dossier-turns")
    replicas = [svc, second_replica(svc)]
    interleaved(svc.store, "append", "read_stream")

    members = scorer_ids(panel(5))
    await asyncio.gather(*(score_without_load(replicas[i % 2], "dossier-turns", m, 80)
                           for i, m in enumerate(members[:2])))
    for i, member_id in enumerate(members[2:]):
        await score_without_load(replicas[i % 2], "dossier-turns", member_id, 80)

    types = types_of(await svc.store.read_stream(scoring_stream("dossier-turns")))
    assert types.count("score.submitted") == len(members) and types.count("scoring.completed") == 1
    assert (await read_model(svc, "dossier-turns"))["submitted"] == sorted(members)


async def score_without_load(svc: Scoring, dossier_id: str, member_id: str, wanted: float) -> RecordedEvent:
    """A judge's sheet as the HTTP route sends it: the command alone, no read of the stream before it."""
    return await svc.act(dossier_id, lambda s, p, r, k: scoring.submit(
        s, p, r, member_id, with_total(r.sheet(s.opened.sheet_id), wanted), "", k), Actor(member_id, ("judge",)), CAUSE)
