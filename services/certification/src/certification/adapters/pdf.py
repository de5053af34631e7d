"""The Vietnamese certificate (giấy chứng nhận) as a one-page PDF, A4 landscape.

Self-contained: it takes a plain mapping describing the certificate and the public verification URL, and returns
the PDF bytes. Fonts are TrueType files registered with reportlab and embedded (subset), so every Vietnamese
diacritic renders whatever the reader has installed; text is NFC-normalised first because reportlab does no
shaping, and a decomposed "ệ" (e + combining marks) would not stack its marks on the base letter.

The same input gives the same bytes (the canvas is built with ``invariant=1``: fixed creation date and file id).
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

__all__ = ["DEFAULT_BOLD_FONT_FILE", "DEFAULT_FONT_FILE", "find_font_files", "render_certificate_pdf"]

DEFAULT_FONT_DIR = "/usr/share/fonts/truetype/dejavu"
DEFAULT_FONT_FILE = os.path.join(DEFAULT_FONT_DIR, "DejaVuSans.ttf")
DEFAULT_BOLD_FONT_FILE = os.path.join(DEFAULT_FONT_DIR, "DejaVuSans-Bold.ttf")

LEVELS_VI: Mapping[str, str] = {
    "commune": "xã",
    "district": "huyện",
    "province": "tỉnh",
    "region": "khu vực",
    "national": "quốc gia",
}

PAGE_W: float = float(landscape(A4)[0])
PAGE_H: float = float(landscape(A4)[1])

RED = HexColor("#9b1c1c")
GOLD = HexColor("#c8960c")
INK = HexColor("#1a1a1a")
NAVY = HexColor("#12315e")
GREY = HexColor("#555555")

STAR = "\u2605"  # ★

# the content box, inside the decorative frame
_MARGIN_X = 58.0
_CONTENT_W = PAGE_W - 2 * _MARGIN_X
# the bottom band (QR code, number and dates, signature) sits below this line; the middle block stays above it
_BOTTOM_BAND_TOP = 180.0

_register_lock = threading.Lock()


# ---------------------------------------------------------------------------------------------------------- fonts


def _missing_font_error(path: str) -> FileNotFoundError:
    return FileNotFoundError(
        f"certificate font not found: {path}. Install it (`apt-get install fonts-dejavu-core`) "
        f"or set CERT_FONT_FILE to a TrueType font with Vietnamese glyphs "
        f"(its bold face is looked up beside it as NAME-Bold.ttf)."
    )


def find_font_files(font_file: str | None) -> tuple[str, str]:
    """The regular and bold TrueType files to draw certificates with.

    ``font_file`` is the regular face (typically the CERT_FONT_FILE setting); ``None`` means DejaVu Sans from the
    Debian package fonts-dejavu-core. The bold face is the sibling ``NAME-Bold.ttf`` if there is one, otherwise the
    regular face is used for both. Raises FileNotFoundError naming the missing file and the fix.
    """
    if font_file is None:
        regular, bold = DEFAULT_FONT_FILE, DEFAULT_BOLD_FONT_FILE
        for path in (regular, bold):
            if not os.path.isfile(path):
                raise _missing_font_error(path)
        return regular, bold
    if not os.path.isfile(font_file):
        raise _missing_font_error(font_file)
    stem, ext = os.path.splitext(font_file)
    bold_candidate = f"{stem}-Bold{ext or '.ttf'}"
    return font_file, bold_candidate if os.path.isfile(bold_candidate) else font_file


def _register_font(path: str) -> str:
    """Register a TTF once under a name derived from its absolute path; return that name."""
    if not os.path.isfile(path):
        raise _missing_font_error(path)
    absolute = os.path.abspath(path)
    stem = os.path.splitext(os.path.basename(absolute))[0]
    name = f"Cert-{stem}-{hashlib.sha1(absolute.encode()).hexdigest()[:8]}"
    with _register_lock:
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, absolute))
    return name


def _has_glyphs(font_name: str, text: str) -> bool:
    font = pdfmetrics.getFont(font_name)
    char_to_glyph = getattr(getattr(font, "face", None), "charToGlyph", None)
    if char_to_glyph is None:
        return False
    return all(ord(ch) in char_to_glyph for ch in text)


# ---------------------------------------------------------------------------------------------------------- text


def _nfc(value: Any) -> str:
    return unicodedata.normalize("NFC", "" if value is None else str(value)).strip()


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()


def _vn_date(value: Any) -> str:
    return _as_date(value).strftime("%d/%m/%Y")


def _vn_decimal(value: Any, places: int = 2) -> str:
    """92.5 -> "92,50" (Vietnamese decimal comma)."""
    return f"{float(value):.{places}f}".replace(".", ",")


def _title_line(cert: Mapping[str, Any]) -> str:
    programme = _nfc(cert.get("programme")).upper()
    if programme == "OCOP":
        stars = cert.get("stars")
        if stars is not None:
            return f"SẢN PHẨM OCOP ĐẠT {int(stars)} SAO"
        label = _nfc(cert.get("rating_label"))
        return f"SẢN PHẨM OCOP {label.upper()}".strip()
    if programme == "CNNTTB":
        level = _nfc(cert.get("level"))
        try:
            level_vi = LEVELS_VI[level]
        except KeyError:
            raise ValueError(f"unknown certificate level {level!r}; expected one of {sorted(LEVELS_VI)}") from None
        return f"SẢN PHẨM CÔNG NGHIỆP NÔNG THÔN TIÊU BIỂU CẤP {level_vi.upper()}"
    raise ValueError(f"unknown programme {programme!r}; expected OCOP or CNNTTB")


# ---------------------------------------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class _Block:
    """Centred lines of one style, with the space above the first baseline."""

    lines: Sequence[str]
    font: str
    size: float
    color: Color
    leading: float
    space_before: float

    @property
    def height(self) -> float:
        return self.space_before + self.leading * (len(self.lines) - 1)


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    return simpleSplit(text, font, size, width) or [""]


def _wrap_anywhere(text: str, font: str, size: float, width: float, max_lines: int) -> list[str]:
    """Break ``text`` at any character (URLs have no spaces); the last line ends with "…" if it had to be cut."""
    lines: list[str] = []
    current = ""
    for ch in text:
        if current and pdfmetrics.stringWidth(current + ch, font, size) > width:
            lines.append(current)
            current = ""
        current += ch
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and pdfmetrics.stringWidth(last + "…", font, size) > width:
            last = last[:-1]
        lines = [*lines[: max_lines - 1], last + "…"]
    return lines


def _fit(
    text: str, font: str, largest: float, smallest: float, width: float, max_lines: int
) -> tuple[float, list[str]]:
    """The largest size (in 1-point steps) at which ``text`` wraps into at most ``max_lines`` lines of ``width``."""
    size = largest
    while True:
        lines = _wrap(text, font, size, width)
        if len(lines) <= max_lines or size - 1 < smallest:
            return size, _balance(text, font, size, width, lines)
        size -= 1


def _balance(text: str, font: str, size: float, width: float, lines: list[str]) -> list[str]:
    """Re-wrap into the same number of lines at the narrowest width that allows it, so no word is left alone."""
    if len(lines) < 2:
        return lines
    low, high = 0.0, width
    while high - low > 2:
        mid = (low + high) / 2
        if len(_wrap(text, font, size, mid)) <= len(lines):
            high = mid
        else:
            low = mid
    return _wrap(text, font, size, high)


def _middle_blocks(cert: Mapping[str, Any], regular: str, bold: str, scale: float) -> list[_Block]:
    blocks: list[_Block] = []

    def add(
        text: str,
        font: str,
        size: float,
        color: Color,
        space_before: float,
        *,
        max_lines: int = 2,
        smallest: float | None = None,
        leading: float = 1.22,
    ) -> None:
        s = size * scale
        size_used, lines = _fit(text, font, s, smallest * scale if smallest else s, _CONTENT_W - 40, max_lines)
        blocks.append(_Block(lines, font, size_used, color, size_used * leading, space_before * scale))

    add("GIẤY CHỨNG NHẬN", bold, 36, RED, 0, max_lines=1)
    add(_title_line(cert), bold, 17, NAVY, 30, max_lines=2, smallest=12)
    stars = cert.get("stars")
    if _nfc(cert.get("programme")).upper() == "OCOP" and stars and _has_glyphs(regular, STAR):
        blocks.append(_Block([" ".join(STAR * int(stars))], regular, 22 * scale, GOLD, 22 * scale, 30 * scale))
    add(_nfc(cert.get("product_name")), bold, 26, INK, 38, max_lines=2, smallest=16)
    # prefer one slightly smaller line to a wrapped one; wrap at the smallest size if even that is too long
    add(f"Chủ thể: {_nfc(cert.get('producer_name'))}", bold, 13, INK, 34, max_lines=1, smallest=11)
    add(f"Địa chỉ: {_nfc(cert.get('producer_address'))}", regular, 11.5, INK, 18, max_lines=1, smallest=10)
    result = f"Điểm đánh giá: {_vn_decimal(cert.get('points', 0))}"
    label = _nfc(cert.get("rating_label"))
    if label:
        result += f"   –   Kết quả: {label}"
    add(result, regular, 12, INK, 22)
    decision = cert.get("decision") or {}
    reference = (
        f"Theo Quyết định số {_nfc(decision.get('number'))} ngày {_vn_date(decision.get('date'))} "
        f"của {_nfc(decision.get('authority'))}"
    )
    add(reference, regular, 11, GREY, 20, max_lines=1, smallest=9.5)
    return blocks


def _draw_frame(c: Canvas) -> None:
    c.saveState()
    c.setStrokeColor(RED)
    c.setLineWidth(3)
    c.rect(20, 20, PAGE_W - 40, PAGE_H - 40)
    c.setStrokeColor(GOLD)
    c.setLineWidth(0.9)
    c.rect(27, 27, PAGE_W - 54, PAGE_H - 54)
    # small gold squares in the corners of the inner frame
    for x, y in ((27, 27), (PAGE_W - 27, 27), (27, PAGE_H - 27), (PAGE_W - 27, PAGE_H - 27)):
        c.setFillColor(GOLD)
        c.rect(x - 3.5, y - 3.5, 7, 7, stroke=0, fill=1)
    c.restoreState()


def _draw_header(c: Canvas, cert: Mapping[str, Any], bold: str) -> float:
    """Draw the issuer (left) and the national motto (right); return the lowest y the header reaches."""
    top = PAGE_H - 66
    col_w = 300.0
    # left: the issuing body, upper case as on administrative documents
    left_x = _MARGIN_X + col_w / 2
    issuer = _nfc(cert.get("issuer")).upper()
    issuer_lines = _balance(issuer, bold, 11, col_w, _wrap(issuer, bold, 11, col_w))[:3]
    c.setFillColor(INK)
    c.setFont(bold, 11)
    y = top
    for i, line in enumerate(issuer_lines):
        if i:
            y -= 14
        c.drawCentredString(left_x, y, line)
    c.setStrokeColor(INK)
    c.setLineWidth(0.6)
    c.line(left_x - 35, y - 7, left_x + 35, y - 7)
    # right: the national motto
    right_x = PAGE_W - _MARGIN_X - col_w / 2
    c.setFont(bold, 11)
    c.drawCentredString(right_x, top, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
    motto = "Độc lập - Tự do - Hạnh phúc"
    c.setFont(bold, 11.5)
    c.drawCentredString(right_x, top - 15, motto)
    half = pdfmetrics.stringWidth(motto, bold, 11.5) / 2
    c.line(right_x - half, top - 19.5, right_x + half, top - 19.5)
    return min(y - 7, top - 19.5)


def _draw_middle(c: Canvas, cert: Mapping[str, Any], regular: str, bold: str, header_bottom: float) -> None:
    top_baseline = min(PAGE_H - 150, header_bottom - 48)
    scale = 1.0
    while True:
        blocks = _middle_blocks(cert, regular, bold, scale)
        bottom = top_baseline - sum(b.height for b in blocks)
        if bottom >= _BOTTOM_BAND_TOP + 12 or scale <= 0.7:
            break
        scale -= 0.05
    # share out what is left between the gaps, so a short certificate does not leave a hole above the bottom band
    slack = max(0.0, bottom - (_BOTTOM_BAND_TOP + 12))
    gaps = max(1, len(blocks) - 1)
    spread = min(slack * 0.6 / gaps, 10.0)
    y = top_baseline - min(slack - spread * gaps, 40.0) / 2
    centre = PAGE_W / 2
    for index, block in enumerate(blocks):
        y -= block.space_before + (spread if index else 0.0)
        c.setFillColor(block.color)
        c.setFont(block.font, block.size)
        for i, line in enumerate(block.lines):
            if i:
                y -= block.leading
            c.drawCentredString(centre, y, line)


def _draw_qr(c: Canvas, verify_url: str, regular: str, bold: str) -> None:
    size = 112.0
    x, y = _MARGIN_X - 6, 64.0  # the widget's own quiet zone (4 modules) shifts the visible code inwards
    widget = QrCodeWidget(verify_url)
    widget.barLevel = "M"
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, c, x, y)
    text_x = _MARGIN_X + 2
    c.setFillColor(INK)
    c.setFont(bold, 8.5)
    c.drawString(text_x, y - 2, "Quét mã để kiểm tra chứng nhận")
    c.setFillColor(GREY)
    c.setFont(regular, 6.5)
    line_y = y - 12
    for line in _wrap_anywhere(verify_url, regular, 6.5, 400, 2):
        c.drawString(text_x, line_y, line)
        line_y -= 8


def _draw_particulars(c: Canvas, cert: Mapping[str, Any], regular: str, bold: str) -> None:
    x = _MARGIN_X + 150
    y = 150.0
    rows = [("Số chứng nhận: ", _nfc(cert.get("number")))]
    rows.append(("Ngày cấp: ", _vn_date(cert.get("issued_on"))))
    if cert.get("valid_until"):
        rows.append(("Có giá trị đến: ", _vn_date(cert.get("valid_until"))))
    for label, value in rows:
        # one text object per row, so the label and its value extract as one line
        text = c.beginText(x, y)
        text.setFillColor(INK)
        text.setFont(regular, 11)
        text.textOut(label)
        text.setFont(bold, 11)
        text.textOut(value)
        c.drawText(text)
        y -= 19


def _draw_signature(c: Canvas, cert: Mapping[str, Any], bold: str) -> None:
    col_w = 270.0
    centre = PAGE_W - _MARGIN_X - col_w / 2
    decision = cert.get("decision") or {}
    body = _nfc(decision.get("authority") or cert.get("issuer")).upper()
    c.setFillColor(INK)
    c.setFont(bold, 10.5)
    y = 160.0
    for line in _balance(body, bold, 10.5, col_w, _wrap(body, bold, 10.5, col_w))[:3]:
        c.drawCentredString(centre, y, line)
        y -= 13.5
    signer = _nfc(decision.get("signer"))
    size, lines = _fit(signer, bold, 13, 10, col_w, 1)
    c.setFont(bold, size)
    c.drawCentredString(centre, 62, lines[0])


def render_certificate_pdf(cert: Mapping[str, Any], verify_url: str, *, font_file: str, bold_font_file: str) -> bytes:
    """Render ``cert`` as a one-page A4-landscape PDF whose QR code encodes ``verify_url``.

    ``cert`` keys: number, programme ("OCOP"|"CNNTTB"), level, product_name, producer_name, producer_address,
    rating_label, stars, points, decision {number, date, signer, authority}, issued_on, valid_until, issuer
    (status is not printed). Dates are ISO strings (or date objects) and are printed dd/mm/yyyy.
    """
    regular = _register_font(font_file)
    bold = _register_font(bold_font_file)
    title_line = _title_line(cert)
    number = _nfc(cert.get("number"))
    product = _nfc(cert.get("product_name"))

    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=(PAGE_W, PAGE_H), invariant=1, pageCompression=1, lang="vi-VN")
    c.setTitle(f"Giấy chứng nhận {number}")
    c.setAuthor(_nfc(cert.get("issuer")))
    c.setSubject(f"{title_line} – {product}")
    c.setKeywords([cert.get("programme") or "", number])
    c.setCreator("binhchon certification")

    _draw_frame(c)
    header_bottom = _draw_header(c, cert, bold)
    _draw_middle(c, cert, regular, bold, header_bottom)
    _draw_qr(c, verify_url, regular, bold)
    _draw_particulars(c, cert, regular, bold)
    _draw_signature(c, cert, bold)
    c.showPage()
    c.save()
    return buffer.getvalue()
