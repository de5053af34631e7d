"""Certification's HTTP API and public pages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict

from binhchon_kit.auth import Principal, Role
from binhchon_kit.auth.policy import PUBLIC, Scope, allow
from binhchon_kit.commands import request_cause
from binhchon_kit.contracts.common import Programme, Text
from binhchon_kit.paging import After, Limit, Total, no_offset
from binhchon_kit.ratelimit import RATE_LIMITED
from certification.adapters import pages
from certification.adapters.idempotency import Answers, IdempotencyKey, fingerprint
from certification.domain.certificates import revocation_refusal
from certification.domain.errors import Refused
from certification.service import Certification, signed_document
from certification.views import Status, Views

router = APIRouter()


async def _issued_by_own_authority(request: Request, who: Principal) -> bool:
    """An approver acting for the certificate's issuing authority (ADR 0029), checked before the body is read;
    refused naming that authority (it is printed on the certificate)."""
    try:
        state, _ = await certification_of(request).load(request.path_params["number"])
    except Refused:
        return False
    if (refused := revocation_refusal(state.issued, who.authorities)) is not None:
        raise refused
    return True


Approver = Annotated[Principal, allow({Role.APPROVER: Scope("own authority", _issued_by_own_authority)})]
# who may read every certificate of a round or dossier, whatever its status: the people who run the selection
# and those who check it (admin always passes); not producers, not judges
Staff = Annotated[Principal, allow(Role.SECRETARIAT, Role.COUNCIL_CHAIR, Role.APPROVER, Role.CERTIFIER, Role.AUDITOR)]
# lists page by `after` (ADR 0015); an `offset` is answered with a 422 saying so
Paged = [Depends(no_offset)]


def certification_of(request: Request) -> Certification:
    return request.app.state.certification  # type: ignore[no-any-return]


async def service(request: Request) -> Certification:
    """The routes' dependency, async: FastAPI runs a plain function in a worker thread, a hop per request."""
    return certification_of(request)


Service = Annotated[Certification, Depends(service)]


async def views(request: Request) -> Views:
    return request.app.state.views  # type: ignore[no-any-return]


Read = Annotated[Views, Depends(views)]


async def answers(request: Request) -> Answers:
    return request.app.state.answers  # type: ignore[no-any-return]


# how a command answers (once per Idempotency-Key), its body shown as the views show it (ADR 0048)
Answered = Annotated[Answers, Depends(answers)]


class Revocation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text


@router.get("/.well-known/jwks.json", tags=["public"], dependencies=[PUBLIC],
            summary="the public keys that verify certificates")
async def jwks(svc: Service) -> dict[str, Any]:
    return {"keys": [svc.signer.jwk()]}


@router.get("/certificates/{number}.pdf", tags=["public"], dependencies=[PUBLIC, RATE_LIMITED], response_class=Response)
async def certificate_pdf(number: str, request: Request, svc: Service) -> Response:
    from certification.adapters.pdf import render_certificate_pdf

    state, _ = await svc.load(number)
    fonts = request.app.state.fonts
    issued = await svc.shown(state.issued)  # a household's name opened, or erased (ADR 0048)
    pdf = render_certificate_pdf({**issued, "producer_name": issued["holder"]["name"],
                                  "producer_address": issued["holder"]["address"],
                                  "status": state.status}, svc.verify_url(number),
                                 font_file=fonts[0], bold_font_file=fonts[1])
    return Response(pdf, media_type="application/pdf",
                    headers={"content-disposition": f'inline; filename="{number}.pdf"'})


@router.get("/certificates", tags=["staff"], dependencies=Paged,
            summary="a round's or a dossier's certificates, whatever their status, in order of issue, page by page")
async def certificates(who: Staff, read: Read, round_id: str | None = None, dossier_id: str | None = None,
                       status: Status | None = None, after: After = None, limit: Limit = 50, total: Total = False
                       ) -> dict[str, Any]:
    page = await read.certificates(round_id=round_id, dossier_id=dossier_id, status=status, after=after,
                                   limit=limit, total=total)
    return page.body()


@router.get("/dossiers/{dossier_id}/certificates", tags=["public"], dependencies=[*Paged, PUBLIC, RATE_LIMITED],
            summary="the certificates issued on a dossier's result, whatever their status, in order of issue, as "
                    "public as each of them (no holder registration number)")
async def dossier_certificates(dossier_id: str, read: Read, after: After = None, limit: Limit = 50
                               ) -> dict[str, Any]:
    page = await read.of_dossier(dossier_id, after, limit)
    return page.body()


@router.get("/certificates/{number}", tags=["public"], dependencies=[PUBLIC, RATE_LIMITED],
            summary="the signed certificate (JSON)")
async def certificate(number: str, svc: Service) -> dict[str, Any]:
    state, _ = await svc.load(number)
    # the signed document as signed (a household's name sealed in it, ADR 0048), and the name as it reads now
    holder = (await svc.shown({"holder": state.issued["holder"]}))["holder"]["name"]
    return {**signed_document(state.issued), "status": state.status_on(svc.today()), "holder_name": holder}


@router.post("/certificates/{number}/revocation", status_code=201, tags=["lifecycle"],
             summary="the issuing authority revokes a certificate (403: the caller's token does not act for it)")
async def revoke(number: str, body: Revocation, who: Approver, svc: Service, answer: Answered,
                 key: IdempotencyKey = None) -> JSONResponse:
    async def command() -> tuple[int, dict[str, Any]]:
        return 201, (await svc.revoke(number, body.reason, who, request_cause())).data

    request = fingerprint("POST", f"/certificates/{number}/revocation", body.model_dump(mode="json"))
    return await answer(key, who.subject, request, command)


HTML = {"text/html": {"schema": {"type": "string"}}}
TOO_MANY = "too many requests from this address: a page saying how long to wait (Retry-After)"


def _page(html: str, status_code: int = 200) -> HTMLResponse:
    """A public page under its own policy: styles from this origin only (the kit's stylesheet, below)."""
    return HTMLResponse(html, status_code=status_code, headers={"content-security-policy": pages.PAGE_POLICY})


@router.get("/static/portal.css", tags=["public"], dependencies=[PUBLIC], response_class=Response,
            summary="the public pages' stylesheet (the portal's, from the kit)",
            responses={200: {"content": {"text/css": {"schema": {"type": "string"}}}}})
async def stylesheet() -> Response:
    return Response(pages.stylesheet(), media_type="text/css", headers={"cache-control": "public, max-age=3600"})


@router.get("/verify/{number}", tags=["public"], dependencies=[PUBLIC, RATE_LIMITED], response_class=HTMLResponse,
            summary="public verification page (Vietnamese, no login)",
            responses={404: {"description": "no certificate has this number: a page saying so", "content": HTML},
                       429: {"description": TOO_MANY, "content": HTML}})
async def verify(number: str, svc: Service, read: Read) -> HTMLResponse:
    try:
        state, _ = await svc.load(number)
    except Refused:
        return _page(pages.not_found_page(number), status_code=404)
    shown = (await read.exhibits.displayed_at([number]))[number]
    return _page(pages.verify_page({**await svc.shown(state.issued), **_lifecycle(state), "displayed_at": shown},
                                   state.status_on(svc.today())))


def _lifecycle(state: Any) -> dict[str, Any]:
    return {"superseded_by": state.superseded_by, "revoked": state.revoked}


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


# the registry page's form sends a filter left empty as `stars=`: no filter, not a 422
Blank = BeforeValidator(_blank_is_none)
# bounded as the data is: an unbounded integer reached the store as an int64 overflow (a 500 schemathesis found)
Stars = Annotated[int | None, Query(ge=1, le=5), Blank]
Year = Annotated[int | None, Query(ge=2010, le=2100), Blank]
OfProgramme = Annotated[Programme | None, Blank]


def _filters(programme: Programme | None, province_code: str | None, stars: int | None, year: int | None
             ) -> dict[str, Any]:
    return {"programme": programme.value if programme else None, "province_code": province_code or None,
            "stars": stars, "year": year}


@router.get("/registry.json", tags=["public"], dependencies=[*Paged, PUBLIC, RATE_LIMITED],
            summary="certified products, newest first, filtered, page by page (`next` is the following page's "
                    "`after`)")
async def registry_json(read: Read, programme: OfProgramme = None, province_code: str | None = None,
                        stars: Stars = None, year: Year = None, after: After = None, limit: Limit = 50
                        ) -> JSONResponse:
    page = await read.registry(_filters(programme, province_code, stars, year), after, limit)
    return JSONResponse(page.body())


@router.get("/registry", tags=["public"], response_class=HTMLResponse, dependencies=[*Paged, PUBLIC, RATE_LIMITED],
            summary="certified products (Vietnamese)",
            responses={422: {"description": "a filter out of range: a page naming it (adapters/page_errors.py)",
                             "content": HTML}, 429: {"description": TOO_MANY, "content": HTML}})
async def registry(read: Read, programme: OfProgramme = None, province_code: str | None = None,
                   stars: Stars = None, year: Year = None, after: After = None, limit: Limit = 50
                   ) -> HTMLResponse:
    filters = _filters(programme, province_code, stars, year)
    page = await read.registry(filters, after, limit)
    return _page(pages.registry_page(page.items, filters, page.next, limit, first=not after))
