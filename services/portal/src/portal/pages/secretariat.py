"""The secretariat's pages (tổ giúp việc): opening a round, a round's dashboard, the completeness check of a
dossier and its documents, reschedule slips, the council and its sessions, scoring progress and ceremonies. Every
call carries the signed-in person's token: the services decide who may do what (ADR 0030); the portal shows their
answers and their refusals in Vietnamese, and never asks for a mark before scoring reveals it."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from binhchon_kit.workdays import is_working_day
from portal.formats import DOCUMENT_KIND, LEVEL, MEMBER_ROLE, SCORING_STATUS, STATUS
from portal.pages.producer import _documents
from portal.upstream import UpstreamError
from portal.web import checked_form, refusal_text, render, signed_in, today, upstream

router = APIRouter(prefix="/to-giup-viec", include_in_schema=False)
AWAITING_CHECK = ("received", "supplemented")
PAGE = 20
MISSING_ROWS, MEMBER_ROWS = 5, 9
SHA256 = re.compile(r"^[0-9a-f]{64}$")
SESSION = {"dossier": "Đánh giá hồ sơ", "samples": "Đánh giá mẫu sản phẩm", "field_visit": "Khảo sát thực tế"}
# the names of the fields a service may refuse, as the forms label them
FIELD_NAMES = {
    "code": "Mã đợt", "title": "Tên đợt", "programme": "Chương trình", "rulebook_id": "Bộ tiêu chí", "level": "Cấp",
    "province_code": "Mã tỉnh", "district_code": "Mã huyện", "commune_code": "Mã xã", "area": "Địa bàn",
    "year": "Năm", "batch": "Đợt thứ", "organiser": "Cơ quan tổ chức", "approving_authority": "Cơ quan phê duyệt",
    "submission_opens": "Ngày bắt đầu nhận hồ sơ", "submission_closes": "Ngày kết thúc nhận hồ sơ",
    "check_working_days": "Số ngày làm việc kiểm tra hồ sơ", "supplement_working_days": "Số ngày làm việc bổ sung",
    "scoring_opens": "Ngày bắt đầu chấm điểm", "scoring_closes": "Ngày kết thúc chấm điểm",
    "council_date": "Ngày họp hội đồng", "result_due_date": "Ngày hẹn trả kết quả", "ceremony_date": "Ngày lễ trao",
    "max_supplement_requests": "Số lần yêu cầu bổ sung tối đa", "items": "Các mục còn thiếu",
    "description": "Nội dung còn thiếu", "reason": "Lý do", "due_date": "Hạn bổ sung",
    "product_group": "Nhóm sản phẩm", "sample_code": "Mã mẫu", "new_date": "Ngày hẹn mới",
    "apology_note": "Nội dung xin lỗi", "name": "Tên", "members": "Thành viên", "id": "Mã người dùng",
    "organisation": "Cơ quan", "role": "Vai trò", "email": "Thư điện tử", "fraction": "Tỷ lệ thành viên tối thiểu",
    "sessions": "Các phiên đánh giá", "spread_threshold": "Ngưỡng chênh lệch điểm",
    "max_rescoring_rounds": "Số lần chấm lại tối đa", "on": "Ngày tổ chức", "at": "Giờ tổ chức",
    "place": "Địa điểm"}


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to ``end`` included; negative when ``end`` is before ``start``."""
    if end < start:
        return -working_days_between(end, start)
    return sum(is_working_day(start + timedelta(days=n)) for n in range(1, (end - start).days + 1))


def refusal(exc: UpstreamError) -> str:
    """The service's refusal in Vietnamese, naming the fields it found wrong when it said which."""
    body = exc.body if isinstance(exc.body, dict) else {}
    found: list[str] = []
    errors = body.get("detail")
    for error in errors if isinstance(errors, list) else []:
        named = [part for part in (error.get("loc") or []) if isinstance(part, str) and part != "body"]
        if named:
            found.append(named[-1])
    if isinstance(body.get("field"), str):
        found.append(body["field"])
    names = list(dict.fromkeys(FIELD_NAMES.get(f, f) for f in found))
    return refusal_text(exc) + (f" Cần xem lại: {', '.join(names)}." if names else "")


def _text(form: FormData, name: str) -> str:
    return str(form.get(name, "")).strip()


def _optional(form: FormData, name: str) -> str | None:
    return _text(form, name) or None


def _number(form: FormData, name: str, default: int | float | None = None) -> Any:
    """A number as typed; what is not a number goes as typed, for the service to refuse naming the field."""
    value = _text(form, name)
    if not value:
        return default
    try:
        return float(value.replace(",", ".")) if "." in value or "," in value else int(value)
    except ValueError:
        return value


def _values(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}


# ---- rounds --------------------------------------------------------------------------------------------------

@router.get("")
async def rounds(request: Request, after: str = "") -> Response:
    session = signed_in(request)
    params: dict[str, Any] = {"limit": PAGE, **({"after": after} if after else {})}
    page = await upstream(request).json("intake", "GET", "/rounds", session.access_token, params=params)
    return render(request, "secretariat_rounds.html", rounds=page["items"], next=page.get("next"), levels=LEVEL)


async def _open_round_page(request: Request, *, status: int = 200, error: str = "",
                           values: dict[str, str] | None = None) -> Response:
    signed_in(request)
    books = await upstream(request).json("scoring", "GET", "/rulebooks", None)
    day = today(request)
    return render(request, "secretariat_open_round.html", status=status, error=error, rulebooks=books,
                  levels=LEVEL, values=values or {"year": str(day.year), "batch": "1", "check_working_days": "3",
                                                  "supplement_working_days": "5", "max_supplement_requests": "1"})


@router.get("/mo-dot")
async def open_round_form(request: Request) -> Response:
    return await _open_round_page(request)


def _round_body(form: FormData) -> dict[str, Any]:
    schedule = {name: _optional(form, name) for name in (
        "submission_opens", "submission_closes", "scoring_opens", "scoring_closes", "council_date",
        "result_due_date", "ceremony_date")}
    schedule |= {"check_working_days": _number(form, "check_working_days", 3),
                 "supplement_working_days": _number(form, "supplement_working_days", 5)}
    area = {name: _optional(form, name) for name in ("province_code", "district_code", "commune_code")}
    return {"code": _text(form, "code"), "title": _text(form, "title"), "programme": _text(form, "programme"),
            "rulebook_id": _text(form, "rulebook_id"), "level": _text(form, "level"),
            "area": {k: v for k, v in area.items() if v}, "year": _number(form, "year"),
            "batch": _number(form, "batch", 1), "organiser": _text(form, "organiser"),
            "approving_authority": _optional(form, "approving_authority"),
            "schedule": {k: v for k, v in schedule.items() if v is not None},
            "max_supplement_requests": _number(form, "max_supplement_requests", 1)}


@router.post("/mo-dot")
async def open_round(request: Request) -> Response:
    session = signed_in(request)
    form = await checked_form(request)
    try:
        opened = await upstream(request).json("intake", "POST", "/rounds", session.access_token,
                                              json=_round_body(form))
    except UpstreamError as exc:
        if exc.status in (409, 422):
            return await _open_round_page(request, status=exc.status, error=refusal(exc), values=_values(form))
        raise
    session.flash = f"Đã mở đợt {opened['code']}."
    return RedirectResponse(f"/to-giup-viec/dot/{quote(opened['round_id'])}", status_code=303)


# ---- a round's dashboard -------------------------------------------------------------------------------------

async def _round(request: Request, round_id: str) -> dict[str, Any]:
    session = signed_in(request)
    return await upstream(request).json(  # type: ignore[no-any-return]
        "intake", "GET", f"/rounds/{quote(round_id)}", session.access_token)


async def _dossier_page(request: Request, token: str, **params: Any) -> dict[str, Any]:
    return await upstream(request).json(  # type: ignore[no-any-return]
        "intake", "GET", "/dossiers", token, params={k: v for k, v in params.items() if v})


def _with_days(items: list[dict[str, Any]], day: date) -> list[dict[str, Any]]:
    """Each dossier with the working days left before its check is due (negative: overdue by so many)."""
    return [{**d, "working_days_left": working_days_between(day, date.fromisoformat(str(d["check_due_date"])))}
            for d in items]


@router.get("/dot/{round_id}")
async def dashboard(request: Request, round_id: str, status: str = "", after: str = "",
                    overdue_after: str = "") -> Response:
    token, day = signed_in(request).access_token, today(request)
    round_doc = await _round(request, round_id)
    counted = await asyncio.gather(*(_dossier_page(request, token, round_id=round_id, status=s, limit=1,
                                                   total="true") for s in STATUS))
    listed = await _dossier_page(request, token, round_id=round_id, status=status if status in STATUS else "",
                                 after=after, limit=PAGE)
    awaiting = await asyncio.gather(*(_dossier_page(request, token, round_id=round_id, status=s, limit=100)
                                      for s in AWAITING_CHECK))
    overdue = await upstream(request).json("intake", "GET", "/dossiers/overdue", token, params={
        "round_id": round_id, "as_of": day.isoformat(), "limit": PAGE, **({"after": overdue_after}
                                                                         if overdue_after else {})})
    due = sorted((d for d in _with_days([d for page in awaiting for d in page["items"]], day)
                  if d["working_days_left"] >= 0), key=lambda d: (d["check_due_date"], d["receipt_number"]))
    return render(request, "secretariat_round.html", round=round_doc, today=day, levels=LEVEL,
                  counts={s: page.get("total", 0) for s, page in zip(STATUS, counted, strict=True)},
                  statuses=STATUS, shown=status, dossiers=listed["items"], next=listed.get("next"),
                  due=due, overdue=_with_days(overdue["items"], day), overdue_next=overdue.get("next"))


# ---- the completeness check ----------------------------------------------------------------------------------

def _history(dossier: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in dossier["history"] if e["type"] == kind]


async def _check_page(request: Request, dossier_id: str, *, status: int = 200, error: str = "",
                      values: dict[str, str] | None = None) -> Response:
    session = signed_in(request)
    dossier = await upstream(request).json("intake", "GET", f"/dossiers/{quote(dossier_id)}", session.access_token)
    round_doc = await _round(request, dossier["round_id"])
    requests = _history(dossier, "dossier.supplement_requested")
    day = today(request)
    return render(request, "secretariat_dossier.html", status=status, error=error, values=values or {},
                  dossier=dossier, round=round_doc, documents=_documents(dossier), requests=requests,
                  reschedules=_history(dossier, "dossier.rescheduled"), kinds=DOCUMENT_KIND, rows=MISSING_ROWS,
                  awaiting=dossier["status"] in AWAITING_CHECK, today=day,
                  may_request=len(requests) < int(round_doc.get("max_supplement_requests") or 1),
                  working_days_left=working_days_between(day, date.fromisoformat(str(dossier["check_due_date"]))))


@router.get("/ho-so/{dossier_id}")
async def check(request: Request, dossier_id: str) -> Response:
    return await _check_page(request, dossier_id)


@router.get("/ho-so/{dossier_id}/tai-lieu/{sha256}")
async def document(request: Request, dossier_id: str, sha256: str) -> Response:
    """The document as intake serves it to this person (it decides who may read the dossier's documents)."""
    session = signed_in(request)
    missing = "Không tìm thấy tài liệu này trong kho lưu trữ của hồ sơ."
    if not SHA256.match(sha256):
        return render(request, "error.html", status=404, message=missing)
    r = await upstream(request).call("intake", "GET", f"/dossiers/{quote(dossier_id)}/documents/{sha256}",
                                     session.access_token)
    if r.status_code == 404:
        return render(request, "error.html", status=404, message=missing)
    if r.status_code != 200:
        raise UpstreamError(r.status_code, {"detail": "document"})
    return Response(r.content, media_type=r.headers.get("content-type", "application/octet-stream"), headers={
        "content-disposition": r.headers.get("content-disposition", "attachment"),
        "x-content-type-options": "nosniff", "cache-control": "private, no-store"})


async def _act(request: Request, dossier_id: str, action: str, body: dict[str, Any], done: str,
               form: FormData) -> Response:
    """One completeness-check decision sent to intake; refused, the check page again with why."""
    session = signed_in(request)
    try:
        await upstream(request).json("intake", "POST", f"/dossiers/{quote(dossier_id)}/{action}",
                                     session.access_token, json=body)
    except UpstreamError as exc:
        if exc.status in (409, 422):
            return await _check_page(request, dossier_id, status=exc.status, error=refusal(exc),
                                     values=_values(form))
        raise
    session.flash = done
    return RedirectResponse(f"/to-giup-viec/ho-so/{quote(dossier_id)}", status_code=303)


@router.post("/ho-so/{dossier_id}/yeu-cau-bo-sung")
async def request_supplement(request: Request, dossier_id: str) -> Response:
    form = await checked_form(request)
    items = [{"document_kind": _optional(form, f"kind_{n}"), "description": _text(form, f"missing_{n}")}
             for n in range(MISSING_ROWS) if _text(form, f"missing_{n}")]
    if not items:
        return await _check_page(request, dossier_id, status=422, values=_values(form),
                                 error="Hãy ghi ít nhất một nội dung còn thiếu của hồ sơ.")
    body = {"items": items, "reason": _text(form, "supplement_reason"), "due_date": _optional(form, "due_date")}
    return await _act(request, dossier_id, "supplement-request", body,
                      "Đã gửi văn bản yêu cầu bổ sung hồ sơ tới chủ thể.", form)


@router.post("/ho-so/{dossier_id}/tiep-nhan")
async def accept(request: Request, dossier_id: str) -> Response:
    form = await checked_form(request)
    body = {"product_group": _text(form, "product_group"), "sample_code": _text(form, "sample_code")}
    return await _act(request, dossier_id, "accept", body, "Hồ sơ hợp lệ, đã chuyển hội đồng đánh giá.", form)


@router.post("/ho-so/{dossier_id}/tu-choi")
async def reject(request: Request, dossier_id: str) -> Response:
    form = await checked_form(request)
    return await _act(request, dossier_id, "reject", {"reason": _text(form, "reject_reason")},
                      "Đã từ chối tiếp nhận hồ sơ.", form)


@router.post("/ho-so/{dossier_id}/hen-lai")
async def reschedule(request: Request, dossier_id: str) -> Response:
    form = await checked_form(request)
    body = {"which": _text(form, "which"), "new_date": _optional(form, "new_date"),
            "apology_note": _text(form, "apology_note")}
    return await _act(request, dossier_id, "reschedule", body,
                      "Đã hẹn lại ngày; hãy in phiếu xin lỗi và hẹn lại ngày trả kết quả.", form)


@router.get("/ho-so/{dossier_id}/phieu-hen-lai/{number}")
async def reschedule_slip(request: Request, dossier_id: str, number: int) -> Response:
    """The apology and new appointment (phiếu xin lỗi và hẹn lại ngày trả kết quả), to print."""
    session = signed_in(request)
    dossier = await upstream(request).json("intake", "GET", f"/dossiers/{quote(dossier_id)}", session.access_token)
    slips = _history(dossier, "dossier.rescheduled")
    if not 1 <= number <= len(slips):
        return render(request, "error.html", status=404, message="Không tìm thấy phiếu hẹn lại này.")
    round_doc = await _round(request, dossier["round_id"])
    return render(request, "secretariat_reschedule_slip.html", dossier=dossier, round=round_doc,
                  slip=slips[number - 1], number=number)


# ---- the council, its sessions, and scoring progress ---------------------------------------------------------

async def _panel(request: Request, round_id: str) -> dict[str, Any] | None:
    try:
        return await upstream(request).json(  # type: ignore[no-any-return]
            "scoring", "GET", f"/rounds/{quote(round_id)}/panel", signed_in(request).access_token)
    except UpstreamError as exc:
        if exc.status == 404:
            return None
        raise


async def _panel_page(request: Request, round_id: str, *, status: int = 200, error: str = "",
                      values: dict[str, str] | None = None) -> Response:
    round_doc = await _round(request, round_id)
    return render(request, "secretariat_panel.html", status=status, error=error, round=round_doc,
                  panel=await _panel(request, round_id), values=values or {"fraction": "0,75",
                                                                            "spread_threshold": "10",
                                                                            "max_rescoring_rounds": "2"},
                  rows=MEMBER_ROWS, member_roles=MEMBER_ROLE, sessions=SESSION)


@router.get("/dot/{round_id}/hoi-dong")
async def panel(request: Request, round_id: str) -> Response:
    return await _panel_page(request, round_id)


def _panel_body(form: FormData) -> dict[str, Any]:
    members = [{"id": _text(form, f"member_id_{n}"), "name": _text(form, f"member_name_{n}"),
                "organisation": _text(form, f"member_organisation_{n}"), "role": _text(form, f"member_role_{n}"),
                "email": _optional(form, f"member_email_{n}")}
               for n in range(MEMBER_ROWS) if _text(form, f"member_id_{n}")]
    sessions = [s for s in form.getlist("sessions") if s in SESSION]
    return {"name": _text(form, "name"), "members": members,
            "quorum": {"fraction": _number(form, "fraction", 0.75),
                       "chair_required": form.get("chair_required") == "1"},
            "sessions": sessions or None, "spread_threshold": _number(form, "spread_threshold", 10),
            "max_rescoring_rounds": _number(form, "max_rescoring_rounds", 2)}


@router.post("/dot/{round_id}/hoi-dong")
async def form_panel(request: Request, round_id: str) -> Response:
    session = signed_in(request)
    form = await checked_form(request)
    try:
        await upstream(request).json("scoring", "POST", f"/rounds/{quote(round_id)}/panel", session.access_token,
                                     json=_panel_body(form))
    except UpstreamError as exc:
        if exc.status in (409, 422):
            return await _panel_page(request, round_id, status=exc.status, error=refusal(exc), values=_values(form))
        raise
    session.flash = "Đã thành lập hội đồng đánh giá của đợt."
    return RedirectResponse(f"/to-giup-viec/dot/{quote(round_id)}/hoi-dong", status_code=303)


@router.get("/dot/{round_id}/cham-diem")
async def scoring_progress(request: Request, round_id: str, after: str = "") -> Response:
    """Where each dossier's scoring is: who has submitted a sheet, never what it says (scoring keeps marks sealed
    until completion; this page asks for no mark at all)."""
    session = signed_in(request)
    round_doc = await _round(request, round_id)
    found = await _panel(request, round_id)
    page = await upstream(request).json("scoring", "GET", f"/rounds/{quote(round_id)}/dossiers", session.access_token,
                                        params={"limit": PAGE, "total": "true", **({"after": after} if after else {})})
    scorers = [m for m in (found or {}).get("members", []) if m["role"] != "secretary"]
    return render(request, "secretariat_scoring.html", round=round_doc, panel=found, scorers=len(scorers),
                  dossiers=page["items"], next=page.get("next"), total=page.get("total"), statuses=SCORING_STATUS)


# ---- ceremonies ----------------------------------------------------------------------------------------------

async def _ceremonies_page(request: Request, round_id: str, *, status: int = 200, error: str = "",
                           values: dict[str, str] | None = None, warnings: list[str] | None = None) -> Response:
    session = signed_in(request)
    round_doc = await _round(request, round_id)
    page = await upstream(request).json("certification", "GET", "/ceremonies", session.access_token,
                                        params={"round_id": round_id, "limit": 50})
    return render(request, "secretariat_ceremonies.html", status=status, error=error, values=values or {},
                  round=round_doc, ceremonies=page["items"], warnings=warnings or [])


@router.get("/dot/{round_id}/le-trao")
async def ceremonies(request: Request, round_id: str) -> Response:
    return await _ceremonies_page(request, round_id)


@router.post("/dot/{round_id}/le-trao")
async def schedule_ceremony(request: Request, round_id: str) -> Response:
    session = signed_in(request)
    form = await checked_form(request)
    body = {"round_id": round_id, "title": _text(form, "title"), "on": _optional(form, "on"),
            "at": _optional(form, "at"), "place": _text(form, "place")}
    try:
        scheduled = await upstream(request).json("certification", "POST", "/ceremonies", session.access_token,
                                                 json=body)
    except UpstreamError as exc:
        if exc.status in (409, 422):
            return await _ceremonies_page(request, round_id, status=exc.status, error=refusal(exc),
                                          values=_values(form))
        raise
    session.flash = "Đã lên lịch lễ trao giấy chứng nhận; giấy mời được gửi tới các chủ thể."
    return await _ceremonies_page(request, round_id, warnings=[w["message"] for w in scheduled.get("warnings", [])])
