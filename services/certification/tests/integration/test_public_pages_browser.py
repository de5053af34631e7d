"""The public registry and /verify in a real browser (the system's Chromium, headless, driven by Playwright) on a
phone's screen, against certification under uvicorn on the real broker and store, its certificates issued from
approved results as scoring publishes them: the filters are labelled, the stars have a name a screen reader says,
paging keeps the filter, nothing scrolls sideways, a hostile holder's name is text, and the verdict of a scanned QR
comes first. Screenshots (phone and desktop) are saved under .run/screenshots/ and their paths printed."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.fuzz import serving

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[4]
SHOTS = REPO / ".run" / "screenshots"
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 900}
HOSTILE = 'HTX <img src=x onerror="document.title=\'pwned\'"> & "Đông Hưng"'
PORTAL_RED = "rgb(139, 26, 26)"  # --brand in the kit's stylesheet: the portal's header


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"public-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"[screenshot] {path}")


def no_sideways_scroll(page: Page) -> None:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{page.url} scrolls sideways on a phone: {width} > {inner}"


def browse(base: str, numbers: dict[str, str]) -> None:
    """What a buyer and a browsing visitor do, in Chromium on a phone then on a desktop."""
    if not Path(CHROMIUM).exists():  # installed from Debian, or the test fails: never a skip
        subprocess.run([str(REPO / "infra" / "local" / "chromium.sh")], check=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--lang=vi"])
        phone = browser.new_context(viewport=PHONE, locale="vi-VN", is_mobile=True, has_touch=True)
        page = phone.new_page()
        blocked: list[str] = []
        page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)

        page.goto(f"{base}/registry?limit=2")
        expect(page.locator("header.site")).to_have_css("background-color", PORTAL_RED)  # the stylesheet loaded
        for label in ("Chương trình", "Mã tỉnh", "Hạng sao", "Năm công nhận"):
            expect(page.get_by_label(label)).to_be_visible()
        expect(page.get_by_role("img", name="4 sao").first).to_be_visible()
        expect(page.get_by_text("Còn hiệu lực đến 20/11/2029").first).to_be_visible()
        no_sideways_scroll(page)

        # a province's certificates, two a page: the following page and the first one keep the filter
        page.get_by_label("Mã tỉnh").fill("24")
        page.get_by_label("Chương trình").select_option("OCOP")
        page.get_by_role("button", name="Lọc").click()
        expect(page).to_have_url(f"{base}/registry?programme=OCOP&province_code=24&stars=&year=&limit=2")
        first = page.locator("table.registry tbody tr")
        expect(first).to_have_count(2)
        # the hostile name is shown as the text it is, never as markup
        expect(page.get_by_text(HOSTILE)).to_be_visible()
        assert page.locator("main img").count() == 0 and page.title() != "pwned"
        shoot(page, "danh-sach-dien-thoai")
        page.get_by_role("link", name="Sau →").click()
        assert "province_code=24" in page.url and "programme=OCOP" in page.url and "after=" in page.url
        expect(page.get_by_label("Mã tỉnh")).to_have_value("24")
        expect(page.get_by_label("Chương trình")).to_have_value("OCOP")
        rows = page.locator("table.registry tbody tr")
        expect(rows).to_have_count(1)  # three in Bắc Giang: the third alone, Hà Nội's never
        expect(rows).not_to_contain_text("Hà Nội")
        no_sideways_scroll(page)
        page.get_by_role("link", name="← Về đầu").click()
        assert "province_code=24" in page.url and "after=" not in page.url
        expect(page.get_by_label("Mã tỉnh")).to_have_value("24")
        expect(page.locator("table.registry tbody tr")).to_have_count(2)

        # a buyer scans a certificate's QR: the verdict first, then the facts
        page.goto(f"{base}/verify/{numbers['valid']}")
        verdict = page.get_by_role("heading", level=1)
        expect(verdict).to_have_text("✓ Chứng nhận CÒN HIỆU LỰC")
        expect(verdict).to_have_css("background-color", "rgb(230, 242, 232)")
        expect(page.get_by_role("img", name="4 sao")).to_be_visible()
        expect(page.get_by_role("row", name="Có giá trị đến 20/11/2029")).to_be_visible()
        assert page.evaluate("document.querySelector('h1.verdict').getBoundingClientRect().bottom") < PHONE["height"]
        no_sideways_scroll(page)
        shoot(page, "kiem-tra-con-hieu-luc-dien-thoai")

        page.goto(f"{base}/verify/{numbers['hostile']}")
        expect(page.get_by_role("heading", level=1)).to_have_text("✕ Chứng nhận ĐÃ BỊ THU HỒI")
        expect(page.get_by_text("Lý do: Vi phạm tiêu chí bắt buộc")).to_be_visible()
        expect(page.get_by_role("heading", level=2).locator("xpath=following-sibling::p[1]")).to_have_text(HOSTILE)
        assert page.locator("main img").count() == 0 and page.title() != "pwned"
        no_sideways_scroll(page)
        shoot(page, "kiem-tra-da-thu-hoi-dien-thoai")

        page.goto(f"{base}/verify/OCOP-KHONG-CO-2026-00001")
        expect(page.get_by_role("heading", level=1)).to_have_text("? KHÔNG TÌM THẤY")
        no_sideways_scroll(page)
        assert not blocked, blocked

        desktop = browser.new_context(viewport=DESKTOP, locale="vi-VN").new_page()
        desktop.goto(f"{base}/registry")
        expect(desktop.get_by_role("columnheader", name="Hiệu lực")).to_be_visible()  # a table on a wide screen
        expect(desktop.get_by_role("img", name="5 sao")).to_be_visible()
        no_sideways_scroll(desktop)
        shoot(desktop, "danh-sach-may-tinh")
        desktop.goto(f"{base}/verify/{numbers['valid']}")
        shoot(desktop, "kiem-tra-con-hieu-luc-may-tinh")
        browser.close()


@pytest.mark.timeout(300)
async def test_the_registry_and_verify_read_well_on_a_phone_in_a_real_browser(env, auth):
    with serving(env.app()) as base:
        await env.approve(
            env.result("bg-1", stars=4, product="Mật ong rừng Lục Nam"),
            env.result("bg-2", stars=5, product="Gà đồi Yên Thế"),
            env.result("bg-3", stars=4, product="Vải thiều Lục Ngạn", producer=HOSTILE),
            env.result("hn-1", stars=4, product="Giò chả Ước Lễ – Hà Nội", province_code="01"))
        async with httpx.AsyncClient(base_url=base, timeout=30) as cert:
            async def issued() -> dict[str, str] | None:
                items = (await cert.get("/registry.json")).json()["items"]
                return {i["dossier_id"]: i["number"] for i in items} if len(items) == 4 else None

            number = await eventually(issued, what="four certificates in the registry")
            # the hostile holder's certificate is later revoked: /verify says so first, and names the holder as text
            hostile = number["bg-3"]
            r = await cert.post(f"/certificates/{hostile}/revocation", json={"reason": "Vi phạm tiêu chí bắt buộc"},
                                headers=auth("ubnd", "approver", authorities=("province:24",)))
            assert r.status_code == 201, r.text
            # revoked, it leaves the registry; another holder with that name keeps it there for the paging test
            await env.approve(env.result("bg-4", stars=4, product="Rượu làng Vân", producer=HOSTILE))

            async def four_again() -> bool | None:
                items = (await cert.get("/registry.json")).json()["items"]
                return (len(items) == 4 and hostile not in [i["number"] for i in items]) or None

            await eventually(four_again, what="the revoked certificate gone, the fifth listed")
            css = await cert.get("/static/portal.css")
            assert css.headers["content-type"].startswith("text/css") and "--brand: #8b1a1a" in css.text
            page = await cert.get(f"/verify/{number['bg-1']}")
            assert "style-src 'self'" in page.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        await asyncio.to_thread(browse, base, {"valid": number["bg-1"], "hostile": hostile})
