"""Intake's HTTP API: thin routes over the service layer."""

from __future__ import annotations

import base64
import unicodedata
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as FastPath
from fastapi.responses import HTMLResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from binhchon_kit.auth import Principal, Role
from binhchon_kit.auth.policy import ANY, PUBLIC, Scope, allow, narrowed
from binhchon_kit.commands import request_cause
from binhchon_kit.contracts.common import (
    Code,
    Document,
    Level,
    LongText,
    Producer,
    ProducerKind,
    Product,
    Programme,
    RegistrationNumber,
    Text,
)
from binhchon_kit.contracts.intake import MissingItem, PromisedDate, Receives, RoundArea, Schedule
from binhchon_kit.events import RecordedEvent
from binhchon_kit.paging import After, Limit, Total, no_offset
from binhchon_kit.personal import KID_PATTERN, is_individual, sealed_kids
from binhchon_kit.ratelimit import RATE_LIMITED
from intake.adapters.receipt_codes import ReceiptCodes
from intake.adapters.receipt_page import check_code_form, receipt_page
from intake.domain import bindings, dossiers
from intake.domain.errors import Refused
from intake.domain.times import in_vietnam
from intake.service import Intake
from intake.views import Views

router = APIRouter()



async def _files_dossier(request: Request, who: Principal) -> bool:
    """The applicant who filed the dossier (false for one that does not exist: a stranger learns nothing)."""
    try:
        state, _ = await intake_of(request).load_dossier(request.path_params["dossier_id"])
    except Refused:
        return False
    return state.producer_id == who.subject


# Access (ADR 0030). The round's staff read every dossier; an applicant only theirs. A council's chair or judge
# reads what scoring shows of a dossier (product, producer, sample code), never the contact details kept here.
OWN_DOSSIER = Scope("own dossier", _files_dossier)
OWN_DOSSIERS = narrowed("own dossiers")  # the view filters: nothing to refuse
READERS = {Role.SECRETARIAT: ANY, Role.AUDITOR: ANY, Role.APPROVER: ANY}
STAFF = tuple(READERS)  # who sees every dossier in a list (the others: their own)

Secretariat = Annotated[Principal, allow(Role.SECRETARIAT)]
# a data subject's key: our services only (an admin passes as everywhere a role reaches any resource)
KeyHolder = Annotated[Principal, allow(Role.SERVICE)]
Eraser = Annotated[Principal, allow(Role.SECRETARIAT, Role.ADMIN)]
Applicant = Annotated[Principal, allow(Role.APPLICANT, Role.SECRETARIAT)]
DossierApplicant = Annotated[Principal, allow({Role.APPLICANT: OWN_DOSSIER, Role.SECRETARIAT: ANY})]
DossierReader = Annotated[Principal, allow({**READERS, Role.APPLICANT: OWN_DOSSIER})]
DossierLister = Annotated[Principal, allow({**READERS, Role.APPLICANT: OWN_DOSSIERS})]
# Producer bindings (ADR 0037): the secretariat decides them, the auditor reads them, an applicant lists their own.
BindingLister = Annotated[Principal, allow({Role.SECRETARIAT: ANY, Role.AUDITOR: ANY,
                                            Role.APPLICANT: narrowed("own bindings")})]
BindingReader = Annotated[Principal, allow(Role.SECRETARIAT, Role.AUDITOR)]


def intake_of(request: Request) -> Intake:
    return request.app.state.intake  # type: ignore[no-any-return]


async def intake(request: Request) -> Intake:
    """The routes' dependency, async: FastAPI runs a plain function in a worker thread, a hop per request."""
    return intake_of(request)


Service = Annotated[Intake, Depends(intake)]


async def views(request: Request) -> Views:
    return request.app.state.views  # type: ignore[no-any-return]


Read = Annotated[Views, Depends(views)]
# lists page by `after` (ADR 0015); an `offset` is answered with a 422 saying so
Paged = [Depends(no_offset)]




# bounded as OpenRound's year is: an unbounded integer would reach the store as an int64 overflow
Year = Annotated[int | None, Query(ge=2010, le=2100)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenRound(Body):
    code: Code = Field(description="short unique code, used in receipt numbers, e.g. OCOP-LN-2026-1")
    title: Text
    programme: Programme
    rulebook_id: Code
    level: Level
    area: RoundArea = Field(description="province rounds: province_code; district rounds: province_code and "
                                        "district_code; commune rounds: province_code and commune_code; "
                                        "region rounds: region_code, region and province_codes")
    year: int = Field(ge=2010, le=2100)
    batch: int = Field(default=1, ge=1, le=20)
    organiser: Text
    approving_authority: Text | None = Field(
        default=None, description="who decides the round's results, as printed on decisions and certificates (e.g. "
        "UBND tỉnh Bắc Giang for a round the Sở Công Thương organises); default: the organiser. Its id follows "
        "from the level and area (province:24), and only approvers acting for it decide")
    schedule: Schedule
    parent_round_id: Annotated[str, StringConstraints(max_length=120)] | None = None
    max_supplement_requests: int = Field(default=1, ge=1, le=5)
    receives: Receives = Field(default=Receives.ALL, description="escalations_only: a parent round that takes no "
                               "direct submissions, only dossiers sent up from its child rounds")


def _plain_file_name(name: str) -> str:
    # a file name is a name, never a path (`../`), and carries no control character (NUL cuts it short in C
    # libraries; CR/LF forge header lines when it is sent on as a Content-Disposition)
    if name in (".", "..") or "/" in name or "\\" in name or any(unicodedata.category(c) == "Cc" for c in name):
        raise ValueError("a file name without path separators, '..' or control characters")
    return name


class UploadedDocument(Document):
    """A document as an applicant declares it (the event contract's Document, its file name checked)."""

    file_name: Annotated[Text, AfterValidator(_plain_file_name)]


class SubmitDossier(Body):
    producer: Producer
    product: Product
    documents: list[UploadedDocument] = Field(min_length=1)


class Receipt(BaseModel):
    """The receipt (giấy biên nhận, phiếu hẹn trả kết quả)."""

    dossier_id: str
    receipt_number: str
    round_code: str
    received_at: str = Field(description="when it was received, in Vietnam's time: 2026-11-23T06:26:00+07:00")
    check_due_date: date
    result_due_date: date | None = None
    status: str
    check_code: str = Field(description="printed on the receipt: the public status lookup needs it with the number")
    status_url: str = Field(description="the public status page, check code included")
    sample_code: str | None = Field(default=None, description="once accepted: the selection code (mã số bình "
                                    "chọn) its samples are labelled with")


class RequestSupplement(Body):
    items: list[MissingItem] = Field(min_length=1, description="every missing item, in one request")
    reason: Text
    due_date: date | None = Field(default=None, description="default: the round's supplement working days")


class Supplement(Body):
    documents: list[UploadedDocument] = Field(min_length=1)
    note: LongText = ""


class Accept(Body):
    product_group: Text
    sample_code: Code | None = Field(default=None, description="the selection code (mã số bình chọn) on the "
                                     "sample label, unique in the round; left out, one is drawn at random")


class Reason(Body):
    reason: Text


class Withdraw(Body):
    reason: LongText = ""


class Reschedule(Body):
    which: PromisedDate
    new_date: date
    apology_note: Text = Field(description="the apology (phiếu xin lỗi và hẹn lại ngày trả kết quả)")


# an account's token subject: no control character reaches the store
ApplicantId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[^\x00-\x1f\x7f]{1,200}$")]


class RegisterBinding(Body):
    applicant_id: ApplicantId = Field(description="the account's token subject")
    registration_number: RegistrationNumber
    note: LongText = Field(default="", description="what was checked: the owner's identity, the authorisation")
    producer_kind: ProducerKind | None = Field(default=None, description="household: the producer is an individual, "
                                               "its registration number sealed in the binding's events (ADR 0048); "
                                               "needed unless the number's shape or the account's filing tells")


class VerifyBinding(Body):
    note: LongText = Field(default="", description="what was checked: the owner's identity, the authorisation")


class RefusedBinding(BaseModel):
    binding: dict[str, Any]
    rejected_dossiers: list[str] = Field(description="the account's dossiers for the producer rejected with it")


def _event_view(event: RecordedEvent, opened: dict[str, Any] | None = None) -> dict[str, Any]:
    """``opened``: the event's data with its personal fields opened (the hash is the sealed event's)."""
    return {"id": event.id, "type": event.type, "version": event.version, "time": event.time,
            "actor": event.actor.id, "data": event.data if opened is None else opened, "hash": event.hash}


async def codes(request: Request) -> ReceiptCodes:
    return request.app.state.receipt_codes  # type: ignore[no-any-return]


Codes = Annotated[ReceiptCodes, Depends(codes)]


def _receipt(doc: dict[str, Any], codes: ReceiptCodes) -> Receipt:
    number = doc["receipt_number"]
    code = codes.code(number)
    return Receipt(dossier_id=doc["dossier_id"], receipt_number=number, round_code=doc["round_code"],
                   received_at=in_vietnam(doc["received_at"]), check_due_date=doc["check_due_date"],
                   result_due_date=doc.get("result_due_date"), status=doc["status"], check_code=code,
                   status_url=f"/public/receipts/{number}?code={code}",
                   sample_code=(doc.get("classification") or {}).get("sample_code"))


# ---- rounds ----------------------------------------------------------------------------------------------

@router.post("/rounds", status_code=201, tags=["rounds"], summary="open a selection round")
async def open_round(body: OpenRound, who: Secretariat, svc: Service) -> dict[str, Any]:
    event = await svc.open_round(body.model_dump(mode="json"), who.actor, request_cause())
    return {"round_id": event.stream, **event.data}


@router.get("/rounds", tags=["rounds"], dependencies=[*Paged, PUBLIC],
            summary="rounds by code, page by page (published plans: no token needed)")
async def list_rounds(read: Read, programme: Programme | None = None, year: Year = None, after: After = None,
                      limit: Limit = 100, total: Total = False) -> dict[str, Any]:
    page = await read.rounds(programme=programme.value if programme else None, year=year, after=after, limit=limit,
                             total=total)
    return page.body()


@router.get("/rounds/{round_id}", tags=["rounds"], dependencies=[PUBLIC])
async def get_round(round_id: str, read: Read) -> dict[str, Any]:
    return await read.round(round_id)


# ---- dossiers --------------------------------------------------------------------------------------------

@router.post("/rounds/{round_id}/dossiers", status_code=201, tags=["dossiers"], response_model=Receipt,
             summary="submit a dossier; answers with the receipt")
async def submit(round_id: str, body: SubmitDossier, who: Applicant, svc: Service, codes: Codes) -> Receipt:
    documents: list[Document] = list(body.documents)
    await svc.check_documents(documents)
    event = await svc.submit(round_id, body.producer, body.product, documents, who.actor, request_cause())
    return _receipt({**event.data, "dossier_id": event.stream, "status": "received"}, codes)


@router.get("/dossiers", tags=["dossiers"], dependencies=Paged,
            summary="dossiers by round, status and area, in receipt-number order, page by page")
async def list_dossiers(
    read: Read, who: DossierLister, round_id: str | None = None, status: dossiers.Status | None = None,
    province_code: str | None = None, district_code: str | None = None, after: After = None, limit: Limit = 100,
    total: Total = False,
) -> dict[str, Any]:
    # an applicant sees their own dossiers only
    mine = None if who.has(*STAFF, Role.ADMIN) else who.subject
    page = await read.dossiers(applicant_id=mine, round_id=round_id, status=status.value if status else None,
                               province_code=province_code, district_code=district_code, after=after, limit=limit,
                               total=total)
    return page.body()


@router.get("/dossiers/overdue", tags=["dossiers"], dependencies=Paged,
            summary="dossiers whose completeness check is overdue, the most overdue first, page by page")
async def overdue(svc: Service, read: Read, who: Secretariat, as_of: date | None = None, round_id: str | None = None,
                  after: After = None, limit: Limit = 100) -> dict[str, Any]:
    page = await read.overdue(as_of or svc.today(), round_id=round_id, after=after, limit=limit)
    return page.body()


@router.get("/dossiers/{dossier_id}", tags=["dossiers"], summary="a dossier with its status and full history")
async def get_dossier(dossier_id: str, svc: Service, who: DossierReader) -> dict[str, Any]:
    state, events = await svc.load_dossier(dossier_id)
    doc = dossiers.fold_dossier(events)
    received = await svc.opened(events[0])  # the personal fields opened, or erased (ADR 0035)
    return {**doc, "producer": received["producer"], "version": state.version,
            "history": [_event_view(e, received if e is events[0] else await _opened_copies(svc, e)) for e in events]}


async def _opened_copies(svc: Intake, event: RecordedEvent) -> dict[str, Any] | None:
    """A later event's sealed copies (a household's name and number in dossier.accepted v2, ADR 0048) opened."""
    return await svc.opened(event) if sealed_kids(event.data) else None


@router.post("/dossiers/{dossier_id}/supplement-request", status_code=201, tags=["completeness check"])
async def request_supplement(dossier_id: str, body: RequestSupplement, who: Secretariat, svc: Service
                             ) -> dict[str, Any]:
    event = await svc.act(dossier_id, lambda s, r: dossiers.request_supplement(
        s, r, items=body.items, reason=body.reason, due_date=body.due_date, today=svc.today()), who.actor,
        request_cause())
    return _event_view(event)


@router.post("/dossiers/{dossier_id}/supplements", status_code=201, tags=["completeness check"])
async def supplement(dossier_id: str, body: Supplement, who: DossierApplicant, svc: Service) -> dict[str, Any]:
    await svc.check_documents(list(body.documents))
    event = await svc.act(dossier_id, lambda s, r: dossiers.supplement(
        s, r, documents=body.documents, note=body.note, today=svc.today()), who.actor, request_cause())
    return _event_view(event)


@router.post("/dossiers/{dossier_id}/accept", status_code=201, tags=["completeness check"], response_model=Receipt,
             summary="accept a complete dossier; verifies the filing account's binding to the producer (ADR 0037)")
async def accept(dossier_id: str, body: Accept, who: Secretariat, svc: Service, codes: Codes, request: Request
                 ) -> Receipt:
    await svc.accept(dossier_id, product_group=body.product_group, sample_code=body.sample_code, actor=who.actor,
                     cause=request_cause(), codes=request.app.state.samples)
    _, events = await svc.load_dossier(dossier_id)
    return _receipt(dossiers.fold_dossier(events), codes)


@router.post("/dossiers/{dossier_id}/reject", status_code=201, tags=["completeness check"])
async def reject(dossier_id: str, body: Reason, who: Secretariat, svc: Service) -> dict[str, Any]:
    event = await svc.act(dossier_id, lambda s, _: dossiers.reject(s, reason=body.reason),
                          who.actor, request_cause())
    return _event_view(event)


@router.post("/dossiers/{dossier_id}/withdraw", status_code=201, tags=["dossiers"])
async def withdraw(dossier_id: str, body: Withdraw, who: DossierApplicant, svc: Service) -> dict[str, Any]:
    event = await svc.act(dossier_id, lambda s, _: dossiers.withdraw(s, reason=body.reason),
                          who.actor, request_cause())
    return _event_view(event)


@router.post("/dossiers/{dossier_id}/reschedule", status_code=201, tags=["completeness check"])
async def reschedule(dossier_id: str, body: Reschedule, who: Secretariat, svc: Service) -> dict[str, Any]:
    event = await svc.act(dossier_id, lambda s, _: dossiers.reschedule(
        s, which=body.which, new_date=body.new_date, apology_note=body.apology_note, today=svc.today()),
        who.actor, request_cause())
    return _event_view(event)


# ---- producer bindings (ADR 0037) -----------------------------------------------------------------------

@router.get("/bindings", tags=["producer bindings"], dependencies=Paged,
            summary="which accounts may file for which producer, page by page (an applicant: their own)")
async def list_bindings(read: Read, who: BindingLister, applicant_id: ApplicantId | None = None,
                        registration_number: RegistrationNumber | None = None, status: bindings.Status | None = None,
                        after: After = None, limit: Limit = 100) -> dict[str, Any]:
    mine = who.subject if not who.has(Role.SECRETARIAT, Role.AUDITOR, Role.ADMIN) else applicant_id
    page = await read.bindings(applicant_id=mine, registration_number=registration_number,
                               status=status.value if status else None, after=after, limit=limit)
    return page.body()


@router.get("/bindings/{binding_id}", tags=["producer bindings"])
async def get_binding(binding_id: str, read: Read, who: BindingReader) -> dict[str, Any]:
    return await read.binding(binding_id)


@router.post("/bindings", status_code=201, tags=["producer bindings"],
             summary="bind an account to a producer at the counter, verified at once")
async def register_binding(body: RegisterBinding, who: Secretariat, svc: Service, read: Read) -> dict[str, Any]:
    kind = body.producer_kind
    event = await svc.register_binding(body.applicant_id, body.registration_number, body.note, who.actor,
                                       request_cause(), individual=None if kind is None else is_individual(kind))
    return await read.binding(event.stream)


@router.post("/bindings/{binding_id}/verify", status_code=201, tags=["producer bindings"],
             summary="verify that the account files for the producer (its owner, or holding its authorisation)")
async def verify_binding(binding_id: str, body: VerifyBinding, who: Secretariat, svc: Service, read: Read
                         ) -> dict[str, Any]:
    await svc.verify_binding(binding_id, body.note, who.actor, request_cause())
    return await read.binding(binding_id)


@router.post("/bindings/{binding_id}/refuse", status_code=201, tags=["producer bindings"],
             response_model=RefusedBinding,
             summary="refuse the account's claim to file for the producer; its dossiers not yet accepted are rejected")
async def refuse_binding(binding_id: str, body: Reason, who: Secretariat, svc: Service, read: Read) -> RefusedBinding:
    _, rejected = await svc.refuse_binding(binding_id, body.reason, who.actor, request_cause())
    return RefusedBinding(binding=await read.binding(binding_id), rejected_dossiers=rejected)


# ---- public ----------------------------------------------------------------------------------------------

@router.get("/public/receipts/{receipt_number}", tags=["public"], response_model=None,
            dependencies=[PUBLIC, RATE_LIMITED],
            summary="status by receipt number and the check code printed on the receipt, without login; personal "
                    "data withheld. A browser (Accept: text/html) gets the page in Vietnamese, and a form asking "
                    "for the check code when the link has none")
async def public_status(receipt_number: str, read: Read, request: Request, codes: Codes,
                        code: Annotated[str | None, Query(max_length=16, description="the check code printed on "
                                                          "the receipt")] = None) -> dict[str, Any] | HTMLResponse:
    browser = "text/html" in request.headers.get("accept", "")
    if code is None and browser:
        return HTMLResponse(check_code_form(receipt_number))  # the link in a mail: ask for the printed code
    if not codes.matches(receipt_number.strip().upper(), code):
        # the same answer for an unknown number and a wrong code: guessing numbers learns nothing
        raise Refused("no dossier with this receipt number and check code", kind="not_found")
    doc = await read.by_receipt(receipt_number)
    public = {key: doc.get(key) for key in ("receipt_number", "round_code", "programme", "level", "status",
                                            "check_due_date", "result_due_date")} | {
        "received_at": in_vietnam(doc["received_at"]), "product_name": doc["product"]["name"]}
    if browser:
        return HTMLResponse(receipt_page(public))
    return public




# ---- personal data (ADR 0035) ---------------------------------------------------------------------------

class SubjectKey(BaseModel):
    kid: str
    key: str = Field(description="the AES-256 key, base64url without padding")


class Erasure(BaseModel):
    event_id: str = Field(description="the personal_data.erased event recorded")
    erased_keys: int
    dossier_ids: list[str] = Field(description="the dossiers whose personal fields now read as erased")


@router.get("/personal-keys/{kid}", tags=["personal data"], response_model=SubjectKey,
            responses={410: {"description": "the key was erased: what it sealed is gone for good"}},
            summary="a data subject's key, for another of our services to open the personal fields it needs")
async def subject_key(kid: Annotated[str, FastPath(pattern=KID_PATTERN)], svc: Service, who: KeyHolder
                      ) -> SubjectKey:
    key = await svc.keys.key(kid)
    if key is None and await svc.keys.erased(kid):
        raise Refused("this key is erased", kind="gone")
    if key is None:
        raise Refused("no such key", kind="not_found")
    return SubjectKey(kid=kid, key=base64.urlsafe_b64encode(key).rstrip(b"=").decode("ascii"))


@router.post("/producers/{registration_number}/erasure", status_code=201, tags=["personal data"],
             response_model=Erasure,
             summary="erase a producer's personal data (contact person, phone, e-mail, street) everywhere, for good: "
                     "its key is deleted and personal_data.erased recorded")
async def erase_producer(registration_number: RegistrationNumber, svc: Service, who: Eraser) -> Erasure:
    event = await svc.erase_producer(registration_number, who.actor, request_cause())
    return Erasure(event_id=event.id, erased_keys=len(event.data["kids"]), dossier_ids=event.data["dossier_ids"])
