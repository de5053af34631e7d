"""Intake's service layer with no server: submissions and their receipt numbers, duplicates (sequential and
racing), refusals that leave no gap, the completeness check's read model, escalation on result.approved.

The service object is built on binhchon_kit.testing.memory's runtime, as main.build wires it; what a test
asserts is what a caller meets: the returned event, the ``dossiers`` read model the routes read, the store."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from binhchon_kit.contracts.common import DecisionReference, Document, Level, Producer, Product, Programme
from binhchon_kit.contracts.scoring import Rating, ResultApproved
from binhchon_kit.events import Actor, Cause, RecordedEvent
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.testing.memory import FixedClock, append, foreign_store, interleaved, memory_runtime, types_of
from binhchon_kit.testing.samples import dossier_body, round_body
from intake.domain import dossiers
from intake.domain.dossiers import fold_dossier
from intake.domain.errors import Refused
from intake.domain.rounds import fold_round
from intake.service import Intake

# 23:26 UTC on 22/11 is 06:26 on 23/11 in Hà Nội: the service's today is the 23rd whatever the machine's zone
NOW = datetime(2026, 11, 22, 23, 26, tzinfo=UTC)
TODAY = date(2026, 11, 23)
SECRETARIAT = Actor("secretariat-1", ("secretariat",))
APPLICANT = Actor("producer-1", ("applicant",))
CAUSE = Cause("corr-unit", "http:corr-unit")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
async def intake(clock: FixedClock) -> Intake:
    runtime = memory_runtime(ServiceSettings(service_name="intake"),
                             {"round": ("rounds", fold_round), "dossier": ("dossiers", fold_dossier)}, clock)
    service = Intake(runtime, clock)
    await service.setup()
    return service


async def open_round(intake: Intake, code: str, **over: Any) -> str:
    event = await intake.open_round(round_body(code, TODAY, **over), SECRETARIAT, CAUSE)
    return event.stream


async def submit(intake: Intake, round_id: str, product: str = "Mật ong rừng Lục Nam", regno: str = "2400123456",
                 **kw: Any) -> RecordedEvent:
    body = dossier_body(product, regno)
    return await intake.submit(round_id, Producer.model_validate(body["producer"]),
                               Product.model_validate(body["product"]),
                               [Document.model_validate(d) for d in body["documents"]], APPLICANT, CAUSE, **kw)


async def read_model(intake: Intake, **query: Any) -> list[dict[str, Any]]:
    return await intake.rt.db["dossiers"].find(query, sort=[("receipt_number", 1)]).to_list()


def result_approved(dossier_id: str, round_id: str, *, goes_up: bool) -> ResultApproved:
    return ResultApproved(
        dossier_id=dossier_id, round_id=round_id, programme=Programme.OCOP, level=Level.PROVINCE,
        rulebook_id="ocop-2025", rating=Rating(stars=5, recognised=True, label="5 sao"), points=92.5,
        decision=DecisionReference(number="123/QĐ-UBND", date=date(2026, 11, 20), signer="Nguyễn Văn A",
                                   authority="UBND tỉnh Bắc Giang"),
        goes_up_a_level=goes_up, next_level=Level.NATIONAL if goes_up else None,
        product_name="Mật ong rừng Lục Nam", producer_name="Hợp tác xã Nông nghiệp Đông Hưng")


async def test_receipts_are_numbered_in_turn_and_stamped_with_the_service_clock(intake: Intake) -> None:
    round_id = await open_round(intake, "bg-ocop-26")

    first = await submit(intake, round_id)
    second = await submit(intake, round_id, "Rượu nếp cẩm", "2400999999")

    assert [first.data["receipt_number"], second.data["receipt_number"]] == ["BG-OCOP-26-00001", "BG-OCOP-26-00002"]
    assert datetime.fromisoformat(first.data["received_at"]) == NOW
    assert first.time == second.time == NOW  # the events too: the dossier's history shows the service's time
    # what the public status page finds by receipt number (looked up upper-case)
    doc = await intake.rt.db["dossiers"].find_one({"receipt_number": "BG-OCOP-26-00002"})
    assert doc is not None and doc["status"] == "received" and doc["product"]["name"] == "Rượu nếp cẩm"
    assert doc["check_due_date"] > TODAY.isoformat()
    assert await intake.rt.db["dossiers"].count_documents({"round_id": round_id}) == 2


async def test_a_second_submission_of_the_same_product_is_refused_and_takes_no_number(intake: Intake) -> None:
    round_id = await open_round(intake, "BG-DUP")
    first = await submit(intake, round_id)

    with pytest.raises(Refused) as refused:
        await submit(intake, round_id)

    assert refused.value.detail == {"reason": "duplicate"}  # naming no dossier (ADR 0037)
    assert "already has a dossier" in refused.value.message
    assert types_of(await intake.store.read_stream(first.stream)) == ["dossier.received"]
    # the refusal came before a receipt number was taken: the next dossier gets the next number
    other = await submit(intake, round_id, "Trà hoa vàng", "2400777777")
    assert other.data["receipt_number"] == "BG-DUP-00002"


async def test_two_racing_submissions_of_one_dossier_give_one_receipt(intake: Intake) -> None:
    round_id = await open_round(intake, "BG-RACE")
    interleaved(intake.store, "version", "append")  # both pass the "no dossier yet" check before either appends

    outcomes = await asyncio.gather(submit(intake, round_id), submit(intake, round_id), return_exceptions=True)

    receipts = [o for o in outcomes if isinstance(o, RecordedEvent)]
    refusals = [o for o in outcomes if isinstance(o, Refused)]
    assert len(receipts) == 1 and len(refusals) == 1, outcomes
    assert refusals[0].detail == {"reason": "duplicate"}
    # both got past the check and took a number: the race was real, and the loser's number stays unused
    assert await intake.rt.db["sequence_claims"].count_documents({}) == 2
    assert [d["receipt_number"] for d in await read_model(intake, round_id=round_id)] == [
        receipts[0].data["receipt_number"]]


async def test_a_submission_after_the_window_is_refused_with_the_service_date(intake: Intake,
                                                                              clock: FixedClock) -> None:
    round_id = await open_round(intake, "BG-LATE")
    clock.advance(timedelta(days=31))  # the window closed on TODAY + 30

    with pytest.raises(Refused) as refused:
        await submit(intake, round_id)

    assert refused.value.detail == {"today": (TODAY + timedelta(days=31)).isoformat()}
    assert await read_model(intake) == []
    clock.advance(timedelta(days=-31))
    assert (await submit(intake, round_id)).data["receipt_number"] == "BG-LATE-00001"  # no gap left behind


async def test_opening_a_round_twice_is_refused(intake: Intake) -> None:
    round_id = await open_round(intake, "BG-TWICE")

    with pytest.raises(Refused) as refused:
        await open_round(intake, "bg-twice")

    assert refused.value.detail == {"round_id": round_id}
    assert await intake.rt.db["rounds"].count_documents({}) == 1


async def test_accepting_updates_the_read_model_and_a_second_accept_is_refused(intake: Intake) -> None:
    round_id = await open_round(intake, "BG-CHECK")
    dossier_id = (await submit(intake, round_id)).stream

    def accept(state: dossiers.Dossier, round_: Any) -> Any:
        return dossiers.accept(state, round_, product_group="thực phẩm", sample_code="MAU-01")

    await intake.act(dossier_id, accept, SECRETARIAT, CAUSE)

    [doc] = await read_model(intake, round_id=round_id, status="accepted")
    assert doc["classification"] == {"product_group": "thực phẩm", "sample_code": "MAU-01"}
    with pytest.raises(Refused) as refused:
        await intake.act(dossier_id, accept, SECRETARIAT, CAUSE)
    assert refused.value.detail == {"current_status": "accepted"}
    assert types_of(await intake.store.read_stream(dossier_id)) == ["dossier.received", "dossier.accepted"]


async def test_an_approved_result_going_up_escalates_once_however_often_delivered(intake: Intake) -> None:
    parent = await open_round(intake, "TW-OCOP", level="national", receives="escalations_only")
    child = await open_round(intake, "BG-CHILD", parent_round_id=parent)
    dossier_id = (await submit(intake, child)).stream
    result = await append(foreign_store("scoring"), f"scoring-{dossier_id}",
                          result_approved(dossier_id, child, goes_up=True), subject=dossier_id)

    await intake.on_result_approved(result)
    await intake.on_result_approved(result)  # a redelivery

    [escalated] = await read_model(intake, round_id=parent)
    assert escalated["receipt_number"] == "TW-OCOP-00001"
    assert escalated["escalated_from"]["dossier_id"] == dossier_id
    assert escalated["escalated_from"]["result_event_id"] == result.id
    assert escalated["escalated_from"]["rating"] == "5 sao"
    assert escalated["product"]["name"] == "Mật ong rừng Lục Nam"


async def test_two_replicas_escalating_at_once_open_one_dossier(intake: Intake) -> None:
    parent = await open_round(intake, "TW-RACE", level="national")
    child = await open_round(intake, "BG-RACE-CHILD", parent_round_id=parent)
    dossier_id = (await submit(intake, child)).stream
    result = await append(foreign_store("scoring"), f"scoring-{dossier_id}",
                          result_approved(dossier_id, child, goes_up=True), subject=dossier_id)
    interleaved(intake.store, "version", "append")

    await asyncio.gather(intake.on_result_approved(result), intake.on_result_approved(result))

    assert len(await read_model(intake, round_id=parent)) == 1


async def test_a_result_that_stays_at_its_level_or_is_not_ours_escalates_nothing(intake: Intake) -> None:
    parent = await open_round(intake, "TW-STAY", level="national")
    child = await open_round(intake, "BG-STAY", parent_round_id=parent)
    dossier_id = (await submit(intake, child)).stream
    scoring = foreign_store("scoring")
    stays = await append(scoring, f"scoring-{dossier_id}",
                         result_approved(dossier_id, child, goes_up=False), subject=dossier_id)
    elsewhere = await append(scoring, "scoring-elsewhere",
                             result_approved("dossier-of-another-deployment", child, goes_up=True),
                             subject="dossier-of-another-deployment")

    # the consumer does not even call the handler for the one that stays, nor keep an inbox entry (ADR 0053)
    assert (Intake.goes_up(stays), Intake.goes_up(elsewhere)) == (False, True)
    await intake.on_result_approved(stays)
    await intake.on_result_approved(elsewhere)

    assert await read_model(intake, round_id=parent) == []
    assert [d["dossier_id"] for d in await read_model(intake)] == [dossier_id]
