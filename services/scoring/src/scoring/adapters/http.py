"""Scoring's HTTP API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from binhchon_kit.auth import Principal, Role
from binhchon_kit.auth.policy import ANY, PUBLIC, Scope, allow, narrowed
from binhchon_kit.commands import request_cause
from binhchon_kit.contracts.common import LongText, Text
from binhchon_kit.contracts.scoring import PanelMember, Quorum, ResultProposed, Session
from binhchon_kit.exports import csv_text
from binhchon_kit.paging import After, Limit, Total, no_offset
from scoring.domain import panel as panels
from scoring.domain import scoring
from scoring.domain.aggregation import total
from scoring.domain.authority import DecisionInput, require_acting_for
from scoring.domain.by_code import as_judges_see
from scoring.domain.errors import Refused
from scoring.domain.scoring import scoring_stream
from scoring.domain.views import fold_scoring
from scoring.service import Scoring
from scoring.views import Views, unkeyed

router = APIRouter()


def scoring_of(request: Request) -> Scoring:
    return request.app.state.scoring  # type: ignore[no-any-return]


async def service(request: Request) -> Scoring:
    """The routes' dependency, async: FastAPI runs a plain function in a worker thread, a hop per request."""
    return scoring_of(request)


Service = Annotated[Scoring, Depends(service)]


async def _sits_on_round_panel(request: Request, who: Principal) -> bool:
    return await scoring_of(request).on_round_panel(request.path_params["round_id"], who.subject)


async def _sits_on_dossier_panel(request: Request, who: Principal) -> bool:
    return await scoring_of(request).on_dossier_panel(request.path_params["dossier_id"], who.subject)


async def _sits_on_proposal_panel(request: Request, who: Principal) -> bool:
    try:
        proposal = await scoring_of(request).proposal(request.path_params["proposal_id"])
    except Refused:
        return False
    return await scoring_of(request).on_round_panel(proposal.round_id, who.subject)


async def _decides_for_proposal(request: Request, who: Principal) -> bool:
    """An approver acting for the authority that decides the proposal's round (ADR 0029); refused naming that
    authority (it is public), before the body is read."""
    try:
        proposal = await scoring_of(request).proposal(request.path_params["proposal_id"])
        authority = await scoring_of(request).deciding_authority(proposal.round_id)
    except Refused:
        return False
    require_acting_for(authority, who.authorities)
    return True


# Access (ADR 0030): who may call each route, on which resources. The round's staff (secretariat, the approving
# authority, auditors) read any round's scoring; a judge or chair only that of a panel they sit on; nobody else
# (producers, certifiers, judges of other panels) reads it at all.
ROUND_PANEL = Scope("own panel", _sits_on_round_panel)
DOSSIER_PANEL = Scope("own panel", _sits_on_dossier_panel)
PROPOSAL_PANEL = Scope("own panel", _sits_on_proposal_panel)
STAFF = {Role.SECRETARIAT: ANY, Role.APPROVER: ANY, Role.AUDITOR: ANY}

Secretariat = Annotated[Principal, allow(Role.SECRETARIAT)]
Judge = Annotated[Principal, allow({Role.JUDGE: DOSSIER_PANEL, Role.COUNCIL_CHAIR: DOSSIER_PANEL})]
Chair = Annotated[Principal, allow({Role.COUNCIL_CHAIR: DOSSIER_PANEL})]
RoundChair = Annotated[Principal, allow({Role.COUNCIL_CHAIR: ROUND_PANEL})]
ChairOrSecretariat = Annotated[Principal, allow({Role.COUNCIL_CHAIR: DOSSIER_PANEL, Role.SECRETARIAT: ANY})]
Approver = Annotated[Principal, allow({Role.APPROVER: Scope("own authority", _decides_for_proposal)})]
RoundReader = Annotated[Principal, allow({**STAFF, Role.JUDGE: ROUND_PANEL, Role.COUNCIL_CHAIR: ROUND_PANEL})]
DossierReader = Annotated[Principal, allow({**STAFF, Role.JUDGE: DOSSIER_PANEL, Role.COUNCIL_CHAIR: DOSSIER_PANEL})]
ProposalReader = Annotated[Principal, allow({**STAFF, Role.COUNCIL_CHAIR: PROPOSAL_PANEL})]
# the list answers the proposals of the approver's own authorities: nothing to refuse, others' are not in it
ApproverOfOwn = Annotated[Principal, allow({Role.APPROVER: narrowed("own authorities")})]


def _as_seen_by(who: Principal, svc: Scoring, doc: dict[str, Any]) -> dict[str, Any]:
    """A dossier's scoring as ``who`` reads it: a panel member by code where the rulebook says so (issue 16)."""
    if who.has(*STAFF, Role.ADMIN) or "rulebook_id" not in doc:
        return doc
    version = doc.get("rulebook_version")
    return as_judges_see(doc, svc.rulebooks.get(doc["rulebook_id"], version) if version else None)


async def views(request: Request) -> Views:
    return request.app.state.views  # type: ignore[no-any-return]


Read = Annotated[Views, Depends(views)]




class Body(BaseModel):
    # NaN and ±inf are refused at the edge already (binhchon_kit.web_guard); the models say it too
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# what a sheet may hold: a rulebook has a few dozen criteria (bounded, so a body cannot be a million of them)
Scores = Annotated[dict[Annotated[str, StringConstraints(max_length=40)], float], Field(max_length=200)]
DossierId = Annotated[str, StringConstraints(max_length=120)]


class FormPanel(Body):
    name: Text
    members: list[PanelMember] = Field(min_length=1)
    quorum: Quorum = Quorum()
    sessions: list[Session] | None = Field(
        default=None, min_length=1, description="every session the round's rulebook scores a criterion in; "
        "default: exactly those")
    spread_threshold: float = Field(default=10, gt=0, le=100)
    max_rescoring_rounds: int = Field(default=2, ge=0, le=5)


class Recusal(Body):
    reason: Text


class Substitution(Body):
    substitute: PanelMember = Field(description="the new member (role member), e.g. from the reserve list")
    replaces: Text = Field(description="the id of the member recused from this dossier")
    reason: Text


class SheetBody(Body):
    scores: Scores = Field(description="criterion code → points")
    comment: LongText = ""


class Amendment(Body):
    scores: Scores
    reason: Text


class Approval(Body):
    decision: DecisionInput = Field(description="the decision's number, date and signer; the authority is the "
                                                "round's approving authority (the caller must act for it)")
    dossier_ids: list[DossierId] | None = Field(default=None, max_length=2000,
                                                description="part of the proposal; default: all of it")


def _clean(doc: dict[str, Any] | None) -> dict[str, Any]:
    doc = dict(doc or {})
    doc.pop("_id", None)
    return doc


@router.get("/rulebooks", tags=["rulebooks"], summary="the current version of each rulebook",
            dependencies=[PUBLIC])
async def rulebooks(svc: Service) -> list[dict[str, Any]]:
    return [{"id": b.id, "version": b.version, "versions": svc.rulebooks.versions(b.id), "title": b.title,
             "programme": b.programme, "in_force_from": b.in_force_from, "provisional": b.provisional,
             "provisional_items_count": len(b.provisional_items()), "source": b.source.model_dump()}
            for b in svc.rulebooks.all_current()]


@router.get("/rulebooks/{rulebook_id}", tags=["rulebooks"],
            summary="a rulebook (the current version, or ?version=), with what in it is provisional and why",
            dependencies=[PUBLIC])
async def rulebook(rulebook_id: str, svc: Service, version: Annotated[int | None, Query(ge=1)] = None
                   ) -> dict[str, Any]:
    book = svc.rulebook(rulebook_id, version)
    return {**book.model_dump(mode="json"), "versions": svc.rulebooks.versions(book.id),
            "provisional_items": [item.model_dump() for item in book.provisional_items()]}


@router.post("/rounds/{round_id}/panel", status_code=201, tags=["panels"])
async def form_panel(round_id: str, body: FormPanel, who: Secretariat, svc: Service) -> dict[str, Any]:
    return (await svc.form_panel(round_id, body.model_dump(mode="json"), who.actor, request_cause())).data


@router.get("/rounds/{round_id}/panel", tags=["panels"])
async def get_panel(round_id: str, svc: Service, who: RoundReader) -> dict[str, Any]:
    return (await svc.panel(round_id)).model_dump(mode="json")


@router.get("/rounds/{round_id}/dossiers", tags=["scoring"], dependencies=[Depends(no_offset)],
            summary="the round's dossiers by sample code and where scoring is (not_opened: why scoring could not "
                    "open it), page by page")
async def round_dossiers(round_id: str, read: Read, who: RoundReader, svc: Service, after: After = None,
                         limit: Limit = 100, total: Total = False) -> dict[str, Any]:
    body = (await read.round_dossiers(round_id, after, limit, total)).body()
    return {**body, "items": await svc.shown([_as_seen_by(who, svc, d) for d in body["items"]])}


@router.post("/dossiers/{dossier_id}/recusal", status_code=201, tags=["scoring"],
             summary="declare a conflict of interest and be recused")
async def recuse(dossier_id: str, body: Recusal, who: Judge, svc: Service) -> dict[str, Any]:
    event = await svc.act(dossier_id, lambda s, p, _r, _k: scoring.recuse(s, p, who.subject, body.reason),
                          who.actor, request_cause())
    return event.data


@router.post("/dossiers/{dossier_id}/substitutes", status_code=201, tags=["scoring"],
             summary="the round's chair or the secretariat adds a substitute member for a recused one")
async def add_substitute(dossier_id: str, body: Substitution, who: ChairOrSecretariat, svc: Service
                         ) -> dict[str, Any]:
    event = await svc.substitute_member(dossier_id, body.substitute, body.replaces, body.reason, who,
                                        request_cause())
    return event.data


@router.post("/dossiers/{dossier_id}/score-sheets", status_code=201, tags=["scoring"],
             summary="submit a score sheet (final once submitted)")
async def submit(dossier_id: str, body: SheetBody, who: Judge, svc: Service) -> dict[str, Any]:
    event = await svc.act(dossier_id, lambda s, p, r, k: scoring.submit(
        s, p, r, who.subject, body.scores, body.comment, k), who.actor, request_cause())
    # the judge's own total, as the sealed sheet holds it (the recorded event carries it sealed, ADR 0036)
    return {"sheet_id": event.data["sheet_id"], "total": total(body.scores)}


@router.post("/dossiers/{dossier_id}/score-sheets/amendment", status_code=201, tags=["scoring"],
             summary="replace one's sheet before completion, with a reason")
async def amend(dossier_id: str, body: Amendment, who: Judge, svc: Service) -> dict[str, Any]:
    event = await svc.act(dossier_id, lambda s, p, r, k: scoring.amend(
        s, p, r, who.subject, body.scores, body.reason, k), who.actor, request_cause())
    return {"sheet_id": event.data["sheet_id"], "amends_sheet_id": event.data["amends_sheet_id"],
            "total": total(body.scores)}


@router.post("/dossiers/{dossier_id}/close", tags=["scoring"],
             summary="the chair closes scoring once the quorum has scored")
async def close(dossier_id: str, who: Chair, svc: Service) -> dict[str, Any]:
    state, _ = await svc.load(dossier_id)
    panel = await svc.panel(state.opened.round_id)
    if panels.chair(panel).id != who.subject:
        raise Refused("only the chair of this round's panel closes scoring", kind="forbidden")
    event = await svc.evaluate(dossier_id, request_cause(), closing=True, actor=who.actor)
    return {"outcome": event.type if event else None, "data": await svc.shown(event.data) if event else None}


@router.get("/dossiers/{dossier_id}/score-sheets", tags=["scoring"],
            summary="sealed until scoring completes (and for good if the dossier is withdrawn first): a judge sees "
                    "their own sheets, the chair and the staff who has submitted; a member recused from the dossier "
                    "never sees its marks")
async def sheets(dossier_id: str, svc: Service, who: DossierReader) -> dict[str, Any]:
    state, _ = await svc.load(dossier_id)
    panel = state.panel(await svc.panel(state.opened.round_id))  # a substitute is on it for this dossier
    # a member recused from this dossier never sees its marks, not even once scoring is over (DOMAIN.md §5)
    on_panel = any(m.id == who.subject for m in panel.members) and who.subject not in state.recused
    all_sheets = [{"sheet_id": s.sheet_id, "member_id": s.member_id, "scoring_round": s.scoring_round,
                   "kind": s.event_type, "scores": s.scores, "total": s.total} for s in state.sheets]
    view: dict[str, Any] = {"dossier_id": dossier_id, "status": state.status, "scoring_round": state.scoring_round,
                            "submitted": sorted(state.current_sheets()), "recused": sorted(state.recused),
                            "substitutes": [m.id for m in state.substitutes],
                            # what the sheet is about, by code where the rulebook scores by code (issue 16)
                            "sample_code": state.opened.sample_code, "product_name": state.opened.product_name}
    # unsealed once the panel's scoring is complete; a dossier withdrawn while being scored stays sealed
    scored = state.status in (scoring.COMPLETED, scoring.APPROVED, scoring.NOT_RECOGNISED)
    if scored and (on_panel or who.has(Role.AUDITOR, Role.APPROVER, Role.ADMIN)):
        return {**view, "sealed": False, "sheets": all_sheets}
    if not on_panel and not who.has(Role.SECRETARIAT, Role.AUDITOR, Role.APPROVER, Role.ADMIN):
        raise Refused("only the panel and the round's staff see scoring", kind="forbidden")
    own = [s for s in all_sheets if s["member_id"] == who.subject]
    return {**view, "sealed": True, "sheets": own}


@router.get("/dossiers/{dossier_id}", tags=["scoring"],
            summary="scoring state and, once completed, the result; status not_opened with the reason when scoring "
                    "could not open it")
async def dossier(dossier_id: str, svc: Service, who: DossierReader) -> dict[str, Any]:
    events = await svc.store.read_stream(scoring_stream(dossier_id))
    if not events:
        raise Refused(f"dossier {dossier_id} is not open for scoring", kind="not_found")
    return {**await svc.shown(_as_seen_by(who, svc, unkeyed(fold_scoring(events)))), "history": [
        {"type": e.type, "version": e.version, "time": e.time, "actor": e.actor.id} for e in events]}


@router.post("/rounds/{round_id}/proposals", status_code=201, tags=["council"],
             summary="the chair proposes the round's results table")
async def propose(round_id: str, who: RoundChair, svc: Service) -> dict[str, Any]:
    return await svc.shown((await svc.propose(round_id, who.actor, request_cause())).data)  # type: ignore[no-any-return]


@router.get("/proposals/awaiting", tags=["council"], dependencies=[Depends(no_offset)],
            summary="the proposals awaiting a decision of the caller's own authorities, the longest waiting first, "
                    "page by page (undecided: how many of its dossiers are not decided yet)")
async def awaiting(who: ApproverOfOwn, svc: Service, after: After = None, limit: Limit = 50) -> dict[str, Any]:
    return (await svc.awaited.page(who.authorities, after, limit)).body()


@router.get("/proposals/{proposal_id}.json", tags=["council"])
async def proposal_json(proposal_id: str, svc: Service, who: ProposalReader) -> dict[str, Any]:
    return await svc.shown((await svc.proposal(proposal_id)).model_dump(mode="json"))  # type: ignore[no-any-return]


def proposal_csv_text(proposal: ResultProposed) -> str:
    """The council's table as a spreadsheet opens it; names are the applicants' text, so neutralised."""
    return csv_text(
        ["Xếp hạng", "Mã hồ sơ", "Sản phẩm", "Chủ thể", "Điểm trung bình", "Kết quả", "Công nhận", "Đề nghị cấp trên"],
        ([row.rank, row.dossier_id, row.product_name, row.producer_name, f"{row.average_total:.2f}",
          row.rating_label, "có" if row.recognised_at_level else "không", "có" if row.goes_up_a_level else "không"]
         for row in proposal.rows))


@router.get("/proposals/{proposal_id}.csv", tags=["council"])
async def proposal_csv(proposal_id: str, svc: Service, who: ProposalReader) -> Response:
    shown = await svc.shown((await svc.proposal(proposal_id)).model_dump(mode="json"))
    proposal = ResultProposed.model_validate(shown)
    return Response(proposal_csv_text(proposal), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{proposal_id}.csv"'})


@router.post("/proposals/{proposal_id}/approval", status_code=201, tags=["council"],
             summary="the round's approving authority decides on the proposal, or part of it (403: the caller's "
                     "token does not act for that authority)",
             responses={409: {"description": "another decision on this proposal is being recorded, or one of its "
                                             "dossiers is decided by another decision"},
                        503: {"description": "this same decision is being recorded, or a crash left it part way and "
                                             "scoring finishes it once its lease is over: ask again after the seconds "
                                             "Retry-After says (or: a dependency is unreachable, see `dependency`)"}})
async def approve(proposal_id: str, body: Approval, who: Approver, svc: Service) -> list[dict[str, Any]]:
    events = await svc.approve(proposal_id, body.decision, body.dossier_ids, who, request_cause())
    return [{"type": e.type, **await svc.shown(e.data)} for e in events]
