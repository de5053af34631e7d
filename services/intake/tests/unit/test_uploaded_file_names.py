"""An uploaded file's name is kept as a name only (ADR 0045): no path, no control character (NUL cuts it short in
C libraries; CR/LF would forge header lines when the name is sent on in a Content-Disposition)."""

from __future__ import annotations

import pytest

from intake.adapters.document_routes import attachment
from intake.adapters.uploads import plain_file_name


@pytest.mark.parametrize(("given", "kept"), [
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\htx\\Phiếu đăng ký.pdf", "Phiếu đăng ký.pdf"),
    ("bao-cao\r\nX-Evil: 1.pdf", "bao-caoX-Evil: 1.pdf"),
    ("a\x00b\u200b.pdf", "ab.pdf"),
    ("Phie\u0301u.pdf", "Phiéu.pdf"),  # NFC
    ("..", "tai-lieu"), ("", "tai-lieu"), (None, "tai-lieu"),
    ("x" * 300, "x" * 200),
])
def test_a_file_name_is_a_name(given, kept):
    assert plain_file_name(given) == kept


def test_the_attachment_header_carries_no_quote_or_line_break():
    header = attachment('Phiếu "đăng ký".pdf')
    assert header.startswith('attachment; filename="Phi_u ___ng k__.pdf"; ')
    assert "\r" not in header and "\n" not in header and header.count('"') == 2
    assert header.endswith("filename*=UTF-8''Phi%E1%BA%BFu%20%22%C4%91%C4%83ng%20k%C3%BD%22.pdf")
