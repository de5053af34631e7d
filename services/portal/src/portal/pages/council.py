"""The chair's and the approver's pages: closing a dossier's scoring (which completes it, or sends it back to be
scored again when the members' totals are too far apart), the round's ranked proposal, and the decision on all
or part of it. Scoring decides who may: only the panel's chair closes and proposes, only an approver acting for
the round's approving authority decides (ADR 0029); the pages show its refusals in Vietnamese."""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from portal.formats import SCORING_STATUS, points
from portal.pages.judge import scoring
from portal.upstream import UpstreamError
from portal.web import checked_form, refusal_text, render, signed_in, upstream

router = APIRouter(include_in_schema=False)
DAY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
AWAITING_PAGE = 20


@router.post("/hoi-dong/ho-so/{dossier_id}/ket-thuc")
async def close(request: Request, dossier_id: str) -> Response:
    """The chair closes scoring once the quorum has scored: scoring completes it, or asks for re-scoring when the
    spread of totals exceeds the panel's threshold (outcome ``scoring.rescore_requested``)."""
    session = signed_in(request)
    await checked_form(request)
    try:
        answer = await scoring(request, "POST", f"/dossiers/{quote(dossier_id)}/close")
    except UpstreamError as exc:
        if exc.status != 409:
            raise
        session.flash = ("Chưa thể kết thúc chấm điểm: chưa đủ số phiếu theo quy chế (cần cả phiếu của chủ tịch "
                         "hội đồng), hoặc hồ sơ không còn ở bước chấm điểm.")
        return RedirectResponse(f"/hoi-dong/ho-so/{quote(dossier_id)}", status_code=303)
    if answer["outcome"] == "scoring.rescore_requested":
        session.flash = ("Điểm của các thành viên chênh lệch quá ngưỡng cho phép: hồ sơ được chấm lại. "
                         "Các thành viên chấm phiếu mới.")
    else:
        session.flash = (f"Đã kết thúc chấm điểm: điểm trung bình {points(answer['data']['average_total'])}, "
                         f"{answer['data']['rating_label']}.")
    return RedirectResponse(f"/hoi-dong/ho-so/{quote(dossier_id)}", status_code=303)


@router.post("/hoi-dong/dot/{round_id}/de-nghi")
async def propose(request: Request, round_id: str) -> Response:
    session = signed_in(request)
    await checked_form(request)
    try:
        proposal = await scoring(request, "POST", f"/rounds/{quote(round_id)}/proposals")
    except UpstreamError as exc:
        if exc.status != 409:
            raise
        session.flash = "Chưa có hồ sơ nào của đợt hoàn thành chấm điểm để đề nghị."
        return RedirectResponse(f"/hoi-dong/dot/{quote(round_id)}", status_code=303)
    session.flash = "Đã lập bảng tổng hợp kết quả đề nghị cấp có thẩm quyền quyết định."
    return RedirectResponse(f"/de-nghi/{quote(proposal['proposal_id'])}", status_code=303)


@router.get("/de-nghi")
async def find_proposal(request: Request, ma: str = "", after: str = "") -> Response:
    """The approver's start page: the proposals awaiting a decision of their own authorities, as scoring lists
    them, the longest waiting first, each leading to its decision page. A proposal can also be opened by its
    code (on the proposal page), by anyone who may read it."""
    session = signed_in(request)
    if ma.strip():
        return RedirectResponse(f"/de-nghi/{quote(ma.strip())}", status_code=303)
    awaiting: dict[str, Any] | None = None
    if "approver" in session.roles:
        params: dict[str, Any] = {"limit": AWAITING_PAGE, **({"after": after} if after else {})}
        awaiting = await scoring(request, "GET", "/proposals/awaiting", params=params)
    return render(request, "council_find.html", awaiting=awaiting)


async def proposal_page(request: Request, proposal_id: str, *, status: int = 200, errors: dict[str, str] | None = None,
                        error: str = "", values: dict[str, Any] | None = None) -> Response:
    session = signed_in(request)
    proposal = await scoring(request, "GET", f"/proposals/{quote(proposal_id)}.json")
    round_doc = await upstream(request).json("intake", "GET", f"/rounds/{quote(proposal['round_id'])}", None)
    decided: dict[str, str] = {}
    if "approver" in session.roles:  # where each dossier stands: the approver reads every round's scoring
        for row in proposal["rows"]:
            doc = await scoring(request, "GET", f"/dossiers/{quote(row['dossier_id'])}")
            decided[row["dossier_id"]] = doc["status"]
    return render(request, "council_proposal.html", status=status, proposal=proposal, round=round_doc,
                  authority=authority_name(round_doc),
                  decided=decided, statuses=SCORING_STATUS, approver="approver" in session.roles,
                  errors=errors or {}, error=error, values=values or {})


@router.get("/de-nghi/{proposal_id}")
async def proposal(request: Request, proposal_id: str) -> Response:
    return await proposal_page(request, proposal_id)


def authority_name(round_doc: dict[str, Any]) -> str:
    found = round_doc.get("approving_authority")
    return str(found.get("name") if isinstance(found, dict) else found or round_doc.get("organiser") or "")


@router.post("/de-nghi/{proposal_id}/phe-duyet")
async def decide(request: Request, proposal_id: str) -> Response:
    session = signed_in(request)
    form = await checked_form(request)
    values = {k: str(form.get(k, "")).strip() for k in ("number", "day", "signer", "authority")}
    chosen = [str(d) for d in form.getlist("dossier")]
    values["dossiers"] = chosen  # type: ignore[assignment]
    errors: dict[str, str] = {}
    if not values["number"]:
        errors["number"] = "Hãy nhập số quyết định."
    if not values["signer"]:
        errors["signer"] = "Hãy nhập họ tên người ký quyết định."
    decided_on = _day(values["day"])
    if decided_on is None:
        errors["day"] = "Ngày quyết định ghi theo dạng ngày/tháng/năm, ví dụ 20/12/2026."
    if not chosen:
        errors["dossiers"] = "Hãy chọn ít nhất một hồ sơ được quyết định."
    if errors:
        return await proposal_page(request, proposal_id, status=422, errors=errors, values=values)
    decision = {"number": values["number"], "date": decided_on.isoformat() if decided_on else "",
                "signer": values["signer"], **({"authority": values["authority"]} if values["authority"] else {})}
    try:
        made = await scoring(request, "POST", f"/proposals/{quote(proposal_id)}/approval",
                             json={"decision": decision, "dossier_ids": chosen})
    except UpstreamError as exc:
        return await _refused(request, proposal_id, exc, values)
    recognised = sum(e["type"] == "result.approved" for e in made)
    session.flash = (f"Đã ghi quyết định số {values['number']}: {recognised} hồ sơ được công nhận, "
                     f"{len(made) - recognised} hồ sơ không được công nhận.")
    return RedirectResponse(f"/de-nghi/{quote(proposal_id)}", status_code=303)


async def _refused(request: Request, proposal_id: str, exc: UpstreamError, values: dict[str, Any]) -> Response:
    """Scoring's refusals of a decision, in Vietnamese beside what they concern."""
    body = exc.body if isinstance(exc.body, dict) else {}
    if exc.status == 403:
        why = ""
        if body.get("reason") == "not_this_authority":
            proposal = await scoring(request, "GET", f"/proposals/{quote(proposal_id)}.json")
            round_doc = await upstream(request).json("intake", "GET", f"/rounds/{quote(proposal['round_id'])}", None)
            why = (f" Kết quả của đợt này do {authority_name(round_doc)} quyết định; tài khoản của ông/bà không được "
                   "giao thẩm quyền của cơ quan đó.")
        return render(request, "error.html", status=403,
                      message="Ông/bà không có thẩm quyền quyết định kết quả của đề nghị này." + why)
    if exc.status == 422 and body.get("field") == "decision.authority":
        return await proposal_page(request, proposal_id, status=422, values=values, errors={
            "authority": f"Kết quả của đợt này do {body.get('expected', '')} quyết định; để trống hoặc ghi đúng "
                         "tên cơ quan."})
    if exc.status == 409:
        return await proposal_page(request, proposal_id, status=409, values=values, error=(
            "Có hồ sơ trong đề nghị đã được quyết định bằng một quyết định khác, hoặc một quyết định khác đang "
            "được ghi. Vui lòng tải lại trang và kiểm tra."))
    return await proposal_page(request, proposal_id, status=exc.status if exc.status in (404, 422) else 502,
                               values=values, error=refusal_text(exc))


def _day(text: str) -> date | None:
    """dd/mm/yyyy, as government forms write dates."""
    found = DAY.match(text)
    if not found:
        return None
    try:
        return date(int(found[3]), int(found[2]), int(found[1]))
    except ValueError:
        return None
