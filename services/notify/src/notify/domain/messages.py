"""Who is told what about each event (the seeds' "inform the producer", "send the list 3 days before", …)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from binhchon_kit.events import RecordedEvent

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
PRODUCER_EVENTS = {
    "dossier.received", "dossier.supplement_requested", "dossier.accepted", "dossier.rejected",
    "dossier.rescheduled", "result.approved", "result.not_recognised", "certificate.issued",
    "certificate.expiring", "certificate.expired", "certificate.revoked",
}
ROLES_VN = {"chair": "Chủ tịch hội đồng", "member": "thành viên hội đồng", "secretary": "thư ký hội đồng"}


@dataclass(frozen=True)
class Recipient:
    id: str
    name: str
    email: str | None
    role_vn: str = ""


@dataclass(frozen=True)
class Message:
    """One email to one recipient about one event (the delivery key makes it once)."""

    template: str
    recipient: Recipient
    about_event: RecordedEvent
    context: dict[str, Any] = field(default_factory=dict)
    due_at: datetime | None = None  # a reminder: not before this moment

    @property
    def key(self) -> str:
        """Event id, recipient, channel and template: the same message is never sent twice."""
        raw = f"{self.about_event.id}|{self.recipient.id}|email|{self.template}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


def at_eight(day: date) -> datetime:
    return datetime.combine(day, time(8, 0), VIETNAM).astimezone(UTC)


def messages_for(event: RecordedEvent, *, producer: Recipient | None, panel: Mapping[str, Any] | None,
                 approvers: Sequence[Recipient], contacts: Mapping[str, Recipient],
                 round_: Mapping[str, Any] | None = None) -> list[Message]:
    """The messages an event calls for. ``producer``: the dossier's contact; ``panel``: the round's panel;
    ``contacts``: producers by dossier id (for round-wide events such as a ceremony); ``round_``: the round as
    opened (its schedule)."""
    data = event.data
    if event.type == "scoring.opened":
        closes = ((round_ or {}).get("schedule") or {}).get("scoring_closes")
        if not panel or not closes:
            return []
        # each judge is reminded the working morning before the scoring window closes, unless they scored
        due = at_eight(date.fromisoformat(closes) - timedelta(days=1))
        return [Message("score.reminder", Recipient(m["id"], m["name"], m.get("email")), event, {}, due)
                for m in panel["members"] if m["role"] != "secretary" and m.get("email")]
    if event.type in PRODUCER_EVENTS:
        return [Message(event.type, producer, event)] if producer and producer.email else []
    if event.type == "panel.formed":
        return [Message("panel.formed", Recipient(m["id"], m["name"], m.get("email"), ROLES_VN[m["role"]]), event)
                for m in data["members"] if m.get("email")]
    if event.type == "scoring.completed" and panel:
        chair = next(m for m in panel["members"] if m["role"] == "chair")
        return [Message("scoring.completed", Recipient(chair["id"], chair["name"], chair.get("email")), event)] \
            if chair.get("email") else []
    if event.type == "result.proposed":
        return [Message("result.proposed", a, event) for a in approvers if a.email]
    if event.type == "ceremony.scheduled":
        day = date.fromisoformat(data["on"])
        out = []
        for invitee in data["invitees"]:
            who = contacts.get(invitee["dossier_id"])
            if who is None or not who.email:
                continue
            context = {"invitee": invitee}
            out.append(Message("ceremony.invitation", who, event, context,
                               at_eight(day - timedelta(days=data["invitation_days_before"]))))
            out.append(Message("ceremony.confirmation", who, event, context,
                               at_eight(day - timedelta(days=data["confirmation_days_before"]))))
        return out
    return []
