"""The public receipt page (tra cứu hồ sơ theo số biên nhận) in Vietnamese, as a producer reads it on a phone."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from intake.domain.times import as_read_in_vietnam, day_as_read

LEVELS = {"commune": "cấp xã", "district": "cấp huyện", "province": "cấp tỉnh", "region": "cấp khu vực",
          "national": "cấp quốc gia"}
STATUSES = {"received": "Đã tiếp nhận", "supplement_requested": "Đề nghị bổ sung hồ sơ",
            "supplemented": "Đã bổ sung hồ sơ", "accepted": "Hồ sơ hợp lệ, chuyển đánh giá",
            "rejected": "Hồ sơ không được chấp nhận", "withdrawn": "Hồ sơ đã rút"}
STYLE = ("body{font-family:system-ui,sans-serif;margin:0 auto;padding:1rem;max-width:40rem;line-height:1.5}"
         "table{border-collapse:collapse;width:100%}th,td{padding:.4rem;border-bottom:1px solid #ddd;"
         "text-align:left;vertical-align:top}")


def receipt_page(receipt: Mapping[str, Any]) -> str:
    rows = [
        ("Số biên nhận", escape(receipt["receipt_number"])),
        ("Sản phẩm", escape(receipt["product_name"])),
        ("Đợt đánh giá", f"{escape(receipt['round_code'])} ({receipt['programme']}, "
                         f"{LEVELS.get(receipt['level'], receipt['level'])})"),
        ("Thời điểm tiếp nhận", as_read_in_vietnam(receipt["received_at"])),
        ("Hạn kiểm tra hồ sơ", day_as_read(receipt["check_due_date"])),
        ("Ngày hẹn trả kết quả", day_as_read(receipt.get("result_due_date"))),
        ("Tình trạng", escape(STATUSES.get(receipt["status"], receipt["status"]))),
    ]
    table = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in rows)
    title = f"Giấy biên nhận hồ sơ số {receipt['receipt_number']}"
    return (f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width,initial-scale=1"><title>{escape(title)}</title><style>{STYLE}</style>'
            f"</head><body><h1>{escape(title)}</h1><table>{table}</table>"
            "<p>Giờ Việt Nam (UTC+07:00).</p></body></html>")


def check_code_form(receipt_number: str) -> str:
    """The page a link without the check code opens: the producer types the code printed on their receipt."""
    title = f"Tra cứu hồ sơ số {receipt_number}"
    return (f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width,initial-scale=1"><title>{escape(title)}</title><style>{STYLE}</style>'
            f"</head><body><h1>{escape(title)}</h1>"
            '<form method="get"><label for="code">Mã kiểm tra in trên giấy biên nhận</label> '
            '<input id="code" name="code" required maxlength="16" autocomplete="off"> '
            "<button>Tra cứu</button></form></body></html>")
