"""What the portal answers where nothing of it fits — an address it has no page for, a method a page does not take,
an upload over the limit, a page that broke — is a page in Vietnamese with the portal's look and policy, never
FastAPI's or the request guard's English JSON; and each person starts, once signed in, on their own role's page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from portal.main import PortalSettings, build
from portal.sessions import COOKIE

LIMIT = 2 * 1024 * 1024


@pytest.fixture
async def portal() -> AsyncIterator[httpx.AsyncClient]:
    settings = PortalSettings(intake_url="http://intake", scoring_url="http://scoring",
                              certification_url="http://certification", notify_url="http://notify",
                              portal_local=True, portal_upload_bytes=LIMIT)
    app = build(settings, clock=lambda: date(2026, 11, 23))

    async def broken() -> None:
        raise RuntimeError("a bug in a page")

    app.add_api_route("/trang-hong", broken, include_in_schema=False)
    app.state.upstream.client = httpx.AsyncClient(transport=httpx.MockTransport(
        lambda _: httpx.Response(200, json={"items": [], "next": None})))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://portal") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


def a_vietnamese_page(r: httpx.Response, status: int, says: str) -> None:
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"].startswith("default-src 'none'; style-src 'self'")
    assert r.headers["cache-control"] == "no-store"
    assert '<html lang="vi">' in r.text and "<h1>Không thực hiện được</h1>" in r.text
    assert says in r.text
    assert "Not Found" not in r.text and "detail" not in r.text


async def test_an_address_without_a_page_is_a_vietnamese_404(portal: httpx.AsyncClient) -> None:
    a_vietnamese_page(await portal.get("/khong-co-trang-nay"), 404, "Không tìm thấy trang ông/bà yêu cầu.")
    a_vietnamese_page(await portal.get("/static/khong-co.css"), 404, "Không tìm thấy trang")


async def test_a_method_a_page_does_not_take_is_a_vietnamese_405(portal: httpx.AsyncClient) -> None:
    r = await portal.delete("/dang-nhap")
    a_vietnamese_page(r, 405, "Trang này không nhận thao tác vừa gửi.")
    assert r.headers["allow"] == "GET"


async def test_an_upload_over_the_limit_is_a_vietnamese_413(portal: httpx.AsyncClient) -> None:
    r = await portal.post("/dot/round-1/nop-ho-so", files={"doc_registration_form": (
        "quet.pdf", b"%PDF-1.7" + b"0" * LIMIT, "application/pdf")})
    a_vietnamese_page(r, 413, "Tệp tải lên quá lớn: mỗi lần gửi không quá 2 MB.")


async def test_a_form_on_an_upload_route_may_be_larger_than_any_other_form(portal: httpx.AsyncClient) -> None:
    """1 MiB for every form but the two that carry documents: those pass the guard up to their own cap."""
    scan = {"doc_supplement": ("quet.pdf", b"%PDF-1.7" + b"0" * (LIMIT - 4096), "application/pdf")}
    for path in ("/dot/round-1/nop-ho-so", "/ho-so/d-1/bo-sung"):
        r = await portal.post(path, files=scan)
        assert (r.status_code, r.headers["location"]) == (303, "/dang-nhap"), path  # the route saw it: not signed in


@pytest.mark.parametrize("path", ["/dang-xuat", "/dang-nhap/thu-nghiem", "/ho-so/d-1/rut",
                                  "/to-giup-viec/ho-so/d-1/tu-choi", "/hoi-dong/ho-so/d-1/phieu-cham",
                                  "/ho-so/d-1/bo-sung/them", "/dot/round-1/nop-ho-so/"])
async def test_any_other_form_over_one_mib_is_a_vietnamese_413(portal: httpx.AsyncClient, path: str) -> None:
    r = await portal.post(path, data={"csrf": "x", "note": "a" * (1024 * 1024)})
    a_vietnamese_page(r, 413, "Nội dung gửi lên quá lớn: mỗi lần gửi không quá 1 MB.")

    async def chunks() -> AsyncIterator[bytes]:  # no declared size: counted as it arrives
        for _ in range(17):
            yield b"a" * 65536

    r = await portal.post(path, content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"})
    a_vietnamese_page(r, 413, "Nội dung gửi lên quá lớn")


async def test_a_page_that_broke_is_a_vietnamese_500(portal: httpx.AsyncClient) -> None:
    a_vietnamese_page(await portal.get("/trang-hong"), 500, "Đã có lỗi khi xử lý yêu cầu.")


@pytest.mark.parametrize(("roles", "start"), [
    (("secretariat",), "/to-giup-viec"), (("judge",), "/hoi-dong"), (("council_chair",), "/hoi-dong"),
    (("approver",), "/de-nghi"), (("judge", "secretariat"), "/to-giup-viec")])
async def test_each_official_starts_on_their_own_page(portal: httpx.AsyncClient, roles: tuple[str, ...],
                                                      start: str) -> None:
    sessions = portal.app.state.sessions  # type: ignore[attr-defined]
    session = sessions.signed_in(sessions.new(), subject="someone", name="Ai đó", roles=roles, access_token="t")
    portal.cookies.set(COOKIE, session.id)
    r = await portal.get("/")
    assert (r.status_code, r.headers["location"]) == (303, start)


async def test_a_producer_starts_on_their_dossiers(portal: httpx.AsyncClient) -> None:
    sessions = portal.app.state.sessions  # type: ignore[attr-defined]
    session = sessions.signed_in(sessions.new(), subject="htx", name="HTX", roles=("applicant", "judge"),
                                 access_token="t")
    portal.cookies.set(COOKIE, session.id)
    r = await portal.get("/")
    assert r.status_code == 200 and "Hồ sơ của tôi" in r.text
