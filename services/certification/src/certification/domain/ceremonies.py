"""Ceremonies (lễ công bố, trao chứng nhận): one per round, date and place, never in the past; who is invited and
what they were sent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from typing import Any

from binhchon_kit.contracts.certification import Invitee
from binhchon_kit.events import RecordedEvent, deterministic_id
from binhchon_kit.personal import producer_recipient
from certification.domain.certificates import normalised
from certification.domain.errors import Refused


def ceremony_id(round_id: str, on: date, place: str) -> str:
    """The same round, date and place is the same ceremony: posting it again finds it instead of making another
    (and sending every invitation again)."""
    return "ceremony-" + deterministic_id("ceremony", round_id, on.isoformat(), normalised(place))


def check_date(on: date, at: time, now: datetime) -> None:
    """A ceremony in the past would send every invitation and confirmation at once, for a moment gone by: a day
    before today, or today at an hour already passed (Vietnam's time)."""
    today = now.date()
    if on < today:
        raise Refused(f"the ceremony date {on:%d/%m/%Y} is in the past (today in Vietnam is {today:%d/%m/%Y})",
                      kind="invalid", field="on", on=on.isoformat(), today=today.isoformat())
    if on == today and at <= now.time().replace(tzinfo=None):
        raise Refused(f"the ceremony on {on:%d/%m/%Y} at {at:%H:%M} is in the past (it is {now:%H:%M} in Vietnam)",
                      kind="invalid", field="at", fields=["on", "at"], on=on.isoformat(), at=at.isoformat(),
                      now=now.isoformat(timespec="minutes"))


def lead_time_warnings(on: date, today: date, invitation_days: int, confirmation_days: int) -> list[dict[str, Any]]:
    """What cannot be done as seed 001 asks (invitations 3 days before, delegates confirmed 1 day before) when the
    ceremony is that close: said to the organiser, not refused (a ceremony at short notice is their call)."""
    days_left = (on - today).days
    warnings: list[dict[str, Any]] = []
    if days_left < invitation_days:
        warnings.append({"code": "invitation_late", "days_before": invitation_days, "days_left": days_left,
                         "message": f"Giấy mời không thể gửi trước {invitation_days} ngày: buổi lễ chỉ còn "
                                    f"{days_left} ngày, giấy mời được gửi ngay."})
    if days_left < confirmation_days:
        warnings.append({"code": "confirmation_late", "days_before": confirmation_days, "days_left": days_left,
                         "message": f"Không thể xác nhận đại biểu trước {confirmation_days} ngày: buổi lễ diễn ra "
                                    f"trong ngày hôm nay."})
    return warnings


def invitees(certificates: Iterable[Mapping[str, Any]], registrations: Mapping[str, str | None]) -> list[Invitee]:
    """The holders of a round's valid certificates, in certificate-number order; their registration numbers
    (by certificate stream) come from certification's own read model, no longer from the signed certificate."""
    return [Invitee(certificate_number=d["number"], holder=d["holder"]["name"], product_name=d["product_name"],
                    dossier_id=d["dossier_id"], producer_registration_number=registrations.get(d["_id"]))
            for d in sorted(certificates, key=lambda d: d["number"])]


def same_request(existing: Mapping[str, Any], title: str, at: time) -> None:
    """A second posting of a ceremony must say the same thing; a different title or time is a conflict to
    resolve, not something to drop silently."""
    differs = [name for name, same in (("title", normalised(existing["title"]) == normalised(title)),
                                       ("at", time.fromisoformat(existing["at"]) == at)) if not same]
    if differs:
        raise Refused(f"ceremony {existing['ceremony_id']} is already scheduled for this round, date and place "
                      f"with another {' and '.join(differs)}", kind="conflict", ceremony_id=existing["ceremony_id"],
                      fields=differs, existing={k: existing[k] for k in differs})


def page_key(ceremony: Mapping[str, Any]) -> str:
    """Where a ceremony stands in its list (ADR 0015): by date, then id (unique, ASCII)."""
    return f"{ceremony['on']}|{ceremony['ceremony_id']}"


def fold_ceremony(events: Sequence[RecordedEvent]) -> dict[str, Any]:
    """The ceremony's read model: what was scheduled, and the id of the event notify's deliveries point to."""
    scheduled = events[0]
    return {**scheduled.data, "scheduled_event_id": scheduled.id, "page_key": page_key(scheduled.data)}


def with_deliveries(ceremony: Mapping[str, Any], deliveries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ceremony with what notify sent about it: every delivery, and each invitee's own. Notify names a
    producer recipient ``producer:<registration number>`` (``producer:<kid>`` where the number is sealed)."""
    def mine(invitee: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        reg = invitee.get("producer_registration_number")
        return [d for d in deliveries if reg and d["recipient"] == producer_recipient(reg)]

    return {**ceremony, "invitees": [{**i, "deliveries": mine(i)} for i in ceremony["invitees"]],
            "deliveries": list(deliveries)}
