"""The public pages' refusals in Vietnamese: a visitor who edits the registry's address (a year out of range, a
page size too large) or reloads too often reads a page, never FastAPI's English JSON. The API routes (and
/registry.json) keep the services' JSON error shape."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

from certification.adapters import pages

# what each of the registry's query fields may be, as its filter's label says it
FIELDS = {"programme": "Chương trình: chọn Sản phẩm OCOP hoặc Sản phẩm công nghiệp nông thôn tiêu biểu.",
          "stars": "Hạng sao: từ 1 đến 5 sao.", "year": "Năm công nhận: từ năm 2010 đến năm 2100.",
          "limit": "Số dòng mỗi trang: từ 1 đến 200 dòng.",
          "after": "Vị trí trang sau không hợp lệ: hãy bắt đầu lại từ trang đầu."}


def is_page(request: Request) -> bool:
    path = request.url.path
    return path == "/registry" or path.startswith("/verify/")


def install(app: FastAPI) -> None:
    """The app's handlers for a refused query and a rate limit: a page for the public pages, JSON elsewhere."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if not is_page(request):
            return await request_validation_exception_handler(request, exc)
        named = [str(e.get("loc", ("", ""))[-1]) for e in exc.errors()]
        reasons = list(dict.fromkeys(FIELDS.get(n, f"{n}: giá trị không hợp lệ.") for n in named))
        return page(pages.refused_page("Bộ lọc chưa hợp lệ", reasons), 422)

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> Response:
        if not (is_page(request) and exc.status_code == 429):
            return await http_exception_handler(request, exc)
        wait = (exc.headers or {}).get("Retry-After", "60")
        answer = page(pages.refused_page("Quá nhiều yêu cầu", [
            f"Địa chỉ của ông/bà đã gửi quá nhiều yêu cầu trong một phút: vui lòng đợi {wait} giây rồi thử lại."]),
            429)
        answer.headers.update(exc.headers or {})
        return answer


def page(html: str, status: int) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers={"content-security-policy": pages.PAGE_POLICY})
