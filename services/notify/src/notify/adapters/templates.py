"""Vietnamese message templates (files, editable without code changes) rendered with Jinja2.

What a producer reads is Vietnamese throughout: the filters below write dates ``dd/mm/yyyy``, times ``08:30``,
instants in Vietnam's time, points ``49,00`` and levels and document kinds in words, never the events' ISO
strings or enum values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateNotFound

from binhchon_kit.vietnam_time import VIETNAM
from notify.domain.messages import Message

BUNDLED = Path(__file__).resolve().parents[1] / "templates"
LEVELS_VN = {"commune": "cấp xã", "district": "cấp huyện", "province": "cấp tỉnh", "region": "cấp khu vực",
             "national": "cấp quốc gia"}
DOCUMENTS_VN = {
    "registration_form": "phiếu đăng ký", "business_plan": "phương án sản xuất kinh doanh",
    "business_registration": "giấy chứng nhận đăng ký kinh doanh",
    "quality_declaration": "bản tự công bố chất lượng sản phẩm", "self_assessment": "báo cáo tự đánh giá",
    "product_standard": "tiêu chuẩn cơ sở của sản phẩm", "food_safety_certificate": "giấy chứng nhận an toàn thực phẩm",
    "test_report": "phiếu kết quả kiểm nghiệm", "label": "nhãn sản phẩm", "photos": "ảnh sản phẩm",
}


def _instant(value: str | datetime) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # events write UTC


def _date_vn(value: str | date | datetime) -> str:
    if isinstance(value, datetime) or (isinstance(value, str) and "T" in value):
        value = _instant(value).astimezone(VIETNAM).date()  # an instant's day is Vietnam's day
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return day.strftime("%d/%m/%Y")


def _datetime_vn(value: str | datetime) -> str:
    """An instant as people in Vietnam read it: ``23/11/2026 06:26 (+07:00)``, whatever zone it was written in."""
    moment = _instant(value).astimezone(VIETNAM)
    return moment.strftime("%d/%m/%Y %H:%M (+07:00)")


def _time_vn(value: str | time) -> str:
    """A time of day (the ceremony's ``08:30:00``) as ``08:30``."""
    moment = time.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime("%H:%M")


def _points_vn(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")


def _dong_vn(value: int) -> str:
    """Whole đồng as Vietnamese write them: ``5.000.000 đồng``."""
    return f"{int(value):,}".replace(",", ".") + " đồng"


def _level_vn(value: str) -> str:
    return LEVELS_VN.get(value, value)


def _document_vn(value: str) -> str:
    """A document kind in words; an unknown code (``some_kind``) is shown without its underscores."""
    return DOCUMENTS_VN.get(value, value.replace("_", " "))


def context_for(message: Message, contact: Mapping[str, Any] | None, *, certification_url: str,
                intake_url: str) -> dict[str, Any]:
    """What a template sees: the event's data, the recipient (whose name every mail greets), the message's own
    context, what notify knows of the dossier (``about``: its contact, by the event's subject) and links."""
    data = message.about_event.data
    return {
        "data": data, "recipient": message.recipient, **message.context,
        "about": {"receipt_number": (contact or {}).get("receipt_number", ""),
                  "producer_name": (contact or {}).get("name", ""),
                  "product_name": (contact or {}).get("product_name", "")},
        "links": {"verify": f"{certification_url.rstrip('/')}/verify/{quote(str(data.get('number', '')), safe='')}",
                  "status": f"{intake_url.rstrip('/')}/public/receipts/"
                            f"{quote(str(data.get('receipt_number', '')), safe='')}"},
    }


def one_line(value: Any) -> Any:
    """A value bound for a mail header: every line break (CR, LF, and the other separators str.splitlines knows)
    and run of whitespace made one space. Not a string: as it is (Jinja formats it)."""
    return " ".join(value.split()) if isinstance(value, str) else value


class Templates:
    def __init__(self, directory: Path | None = None) -> None:
        search = [str(directory), str(BUNDLED)] if directory else [str(BUNDLED)]
        self.env = Environment(loader=FileSystemLoader(search), undefined=StrictUndefined, autoescape=False,
                               keep_trailing_newline=True)
        self.env.filters.update(date_vn=_date_vn, datetime_vn=_datetime_vn, time_vn=_time_vn,
                                points_vn=_points_vn, level_vn=_level_vn, document_vn=_document_vn,
                                dong_vn=_dong_vn)
        # The subject line is rendered on its own, every value in it on one line: a product name holding CR/LF
        # would otherwise end the Subject header early and spill the rest of the name into the body.
        self.subject_env = self.env.overlay(finalize=one_line)
        # name -> (the loader's up-to-date check, subject, body): compiled once, not per mail; compiled again
        # when the file changes, as Jinja's own cache does
        self.compiled: dict[str, tuple[Callable[[], bool], Template, Template]] = {}

    def names(self) -> list[str]:
        """Every message template there is (``<name>.txt``)."""
        return sorted(n.removesuffix(".txt") for n in self.env.list_templates(extensions=["txt"]))

    def text(self, name: str) -> tuple[Callable[[], bool], Template, Template]:
        """``<name>.txt`` compiled: its subject line and its body."""
        cached = self.compiled.get(name)
        if cached is not None and cached[0]():
            return cached
        source, _, uptodate = self.env.loader.get_source(self.env, f"{name}.txt")  # type: ignore[union-attr]
        first, _, rest = source.partition("\n")
        if not first.startswith("Subject: "):
            raise ValueError(f"template {name}.txt must start with 'Subject: '")
        compiled = (uptodate or (lambda: False), self.subject_env.from_string(first.removeprefix("Subject: ")),
                    self.env.from_string(rest))
        self.compiled[name] = compiled
        return compiled

    def render(self, name: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """(subject, plain text, HTML) of a message."""
        _, subject_template, body_template = self.text(name)
        subject = subject_template.render(**context)
        body = body_template.render(**context).strip() + "\n"
        try:
            html = self.env.get_template(f"{name}.html").render(**context)
        except TemplateNotFound:  # no HTML template: paragraphs of the text
            paragraphs = "".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in body.split("\n\n"))
            html = f'<!doctype html><html lang="vi"><meta charset="utf-8"><body>{paragraphs}</body></html>'
        return one_line(subject), body, html
