"""A round's ledger (sổ theo dõi tiền thưởng và thù lao): which prize a recognised result is owed, which fees
the judges are owed, the lines' read model and their order (ADR 0050). Whole đồng throughout."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from binhchon_kit.contracts.ledger import AwardGranted, FeeOwed, PrizeRate
from binhchon_kit.events import RecordedEvent, deterministic_id

AWARD, FEE = "award", "fee"
KIND_LABELS = {AWARD: "Tiền thưởng", FEE: "Thù lao giám khảo"}
SESSION_LABELS = {"dossier": "chấm trên hồ sơ", "samples": "chấm sản phẩm", "field_visit": "đánh giá thực tế"}
# scoring's roles that score (the secretary keeps the minutes and scores nothing: no sheet, no fee)
SCORING_ROLES = ("chair", "member")


def schedule_id(round_id: str) -> str:
    return "schedule-" + deterministic_id("prize-schedule", round_id)


def award_id(result_event_id: str) -> str:
    """One award per recognised result.approved: the id follows from the result's event id alone."""
    return "award-" + deterministic_id("award", result_event_id)


def fee_id(round_id: str, member_id: str, session: str) -> str:
    return "fee-" + deterministic_id("fee", round_id, member_id, session)


def display_id(certificate_number: str, exhibition: str, on: str, place: str) -> str:
    return "display-" + deterministic_id("display", certificate_number, exhibition, on, place)


def prize_for(prizes: Sequence[Mapping[str, Any]], stars: int | None) -> int:
    """The rate naming the rating's stars, else the rate for any recognised rating, else nothing (0 đồng: the
    award is still granted, so the ledger shows the result and the missing rate)."""
    by_stars = {p.get("stars"): int(p["amount"]) for p in prizes}
    if stars is not None and stars in by_stars:
        return by_stars[stars]
    return by_stars.get(None, 0)


def check_rates(prizes: Iterable[PrizeRate]) -> list[str]:
    """Problems with a schedule's rates: a rating named twice is ambiguous."""
    seen: set[int | None] = set()
    problems = []
    for rate in prizes:
        if rate.stars in seen:
            problems.append(f"the prize for {rate.stars or 'any'} stars is given twice")
        seen.add(rate.stars)
    return problems


def page_key(kind: str, line_id: str) -> str:
    """Lines in a stable order (ADR 0015): awards, then fees, each by id."""
    return f"{kind}|{line_id}"


def fold_line(events: Sequence[RecordedEvent]) -> dict[str, Any]:
    """An award's or a fee's line: what is owed, and what was paid (in full, once)."""
    owed = events[0]
    data = owed.data
    kind = AWARD if owed.type == "award.granted" else FEE
    line_id = data["award_id"] if kind == AWARD else data["fee_id"]
    paid = next((e.data for e in events[1:] if e.type in ("award.paid", "fee.paid")), None)
    line: dict[str, Any] = {
        "kind": kind, "line_id": line_id, "round_id": data["round_id"], "amount": int(data["amount"]),
        "owed_event_id": owed.id, "paid": paid is not None, "paid_amount": int(paid["amount"]) if paid else 0,
        "payment_reference": paid["payment_reference"] if paid else None,
        "paid_on": paid["paid_on"] if paid else None, "page_key": page_key(kind, line_id)}
    if kind == AWARD:
        line.update({k: data.get(k) for k in ("dossier_id", "result_event_id", "product_name", "producer_name",
                                               "rating_label", "stars", "level")})
        line["payee"] = data["producer_name"]
    else:
        line.update({k: data[k] for k in ("panel_id", "member_id", "member_name", "session")})
        line["payee"] = data["member_name"]
    return line


def fold_schedule(events: Sequence[RecordedEvent]) -> dict[str, Any]:
    return {**events[0].data, "event_id": events[0].id}


def display_key(display: Mapping[str, Any]) -> str:
    """A display's place among its certificate's (ADR 0050, amendment): the certificate's number, the day it began,
    its id. A certificate's displays are then one range of this key, which FerretDB reads from its index."""
    return f"{display['certificate_number']}|{display['on']}|{display['display_id']}"


DISPLAY_FIELDS = ("exhibition", "on", "until", "place", "code")


def displays_filed(displays: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What the registry and the verify page show of a certificate's displays, in order of date (ADR 0050)."""
    ordered = sorted(displays, key=lambda d: (str(d["on"]), str(d.get("display_key", ""))))
    return [{k: d.get(k) for k in DISPLAY_FIELDS} for d in ordered]


def display_keys(certificate_number: str) -> dict[str, str]:
    """The range of ``display_key`` holding exactly one certificate's displays: ``|`` is followed by ``}``, and a
    certificate number holds neither."""
    return {"$gte": f"{certificate_number}|", "$lt": f"{certificate_number}}}"}


def fold_display(events: Sequence[RecordedEvent]) -> dict[str, Any]:
    return {**events[0].data, "event_id": events[0].id, "display_key": display_key(events[0].data)}


def award(result_event_id: str, data: Mapping[str, Any], schedule: Mapping[str, Any]) -> AwardGranted:
    """The award a recognised result (``result.approved``'s data) is owed under the round's schedule."""
    stars = data["rating"].get("stars")
    return AwardGranted(award_id=award_id(result_event_id), round_id=data["round_id"], dossier_id=data["dossier_id"],
                        result_event_id=result_event_id, level=data["level"], product_name=data["product_name"],
                        producer_name=data["producer_name"], rating_label=data["rating"]["label"], stars=stars,
                        amount=prize_for(schedule["prizes"], stars), schedule_event_id=schedule["event_id"])


def fees(round_id: str, panel: Mapping[str, Any], sitters: Iterable[str], schedule: Mapping[str, Any]
         ) -> list[FeeOwed]:
    """Each judge who sat (their sheet counted in a completed dossier) is owed one fee per session of the panel;
    a substitute member (not on the panel's list) is named by the id scoring gives."""
    members = {m["id"]: m for m in panel["members"]}
    owed = []
    for member_id in sorted(set(sitters)):
        member = members.get(member_id)
        if member is not None and member["role"] not in SCORING_ROLES:
            continue
        name = member["name"] if member else member_id
        owed += [FeeOwed(fee_id=fee_id(round_id, member_id, session), round_id=round_id, panel_id=panel["panel_id"],
                         member_id=member_id, member_name=name, session=session,
                         amount=schedule["fee_per_session"], schedule_event_id=schedule["event_id"])
                 for session in panel["sessions"]]
    return owed


def totals(groups: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The store's sums per kind (``$group``) as the ledger's totals, outstanding = owed − paid."""
    by_kind = {g["_id"]: g for g in groups}

    def one(kinds: Sequence[str]) -> dict[str, int]:
        owed = sum(int(by_kind[k]["owed"]) for k in kinds if k in by_kind)
        paid = sum(int(by_kind[k]["paid"]) for k in kinds if k in by_kind)
        lines = sum(int(by_kind[k]["lines"]) for k in kinds if k in by_kind)
        return {"owed": owed, "paid": paid, "outstanding": owed - paid, "lines": lines}

    return {"awards": one([AWARD]), "fees": one([FEE]), "all": one([AWARD, FEE])}


CSV_HEADER = ["Loại", "Mã dòng", "Người nhận", "Sản phẩm / buổi", "Kết quả", "Số tiền (đồng)", "Đã trả (đồng)",
              "Còn nợ (đồng)", "Số chứng từ", "Ngày trả"]


def csv_rows(lines: Iterable[Mapping[str, Any]], total: Mapping[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = []
    for line in lines:
        what = (line.get("product_name") if line["kind"] == AWARD
                else f"Buổi {SESSION_LABELS.get(line['session'], line['session'])}")
        rows.append([KIND_LABELS[line["kind"]], line["line_id"], line["payee"], what, line.get("rating_label") or "",
                     line["amount"], line["paid_amount"], line["amount"] - line["paid_amount"],
                     line.get("payment_reference") or "", line.get("paid_on") or ""])
    for label, key in (("Tổng tiền thưởng", "awards"), ("Tổng thù lao", "fees"), ("Tổng cộng", "all")):
        t = total[key]
        rows.append([label, "", "", "", "", t["owed"], t["paid"], t["outstanding"], "", ""])
    return rows
