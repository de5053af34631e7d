"""The producer's pages: open rounds, filing a dossier with its documents, the receipt, the dossier's history,
answering a supplement request, withdrawing, the result and the certificate. Every call carries the person's
token: intake decides what they may see and do (ADR 0030), the portal only shows it."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData, UploadFile

from portal.formats import DOCUMENT_KIND, PRODUCER_KIND
from portal.upstream import Upload, UpstreamError
from portal.web import checked_form, refusal_text, render, signed_in, today, upstream

router = APIRouter(include_in_schema=False)
# The two forms that carry a dossier's documents: the only routes whose bodies may pass 1 MiB (PORTAL_UPLOAD_BYTES)
FILING = "/dot/{round_id}/nop-ho-so"
SUPPLEMENT = "/ho-so/{dossier_id}/bo-sung"
UPLOADS = (FILING, SUPPLEMENT)
# the documents a filing asks for, each its own file input: the first is required
FILED_DOCUMENTS = ("registration_form", "business_plan", "product_description")
# where a person who files nothing starts (sign-in lands on "/"): the secretariat on its rounds, the council on its
# panels, the approver on the proposals; someone holding several of these roles, on the first of them here
START_PAGES = {"secretariat": "/to-giup-viec", "council_chair": "/hoi-dong", "judge": "/hoi-dong",
               "approver": "/de-nghi"}


def is_open(round_doc: dict[str, Any], day: date) -> bool:
    schedule = round_doc.get("schedule") or {}
    opens, closes = str(schedule.get("submission_opens") or ""), str(schedule.get("submission_closes") or "")
    if not opens or not closes or round_doc.get("receives", "all") != "all":
        return False
    return date.fromisoformat(opens) <= day <= date.fromisoformat(closes)


@router.get("/")
async def home(request: Request) -> Response:
    session = signed_in(request)
    if "applicant" not in session.roles:
        for role, start in START_PAGES.items():
            if role in session.roles:
                return RedirectResponse(start, status_code=303)
    page = await upstream(request).json("intake", "GET", "/dossiers", session.access_token, params={"limit": 50})
    return render(request, "home.html", dossiers=page["items"])


@router.get("/dot")
async def open_rounds(request: Request) -> Response:
    session = signed_in(request)
    page = await upstream(request).json("intake", "GET", "/rounds", session.access_token, params={"limit": 200})
    day = today(request)
    return render(request, "rounds.html", rounds=[r for r in page["items"] if is_open(r, day)], today=day)


async def _filing_page(request: Request, round_id: str, *, status: int = 200, error: str = "",
                       values: dict[str, Any] | None = None) -> Response:
    session = signed_in(request)
    round_doc = await upstream(request).json("intake", "GET", f"/rounds/{quote(round_id)}", session.access_token)
    bindings = await upstream(request).json("intake", "GET", "/bindings", session.access_token,
                                            params={"limit": 20})
    return render(request, "file_dossier.html", status=status, round=round_doc, error=error, values=values or {},
                  bindings=bindings["items"], kinds=PRODUCER_KIND, documents=FILED_DOCUMENTS,
                  document_names=DOCUMENT_KIND, open=is_open(round_doc, today(request)))


@router.get("/dot/{round_id}/nop-ho-so")
async def filing_form(request: Request, round_id: str) -> Response:
    return await _filing_page(request, round_id)


async def _uploads(request: Request, form: FormData, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Each chosen file stored by intake, as the dossier lists it (kind, file name, size, sha256)."""
    session = signed_in(request)
    listed = []
    for kind in fields:
        for item in form.getlist(f"doc_{kind}"):  # prefixed: a document's input never shares a text field's name
            if not isinstance(item, UploadFile) or not item.filename:
                continue
            content = await item.read()
            if not content:
                continue
            stored = await upstream(request).store_document(session.access_token, Upload(
                file_name=item.filename, media_type=item.content_type or "application/octet-stream",
                content=content))
            listed.append({"kind": kind, "file_name": stored["file_name"], "size_bytes": stored["size_bytes"],
                           "sha256": stored["sha256"]})
    return listed


def _dossier_body(form: FormData, documents: list[dict[str, Any]]) -> dict[str, Any]:
    def text(name: str) -> str:
        return str(form.get(name, "")).strip()

    def optional(name: str) -> str | None:
        return text(name) or None

    return {
        "producer": {"kind": text("producer_kind"), "name": text("producer_name"),
                     "registration_number": text("registration_number"),
                     "address": {"street": optional("street"), "commune": text("commune"),
                                 "district": optional("district"), "district_code": optional("district_code"),
                                 "province": text("province"), "province_code": text("province_code")},
                     "contact": {"person": text("contact_person"), "phone": text("phone"),
                                 "email": optional("email")}},
        "product": {"name": text("product_name"), "product_group": text("product_group"),
                    "description": text("product_description"),
                    "sample_count": int(text("sample_count")) if text("sample_count").isdigit() else -1},
        "documents": documents,
    }


@router.post(FILING)
async def file_dossier(request: Request, round_id: str) -> Response:
    session = signed_in(request)
    form = await checked_form(request)
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf"}
    try:
        documents = await _uploads(request, form, FILED_DOCUMENTS)
        if not any(d["kind"] == FILED_DOCUMENTS[0] for d in documents):
            return await _filing_page(request, round_id, status=422, values=values,
                                      error="Hãy tải lên Phiếu đăng ký sản phẩm (tệp PDF, JPEG hoặc PNG).")
        receipt = await upstream(request).json("intake", "POST", f"/rounds/{quote(round_id)}/dossiers",
                                               session.access_token, json=_dossier_body(form, documents))
    except UpstreamError as exc:
        if exc.status in (409, 413, 415, 422):
            return await _filing_page(request, round_id, status=exc.status, values=values,
                                      error=refusal_text(exc))
        raise
    session.check_codes[receipt["dossier_id"]] = receipt["check_code"]
    session.flash = "Hồ sơ đã được tiếp nhận. Ông/bà vui lòng in phiếu tiếp nhận và giữ mã tra cứu."
    return RedirectResponse(f"/ho-so/{quote(receipt['dossier_id'])}/phieu-tiep-nhan", status_code=303)


async def _dossier(request: Request, dossier_id: str) -> dict[str, Any]:
    session = signed_in(request)
    return await upstream(request).json(  # type: ignore[no-any-return]
        "intake", "GET", f"/dossiers/{quote(dossier_id)}", session.access_token)


def _documents(dossier: dict[str, Any]) -> list[dict[str, Any]]:
    """Every document the dossier lists: those filed and those supplied later, in order."""
    found: list[dict[str, Any]] = []
    for event in dossier["history"]:
        found += event["data"].get("documents") or []
    return found


def _supplement_request(dossier: dict[str, Any]) -> dict[str, Any] | None:
    requests = [e["data"] for e in dossier["history"] if e["type"] == "dossier.supplement_requested"]
    return requests[-1] if requests and dossier["status"] == "supplement_requested" else None


@router.get("/ho-so/{dossier_id}")
async def dossier_page(request: Request, dossier_id: str) -> Response:
    dossier = await _dossier(request, dossier_id)
    return render(request, "dossier.html", dossier=dossier, documents=_documents(dossier),
                  supplement=_supplement_request(dossier),
                  withdrawable=dossier["status"] in ("received", "supplement_requested", "supplemented", "accepted"))


@router.get("/ho-so/{dossier_id}/phieu-tiep-nhan")
async def receipt_page(request: Request, dossier_id: str) -> Response:
    dossier = await _dossier(request, dossier_id)
    session = signed_in(request)
    round_doc = await upstream(request).json("intake", "GET", f"/rounds/{quote(dossier['round_id'])}",
                                             session.access_token)
    return render(request, "receipt.html", dossier=dossier, round=round_doc, documents=_documents(dossier),
                  check_code=session.check_codes.get(dossier_id, ""))


@router.post(SUPPLEMENT)
async def supplement(request: Request, dossier_id: str) -> Response:
    session = signed_in(request)
    form = await checked_form(request)
    documents = await _uploads(request, form, ("supplement",))
    if not documents:
        dossier = await _dossier(request, dossier_id)
        return render(request, "dossier.html", status=422, dossier=dossier, documents=_documents(dossier),
                      supplement=_supplement_request(dossier), withdrawable=True,
                      error="Hãy chọn tệp tài liệu cần bổ sung.")
    await upstream(request).json("intake", "POST", f"/dossiers/{quote(dossier_id)}/supplements",
                                 session.access_token,
                                 json={"documents": documents, "note": str(form.get("note", "")).strip()})
    session.flash = "Đã gửi tài liệu bổ sung. Tổ giúp việc sẽ kiểm tra lại hồ sơ."
    return RedirectResponse(f"/ho-so/{quote(dossier_id)}", status_code=303)


@router.post("/ho-so/{dossier_id}/rut")
async def withdraw(request: Request, dossier_id: str) -> Response:
    session = signed_in(request)
    form = await checked_form(request)
    await upstream(request).json("intake", "POST", f"/dossiers/{quote(dossier_id)}/withdraw", session.access_token,
                                 json={"reason": str(form.get("reason", "")).strip()})
    session.flash = "Hồ sơ đã được rút."
    return RedirectResponse(f"/ho-so/{quote(dossier_id)}", status_code=303)


@router.get("/ho-so/{dossier_id}/ket-qua")
async def result(request: Request, dossier_id: str) -> Response:
    dossier = await _dossier(request, dossier_id)
    # certification's own list of the dossier's certificates (public, as each certificate is): every status,
    # however many the registry holds for the province and year
    return render(request, "result.html", dossier=dossier, certificates=await _certificates(request, dossier_id))


async def _certificates(request: Request, dossier_id: str) -> list[dict[str, Any]]:
    """Certification's own list of the dossier's certificates (public, as each certificate is): every status,
    however many the registry holds for the province and year."""
    page = await upstream(request).json("certification", "GET", f"/dossiers/{quote(dossier_id, safe='')}/certificates",
                                        None, params={"limit": 20})
    return page["items"]  # type: ignore[no-any-return]


@router.get("/ho-so/{dossier_id}/giay-chung-nhan/{number}.pdf")
async def certificate_pdf(request: Request, dossier_id: str, number: str) -> Response:
    await _dossier(request, dossier_id)  # the person may see the dossier (intake says so)
    # one of this dossier's certificates, by the number certification gave it (so the header holds no typed text)
    number = next((c["number"] for c in await _certificates(request, dossier_id) if c["number"] == number), "")
    if not number:
        raise UpstreamError(404, {"detail": "no such certificate of this dossier"})
    r = await upstream(request).call("certification", "GET", f"/certificates/{quote(number, safe='')}.pdf", None)
    if r.status_code != 200:
        raise UpstreamError(r.status_code, {"detail": "certificate"})
    return Response(r.content, media_type="application/pdf",
                    headers={"content-disposition": f'attachment; filename="giay-chung-nhan-{number}.pdf"'})
