"""Printable pages of sample custody in Vietnamese (A4, print stylesheet): the handover slip (biên bản giao nhận
mẫu sản phẩm) of a receipt or a return, and the samples' labels with the selection code. Every value is escaped
(ADR 0027). The label carries the code and the product, never the producer: judges see the samples."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from intake.domain.times import as_read_in_vietnam

PRINT = ("@page{size:A4;margin:18mm 16mm}"
         "body{font-family:'Times New Roman',serif;font-size:13pt;line-height:1.45;margin:0 auto;max-width:178mm}"
         "h1{font-size:15pt;text-align:center;margin:.6em 0 .2em}.sub{text-align:center;margin:0 0 1em}"
         ".head{display:flex;justify-content:space-between;text-align:center;font-size:12pt}"
         "table{border-collapse:collapse;width:100%}th,td{border:1px solid #000;padding:4px 6px;text-align:left;"
         "vertical-align:top}.signs{display:flex;justify-content:space-around;text-align:center;margin-top:2em;"
         "min-height:40mm}.note{font-size:11pt}@media print{.noprint{display:none}}"
         ".labels{display:grid;grid-template-columns:repeat(3,1fr);gap:6mm}.label{border:1px dashed #000;"
         "padding:4mm;text-align:center;break-inside:avoid}.code{font:bold 22pt monospace;letter-spacing:.08em}")


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{PRINT}</style></head><body>{body}"
            '</body></html>')


def handover_slip(step: Mapping[str, Any], custody: Mapping[str, Any], round_: Mapping[str, Any],
                  producer_name: str) -> str:
    """``step``: the custody record's history entry of a ``samples.received`` or ``samples.returned``."""
    received = step["type"] == "samples.received"
    organiser = escape(str(round_.get("organiser", "")))
    producer = escape(producer_name)
    if received:
        giver = f"Bên giao: {producer} — người giao: {escape(step['handed_over_by'])}"
        taker = f"Bên nhận: {organiser} — người nhận: {escape(step['received_by'])}"
        place, condition, heading = step["storage_place"], step["condition"], "tiếp nhận mẫu sản phẩm"
    else:
        giver = f"Bên giao: {organiser} — người giao: {escape(step['returned_by'])}"
        taker = f"Bên nhận: {producer} — người nhận: {escape(step['received_by'])}"
        place, condition, heading = step["from_place"], step["condition"], "trả lại mẫu sản phẩm cho cơ sở"
    row = (f"<tr><td>1</td><td>{escape(custody['selection_code'])}</td><td>{escape(custody['product_name'])}</td>"
           f"<td>{int(step['count'])}</td><td>{escape(condition)}</td><td>{escape(place)}</td></tr>")
    confirmation = "" if received else (
        f"<p>Xác nhận của cơ sở: {escape(step['producer_confirmation'])}</p>")
    title = "Biên bản giao nhận mẫu sản phẩm"
    body = (f'<div class="head"><div>{organiser}</div><div><b>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</b><br>'
            "Độc lập - Tự do - Hạnh phúc</div></div>"
            f"<h1>BIÊN BẢN GIAO NHẬN MẪU SẢN PHẨM</h1><p class=\"sub\">({heading})</p>"
            f"<p>Đợt bình chọn: {escape(str(round_.get('title', '')))} (mã đợt {escape(str(round_.get('code', '')))})"
            f"</p><p>Thời điểm: {as_read_in_vietnam(step['at'])} (giờ Việt Nam). Người lập: "
            f"{escape(step['actor'])}.</p><p>{giver}</p><p>{taker}</p>"
            "<table><thead><tr><th>STT</th><th>Mã số bình chọn</th><th>Tên sản phẩm</th><th>Số lượng mẫu</th>"
            f"<th>Tình trạng</th><th>Nơi lưu giữ</th></tr></thead><tbody>{row}</tbody></table>{confirmation}"
            '<p class="note">Biên bản lập thành 02 bản, mỗi bên giữ 01 bản.</p>'
            '<div class="signs"><div><b>BÊN GIAO</b><br>(ký, ghi rõ họ tên)</div>'
            "<div><b>BÊN NHẬN</b><br>(ký, ghi rõ họ tên)</div></div>")
    return _page(title, body)


def labels(custody: Mapping[str, Any], round_: Mapping[str, Any]) -> str:
    """One label per sample received: the selection code large, the product and the round; no producer."""
    one = (f'<div class="label"><div>Mã số bình chọn</div><div class="code">{escape(custody["selection_code"])}</div>'
           f"<div>{escape(custody['product_name'])}</div><div>{escape(str(round_.get('code', '')))}</div></div>")
    count = max(int(custody.get("received") or 0), 1)
    return _page(f"Nhãn mẫu {custody['selection_code']}",
                 f"<h1>Nhãn mẫu sản phẩm</h1><div class=\"labels\">{one * count}</div>")
