"""The Vietnamese PDF certificate: text (as a PDF reader extracts it), the rendered page, its QR code, determinism."""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from certification.adapters.pdf import find_font_files, render_certificate_pdf

FONT, BOLD_FONT = find_font_files(None)
PREVIEW = Path(__file__).resolve().parents[4] / ".run" / "certificate-preview.png"

SHORT_NAME = "Mật ong rừng Lục Nam – Bắc Giang"
LONG_NAME = "Rượu nếp cẩm Đông Hưng ủ men lá truyền thống của đồng bào dân tộc Tày huyện Lục Ngạn"
VERIFY_URL = "https://binhchon.example.vn/xac-minh/OCOP-UBNDTBG-2026-00001?k=3f9a1c0be27d"


def make_cert(**overrides: Any) -> dict[str, Any]:
    cert: dict[str, Any] = {
        "number": "OCOP-UBNDTBG-2026-00001",
        "programme": "OCOP",
        "level": "province",
        "product_name": SHORT_NAME,
        "producer_name": "Hợp tác xã Nông nghiệp Đông Hưng",
        "producer_address": "Thôn Đồng Bụt, xã Đông Hưng, huyện Lục Nam, tỉnh Bắc Giang",
        "rating_label": "5 sao",
        "stars": 5,
        "points": 92.5,
        "decision": {
            "number": "1234/QĐ-UBND",
            "date": "2026-03-15",
            "signer": "Nguyễn Văn Hùng",
            "authority": "Ủy ban nhân dân tỉnh Bắc Giang",
        },
        "issued_on": "2026-03-20",
        "valid_until": "2029-03-20",
        "issuer": "Ủy ban nhân dân tỉnh Bắc Giang",
        "status": "valid",
    }
    cert.update(overrides)
    return cert


def render(cert: dict[str, Any], url: str = VERIFY_URL) -> bytes:
    return render_certificate_pdf(cert, url, font_file=FONT, bold_font_file=BOLD_FONT)


def page_text(pdf: bytes) -> str:
    """The page's text with runs of whitespace (including the breaks of wrapped lines) made single spaces."""
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return " ".join(reader.pages[0].extract_text().split())


def render_page(pdf: bytes) -> Image.Image:
    document = pdfium.PdfDocument(pdf)
    try:
        image: Image.Image = document[0].render(scale=2).to_pil().convert("RGB")
        return image
    finally:
        document.close()


@pytest.mark.parametrize(
    "name",
    [SHORT_NAME, LONG_NAME, unicodedata.normalize("NFD", LONG_NAME)],
    ids=["short", "long", "long-decomposed-input"],
)
def test_text_carries_the_vietnamese_particulars_in_nfc(name: str) -> None:
    text = page_text(render(make_cert(product_name=name)))

    assert unicodedata.is_normalized("NFC", text)
    assert unicodedata.normalize("NFC", name) in text
    for expected in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "ỦY BAN NHÂN DÂN TỈNH BẮC GIANG",
        "GIẤY CHỨNG NHẬN",
        "SẢN PHẨM OCOP ĐẠT 5 SAO",
        "★",
        "Chủ thể: Hợp tác xã Nông nghiệp Đông Hưng",
        "Địa chỉ: Thôn Đồng Bụt, xã Đông Hưng, huyện Lục Nam, tỉnh Bắc Giang",
        "Điểm đánh giá: 92,50",
        "Theo Quyết định số 1234/QĐ-UBND ngày 15/03/2026 của Ủy ban nhân dân tỉnh Bắc Giang",
        "Số chứng nhận: OCOP-UBNDTBG-2026-00001",
        "Ngày cấp: 20/03/2026",
        "Có giá trị đến: 20/03/2029",
        "Nguyễn Văn Hùng",
        "Quét mã để kiểm tra chứng nhận",
        VERIFY_URL,
    ):
        assert expected in text, expected
    assert "valid" not in text  # the status is not printed


def test_metadata_names_the_certificate() -> None:
    meta = PdfReader(io.BytesIO(render(make_cert()))).metadata
    assert meta is not None
    assert meta.title == "Giấy chứng nhận OCOP-UBNDTBG-2026-00001"
    assert meta.author == "Ủy ban nhân dân tỉnh Bắc Giang"
    assert meta.subject is not None and SHORT_NAME in meta.subject and "OCOP" in meta.subject


def test_without_an_expiry_date_no_validity_line_is_printed() -> None:
    text = page_text(render(make_cert(valid_until=None)))
    assert "Có giá trị đến" not in text
    assert "Ngày cấp: 20/03/2026" in text


def test_rendered_page_is_landscape_and_its_qr_code_gives_back_the_verify_url() -> None:
    image = render_page(render(make_cert(product_name=LONG_NAME)))
    PREVIEW.parent.mkdir(parents=True, exist_ok=True)
    image.save(PREVIEW)

    width, height = image.size
    assert width > height
    assert (width, height) == pytest.approx((1684, 1191), abs=2)  # A4 landscape at 144 dpi
    histogram = image.convert("L").histogram()
    ink = sum(histogram[:235]) / (width * height)
    assert 0.03 < ink < 0.35, ink

    codes = zxingcpp.read_barcodes(image)
    assert [(code.format, code.text) for code in codes] == [(zxingcpp.BarcodeFormat.QRCode, VERIFY_URL)]


def test_a_long_verify_url_is_still_readable_from_the_qr_code() -> None:
    url = VERIFY_URL + "&sig=" + "Zm9vYmFyYmF6" * 12
    image = render_page(render(make_cert(), url))
    codes = zxingcpp.read_barcodes(image)
    assert [(code.format, code.text) for code in codes] == [(zxingcpp.BarcodeFormat.QRCode, url)]


@pytest.mark.parametrize(
    ("level", "vietnamese"),
    [("commune", "XÃ"), ("district", "HUYỆN"), ("province", "TỈNH"), ("region", "KHU VỰC"), ("national", "QUỐC GIA")],
)
def test_cnnttb_certificate_names_the_programme_and_level_in_vietnamese(level: str, vietnamese: str) -> None:
    cert = make_cert(
        number="CNNTTB-BCT-2026-00007",
        programme="CNNTTB",
        level=level,
        product_name="Bộ ấm chén gốm men lam Thổ Hà",
        rating_label="Đạt",
        stars=None,
        points=81.25,
    )
    text = page_text(render(cert))

    assert f"SẢN PHẨM CÔNG NGHIỆP NÔNG THÔN TIÊU BIỂU CẤP {vietnamese}" in text
    assert "Bộ ấm chén gốm men lam Thổ Hà" in text
    assert "Điểm đánh giá: 81,25" in text
    assert "Kết quả: Đạt" in text
    assert "Số chứng nhận: CNNTTB-BCT-2026-00007" in text
    assert "SẢN PHẨM OCOP" not in text
    assert "★" not in text


def test_an_unknown_level_or_programme_is_refused() -> None:
    with pytest.raises(ValueError, match="level"):
        render(make_cert(programme="CNNTTB", level="galaxy", stars=None))
    with pytest.raises(ValueError, match="programme"):
        render(make_cert(programme="XYZ"))


def test_a_missing_font_file_is_reported_with_its_path_and_the_fix(tmp_path: Path) -> None:
    missing = str(tmp_path / "NoSuchFont.ttf")

    with pytest.raises(FileNotFoundError, match=r"NoSuchFont\.ttf") as found:
        find_font_files(missing)
    assert missing in str(found.value)
    assert "fonts-dejavu-core" in str(found.value)
    assert "CERT_FONT_FILE" in str(found.value)

    with pytest.raises(FileNotFoundError, match=r"NoSuchFont\.ttf"):
        render_certificate_pdf(make_cert(), VERIFY_URL, font_file=missing, bold_font_file=BOLD_FONT)


def test_find_font_files_defaults_to_dejavu_and_pairs_a_custom_font_with_its_bold_sibling(tmp_path: Path) -> None:
    assert (FONT, BOLD_FONT) == (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    )
    regular = tmp_path / "Custom.ttf"
    regular.write_bytes(Path(FONT).read_bytes())
    assert find_font_files(str(regular)) == (str(regular), str(regular))
    bold = tmp_path / "Custom-Bold.ttf"
    bold.write_bytes(Path(BOLD_FONT).read_bytes())
    assert find_font_files(str(regular)) == (str(regular), str(bold))


def test_the_same_certificate_renders_to_the_same_bytes() -> None:
    first = render(make_cert(product_name=LONG_NAME))
    second = render(make_cert(product_name=LONG_NAME))
    assert first.startswith(b"%PDF-")
    assert first == second
    assert render(make_cert(number="OCOP-UBNDTBG-2026-00002")) != first
