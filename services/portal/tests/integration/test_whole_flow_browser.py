"""The whole selection in a real browser (the system's Chromium, headless, driven by Playwright), each person on
their own phone, against the four services on the real broker and store with the portal in front: a producer
files a dossier with a PDF uploaded and prints the receipt; the secretariat, on its pages, asks for what is
missing, the producer supplies it, the secretariat accepts; the panel scores (one member declares a conflict, one
posts a point the sheet does not allow and sees the error), the chair closes and proposes, the approver decides;
the producer sees the result and downloads the certificate, whose QR code opens /verify showing it valid.
Screenshots under .run/screenshots/, their paths printed."""

from __future__ import annotations

import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, expect

from .browsing import SHOTS, Shots, a_pdf, fill_filing_form, person, the_council_decides
from .council_stack import CHAIR, FULL, MEMBERS, Stack, eventually

pytestmark = pytest.mark.integration

# 80 points, 4 stars: what a province recognises itself (5 stars are sent up to the national level, no certificate here)
FOUR_STARS = {**FULL, "B1": 0, "C1": 0}  # C4 is mandatory (5 at least) for 4 stars
PANEL, PRODUCT, REGNO = "Hội đồng OCOP tỉnh Bắc Giang", "Mật ong rừng Lục Nam", "2400123456"



def qr_text(pdf: bytes) -> str:
    """The one QR code printed on the certificate's page, read from the page rendered at 144 dpi."""
    document = pdfium.PdfDocument(pdf)
    try:
        image: Image.Image = document[0].render(scale=2).to_pil().convert("RGB")
    finally:
        document.close()
    codes = zxingcpp.read_barcodes(image)
    assert [code.format for code in codes] == [zxingcpp.BarcodeFormat.QRCode]
    return str(codes[0].text)


@pytest.mark.timeout(600)
def test_a_dossier_from_filing_to_a_verified_certificate(full_stack: Stack, browser: Browser, tmp_path: Path) -> None:
    stack, shot = full_stack, Shots("toan-trinh")
    round_id = stack.open_round("TT1", PANEL, CHAIR, MEMBERS)
    with stack.client("intake", "mot-cua", "secretariat") as counter:  # bound at the counter (ADR 0037)
        r = counter.post("/bindings", json={"applicant_id": "htx-dong-hung", "registration_number": REGNO,
                                            "note": "Đã kiểm tra giấy chứng nhận đăng ký hợp tác xã",
                                            "producer_kind": "cooperative"})
        assert r.status_code == 201, r.text

    # the producer files, with the registration form a PDF, and prints the receipt
    producer = person(browser, stack.portal, "htx-dong-hung", "Chủ thể sản xuất (nộp hồ sơ)")
    expect(producer.get_by_role("heading", name="Hồ sơ của tôi")).to_be_visible()
    (tmp_path / "phieu-dang-ky.pdf").write_bytes(a_pdf(producer, "Phiếu đăng ký sản phẩm"))
    (tmp_path / "phieu-kiem-nghiem.pdf").write_bytes(a_pdf(producer, "Phiếu kết quả kiểm nghiệm"))
    producer.goto(f"{stack.portal}/dot/{round_id}/nop-ho-so")
    expect(producer.get_by_label("Số đăng ký kinh doanh / mã số hợp tác xã")).to_have_value(REGNO)
    fill_filing_form(producer, tmp_path / "phieu-dang-ky.pdf")
    producer.get_by_role("button", name="Nộp hồ sơ", exact=True).click()
    expect(producer.get_by_role("heading", name="PHIẾU TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ")).to_be_visible(
        timeout=30_000)
    expect(producer.get_by_text("phieu-dang-ky.pdf")).to_be_visible()
    dossier_id = producer.url.split("/ho-so/")[1].split("/")[0]
    shot(producer, "phieu-tiep-nhan")
    producer.emulate_media(media="print")
    printed = SHOTS / "toan-trinh-phieu-tiep-nhan.pdf"
    producer.pdf(path=str(printed), prefer_css_page_size=True)
    assert printed.read_bytes().startswith(b"%PDF")
    print(f"[printed] {printed}")
    producer.emulate_media(media="screen")
    with stack.client("intake", "mot-cua", "secretariat") as counter:
        number = counter.get(f"/dossiers/{dossier_id}").json()["receipt_number"]

    # the secretariat, signed in, lands on its rounds; asks in writing for the missing test report
    office = person(browser, stack.portal, "tran-thi-mai", "Tổ giúp việc (tiếp nhận hồ sơ)")
    expect(office.get_by_role("heading", name="Các đợt đánh giá, phân hạng")).to_be_visible()
    office.get_by_role("link", name="TT1").click()
    eventually(lambda: office.reload() and office.get_by_role("link", name=number).count(),
               "the filed dossier on the round's dashboard")
    shot(office, "bang-theo-doi")
    office.get_by_role("link", name=number).first.click()
    expect(office.get_by_role("heading", name=f"Kiểm tra tính đầy đủ của hồ sơ số {number}")).to_be_visible()
    office.get_by_label("Loại tài liệu").first.select_option("test_report")
    office.get_by_label("Mô tả nội dung còn thiếu 1").fill("Phiếu kết quả kiểm nghiệm chỉ tiêu an toàn")
    office.get_by_label("Lý do yêu cầu bổ sung").fill("Hồ sơ thiếu phiếu kết quả kiểm nghiệm")
    office.get_by_role("button", name="Gửi yêu cầu bổ sung").click()
    expect(office.get_by_role("status")).to_have_text("Đã gửi văn bản yêu cầu bổ sung hồ sơ tới chủ thể.")

    # the producer supplies it
    producer.goto(f"{stack.portal}/ho-so/{dossier_id}")
    expect(producer.get_by_role("heading", name="Yêu cầu bổ sung hồ sơ (lần 1)")).to_be_visible()
    producer.get_by_label("Tài liệu bổ sung (PDF, JPEG hoặc PNG)").set_input_files(
        str(tmp_path / "phieu-kiem-nghiem.pdf"))
    producer.get_by_role("button", name="Gửi tài liệu bổ sung").click()
    expect(producer.get_by_text("Trạng thái: Đã bổ sung")).to_be_visible()

    # the secretariat accepts, classifying the product for the score sheet
    eventually(lambda: office.reload() and office.get_by_text("Trạng thái: Đã bổ sung").count(),
               "the supplement on the check page")
    expect(office.get_by_role("link", name="phieu-kiem-nghiem.pdf")).to_be_visible()
    office.get_by_label("Mã mẫu (mã hóa sản phẩm khi chấm điểm)").fill("BG-001")
    office.get_by_role("button", name="Xác nhận hồ sơ hợp lệ").click()
    expect(office.get_by_role("status")).to_have_text("Hồ sơ hợp lệ, đã chuyển hội đồng đánh giá.")
    shot(office, "da-tiep-nhan")
    with stack.client("scoring", "to-giup-viec", "secretariat") as scoring:
        eventually(lambda: scoring.get(f"/dossiers/{dossier_id}").status_code == 200, "scoring to open it")

    the_council_decides(browser, stack.portal, PANEL, PRODUCT, shot, FOUR_STARS)
    with stack.client("certification", "to-giup-viec", "secretariat") as certification:
        eventually(lambda: certification.get("/certificates", params={"dossier_id": dossier_id}).json()["items"],
                   "certification to issue the dossier's certificate", seconds=90)

    # the producer sees the result once certification has issued the certificate, and downloads it
    producer.goto(f"{stack.portal}/ho-so/{dossier_id}")
    producer.get_by_role("link", name="Kết quả đánh giá").click()
    eventually(lambda: producer.reload() and producer.get_by_role("heading", name=re.compile("^Giấy chứng nhận số"))
               .count(), "the certificate on the result page", seconds=90)
    shot(producer, "ket-qua")
    expect(producer.get_by_text("Trạng thái: Còn hiệu lực")).to_be_visible()
    certificate_number = producer.get_by_role("heading", name=re.compile("^Giấy chứng nhận số")).inner_text().rsplit(
        " ", 1)[1]
    with producer.expect_download() as download:
        producer.get_by_role("link", name="Tải giấy chứng nhận (PDF)").click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    certificate = SHOTS / "toan-trinh-giay-chung-nhan.pdf"
    certificate.write_bytes(pdf)
    print(f"[certificate] {certificate}")

    # its QR code opens the public verify page, which says it is valid
    verify = qr_text(pdf)
    assert verify == f"{stack.urls['certification']}/verify/{certificate_number}"
    buyer = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN").new_page()
    answer = buyer.goto(verify)
    assert answer is not None and answer.status == 200
    expect(buyer.get_by_text(re.compile("còn hiệu lực", re.IGNORECASE)).first).to_be_visible()
    expect(buyer.get_by_text(PRODUCT).first).to_be_visible()
    shot(buyer, "xac-minh")
    print("[screenshots]", *shot.taken, sep="\n  ")
