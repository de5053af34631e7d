"""CSV as the services export it: cells a spreadsheet would take for a formula are neutralised (issue 13).

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel, LibreOffice and
Google Sheets (``=HYPERLINK(…)``, ``=cmd|' /C calc'!A0``): such a cell gets a leading apostrophe, which the
spreadsheet shows as text and does not display (OWASP's CSV injection advice). Numbers the service computes are
written as they are; only text that came from someone is neutralised.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(header: list[str], rows: Iterable[list[object]]) -> str:
    """A UTF-8 CSV with a byte-order mark (so that Excel reads Vietnamese), every cell through ``csv_cell``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([csv_cell(cell) for cell in row])
    return "\ufeff" + out.getvalue()
