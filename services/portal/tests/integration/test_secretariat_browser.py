"""The secretariat in a real browser (the system's Chromium, headless, driven by Playwright) against intake and
scoring on the real broker and store, with the portal in front: signs in on the development page, opens a round,
finds a dossier a producer filed through intake's API, asks in writing for what is missing, and once the producer
has supplied it, accepts the dossier. Each page's screenshot is saved under .run/screenshots/, its path printed."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from binhchon_kit.auth.devtoken import mint
from binhchon_kit.testing.documents import listed, upload_documents_sync
from binhchon_kit.testing.fuzz import serving
from binhchon_kit.testing.samples import dossier_body
from portal.main import PortalSettings
from portal.main import build as build_portal

from .browsing import Shots
from .council_stack import TODAY, eventually, services

pytestmark = pytest.mark.integration

PRODUCER, REGNO = "htx-dong-hung", "2400123456"


def stored(intake: httpx.Client, kind: str, file_name: str, content: bytes) -> dict[str, Any]:
    """A document as a dossier lists it, its content stored in intake first (ADR 0045)."""
    upload_documents_sync(intake, {}, [(file_name, content)])
    return listed(kind, file_name, content)


@pytest.mark.timeout(600)
def test_the_secretariat_opens_a_round_requests_a_supplement_and_accepts_in_a_browser(
    infra: Any, dev_keys: Any, unique: str, monkeypatch: pytest.MonkeyPatch, browser: Browser
) -> None:
    monkeypatch.setenv("BINHCHON_DEV_KEYS", str(dev_keys[0].parent))  # the dev sign-in mints with the test's key
    private = dev_keys[0].read_bytes()
    applicant = {"authorization": "Bearer " + mint(private, subject=PRODUCER, roles=["applicant"], hours=1)}
    counter = {"authorization": "Bearer " + mint(private, subject="mot-cua", roles=["secretariat"], hours=1)}
    code = f"ST{unique}".upper()  # intake keeps round codes in capitals
    with services(infra, unique, str(dev_keys[1]), prefix="s") as urls:
        producer = httpx.Client(base_url=urls["intake"], headers=applicant, timeout=30)
        staff = httpx.Client(base_url=urls["intake"], headers=counter, timeout=30)
        # the account is bound to the cooperative at the counter (ADR 0037)
        r = staff.post("/bindings", json={"applicant_id": PRODUCER, "registration_number": REGNO,
                                          "note": "Đã kiểm tra giấy chứng nhận đăng ký hợp tác xã",
                                          "producer_kind": "cooperative"})
        assert r.status_code == 201, r.text
        settings = PortalSettings(intake_url=urls["intake"], scoring_url=urls["scoring"],
                                  portal_dev_sign_in=True, portal_local=True, log_level="WARNING")
        with serving(build_portal(settings, clock=lambda: TODAY)) as portal:
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale="vi-VN")  # a phone
            shots = Shots("to-giup-viec")

            def shot(name: str) -> None:
                shots(page, name)

            page.goto(f"{portal}/dang-nhap/thu-nghiem")
            page.get_by_label("Mã người dùng").fill("tran-thi-mai")
            page.get_by_label("Họ và tên").fill("Trần Thị Mai")
            page.get_by_label("Tổ giúp việc (tiếp nhận hồ sơ)").check()
            page.get_by_role("button", name="Đăng nhập").click()
            page.get_by_role("link", name="Tổ giúp việc").click()
            expect(page.get_by_role("heading", name="Các đợt đánh giá, phân hạng")).to_be_visible()
            page.get_by_role("link", name="Mở đợt mới").click()

            page.get_by_label("Mã đợt").fill(code)
            page.get_by_label("Tên đợt").fill("Đánh giá, phân hạng sản phẩm OCOP tỉnh Bắc Giang năm 2026")
            page.get_by_label("Bộ tiêu chí").select_option("ocop-2025")
            page.get_by_label("Cấp đánh giá").select_option("province")
            page.get_by_label("Mã tỉnh").fill("24")
            page.get_by_label("Cơ quan tổ chức", exact=True).fill("UBND tỉnh Bắc Giang")
            page.get_by_label("Ngày bắt đầu nhận hồ sơ").fill("2026-11-16")
            page.get_by_label("Ngày kết thúc nhận hồ sơ").fill("2026-12-18")
            page.get_by_label("Ngày họp hội đồng", exact=True).fill("2027-01-20")
            shot("mo-dot")
            page.get_by_role("button", name="Mở đợt").click()
            expect(page.get_by_role("status")).to_have_text(f"Đã mở đợt {code}.")
            expect(page.get_by_text("nhận hồ sơ 16/11/2026 – 18/12/2026")).to_be_visible()
            round_id = page.url.rsplit("/", 1)[1]

            # a producer files, through intake's API, a dossier without its test report
            form_pdf = b"%PDF-1.4\n% Phieu dang ky san pham\n%%EOF\n"
            body = dossier_body(documents=[stored(producer, "registration_form", "phieu-dang-ky.pdf", form_pdf)])
            r = producer.post(f"/rounds/{round_id}/dossiers", json=body)
            assert r.status_code == 201, r.text
            dossier_id, number = r.json()["dossier_id"], r.json()["receipt_number"]

            eventually(lambda: page.reload() and page.get_by_role("link", name=number).count(),
                       "the filed dossier on the round's dashboard")
            expect(page.get_by_role("link", name="Đã tiếp nhận: 1")).to_be_visible()
            # received on Monday 23/11, checked within 3 working days: Tuesday 24/11 is a holiday (Culture Day)
            due = page.locator("section[aria-labelledby=den-han]")
            expect(due.get_by_role("row", name=number)).to_contain_text("27/11/2026 3 ngày làm việc")
            shot("bang-theo-doi")

            page.get_by_role("link", name=number).first.click()
            expect(page.get_by_role("heading", name=f"Kiểm tra tính đầy đủ của hồ sơ số {number}")).to_be_visible()
            expect(page.get_by_role("link", name="phieu-dang-ky.pdf")).to_have_attribute(
                "href", f"/to-giup-viec/ho-so/{dossier_id}/tai-lieu/{hashlib.sha256(form_pdf).hexdigest()}")
            page.get_by_label("Loại tài liệu").first.select_option("test_report")
            page.get_by_label("Mô tả nội dung còn thiếu 1").fill("Phiếu kết quả kiểm nghiệm chỉ tiêu an toàn")
            page.get_by_label("Mô tả nội dung còn thiếu 2").fill("Ảnh nhãn sản phẩm đang lưu hành")
            page.get_by_label("Lý do yêu cầu bổ sung").fill("Hồ sơ thiếu phiếu kiểm nghiệm và ảnh nhãn")
            shot("yeu-cau-bo-sung")
            page.get_by_role("button", name="Gửi yêu cầu bổ sung").click()
            expect(page.get_by_role("status")).to_have_text("Đã gửi văn bản yêu cầu bổ sung hồ sơ tới chủ thể.")
            expect(page.get_by_text("Trạng thái: Yêu cầu bổ sung")).to_be_visible()
            expect(page.get_by_text("Phiếu kết quả kiểm nghiệm: Phiếu kết quả kiểm nghiệm chỉ tiêu an toàn; "
                                    "Ảnh nhãn sản phẩm đang lưu hành")).to_be_visible()
            shot("da-yeu-cau-bo-sung")
            requested = staff.get(f"/dossiers/{dossier_id}").json()
            assert requested["status"] == "supplement_requested"
            assert [i["description"] for i in requested["history"][-1]["data"]["items"]] == [
                "Phiếu kết quả kiểm nghiệm chỉ tiêu an toàn", "Ảnh nhãn sản phẩm đang lưu hành"]

            report = b"%PDF-1.4\n% Phieu ket qua kiem nghiem\n%%EOF\n"
            r = producer.post(f"/dossiers/{dossier_id}/supplements", json={
                "documents": [stored(producer, "test_report", "phieu-kiem-nghiem.pdf", report)],
                "note": "Gửi bổ sung phiếu kiểm nghiệm và ảnh nhãn"})
            assert r.status_code == 201, r.text

            eventually(lambda: page.reload() and page.get_by_text("Trạng thái: Đã bổ sung").count(),
                       "the supplement on the check page")
            expect(page.get_by_role("link", name="phieu-kiem-nghiem.pdf")).to_be_visible()
            expect(page.get_by_label("Nhóm sản phẩm (theo bộ tiêu chí)")).to_have_value("thực phẩm")
            page.get_by_label("Mã mẫu (mã hóa sản phẩm khi chấm điểm)").fill("BG-001")
            shot("tiep-nhan")
            page.get_by_role("button", name="Xác nhận hồ sơ hợp lệ").click()
            expect(page.get_by_role("status")).to_have_text("Hồ sơ hợp lệ, đã chuyển hội đồng đánh giá.")
            expect(page.get_by_text("Trạng thái: Hồ sơ hợp lệ")).to_be_visible()
            shot("da-tiep-nhan")

            page.get_by_role("link", name="Đánh giá, phân hạng sản phẩm OCOP tỉnh Bắc Giang năm 2026").click()
            eventually(lambda: page.reload() and page.get_by_role("link", name="Hồ sơ hợp lệ: 1").count(),
                       "the accepted dossier counted on the dashboard")
            shot("bang-theo-doi-sau-tiep-nhan")

        accepted = staff.get(f"/dossiers/{dossier_id}").json()
        assert accepted["status"] == "accepted"
        assert accepted["classification"] == {"product_group": "thực phẩm", "sample_code": "BG-001"}
        print("[screenshots]", *shots.taken, sep="\n  ")
