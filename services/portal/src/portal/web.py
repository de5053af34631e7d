"""The portal's app in the kit's way, without a store or a broker of its own: the kit's request guard (body
limit, safety headers), correlation ids and latency metrics, /healthz, /readyz (the four services reachable),
/metrics; the session cookie; Jinja2 with autoescaping; one stylesheet."""

from __future__ import annotations

import contextlib
import hmac
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.types import Send

from binhchon_kit.logs import configure_logging, correlation_id
from binhchon_kit.web import answered
from binhchon_kit.web_guard import RequestGuard
from portal.formats import FILTERS
from portal.sessions import COOKIE, Session, Sessions
from portal.upstream import Upstream, UpstreamError

if TYPE_CHECKING:  # the composition root defines it (one settings class per service, in main)
    from portal.main import PortalSettings

HERE = Path(__file__).parent
log = logging.getLogger("binhchon.portal")
# The portal's pages: its own stylesheet and print script, forms to itself only, never framed.
PAGE_POLICY = ("default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
               "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
UNSESSIONED = ("/healthz", "/readyz", "/metrics", "/static/")


class NotSignedIn(Exception):
    pass


class Forbidden(Exception):
    pass


def templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(FILTERS)
    return Jinja2Templates(env=env)


def upstream(request: Request) -> Upstream:
    return request.app.state.upstream  # type: ignore[no-any-return]


def today(request: Request) -> date:
    """Today in Vietnam, from the clock the app was built with (tests fix it)."""
    return request.app.state.clock()  # type: ignore[no-any-return]


def session_of(request: Request) -> Session:
    return request.state.session  # type: ignore[no-any-return]


def signed_in(request: Request) -> Session:
    session = session_of(request)
    if not session.signed_in:
        raise NotSignedIn
    return session


async def checked_form(request: Request) -> FormData:
    """The POSTed form, once its CSRF token is this session's (every form of the portal carries one)."""
    form = await request.form()
    given = form.get("csrf")
    if not isinstance(given, str) or not session_of(request).csrf_ok(given):
        raise Forbidden
    return form


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    session = session_of(request)
    flash, session.flash = session.flash, ""
    page: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, name, {"session": session, "flash": flash, "settings": request.app.state.settings, **context},
        status_code=status)
    return page


# What the portal answers where a route, a method or a body does not fit, or something broke: a page in Vietnamese,
# never FastAPI's or the request guard's English JSON (a person is reading it, not a program).
ERRORS = {404: "Không tìm thấy trang ông/bà yêu cầu. Địa chỉ có thể đã thay đổi hoặc không còn.",
          405: "Trang này không nhận thao tác vừa gửi. Vui lòng quay lại trang trước và thử lại.",
          422: "Địa chỉ hoặc thông tin gửi lên chưa hợp lệ. Vui lòng quay lại trang trước và thử lại.",
          500: "Đã có lỗi khi xử lý yêu cầu. Vui lòng thử lại sau ít phút; nếu vẫn lỗi, xin liên hệ bộ phận một cửa."}


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """The error page, also where no session was taken up (static files, the request guard, a crash before the
    session middleware ran): shown then as to someone not signed in, and no cookie set."""
    if getattr(request.state, "session", None) is not None:
        page = render(request, "error.html", status=status, message=message)
    else:
        html = request.app.state.templates.get_template("error.html").render(
            session=Session(id="", expires=0), flash="", settings=request.app.state.settings, message=message)
        page = HTMLResponse(html, status_code=status)
    page.headers["content-security-policy"] = PAGE_POLICY
    page.headers["cache-control"] = "no-store"
    return page


class PortalGuard(RequestGuard):
    """The kit's guard, whose 413 is a page in Vietnamese here: a person's upload, or a form, was too large. The
    upload routes have their own cap (``route_limits``); every other route the kit's ``max_body_bytes``."""

    def __init__(self, app: Any, *, max_body_bytes: int, route_limits: dict[str, int],
                 page: Callable[[str], bytes]) -> None:
        super().__init__(app, max_body_bytes=max_body_bytes, route_limits=route_limits)
        self.page = page

    async def _too_large(self, send: Send, limit: int | None = None) -> None:
        limit = self.max_body_bytes if limit is None else limit
        megabytes = f"{limit / (1024 * 1024):g} MB"
        if limit == self.max_body_bytes:
            message = (f"Nội dung gửi lên quá lớn: mỗi lần gửi không quá {megabytes}. "
                       "Vui lòng rút gọn nội dung rồi gửi lại.")
        else:
            message = (f"Tệp tải lên quá lớn: mỗi lần gửi không quá {megabytes}. "
                       "Vui lòng giảm dung lượng tệp (quét ở độ phân giải thấp hơn) rồi gửi lại.")
        body = self.page(message)
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()),
                                (b"content-security-policy", PAGE_POLICY.encode()),
                                (b"cache-control", b"no-store"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def create_portal(settings: PortalSettings, upstream: Upstream, sessions: Sessions,
                  uploads: tuple[str, ...] = ()) -> FastAPI:
    """``uploads``: the route patterns whose forms carry documents (``portal_upload_bytes`` each)."""
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        try:
            yield
        finally:
            await upstream.client.aclose()

    app = FastAPI(title="binhchon portal", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings, app.state.upstream, app.state.sessions = settings, upstream, sessions
    app.state.templates = templates()
    app.mount("/static", StaticFiles(directory=HERE / "static", packages=[("binhchon_kit", "static")]), name="static")

    @app.middleware("http")
    async def sessions_and_metrics(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                                   ) -> Response:
        cid = request.headers.get("x-correlation-id") or str(uuid.uuid4())
        token = correlation_id.set(cid)
        started = time.perf_counter()
        given = request.cookies.get(COOKIE)
        if not request.url.path.startswith(UNSESSIONED):
            request.state.session = sessions.get(given) or sessions.new()
        try:
            response = await call_next(request)
        finally:
            correlation_id.reset(token)
        session = getattr(request.state, "session", None)
        if session is not None and session.id != given:
            response.set_cookie(COOKIE, session.id, max_age=sessions.ttl, httponly=True,
                                secure=not settings.portal_local, samesite="lax", path="/")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers["content-security-policy"] = PAGE_POLICY
            response.headers["cache-control"] = "no-store"  # pages show a person's dossiers
        return answered(settings.service_name, request, response, started, cid)

    app.add_middleware(PortalGuard, max_body_bytes=settings.max_body_bytes,
                       route_limits=dict.fromkeys(uploads, settings.portal_upload_bytes),
                       page=lambda message: app.state.templates.env.get_template("error.html").render(
                           session=Session(id="", expires=0), flash="", settings=settings, message=message).encode())

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        page = error_page(request, exc.status_code, ERRORS.get(exc.status_code, ERRORS[500]))
        page.headers.update(exc.headers or {})  # a 405's Allow
        return page

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, _: RequestValidationError) -> Response:
        return error_page(request, 422, ERRORS[422])

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_page(request, 500, ERRORS[500])

    @app.exception_handler(NotSignedIn)
    async def to_sign_in(_: Request, __: NotSignedIn) -> Response:
        return RedirectResponse("/dang-nhap", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, _: Forbidden) -> Response:
        return render(request, "error.html", status=403, message="Biểu mẫu đã hết hạn hoặc không hợp lệ. "
                      "Vui lòng tải lại trang và thử lại.")

    @app.exception_handler(UpstreamError)
    async def upstream_failed(request: Request, exc: UpstreamError) -> Response:
        log.warning("%s %s: upstream %s", request.method, request.url.path, exc)
        if exc.status == 401:
            sessions.drop(session_of(request))
            request.state.session = sessions.new()
            return RedirectResponse("/dang-nhap", status_code=303)
        return render(request, "error.html", status=exc.status if exc.status in (403, 404) else 502,
                      message=refusal_text(exc))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = await upstream.ready()
        down = sorted(name for name, state in checks.items() if state != "ok")
        if not down:
            return JSONResponse({"ready": True, "checks": checks})
        return JSONResponse({"ready": False, "checks": checks, "down": down}, status_code=503,
                            headers={"Retry-After": str(settings.unavailable_retry_after_seconds)})

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if settings.deployment != "development":  # as the services: only to the scraper holding METRICS_TOKEN
            given = request.headers.get("authorization", "").removeprefix("Bearer ").encode()
            if not settings.metrics_token or not hmac.compare_digest(given, settings.metrics_token.encode()):
                return JSONResponse({"detail": "Not Found"}, status_code=404)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


REFUSALS = {403: "Tài khoản của ông/bà không có quyền thực hiện thao tác này.",
            404: "Không tìm thấy nội dung yêu cầu.",
            409: "Thao tác không thực hiện được ở trạng thái hiện tại của hồ sơ.",
            413: "Tệp tải lên quá lớn.",
            422: "Thông tin chưa hợp lệ, vui lòng kiểm tra lại các trường đã nhập.",
            429: "Hệ thống đang bận, vui lòng thử lại sau ít phút.",
            503: "Hệ thống tạm thời không kết nối được dịch vụ, vui lòng thử lại sau."}


def refusal_text(exc: UpstreamError) -> str:
    return REFUSALS.get(exc.status, "Đã có lỗi khi xử lý yêu cầu, vui lòng thử lại sau.")
