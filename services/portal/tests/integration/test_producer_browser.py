"""A producer in a real browser (the system's Chromium, headless, driven by Playwright) against the four services
on the real broker and store, and the portal in front of them: signs in on the development page, files a dossier
in an open round with a PDF uploaded, prints the receipt (A4), and after the secretariat asks for a missing
document, uploads it, then withdraws the dossier. Each page's screenshot is saved under .run/screenshots/ and its
path printed."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from binhchon_kit.auth.devtoken import mint
from binhchon_kit.testing.fuzz import serving
from binhchon_kit.testing.samples import round_body
from portal.main import PortalSettings
from portal.main import build as build_portal

from .browsing import CHROMIUM, REPO, SHOTS, a_pdf, fill_filing_form
from .council_stack import SERVICES, TODAY, eventually, services

pytestmark = pytest.mark.integration

PRODUCER, REGNO = "htx-dong-hung", "2400123456"


class Shots:
    """Screenshots of the pages as the producer sees them. A page is shot whole from a twin tab (same session, same
    address): a full-page shot of the tab being driven leaves Chromium 156 under Playwright 1.65 clicking beside its
    targets. A form being filled in is shot in place, as far as the phone's screen shows it."""

    def __init__(self, page: Page) -> None:
        self.page, self.taken = page, []
        SHOTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str, *, filled: bool = False, media: str = "screen") -> Path:
        path = SHOTS / f"{len(self.taken) + 1:02d}-{name}.png"
        if filled:
            self.page.screenshot(path=str(path))
        else:
            twin = self.page.context.new_page()
            twin.emulate_media(media=media)  # type: ignore[arg-type]
            twin.goto(self.page.url)
            twin.screenshot(path=str(path), full_page=True)
            twin.close()
        self.taken.append(path)
        print(f"[screenshot] {path}")
        return path


@pytest.mark.timeout(600)
def test_a_producer_files_prints_and_supplements_in_a_browser(
    infra: Any, dev_keys: Any, unique: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if not Path(CHROMIUM).exists():  # installed from Debian, or the test fails: never a skip
        subprocess.run([str(REPO / "infra" / "local" / "chromium.sh")], check=True)
    monkeypatch.setenv("BINHCHON_DEV_KEYS", str(dev_keys[0].parent))  # the dev sign-in mints with the test's key
    secretariat = {"authorization": "Bearer " + mint(dev_keys[0].read_bytes(), subject="to-giup-viec",
                                                     roles=["secretariat"], hours=1)}
    with services(infra, unique, str(dev_keys[1]), SERVICES, prefix="p") as urls:
        intake = httpx.Client(base_url=urls["intake"], headers=secretariat, timeout=30)
        r = intake.post("/rounds", json=round_body(f"PT{unique}", today=TODAY, title="Đánh giá, phân hạng sản "
                                                   "phẩm OCOP tỉnh Bắc Giang năm 2026"))
        assert r.status_code == 201, r.text
        # the account is bound to the cooperative at the counter (ADR 0037)
        r = intake.post("/bindings", json={"applicant_id": PRODUCER, "registration_number": REGNO,
                                           "note": "Đã kiểm tra giấy chứng nhận đăng ký hợp tác xã",
                                           "producer_kind": "cooperative"})
        assert r.status_code == 201, r.text
        settings = PortalSettings(intake_url=urls["intake"], scoring_url=urls["scoring"],
                                  certification_url=urls["certification"], notify_url=urls["notify"],
                                  portal_dev_sign_in=True, portal_local=True, log_level="WARNING")
        with serving(build_portal(settings, clock=lambda: TODAY)) as portal, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--lang=vi"])
            context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")  # a phone
            page = context.new_page()
            shot = Shots(page)
            console: list[str] = []
            form_pdf, missing_pdf = a_pdf(page, "Phiếu đăng ký sản phẩm"), a_pdf(page, "Phiếu kết quả kiểm nghiệm")
            (tmp_path / "phieu-dang-ky.pdf").write_bytes(form_pdf)
            (tmp_path / "phieu-kiem-nghiem.pdf").write_bytes(missing_pdf)

            page.goto(f"{portal}/")
            expect(page).to_have_url(f"{portal}/dang-nhap")
            page.get_by_role("link", name="Đăng nhập thử nghiệm").click()
            page.get_by_label("Mã người dùng").fill(PRODUCER)
            page.get_by_label("Họ và tên").fill("Nguyễn Văn Đức")
            page.get_by_label("Chủ thể sản xuất (nộp hồ sơ)").check()
            shot("dang-nhap-thu-nghiem", filled=True)
            page.get_by_role("button", name="Đăng nhập").click()
            expect(page.get_by_role("heading", name="Hồ sơ của tôi")).to_be_visible()
            shot("ho-so-cua-toi")

            page.get_by_role("link", name="Nộp hồ sơ mới").click()
            eventually(lambda: page.reload() and page.get_by_text(f"Mã đợt: PT{unique}").count(),
                       "the round to be listed as open")
            shot("dot-dang-nhan-ho-so")
            page.get_by_role("link", name="Nộp hồ sơ vào đợt này").click()
            expect(page.get_by_label("Số đăng ký kinh doanh / mã số hợp tác xã")).to_have_value(REGNO)
            fill_filing_form(page, tmp_path / "phieu-dang-ky.pdf")
            shot("nop-ho-so", filled=True)
            page.on("console", lambda m: console.append(m.text))
            page.get_by_role("button", name="Nộp hồ sơ", exact=True).click()

            heading = page.get_by_role("heading", name="PHIẾU TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ")
            expect(heading).to_be_visible(timeout=30_000)  # documents stored, then the dossier filed
            dossier_id = page.url.split("/ho-so/")[1].split("/")[0]
            expect(page.get_by_text("Mã tra cứu", exact=True)).to_be_visible()
            expect(page.get_by_text("phieu-dang-ky.pdf")).to_be_visible()
            expect(page.get_by_text("06:26 ngày 23/11/2026")).to_be_visible()  # received, in Vietnam's time
            shot("phieu-tiep-nhan")
            page.emulate_media(media="print")
            expect(page.get_by_role("button", name="In phiếu tiếp nhận")).to_be_hidden()
            expect(heading).to_be_visible()
            shot("phieu-tiep-nhan-ban-in", media="print")
            printed = SHOTS / "phieu-tiep-nhan.pdf"
            page.pdf(path=str(printed), prefer_css_page_size=True)
            assert printed.read_bytes().startswith(b"%PDF")
            print(f"[printed] {printed}")
            page.emulate_media(media="screen")

            filed = intake.get(f"/dossiers/{dossier_id}").json()
            assert filed["status"] == "received"
            assert [d["sha256"] for d in filed["history"][0]["data"]["documents"]] == [
                hashlib.sha256(form_pdf).hexdigest()]

            r = intake.post(f"/dossiers/{dossier_id}/supplement-request", json={
                "items": [{"document_kind": "test_report",
                           "description": "Phiếu kết quả kiểm nghiệm chỉ tiêu an toàn thực phẩm"}],
                "reason": "Hồ sơ thiếu phiếu kết quả kiểm nghiệm"})
            assert r.status_code == 201, r.text

            page.goto(f"{portal}/ho-so/{dossier_id}")
            expect(page.get_by_role("heading", name="Yêu cầu bổ sung hồ sơ (lần 1)")).to_be_visible()
            # in the request's own section (the history below lists what was asked as well)
            expect(page.locator("section[aria-labelledby=bo-sung]").get_by_text(
                "Phiếu kết quả kiểm nghiệm: Phiếu kết quả kiểm nghiệm chỉ tiêu")).to_be_visible()
            shot("yeu-cau-bo-sung")
            page.get_by_label("Tài liệu bổ sung (PDF, JPEG hoặc PNG)").set_input_files(
                str(tmp_path / "phieu-kiem-nghiem.pdf"))
            page.get_by_label("Ghi chú").fill("Gửi bổ sung phiếu kiểm nghiệm")
            page.get_by_role("button", name="Gửi tài liệu bổ sung").click()
            expect(page.get_by_role("status")).to_have_text("Đã gửi tài liệu bổ sung. Tổ giúp việc sẽ kiểm tra lại "
                                                            "hồ sơ.")
            expect(page.get_by_text("Trạng thái: Đã bổ sung")).to_be_visible()
            expect(page.get_by_text("Chủ thể bổ sung hồ sơ")).to_be_visible()
            shot("da-bo-sung")
            supplied = intake.get(f"/dossiers/{dossier_id}").json()
            assert supplied["status"] == "supplemented"
            assert supplied["history"][-1]["data"]["documents"][0]["sha256"] == hashlib.sha256(
                missing_pdf).hexdigest()

            page.get_by_label("Lý do rút hồ sơ").fill("Chủ thể xin rút để hoàn thiện sản phẩm")
            page.get_by_role("button", name="Rút hồ sơ").click()
            expect(page.get_by_text("Trạng thái: Đã rút hồ sơ")).to_be_visible()
            shot("da-rut-ho-so")
            browser.close()
        assert console == [], console  # no script error, no pattern the browser cannot compile

        assert intake.get(f"/dossiers/{dossier_id}").json()["status"] == "withdrawn"
        print("[screenshots]", *shot.taken, sep="\n  ")
