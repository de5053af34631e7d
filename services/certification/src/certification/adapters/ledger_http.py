"""Prizes, fees and the exhibition over HTTP (ADR 0050): the secretariat sets a round's schedule, pays awards and
fees, records displays; the secretariat and the auditor read the round's ledger (JSON or CSV)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from binhchon_kit.auth import Principal, Role
from binhchon_kit.auth.policy import allow
from binhchon_kit.commands import request_cause
from binhchon_kit.contracts.common import Code, Text
from binhchon_kit.contracts.ledger import Dong, PrizeRate
from binhchon_kit.exports import csv_text
from binhchon_kit.paging import After, Limit
from certification.adapters.http import Answered, Paged, Service
from certification.adapters.idempotency import Answers, IdempotencyKey, fingerprint
from certification.domain import ledger as rules
from certification.ledger import Ledger
from certification.ledger_views import LedgerViews

router = APIRouter(tags=["ledger"])
Secretariat = Annotated[Principal, allow(Role.SECRETARIAT)]
LedgerReader = Annotated[Principal, allow(Role.SECRETARIAT, Role.AUDITOR)]
RoundId = Annotated[str, StringConstraints(min_length=1, max_length=120)]
LineId = Annotated[str, StringConstraints(pattern=r"^[a-z]+-[0-9a-f-]{36}$")]


async def ledger(request: Request) -> Ledger:
    return request.app.state.ledger  # type: ignore[no-any-return]


async def ledger_views(request: Request) -> LedgerViews:
    return request.app.state.ledger_views  # type: ignore[no-any-return]


Books = Annotated[Ledger, Depends(ledger)]
ReadBooks = Annotated[LedgerViews, Depends(ledger_views)]


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prizes: list[PrizeRate] = Field(min_length=1, max_length=6)
    fee_per_session: Dong
    basis: Text | None = None


class Payment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payment_reference: Text
    paid_on: date


class Display(BaseModel):
    model_config = ConfigDict(extra="forbid")
    certificate_number: Text
    exhibition: Text
    on: date
    until: date | None = None
    place: Text
    code: Code | None = None


CONFLICT: dict[int | str, dict[str, Any]] = {409: {"description": "paid already, or another schedule set before"}}


@router.post("/rounds/{round_id}/prize-schedule", status_code=201, summary="set the round's prizes and fees, once",
             responses={200: {"description": "the same schedule, set before"}, **CONFLICT})
async def set_schedule(round_id: RoundId, body: Schedule, who: Secretariat, books: Books, answer: Answered,
                       key: IdempotencyKey = None) -> JSONResponse:
    async def command() -> tuple[int, dict[str, Any]]:
        schedule, created = await books.set_schedule(round_id, body.prizes, body.fee_per_session, body.basis,
                                                     who.actor, request_cause())
        return (201 if created else 200), schedule

    request = fingerprint("POST", f"/rounds/{round_id}/prize-schedule", body.model_dump(mode="json"))
    return await answer(key, who.subject, request, command)


async def _pay(kind: str, line_id: str, body: Payment, who: Principal, books: Ledger, answer: Answers,
               key: str | None) -> JSONResponse:
    async def command() -> tuple[int, dict[str, Any]]:  # an award's payee, a household's name, kept sealed
        return 201, await books.pay(kind, line_id, body.payment_reference, body.paid_on, who.actor, request_cause())

    request = fingerprint("POST", f"/{kind}s/{line_id}/payment", body.model_dump(mode="json"))
    return await answer(key, who.subject, request, command)


@router.post("/awards/{award_id}/payment", status_code=201, responses=CONFLICT,
             summary="the secretariat pays an award in full (409: paid already; 404: no such award owed)")
async def pay_award(award_id: LineId, body: Payment, who: Secretariat, books: Books, answer: Answered,
                    key: IdempotencyKey = None) -> JSONResponse:
    return await _pay(rules.AWARD, award_id, body, who, books, answer, key)


@router.post("/fees/{fee_id}/payment", status_code=201, responses=CONFLICT,
             summary="the secretariat pays a judge's fee in full (409: paid already; 404: no such fee owed)")
async def pay_fee(fee_id: LineId, body: Payment, who: Secretariat, books: Books, answer: Answered,
                  key: IdempotencyKey = None) -> JSONResponse:
    return await _pay(rules.FEE, fee_id, body, who, books, answer, key)


@router.get("/rounds/{round_id}/ledger", dependencies=Paged,
            summary="the round's prizes and fees: totals owed, paid and outstanding (đồng), and the lines")
async def round_ledger(round_id: RoundId, who: LedgerReader, books: Books, read: ReadBooks, svc: Service,
                       after: After = None, limit: Limit = 50) -> dict[str, Any]:
    # a household's name, carried sealed (ADR 0048), opened or erased
    return await svc.shown(await read.ledger(round_id, await books.schedule(round_id), after, limit))  # type: ignore[no-any-return]


@router.get("/rounds/{round_id}/ledger.csv", response_class=Response,
            summary="the round's ledger as a spreadsheet opens it (every line, then the totals)")
async def round_ledger_csv(round_id: RoundId, who: LedgerReader, read: ReadBooks, svc: Service) -> Response:
    lines = await svc.shown([line async for line in read.all_lines(round_id)])
    text = csv_text(rules.CSV_HEADER, rules.csv_rows(lines, await read.totals(round_id)))
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": 'attachment; filename="ledger.csv"'})


@router.post("/displays", status_code=201, tags=["exhibition"],
             responses={200: {"description": "recorded before: the same display"},
                        409: {"description": "the certificate is not valid"}},
             summary="a recognised product (by its certificate number) is displayed at an event")
async def display(body: Display, who: Secretariat, books: Books, svc: Service, answer: Answered,
                  key: IdempotencyKey = None) -> JSONResponse:
    async def command() -> tuple[int, dict[str, Any]]:
        state, _ = await svc.load(body.certificate_number)
        shown, created = await books.display(state.issued, state.status_on(svc.today()), body.exhibition, body.on,
                                             body.until, body.place, body.code, who.actor, request_cause())
        return (201 if created else 200), shown

    request = fingerprint("POST", "/displays", body.model_dump(mode="json"))
    return await answer(key, who.subject, request, command)
