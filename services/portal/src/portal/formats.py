"""How government forms write things: dates dd/mm/yyyy, points 73,00, and the statuses and events in Vietnamese."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from binhchon_kit.vietnam_time import VIETNAM

STATUS = {"received": "Đã tiếp nhận", "supplement_requested": "Yêu cầu bổ sung", "supplemented": "Đã bổ sung",
          "accepted": "Hồ sơ hợp lệ", "rejected": "Không tiếp nhận", "withdrawn": "Đã rút hồ sơ"}
EVENT = {"dossier.received": "Tiếp nhận hồ sơ", "dossier.supplement_requested": "Yêu cầu bổ sung hồ sơ",
         "dossier.supplemented": "Chủ thể bổ sung hồ sơ", "dossier.accepted": "Hồ sơ hợp lệ, chuyển hội đồng",
         "dossier.rejected": "Không tiếp nhận hồ sơ", "dossier.withdrawn": "Chủ thể rút hồ sơ",
         "dossier.rescheduled": "Hẹn lại ngày trả kết quả", "dossier.escalated": "Chuyển cấp trên đánh giá"}
PRODUCER_KIND = {"cooperative": "Hợp tác xã", "enterprise": "Doanh nghiệp", "cooperative_group": "Tổ hợp tác",
                 "household": "Hộ sản xuất, kinh doanh"}
DOCUMENT_KIND = {"registration_form": "Phiếu đăng ký", "business_plan": "Phương án sản xuất kinh doanh",
                 "product_description": "Bản mô tả sản phẩm", "test_report": "Phiếu kết quả kiểm nghiệm",
                 "photo": "Ảnh sản phẩm", "supplement": "Tài liệu bổ sung"}
CERTIFICATE_STATUS = {"valid": "Còn hiệu lực", "expired": "Đã hết hiệu lực", "superseded": "Đã được thay thế",
                      "revoked": "Đã bị thu hồi"}
# a dossier's scoring status and a panel member's role, as every page of the portal names them
SCORING_STATUS = {"open": "Đang chấm điểm", "completed": "Đã hoàn thành chấm điểm",
                  "approved": "Đã có quyết định công nhận", "not_recognised": "Có quyết định không công nhận",
                  "cancelled": "Dừng chấm điểm (hồ sơ đã rút)", "not_opened": "Chưa mở chấm điểm"}
MEMBER_ROLE = {"chair": "Chủ tịch hội đồng", "member": "Thành viên", "secretary": "Thư ký hội đồng (không chấm điểm)"}
LEVEL = {"commune": "cấp xã", "district": "cấp huyện", "province": "cấp tỉnh", "region": "cấp khu vực",
         "national": "cấp quốc gia"}


def day(value: Any) -> str:
    """23/11/2026 from a date, an ISO date or an ISO instant (read in Vietnam's time)."""
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(VIETNAM) if value.tzinfo else value
    return f"{value:%d/%m/%Y}"


def moment(value: Any) -> str:
    """06:26 ngày 23/11/2026, in Vietnam's time."""
    if not value:
        return ""
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    instant = instant.astimezone(VIETNAM)
    return f"{instant:%H:%M} ngày {instant:%d/%m/%Y}"


def points(value: Any) -> str:
    """73,00: two decimals, a comma before them, a dot between thousands."""
    if value is None or value == "":
        return ""
    text = f"{float(value):,.2f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def size(value: Any) -> str:
    n = int(value or 0)
    if n >= 1024 * 1024:
        return points(n / (1024 * 1024)) + " MB"
    return points(n / 1024) + " KB"


FILTERS = {"day": day, "moment": moment, "points": points, "size": size,
           "status": lambda v: STATUS.get(v, v), "event": lambda v: EVENT.get(v, v),
           "producer_kind": lambda v: PRODUCER_KIND.get(v, v), "document_kind": lambda v: DOCUMENT_KIND.get(v, v),
           "level": lambda v: LEVEL.get(v, v), "certificate_status": lambda v: CERTIFICATE_STATUS.get(v, v)}
