"""Vietnamese message templates (files, editable without code changes) rendered with Jinja2."""

from __future__ import annotations

from datetime import date, datetime
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

BUNDLED = Path(__file__).resolve().parents[1] / "templates"
LEVELS_VN = {"commune": "cấp xã", "district": "cấp huyện", "province": "cấp tỉnh", "region": "cấp khu vực",
             "national": "cấp quốc gia"}


def _date_vn(value: str | date) -> str:
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return day.strftime("%d/%m/%Y")


def _datetime_vn(value: str) -> str:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    return moment.strftime("%H:%M ngày %d/%m/%Y")


def _points_vn(value: float) -> str:
    return f"{value:.2f}".replace(".", ",")


class Templates:
    def __init__(self, directory: Path | None = None) -> None:
        search = [str(directory), str(BUNDLED)] if directory else [str(BUNDLED)]
        self.env = Environment(loader=FileSystemLoader(search), undefined=StrictUndefined, autoescape=False,
                               keep_trailing_newline=True)
        self.env.filters.update(date_vn=_date_vn, datetime_vn=_datetime_vn, points_vn=_points_vn,
                                level_vn=lambda v: LEVELS_VN.get(v, v))

    def render(self, name: str, context: dict[str, Any]) -> tuple[str, str, str]:
        """(subject, plain text, HTML) of a message."""
        text = self.env.get_template(f"{name}.txt").render(**context)
        first, _, body = text.partition("\n")
        if not first.startswith("Subject: "):
            raise ValueError(f"template {name}.txt must start with 'Subject: '")
        body = body.strip() + "\n"
        try:
            html = self.env.get_template(f"{name}.html").render(**context)
        except TemplateNotFound:  # no HTML template: paragraphs of the text
            paragraphs = "".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in body.split("\n\n"))
            html = f'<!doctype html><html lang="vi"><meta charset="utf-8"><body>{paragraphs}</body></html>'
        return first.removeprefix("Subject: ").strip(), body, html
