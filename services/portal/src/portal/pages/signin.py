"""Signing in and out: the province's identity provider (OpenID Connect), or, where the setting allows it, the
development sign-in that mints a token with the dev key for a person and roles a tester picks."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from binhchon_kit.auth.devtoken import ensure_keys, mint
from binhchon_kit.auth.roles import Role
from portal.oidc import Provider, SignInFailed
from portal.web import checked_form, render, session_of

router = APIRouter(include_in_schema=False)
log = logging.getLogger("binhchon.portal")

ROLE_NAMES = {Role.APPLICANT: "Chủ thể sản xuất (nộp hồ sơ)", Role.SECRETARIAT: "Tổ giúp việc (tiếp nhận hồ sơ)",
              Role.JUDGE: "Thành viên hội đồng", Role.COUNCIL_CHAIR: "Chủ tịch hội đồng",
              Role.APPROVER: "Người phê duyệt (UBND)", Role.AUDITOR: "Kiểm tra, giám sát"}


def provider(request: Request) -> Provider | None:
    return request.app.state.provider  # type: ignore[no-any-return]


@router.get("/dang-nhap")
async def sign_in_page(request: Request) -> Response:
    return render(request, "sign_in.html", oidc=provider(request) is not None)


@router.get("/dang-nhap/oidc")
async def oidc_start(request: Request) -> Response:
    found = provider(request)
    if found is None:
        return RedirectResponse("/dang-nhap", status_code=303)
    url, pending = await found.start()
    session_of(request).pending = pending
    return RedirectResponse(url, status_code=303)


@router.get("/dang-nhap/oidc/ve")
async def oidc_back(request: Request, code: str = "", state: str = "") -> Response:
    found, session = provider(request), session_of(request)
    pending, session.pending = session.pending, {}
    if found is None or not code:
        return render(request, "error.html", status=400, message="Đăng nhập không thành công.")
    try:
        person = await found.finish(pending, code=code, state=state)
    except SignInFailed as exc:
        log.warning("sign-in refused: %s", exc)
        return render(request, "error.html", status=400, message="Đăng nhập không thành công, vui lòng thử lại.")
    request.state.session = request.app.state.sessions.signed_in(
        session, subject=person.subject, name=person.name, roles=person.roles, access_token=person.access_token)
    return RedirectResponse("/", status_code=303)


def dev_key(request: Request) -> bytes:
    """The dev key's private half: read from disk at the first development sign-in, then kept."""
    state = request.app.state
    if state.dev_key is None:
        state.dev_key = ensure_keys()[0].read_bytes()
    return state.dev_key  # type: ignore[no-any-return]


@router.get("/dang-nhap/thu-nghiem")
async def dev_sign_in_page(request: Request) -> Response:
    if not request.app.state.settings.portal_dev_sign_in:
        return render(request, "error.html", status=404, message="Không tìm thấy nội dung yêu cầu.")
    return render(request, "dev_sign_in.html", roles=ROLE_NAMES)


@router.post("/dang-nhap/thu-nghiem")
async def dev_sign_in(request: Request) -> Response:
    if not request.app.state.settings.portal_dev_sign_in:
        return render(request, "error.html", status=404, message="Không tìm thấy nội dung yêu cầu.")
    form = await checked_form(request)
    subject, name = str(form.get("subject", "")).strip(), str(form.get("name", "")).strip()
    roles = [r for r in form.getlist("role") if r in {role.value for role in ROLE_NAMES}]
    authority = str(form.get("authority", "")).strip()
    if not subject or not roles:
        return render(request, "dev_sign_in.html", status=422, roles=ROLE_NAMES,
                      error="Hãy nhập mã người dùng và chọn ít nhất một vai trò.")
    token = mint(dev_key(request), subject=subject, roles=[str(r) for r in roles], name=name or None,
                 authorities=[authority] if authority else None, hours=8)
    request.state.session = request.app.state.sessions.signed_in(
        session_of(request), subject=subject, name=name or subject, roles=tuple(str(r) for r in roles),
        access_token=token)
    return RedirectResponse("/", status_code=303)


@router.post("/dang-xuat")
async def sign_out(request: Request) -> Response:
    await checked_form(request)
    request.app.state.sessions.drop(session_of(request))
    request.state.session = request.app.state.sessions.new()
    return RedirectResponse("/dang-nhap", status_code=303)
