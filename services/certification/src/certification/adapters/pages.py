"""Public pages in Vietnamese, server-rendered, readable on a phone: verification and the registry."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from html import escape
from typing import Any
from urllib.parse import urlencode

LEVELS = {"commune": "cấp xã", "district": "cấp huyện", "province": "cấp tỉnh", "region": "cấp khu vực",
          "national": "cấp quốc gia"}
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1rem;max-width:48rem;
margin-inline:auto;line-height:1.5;color:#1b1b1b}h1{font-size:1.4rem}table{border-collapse:collapse;width:100%}
td,th{padding:.4rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.status{padding:.8rem;border-radius:.5rem;font-weight:600;margin:1rem 0}.valid{background:#e3f6e8;color:#0b5d24}
.revoked{background:#fde8e8;color:#8a1414}.expired,.superseded{background:#fff4d6;color:#6b4d00}
form{display:flex;flex-wrap:wrap;gap:.5rem;margin:1rem 0}input,select,button{font-size:1rem;padding:.35rem}
@media (max-width:30rem){td,th{display:block;border:0}tr{display:block;border-bottom:1px solid #ddd}}
"""


def page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width,initial-scale=1"><title>{escape(title)}</title><style>{STYLE}</style>'
            f"</head><body>{body}</body></html>")


def _day(value: str | None) -> str:
    return date.fromisoformat(value).strftime("%d/%m/%Y") if value else "—"


def rating(doc: Mapping[str, Any]) -> str:
    if doc["programme"] == "OCOP":
        return f"Sản phẩm OCOP {escape(doc['rating_label'])}"
    return f"Sản phẩm công nghiệp nông thôn tiêu biểu {LEVELS.get(doc['level'], '')}"


def verify_page(doc: Mapping[str, Any], status: str) -> str:
    message = {
        "valid": "Chứng nhận CÒN HIỆU LỰC",
        "expired": f"Chứng nhận ĐÃ HẾT HIỆU LỰC từ ngày {_day(doc.get('valid_until'))}",
        "superseded": f"Chứng nhận đã được thay thế bởi chứng nhận số {escape(doc.get('superseded_by') or '')}",
        "revoked": "Chứng nhận ĐÃ BỊ THU HỒI",
    }[status]
    revoked = doc.get("revoked") or {}
    why = (f"<p>Ngày thu hồi: {_day(revoked.get('revoked_on'))}. Lý do: {escape(revoked.get('reason', ''))}</p>"
           if status == "revoked" else "")
    d = doc["decision"]
    rows = [
        ("Số chứng nhận", escape(doc["number"])), ("Sản phẩm", escape(doc["product_name"])),
        ("Chủ thể", escape(doc["holder"]["name"])), ("Địa chỉ", escape(doc["holder"]["address"])),
        ("Kết quả", rating(doc)), ("Điểm", f"{doc['points']:.2f}".replace(".", ",")),
        ("Quyết định", f"Số {escape(d['number'])} ngày {_day(d['date'])} của {escape(d['authority'])}"),
        ("Ngày cấp", _day(doc["issued_on"])), ("Có giá trị đến", _day(doc.get("valid_until"))),
    ]
    if shown := displayed(doc.get("displayed_at") or []):
        rows.append(("Trưng bày tại", shown))
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    number = escape(doc["number"])
    return page(f"Kiểm tra chứng nhận {doc['number']}", (
        f"<h1>Kiểm tra giấy chứng nhận</h1><div class='status {status}'>{message}</div>{why}<table>{table}</table>"
        f"<p><a href='/certificates/{number}.pdf'>Tải giấy chứng nhận (PDF)</a> · "
        f"<a href='/certificates/{number}'>Bản ký số (JSON)</a> · <a href='/registry'>Danh sách sản phẩm</a></p>"))


def displayed(displays: list[Mapping[str, Any]]) -> str:
    """Where the product was displayed (trưng bày tại …): each event, its place and its days."""
    def days(d: Mapping[str, Any]) -> str:
        return _day(d["on"]) + (f"–{_day(d['until'])}" if d.get("until") else "")

    return "<br>".join(f"{escape(d['exhibition'])}, {escape(d['place'])} ({days(d)})" for d in displays)


def not_found_page(number: str) -> str:
    return page("Không tìm thấy chứng nhận", f"<h1>Không tìm thấy</h1><div class='status revoked'>"
                f"Không có giấy chứng nhận số {escape(number)} trong hệ thống.</div>")


def _shown_at(doc: Mapping[str, Any]) -> str:
    shown = displayed(doc.get("displayed_at") or [])
    return f"<br><small>Trưng bày tại: {shown}</small>" if shown else ""


def registry_page(items: list[dict[str, Any]], filters: dict[str, Any], following: str | None, limit: int,
                  first: bool) -> str:
    """One page of the registry; "Sau →" carries the next page's cursor, "Về đầu" goes back to the first page
    (pages are cut by key, not counted: ADR 0015)."""
    rows = "".join(
        f"<tr><td><a href='/verify/{escape(d['number'])}'>{escape(d['number'])}</a></td>"
        f"<td>{escape(d['product_name'])}{_shown_at(d)}</td><td>{escape(d['holder']['name'])}</td><td>{rating(d)}</td>"
        f"<td>{_day(d['issued_on'])}</td></tr>" for d in items)
    options = "".join(f"<option value='{v}'{' selected' if filters.get('programme') == v else ''}>{v}</option>"
                      for v in ("", "OCOP", "CNNTTB"))
    def field(name: str, label: str) -> str:
        return f"<input name='{name}' placeholder='{label}' value='{escape(str(filters.get(name) or ''))}'>"

    form = (f"<form method='get'><select name='programme'>{options}</select>{field('province_code', 'Mã tỉnh')}"
            f"{field('stars', 'Số sao')}{field('year', 'Năm')}<button>Lọc</button></form>")
    query = {k: v for k, v in filters.items() if v}
    if limit != 50:
        query["limit"] = limit
    nav = []
    if not first:
        nav.append(f"<a href='?{escape(urlencode(query))}'>← Về đầu</a>")
    if following:
        nav.append(f"<a href='?{escape(urlencode({**query, 'after': following}))}'>Sau →</a>")
    empty = "" if items else "<p>Không có sản phẩm nào.</p>"
    return page("Danh sách sản phẩm được chứng nhận", (
        f"<h1>Sản phẩm được chứng nhận</h1>{form}<table><tr><th>Số</th><th>Sản phẩm</th>"
        f"<th>Chủ thể</th><th>Kết quả</th><th>Ngày cấp</th></tr>{rows}</table>{empty}<p>{' · '.join(nav)}</p>"))
