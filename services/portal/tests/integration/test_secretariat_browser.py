"""The secretariat in a real browser (the system's Chromium, headless, driven by Playwright) against intake and
scoring on the real broker and store, with the portal in front: signs in on the development page, opens a round,
finds a dossier a producer filed through intake's API, asks in writing for what is missing, and once the producer
has supplied it, accepts the dossier. Each page's screenshot is saved under .run/screenshots/, its path printed."""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright

from binhchon_kit.auth.devtoken import mint
from binhchon_kit.testing.fuzz import serving
from binhchon_kit.testing.samples import dossier_body
from binhchon_kit.topics import all_topics, ensure_topics
from portal.main import PortalSettings
from portal.main import build as build_portal

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 23, 26, tzinfo=UTC)  # 06:26 on Monday 23/11 in Hà Nội
TODAY = date(2026, 11, 23)
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[4] / ".run" / "screenshots"
PRODUCER, REGNO = "htx-dong-hung", "2400123456"


@contextlib.contextmanager
def intake_and_scoring(infra: Any, unique: str, key: str) -> Iterator[dict[str, str]]:
    """The two services the secretariat's pages call here, each under uvicorn, on this run's broker and store."""
    from intake.main import IntakeSettings
    from intake.main import build as intake
    from scoring.main import ScoringSettings
    from scoring.main import build as scoring

    prefix = f"s{unique}."

    def common(service: str) -> dict[str, Any]:
        return {"mongodb_url": infra.mongodb, "mongodb_database": f"secretariat_{service}_{unique}",
                "kafka_bootstrap_servers": infra.kafka, "kafka_topic_prefix": prefix,
                "auth_public_keys_file": key, "log_level": "WARNING"}

    async def topics() -> None:
        await ensure_topics(infra.kafka, all_topics(prefix), partitions=1)

    with serving(intake(IntakeSettings(**common("intake")), lambda: NOW), before=topics) as intake_url, \
            serving(scoring(ScoringSettings(**common("scoring")))) as scoring_url:
        yield {"intake": intake_url, "scoring": scoring_url}


def eventually(check: Callable[[], Any], what: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def stored(intake: httpx.Client, kind: str, file_name: str, content: bytes) -> dict[str, Any]:
    """A document as a dossier lists it, its content given to intake's store first. Transitional, as the portal's
    Upstream.store_document: where intake has no store yet (404/405) the dossier lists the document unstored."""
    r = intake.post("/documents", files={"file": (file_name, content, "application/pdf")})
    if r.status_code not in (404, 405):
        assert r.status_code in (200, 201), r.text
    return {"kind": kind, "file_name": file_name, "size_bytes": len(content),
            "sha256": hashlib.sha256(content).hexdigest()}


class Shots:
    def __init__(self, page: Page) -> None:
        self.page, self.taken = page, []
        SHOTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str) -> Path:
        path = SHOTS / f"to-giup-viec-{len(self.taken) + 1:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        print(f"[screenshot] {path}")
        return path


@pytest.mark.timeout(600)
def test_the_secretariat_opens_a_round_requests_a_supplement_and_accepts_in_a_browser(
    infra: Any, dev_keys: Any, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BINHCHON_DEV_KEYS", str(dev_keys[0].parent))  # the dev sign-in mints with the test's key
    private = dev_keys[0].read_bytes()
    applicant = {"authorization": "Bearer " + mint(private, subject=PRODUCER, roles=["applicant"], hours=1)}
    counter = {"authorization": "Bearer " + mint(private, subject="mot-cua", roles=["secretariat"], hours=1)}
    code = f"ST{unique}".upper()  # intake keeps round codes in capitals
    with intake_and_scoring(infra, unique, str(dev_keys[1])) as urls:
        producer = httpx.Client(base_url=urls["intake"], headers=applicant, timeout=30)
        staff = httpx.Client(base_url=urls["intake"], headers=counter, timeout=30)
        # the account is bound to the cooperative at the counter (ADR 0037)
        r = staff.post("/bindings", json={"applicant_id": PRODUCER, "registration_number": REGNO,
                                          "note": "Đã kiểm tra giấy chứng nhận đăng ký hợp tác xã"})
        assert r.status_code == 201, r.text
        settings = PortalSettings(intake_url=urls["intake"], scoring_url=urls["scoring"],
                                  portal_dev_sign_in=True, portal_local=True, log_level="WARNING")
        with serving(build_portal(settings, clock=lambda: TODAY)) as portal, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale="vi-VN")  # a phone
            shot = Shots(page)

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
            browser.close()

        accepted = staff.get(f"/dossiers/{dossier_id}").json()
        assert accepted["status"] == "accepted"
        assert accepted["classification"] == {"product_group": "thực phẩm", "sample_code": "BG-001"}
        print("[screenshots]", *shot.taken, sep="\n  ")
