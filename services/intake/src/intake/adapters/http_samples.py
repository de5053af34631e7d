"""Sample custody's HTTP routes (issue 16, ADR 0046), included by intake's app beside its own: the secretariat
records each step; the dossier's applicant reads its own; a round's staff read them all. Each route declares its
access policy (ADR 0030)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import Field

from binhchon_kit.auth import Principal, Role
from binhchon_kit.auth.policy import ANY, allow
from binhchon_kit.commands import request_cause
from binhchon_kit.contracts.common import LongText, Text
from binhchon_kit.contracts.registry import EventData
from binhchon_kit.contracts.samples import Count, Place, RetainReason
from binhchon_kit.paging import After, Limit, no_offset
from intake.adapters.http import OWN_DOSSIER, OWN_DOSSIERS, READERS, STAFF, Body, Read, Secretariat, Service
from intake.adapters.sample_pages import handover_slip, labels
from intake.domain import samples
from intake.domain.dossiers import fold_dossier
from intake.domain.errors import Refused
from intake.sample_custody import SampleCustody

router = APIRouter(tags=["samples"])

SampleReader = Annotated[Principal, allow({**READERS, Role.APPLICANT: OWN_DOSSIER})]
SampleLister = Annotated[Principal, allow({**READERS, Role.APPLICANT: OWN_DOSSIERS})]
LabelPrinter = Annotated[Principal, allow({Role.SECRETARIAT: ANY, Role.APPLICANT: OWN_DOSSIER})]


async def custody(request: Request) -> SampleCustody:
    return request.app.state.samples  # type: ignore[no-any-return]


Custody = Annotated[SampleCustody, Depends(custody)]


class Received(Body):
    count: Count
    condition: Text = Field(description="as found: nguyên vẹn, còn hạn sử dụng …")
    storage_place: Place
    received_by: Text = Field(description="the officer taking them in, as printed on the slip")
    handed_over_by: Text = Field(description="who hands them in for the producer")


class Moved(Body):
    count: Count
    from_place: Place
    to_place: Place
    purpose: LongText = ""


class Consumed(Body):
    count: Count
    place: Place
    note: LongText = ""


class Returned(Body):
    count: Count
    from_place: Place
    condition: Text
    returned_by: Text = Field(description="the officer handing them back")
    received_by: Text = Field(description="who takes them back for the producer")
    producer_confirmation: Text = Field(description="the producer's confirmation as signed on the slip")


class Retained(Body):
    reason_code: RetainReason
    reason: Text


class ReturnNotice(Body):
    place: Place = Field(description="where the producers collect their samples")
    from_date: date
    until_date: date | None = None
    occasion: Text = Field(description="after what: kết thúc hội chợ triển lãm, kết thúc đợt bình chọn …")


class CloseRound(Body):
    note: LongText = ""


def _step(event: Any) -> dict[str, Any]:
    return {"event_id": event.id, "type": event.type, "version": event.version, "time": event.time,
            "actor": event.actor.id, **event.data}


async def _answer(custody: SampleCustody, event: Any) -> dict[str, Any]:
    """The recorded step as the dossier's custody shows it: who handed samples in or took them back opened, never
    the sealed form the event carries (ADR 0035)."""
    return await custody.shown(_step(event))


async def _recorded(custody: SampleCustody, dossier_id: str, decide: Callable[..., EventData], body: Body,
                    who: Principal) -> dict[str, Any]:
    """One custody step: ``decide`` (intake.domain.samples) on the held counts, with the body's fields and now."""
    fields = dict(body)  # the fields as validated (an enum stays an enum)
    return await _answer(custody, await custody.act(dossier_id, lambda s: decide(s, at=custody.intake.now(), **fields),
                                                     who.actor, request_cause()))


@router.post("/dossiers/{dossier_id}/samples/received", status_code=201,
             summary="take a dossier's samples into custody (accepted dossiers: labelled with the selection code)")
async def receive(dossier_id: str, body: Received, who: Secretariat, samples_: Custody) -> dict[str, Any]:
    return await _answer(samples_, await samples_.receive(dossier_id, body.model_dump(), who.actor, request_cause()))


@router.post("/dossiers/{dossier_id}/samples/moved", status_code=201,
             summary="move samples between places; refused (409) for more than the place holds")
async def move(dossier_id: str, body: Moved, who: Secretariat, samples_: Custody) -> dict[str, Any]:
    return await _recorded(samples_, dossier_id, samples.move, body, who)


@router.post("/dossiers/{dossier_id}/samples/consumed", status_code=201,
             summary="samples used up in evaluation (tasting); refused (409) for more than the place holds")
async def consume(dossier_id: str, body: Consumed, who: Secretariat, samples_: Custody) -> dict[str, Any]:
    return await _recorded(samples_, dossier_id, samples.consume, body, who)


@router.post("/dossiers/{dossier_id}/samples/returned", status_code=201,
             summary="samples handed back to the producer, with the producer's confirmation; refused (409) for "
                     "more than the place holds")
async def hand_back(dossier_id: str, body: Returned, who: Secretariat, samples_: Custody) -> dict[str, Any]:
    return await _recorded(samples_, dossier_id, samples.hand_back, body, who)


@router.post("/dossiers/{dossier_id}/samples/retained", status_code=201,
             summary="record why samples still held stay (kept for the next level, consumed …): the round may then "
                     "close over them")
async def retain(dossier_id: str, body: Retained, who: Secretariat, samples_: Custody) -> dict[str, Any]:
    return await _recorded(samples_, dossier_id, samples.retain, body, who)


@router.get("/dossiers/{dossier_id}/samples", summary="a dossier's samples: held where, used up, handed back, "
                                                       "and every step with who and when")
async def dossier_samples(dossier_id: str, who: SampleReader, samples_: Custody) -> dict[str, Any]:
    return await samples_.custody(dossier_id)


@router.get("/dossiers/{dossier_id}/samples/slip", response_class=HTMLResponse,
            summary="the handover slip (biên bản giao nhận mẫu sản phẩm) of a receipt or a return, A4, in Vietnamese")
async def slip(dossier_id: str, who: SampleReader, samples_: Custody, svc: Service, read: Read,
               step: Annotated[str, Query(pattern="^(received|returned)$")] = "received",
               event_id: Annotated[str | None, Query(max_length=64, description="which one; default the latest")
                                   ] = None) -> HTMLResponse:
    doc = await samples_.custody(dossier_id)
    steps = [h for h in doc["history"] if h["type"] == f"samples.{step}"
             and (event_id is None or h["event_id"] == event_id)]
    if not steps:
        raise Refused(f"no samples.{step} step of this dossier" + (f" with id {event_id}" if event_id else ""),
                      kind="not_found")
    state, events = await svc.load_dossier(dossier_id)
    round_ = await read.round(state.round_id)
    producer = (await svc.opened(events[0]))["producer"]  # a household's name is sealed (ADR 0048)
    return HTMLResponse(handover_slip(steps[-1], doc, round_, producer["name"]))


@router.get("/dossiers/{dossier_id}/samples/label", response_class=HTMLResponse,
            summary="the samples' labels: selection code and product (never the producer), one per sample, A4")
async def label(dossier_id: str, who: LabelPrinter, svc: Service, read: Read, samples_: Custody) -> HTMLResponse:
    state, events = await svc.load_dossier(dossier_id)
    code = (fold_dossier(events).get("classification") or {}).get("sample_code")
    if code is None:
        raise Refused("the dossier has no selection code before it is accepted", current_status=state.status.value)
    held, _ = await samples_.load(dossier_id)
    count = held.received if held else int(state.received["product"].get("sample_count") or 1)
    return HTMLResponse(labels({"selection_code": code, "product_name": state.received["product"]["name"],
                                "received": count}, await read.round(state.round_id)))


@router.get("/rounds/{round_id}/samples", dependencies=[Depends(no_offset)],
            summary="where every sample of the round is, per dossier in selection-code order: held by place, used "
                    "up, handed back; page by page (an applicant: their own dossiers)")
async def round_samples(round_id: str, who: SampleLister, samples_: Custody, after: After = None,
                        limit: Limit = 100) -> dict[str, Any]:
    mine = None if who.has(*STAFF, Role.ADMIN) else who.subject
    return (await samples_.round_list(round_id, applicant_id=mine, after=after, limit=limit)).body()


@router.post("/rounds/{round_id}/samples/return-notice", status_code=201,
             summary="tell each producer whose samples the round still holds where and when to collect them "
                     "(samples.return_due, mailed by notify)")
async def return_notice(round_id: str, body: ReturnNotice, who: Secretariat, samples_: Custody) -> dict[str, Any]:
    told = await samples_.announce_return(round_id, body.model_dump(), who.actor, request_cause())
    return {"notified": [e.data["dossier_id"] for e in told]}


@router.post("/rounds/{round_id}/close", status_code=201, tags=["rounds"],
             summary="close the round; refused (409, naming them) while dossiers hold samples not handed back with "
                     "no reason recorded for keeping them")
async def close_round(round_id: str, body: CloseRound, who: Secretariat, samples_: Custody) -> dict[str, Any]:
    return await _answer(samples_, await samples_.close_round(round_id, body.note, who.actor, request_cause()))
