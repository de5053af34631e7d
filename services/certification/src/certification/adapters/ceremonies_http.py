"""Ceremonies over HTTP: schedule one (idempotent), list a round's, and read one with what was sent."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StringConstraints

from binhchon_kit.auth import Principal, Role
from binhchon_kit.auth.fastapi import require
from binhchon_kit.commands import request_cause
from binhchon_kit.contracts.common import Text
from binhchon_kit.paging import After, Limit, Total
from certification.adapters.http import Answered, Paged, Read, Staff
from certification.adapters.idempotency import IdempotencyKey, fingerprint
from certification.ceremonies import Ceremonies

router = APIRouter(tags=["ceremonies"])
Organiser = Annotated[Principal, Depends(require(Role.SECRETARIAT, Role.CERTIFIER))]


async def ceremonies(request: Request) -> Ceremonies:
    return request.app.state.ceremonies  # type: ignore[no-any-return]


Service = Annotated[Ceremonies, Depends(ceremonies)]


class Ceremony(BaseModel):
    model_config = ConfigDict(extra="forbid")
    round_id: Annotated[str, StringConstraints(max_length=120)]
    title: Text
    on: date
    at: time
    place: Text


@router.post("/ceremonies", status_code=201, responses={200: {"description": "scheduled before: the same ceremony"}},
             summary="schedule a round's ceremony (the same round, date and place is the same ceremony)")
async def schedule(body: Ceremony, who: Organiser, svc: Service, answer: Answered, key: IdempotencyKey = None
                   ) -> JSONResponse:
    async def command() -> tuple[int, dict[str, Any]]:
        # the invitees as recorded, a household's name and number sealed: kept so for the key, opened when shown
        ceremony, created = await svc.schedule(body.round_id, body.title, body.on, body.at, body.place, who.actor,
                                               request_cause())
        return (201 if created else 200), ceremony

    request = fingerprint("POST", "/ceremonies", body.model_dump(mode="json"))
    return await answer(key, who.subject, request, command)


@router.get("/ceremonies", dependencies=Paged, summary="the ceremonies scheduled, a round's if asked, by date")
async def list_ceremonies(who: Staff, read: Read, round_id: str | None = None, after: After = None,
                          limit: Limit = 50, total: Total = False) -> dict[str, Any]:
    return (await read.ceremonies(round_id, after, limit, total)).body()


@router.get("/ceremonies/{ceremony_id}", summary="a ceremony, its invitees and what was sent to them")
async def ceremony(ceremony_id: str, who: Staff, read: Read) -> dict[str, Any]:
    return await read.ceremony(ceremony_id)
