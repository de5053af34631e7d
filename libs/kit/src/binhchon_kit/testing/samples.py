"""Sample request bodies in Vietnamese, shared by tests and benchmarks."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from binhchon_kit.testing.documents import sample_listing
from binhchon_kit.vietnam_time import today_in_vietnam


def round_body(code: str, today: date | None = None, **over: Any) -> dict[str, Any]:
    """A province OCOP round open for submissions around ``today`` (default: today in Vietnam)."""
    today = today or today_in_vietnam()
    body: dict[str, Any] = {
        "code": code, "title": "Đánh giá, phân hạng sản phẩm OCOP huyện Lục Nam năm 2026",
        "programme": "OCOP", "rulebook_id": "ocop-2025", "level": "province",
        "area": {"province_code": "24"}, "year": today.year, "batch": 1,
        "organiser": "UBND tỉnh Bắc Giang",
        "schedule": {"submission_opens": (today - timedelta(days=10)).isoformat(),
                     "submission_closes": (today + timedelta(days=30)).isoformat(),
                     "council_date": (today + timedelta(days=60)).isoformat()},
    }
    body.update(over)
    return body


def department_round_body(code: str, today: date, **over: Any) -> dict[str, Any]:
    """A province OCOP round under the 2023 rulebook organised by the Sở Công Thương and decided by the UBND tỉnh
    (the organiser is not the approving authority), open from 5 days before ``today`` to 20 days after."""
    return round_body(code, rulebook_id="ocop-2023", year=today.year, organiser="Sở Công Thương tỉnh Bắc Giang",
                      approving_authority="UBND tỉnh Bắc Giang", schedule={
                          "submission_opens": (today - timedelta(days=5)).isoformat(),
                          "submission_closes": (today + timedelta(days=20)).isoformat()}, **over)


def dossier_body(product: str = "Mật ong rừng Lục Nam", regno: str = "2400123456", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "producer": {
            "kind": "cooperative", "name": "Hợp tác xã Nông nghiệp Đông Hưng", "registration_number": regno,
            "address": {"street": "Thôn Đồng Mới", "commune": "Xã Đông Hưng", "district": "Huyện Lục Nam",
                        "district_code": "218", "province": "Tỉnh Bắc Giang", "province_code": "24"},
            "contact": {"person": "Nguyễn Văn Đức", "phone": "0912 345 678", "email": "htx.donghung@example.vn"},
        },
        "product": {"name": product, "product_group": "thực phẩm", "description": "Mật ong nguyên chất",
                    "sample_count": 5},
        # real content: intake files a dossier whose documents are stored (upload_documents first, ADR 0045)
        "documents": sample_listing(),
    }
    body.update(over)
    return body


# A council of seven (cm-1 chairs) and two products' sheets under ocop-2023, each member's changes from the base:
# the hand-computed round of tests/e2e/test_full_round.py, also played by the audit's tests.
MEMBERS = [f"cm-{k}" for k in range(1, 8)]

CHE = {"A1": 4, "A2": 2, "A3": 4, "A4": 4, "A5": 4, "A6": 4, "A7": 4, "A8": 4,
       "B1": 8, "B2": 4, "B3": 5, "B4": 3, "C1": 8, "C2": 4, "C3": 5, "C4": 6, "C5": 3}
CHE_CHANGES = [{}, {"A1": 3}, {"A8": 5}, {}, {"B1": 6}, {"C1": 10}, {"C2": 3}]
BANH_DA = {**CHE, "C4": 4, "C5": 1}
BANH_DA_CHANGES = [{}, {"C2": 3}, {"C2": 5}, {}, {}, {}, {}]
