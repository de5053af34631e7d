"""The judges' pages: the panels they sit on, each panel's dossiers, a declaration of conflict of interest, the
score sheet of the dossier's product group from its rulebook, and amendments with a reason.

Scoring decides what a judge may see (ADR 0030): every call carries the judge's token, a dossier of another panel
is refused there and shown here as a refusal, and a sheet's marks come only from scoring's own answer (sealed: the
judge's own; after completion: the panel's)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from portal.formats import MEMBER_ROLE, SCORING_STATUS, points
from portal.upstream import UpstreamError
from portal.web import checked_form, refusal_text, render, signed_in, upstream

router = APIRouter(include_in_schema=False)
PANEL_ROLES = ("judge", "council_chair")
# radio buttons up to this many choices (a phone shows them in two lines); a select beyond
RADIO_CHOICES = 11


async def scoring(request: Request, method: str, path: str, **kwargs: Any) -> Any:
    return await upstream(request).json("scoring", method, path, signed_in(request).access_token, **kwargs)


# ---- the panels a judge sits on ------------------------------------------------------------------------------

async def _panel_or_none(request: Request, round_id: str) -> dict[str, Any] | None:
    try:
        return await scoring(request, "GET", f"/rounds/{quote(round_id)}/panel")  # type: ignore[no-any-return]
    except UpstreamError as exc:
        if exc.status in (403, 404):  # not on this round's panel, or the round has none
            return None
        raise


@router.get("/hoi-dong")
async def my_panels(request: Request) -> Response:
    """Scoring has no "my panels" route: the rounds intake publishes, each asked for its panel with the judge's
    token; scoring answers only the panels the judge sits on (the others: 403)."""
    session = signed_in(request)
    rounds = (await upstream(request).json("intake", "GET", "/rounds", None, params={"limit": 100}))["items"]
    found = await asyncio.gather(*(_panel_or_none(request, r["round_id"]) for r in rounds))
    # a person who is also the secretariat reads every panel: only those they sit on are theirs
    mine = [(r, p, [m for m in p["members"] if m["id"] == session.subject])
            for r, p in zip(rounds, found, strict=True) if p is not None]
    panels = [{"round": r, "panel": p, "me": me[0]} for r, p, me in mine if me]
    return render(request, "judge_panels.html", panels=panels, member_role=MEMBER_ROLE)


def is_chair(panel: dict[str, Any], subject: str) -> bool:
    return any(m["id"] == subject and m["role"] == "chair" for m in panel["members"])


@router.get("/hoi-dong/dot/{round_id}")
async def panel_dossiers(request: Request, round_id: str) -> Response:
    session = signed_in(request)
    panel = await scoring(request, "GET", f"/rounds/{quote(round_id)}/panel")
    page = await scoring(request, "GET", f"/rounds/{quote(round_id)}/dossiers", params={"limit": 200})
    round_doc = await upstream(request).json("intake", "GET", f"/rounds/{quote(round_id)}", None)
    return render(request, "judge_round.html", round=round_doc, panel=panel, dossiers=page["items"],
                  statuses=SCORING_STATUS, chair=is_chair(panel, session.subject), subject=session.subject)


# ---- the score sheet ------------------------------------------------------------------------------------------

def sheet_of(rulebook: dict[str, Any], product_group: str) -> dict[str, Any] | None:
    """The product group's sheet, found as scoring finds it (code, label or an alias, case folded)."""
    wanted = product_group.casefold().strip()
    for group in rulebook["product_groups"]:
        names = (group["code"], group["label"], *group.get("aliases", []))
        if wanted in (n.casefold() for n in names):
            return next((s for s in rulebook["sheets"] if s["id"] == group["sheet"]), None)
    return None


def allowed_points(criterion: dict[str, Any]) -> list[float]:
    if criterion.get("allowed") is not None:
        return [float(p) for p in criterion["allowed"]]
    return [k / 2 for k in range(int(float(criterion["maximum"]) * 2) + 1)]  # whole or half points


def choices(criterion: dict[str, Any]) -> list[dict[str, Any]]:
    """What the judge picks from: the sheet's worded options, else each allowed point."""
    if criterion.get("options"):
        return [{"value": float(o["points"]), "label": o["label"], "applies_to": o.get("applies_to", "")}
                for o in criterion["options"]]
    return [{"value": p, "label": f"{points(p)} điểm", "applies_to": ""} for p in allowed_points(criterion)]


@dataclass
class SheetForm:
    """The sheet as the page lays it out: parts, their groups and criteria, the values chosen, each error."""

    parts: list[dict[str, Any]]
    values: dict[str, float | str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def total(self) -> float:
        return sum(v for v in self.values.values() if isinstance(v, float))

    def part_total(self, part: dict[str, Any]) -> float:
        return sum(v for c in part["criteria"] if isinstance(v := self.values.get(c["code"]), float))


def layout(rulebook: dict[str, Any], sheet: dict[str, Any]) -> list[dict[str, Any]]:
    groups = {g["code"]: g for g in sheet.get("groups", [])}
    parts = []
    for part in rulebook["parts"]:
        criteria: list[dict[str, Any]] = []
        for c in sheet["criteria"]:
            if c["part"] != part["code"]:
                continue
            options = choices(c)
            criteria.append({**c, "choices": options, "radios": len(options) <= RADIO_CHOICES,
                             "group_heading": groups.get(c.get("group") or "") if c.get("group") and (
                                 not criteria or criteria[-1].get("group") != c["group"]) else None})
        parts.append({**part, "criteria": criteria})
    return parts


@dataclass
class Dossier:
    scoring: dict[str, Any]
    panel: dict[str, Any]
    rulebook: dict[str, Any]
    sheet: dict[str, Any] | None
    sheets: dict[str, Any]

    def mine(self, subject: str) -> dict[str, Any] | None:
        """The judge's counted sheet in the current scoring round (their latest), if any."""
        own = [s for s in self.sheets["sheets"] if s["member_id"] == subject
               and s["scoring_round"] == self.scoring["scoring_round"]]
        return own[-1] if own else None


async def load(request: Request, dossier_id: str) -> Dossier:
    doc = await scoring(request, "GET", f"/dossiers/{quote(dossier_id)}")
    panel, sheets = await asyncio.gather(scoring(request, "GET", f"/rounds/{quote(doc['round_id'])}/panel"),
                                         scoring(request, "GET", f"/dossiers/{quote(dossier_id)}/score-sheets"))
    version = {"version": doc["rulebook_version"]} if doc.get("rulebook_version") else {}
    rulebook = await scoring(request, "GET", f"/rulebooks/{quote(doc['rulebook_id'])}", params=version)
    return Dossier(doc, panel, rulebook, sheet_of(rulebook, doc["product_group"]), sheets)


async def sheet_page(request: Request, dossier_id: str, *, form: SheetForm | None = None, status: int = 200,
                     recusal_error: str = "") -> Response:
    session = signed_in(request)
    d = await load(request, dossier_id)
    mine = d.mine(session.subject)
    if form is None:
        form = SheetForm(parts=layout(d.rulebook, d.sheet) if d.sheet else [],
                         values={k: float(v) for k, v in (mine["scores"] or {}).items()} if mine else {})
    member = next((m for m in d.panel["members"] if m["id"] == session.subject), None)
    rescore = next((e for e in reversed(d.scoring["history"]) if e["type"] == "scoring.rescore_requested"), None)
    return render(
        request, "judge_sheet.html", status=status, d=d.scoring, panel=d.panel, rulebook=d.rulebook, sheet=d.sheet,
        form=form, mine=mine, sealed=d.sheets["sealed"], all_sheets=d.sheets["sheets"], member=member,
        recused=session.subject in d.scoring["recused"], chair=is_chair(d.panel, session.subject),
        scored_before=any(s["member_id"] == session.subject for s in d.sheets["sheets"]), rescore=rescore,
        statuses=SCORING_STATUS, recusal_error=recusal_error, scorer=member is not None
        and member["role"] != "secretary")


@router.get("/hoi-dong/ho-so/{dossier_id}")
async def score_sheet(request: Request, dossier_id: str) -> Response:
    return await sheet_page(request, dossier_id)


def field_errors(exc: UpstreamError, criteria: dict[str, dict[str, Any]], values: dict[str, Any]
                 ) -> tuple[dict[str, str], str]:
    """Scoring's 422 laid by the fields it names: its sheet problems ("A1: missing …", "C3: 4.0 is not allowed
    …") and FastAPI's validation list (loc body.scores.<code>, body.reason); what names no field goes on top."""
    errors: dict[str, str] = {}
    general = ""
    body = exc.body if isinstance(exc.body, dict) else {}
    for problem in body.get("problems") or []:
        code, _, what = str(problem).partition(": ")
        if code not in criteria:
            general = "Phiếu chấm có tiêu chí không thuộc phiếu của nhóm sản phẩm này."
        elif what.startswith("missing"):
            errors[code] = "Chưa chấm tiêu chí này: hãy chọn một mức điểm."
        else:
            allowed = "; ".join(points(p) for p in allowed_points(criteria[code]))
            given = values.get(code)
            errors[code] = (f"Điểm {points(given) if isinstance(given, float) else given} không được phép cho "
                            f"tiêu chí này. Các mức được phép: {allowed}.")
    detail = body.get("detail")
    for item in detail if isinstance(detail, list) else []:
        loc = [str(x) for x in item.get("loc", [])]
        if loc[1:2] == ["scores"] and len(loc) > 2 and loc[2] in criteria:
            errors[loc[2]] = "Điểm không hợp lệ: hãy chọn một trong các mức điểm của tiêu chí."
        elif loc[1:2] == ["reason"]:
            errors["reason"] = "Hãy ghi lý do sửa phiếu chấm."
        else:
            general = refusal_text(exc)
    if not errors and not general:
        general = refusal_text(exc)
    return errors, general


@router.post("/hoi-dong/ho-so/{dossier_id}/phieu-cham")
async def submit_sheet(request: Request, dossier_id: str) -> Response:
    """A first sheet, or (``reason`` given) the amendment of the judge's sheet in this scoring round."""
    session = signed_in(request)
    form = await checked_form(request)
    d = await load(request, dossier_id)
    if d.sheet is None:
        return await sheet_page(request, dossier_id, status=409)
    criteria = {c["code"]: c for c in d.sheet["criteria"]}
    values: dict[str, float | str] = {}
    for code in criteria:
        given = str(form.get(f"c-{code}", "")).strip().replace(",", ".")
        if given:
            try:
                values[code] = float(given)
            except ValueError:
                values[code] = given  # scoring refuses it by its field
    amending = d.mine(session.subject) is not None
    reason = str(form.get("reason", "")).strip()
    sheet_form = SheetForm(parts=layout(d.rulebook, d.sheet), values=values)
    if amending and not reason:
        sheet_form.errors["reason"] = "Hãy ghi lý do sửa phiếu chấm."
        return await sheet_page(request, dossier_id, form=sheet_form, status=422)
    path, body = (("/score-sheets/amendment", {"scores": values, "reason": reason}) if amending
                  else ("/score-sheets", {"scores": values, "comment": str(form.get("comment", "")).strip()}))
    try:
        answer = await scoring(request, "POST", f"/dossiers/{quote(dossier_id)}{path}", json=body)
    except UpstreamError as exc:
        if exc.status != 422:
            raise
        sheet_form.errors, sheet_form.error = field_errors(exc, criteria, values)
        return await sheet_page(request, dossier_id, form=sheet_form, status=422)
    session.flash = (f"Đã {'sửa' if amending else 'nộp'} phiếu chấm: tổng {points(answer['total'])} điểm. "
                     "Điểm của ông/bà được niêm phong đến khi hội đồng hoàn thành chấm điểm.")
    return RedirectResponse(f"/hoi-dong/ho-so/{quote(dossier_id)}", status_code=303)


@router.post("/hoi-dong/ho-so/{dossier_id}/xung-dot-loi-ich")
async def declare_conflict(request: Request, dossier_id: str) -> Response:
    session = signed_in(request)
    form = await checked_form(request)
    reason = str(form.get("reason", "")).strip()
    if not reason:
        return await sheet_page(request, dossier_id, status=422,
                                recusal_error="Hãy ghi rõ quan hệ hoặc lợi ích có thể ảnh hưởng đến việc chấm.")
    try:
        # the dossier's round, read while the member may still read the dossier: once recused, scoring shows it
        # to them no more, so they go back to their panel's list, not to a page that would refuse them
        round_id = (await scoring(request, "GET", f"/dossiers/{quote(dossier_id)}"))["round_id"]
        await scoring(request, "POST", f"/dossiers/{quote(dossier_id)}/recusal", json={"reason": reason})
    except UpstreamError as exc:
        if exc.status not in (409, 422):
            raise
        return await sheet_page(request, dossier_id, status=exc.status, recusal_error=(
            "Không thể khai báo: ông/bà đã chấm hồ sơ này hoặc đã khai báo trước đó." if exc.status == 409
            else refusal_text(exc)))
    session.flash = "Đã ghi nhận khai báo xung đột lợi ích. Ông/bà không chấm điểm hồ sơ này."
    return RedirectResponse(f"/hoi-dong/dot/{quote(round_id)}", status_code=303)
