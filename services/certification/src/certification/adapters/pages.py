"""Public pages in Vietnamese, server-rendered from Jinja2 templates (autoescaped), mobile first: verification (a
buyer scanning the certificate's QR on a phone) and the registry. They wear the portal's look: the one stylesheet
in the kit, served here at /static/portal.css (the pages' CSP allows styles from this origin only)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

LEVELS = {"commune": "cấp xã", "district": "cấp huyện", "province": "cấp tỉnh", "region": "cấp khu vực",
          "national": "cấp quốc gia"}
PROGRAMMES = {"OCOP": "Sản phẩm OCOP", "CNNTTB": "Sản phẩm công nghiệp nông thôn tiêu biểu"}
# the verdict a scanned QR leads to: its words and its colour's class (never the colour alone)
VERDICTS = {"valid": "CÒN HIỆU LỰC", "expired": "ĐÃ HẾT HIỆU LỰC", "superseded": "ĐÃ ĐƯỢC THAY THẾ",
            "revoked": "ĐÃ BỊ THU HỒI", "unknown": "KHÔNG TÌM THẤY"}
DEFAULT_LIMIT = 50
# the public pages: the kit's stylesheet from this origin, no script, forms to this origin only, never framed
PAGE_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
               "frame-ancestors 'none'")

_templates = Environment(loader=PackageLoader("certification.adapters"), autoescape=select_autoescape(default=True),
                         undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


@cache
def stylesheet() -> bytes:
    """The portal's stylesheet, the same file the portal serves (the kit's)."""
    return files("binhchon_kit").joinpath("static/portal.css").read_bytes()


def day(value: Any) -> str:
    """A date as government forms write it, dd/mm/yyyy."""
    return date.fromisoformat(str(value)).strftime("%d/%m/%Y") if value else "—"


def points(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")


def rating(doc: Mapping[str, Any]) -> str:
    if doc["programme"] == "OCOP":
        return f"Sản phẩm OCOP {doc['rating_label']}"
    return f"{PROGRAMMES['CNNTTB']} {LEVELS.get(doc['level'], '')}"


def stars(doc: Mapping[str, Any]) -> dict[str, Any] | None:
    """An OCOP rating as five stars, filled and empty, and the words a screen reader says instead."""
    count = doc.get("stars")
    if doc["programme"] != "OCOP" or not count:
        return None
    return {"shown": "★" * count + "☆" * (5 - count), "label": f"{count} sao"}


def validity(doc: Mapping[str, Any], status: str) -> str:
    revoked = doc.get("revoked") or {}
    return {
        "valid": f"Còn hiệu lực đến {day(doc['valid_until'])}" if doc.get("valid_until") else "Còn hiệu lực",
        "expired": f"Đã hết hiệu lực từ {day(doc.get('valid_until'))}",
        "superseded": "Đã được thay thế",
        "revoked": f"Đã bị thu hồi ngày {day(revoked.get('revoked_on'))}" if revoked else "Đã bị thu hồi",
    }.get(status, "")


def displayed(displays: list[Mapping[str, Any]]) -> list[str]:
    """Where the product was displayed (trưng bày tại …): each event, its place and its days."""
    def days(d: Mapping[str, Any]) -> str:
        return day(d["on"]) + (f"–{day(d['until'])}" if d.get("until") else "")

    return [f"{d['exhibition']}, {d['place']} ({days(d)})" for d in displays]


def _card(doc: Mapping[str, Any], status: str) -> dict[str, Any]:
    """What a certificate shows at a glance, in the registry's rows and at the top of its verification."""
    return {"number": doc["number"], "product": doc["product_name"], "holder": doc["holder"]["name"],
            "address": doc["holder"].get("address") or "", "rating": rating(doc), "stars": stars(doc),
            "programme": PROGRAMMES.get(doc["programme"], doc["programme"]),
            "level": LEVELS.get(doc["level"], ""), "decision": doc["decision"]["number"],
            "decided_on": day(doc["decision"]["date"]), "authority": doc["decision"]["authority"],
            "status": status, "validity": validity(doc, status),
            "displayed_at": displayed(doc.get("displayed_at") or [])}


def verify_page(doc: Mapping[str, Any], status: str) -> str:
    revoked = doc.get("revoked") or {}
    d = doc["decision"]
    facts = [
        ("Số chứng nhận", doc["number"]), ("Sản phẩm", doc["product_name"]), ("Chủ thể", doc["holder"]["name"]),
        ("Địa chỉ", doc["holder"]["address"]), ("Kết quả", rating(doc)), ("Điểm", points(doc["points"])),
        ("Quyết định", f"Số {d['number']} ngày {day(d['date'])} của {d['authority']}"),
        ("Ngày cấp", day(doc["issued_on"])), ("Có giá trị đến", day(doc.get("valid_until"))),
    ]
    return _templates.get_template("verify.html").render(
        card=_card(doc, status), verdict=VERDICTS[status], facts=facts, superseded_by=doc.get("superseded_by"),
        revoked={"on": day(revoked.get("revoked_on")), "reason": revoked.get("reason", "")} if revoked else None)


def not_found_page(number: str) -> str:
    return _templates.get_template("not_found.html").render(number=number, verdict=VERDICTS["unknown"])


def refused_page(heading: str, reasons: list[str]) -> str:
    """A refused request to a public page (a filter out of range, too many requests), each reason a sentence."""
    return _templates.get_template("refused.html").render(heading=heading, reasons=reasons)


def registry_page(items: list[dict[str, Any]], filters: dict[str, Any], following: str | None, limit: int,
                  first: bool) -> str:
    """One page of the registry; "Sau →" carries the filters and the next page's cursor, "Về đầu" the filters
    alone (pages are cut by key, not counted: ADR 0015)."""
    query = {k: v for k, v in filters.items() if v}
    if limit != DEFAULT_LIMIT:
        query["limit"] = limit
    return _templates.get_template("registry.html").render(
        cards=[_card(d, d.get("status", "valid")) for d in items], filters=filters, limit=limit,
        default_limit=DEFAULT_LIMIT, programmes=PROGRAMMES, filtered=any(filters.values()),
        start=None if first else f"/registry?{urlencode(query)}",
        following=f"/registry?{urlencode({**query, 'after': following})}" if following else None)
