"""Who is told what about each event (the seeds' "inform the producer", "send the list 3 days before", …)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from binhchon_kit.contracts.certification import (
    CeremonyScheduled,
    CertificateExpired,
    CertificateExpiring,
    CertificateIssued,
    CertificateRevoked,
)
from binhchon_kit.contracts.intake import (
    DossierAccepted,
    DossierReceived,
    DossierRejected,
    DossierRescheduled,
    DossierSupplementRequested,
)
from binhchon_kit.contracts.ledger import AwardPaid, FeePaid
from binhchon_kit.contracts.samples import SamplesReturnDue
from binhchon_kit.contracts.scoring import (
    MemberSubstituted,
    PanelFormed,
    ResultApproved,
    ResultNotRecognised,
    ResultProposed,
    ScoringCompleted,
    ScoringOpened,
)
from binhchon_kit.events import RecordedEvent
from binhchon_kit.vietnam_time import VIETNAM

# The events the producer is told of, each by the template named like the event's type.
PRODUCER_EVENTS = (
    DossierReceived, DossierSupplementRequested, DossierAccepted, DossierRejected, DossierRescheduled,
    ResultApproved, ResultNotRecognised, CertificateIssued, CertificateExpiring, CertificateExpired,
    CertificateRevoked, AwardPaid, SamplesReturnDue,
)
# Templates that are not an event's own (an event's template is named by its type, ``event.type``).
SCORE_REMINDER = "score.reminder"
CEREMONY_INVITATION = "ceremony.invitation"
CEREMONY_CONFIRMATION = "ceremony.confirmation"
ROLES_VN = {"chair": "Chủ tịch hội đồng", "member": "thành viên hội đồng", "secretary": "thư ký hội đồng"}


@dataclass(frozen=True)
class Recipient:
    id: str
    name: str
    email: str | None
    role_vn: str = ""
    # the id its messages are keyed by, where that is not ``id``: a producer's at filing (its key id where the
    # registration number was sealed), which the acceptance does not change as it changes ``id`` (ADR 0038)
    keyed_as: str | None = None


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
        """Event id, recipient, channel and template: the same message is never sent twice. The recipient as its
        keys name it (``keyed_as``): a producer's id changes when its dossier is accepted, and an event met before
        and again after the acceptance (notify catching up across topics, then killed) is still one message."""
        return _message_key(self.about_event.id, self.recipient.keyed_as or self.recipient.id, self.template)

    @property
    def earlier_keys(self) -> list[str]:
        """The key a version before ``keyed_as`` gave this message after the acceptance (by the recipient's
        ``id``): a delivery made under it is this message, made already."""
        keyed_as = self.recipient.keyed_as
        if keyed_as is None or keyed_as == self.recipient.id:
            return []
        return [_message_key(self.about_event.id, self.recipient.id, self.template)]


def _message_key(event_id: str, recipient: str, template: str) -> str:
    return hashlib.sha256(f"{event_id}|{recipient}|email|{template}".encode()).hexdigest()[:32]


def at_eight(day: date) -> datetime:
    return datetime.combine(day, time(8, 0), VIETNAM).astimezone(UTC)


def _reminder_due(round_: Mapping[str, Any] | None) -> datetime | None:
    """The working morning before the round's scoring window closes; None if the round sets no end to it."""
    closes = ((round_ or {}).get("schedule") or {}).get("scoring_closes")
    return at_eight(date.fromisoformat(closes) - timedelta(days=1)) if closes else None


def messages_for(event: RecordedEvent, *, producer: Recipient | None, panel: Mapping[str, Any] | None,
                 approvers: Sequence[Recipient], contacts: Mapping[str, Recipient],
                 round_: Mapping[str, Any] | None = None, scoring: Mapping[str, Any] | None = None) -> list[Message]:
    """The messages an event calls for. ``producer``: the dossier's contact; ``panel``: the round's panel;
    ``contacts``: producers by dossier id (for round-wide events such as a ceremony); ``round_``: the round as
    opened (its schedule); ``scoring``: the dossier's ``scoring.opened`` (what its judges are told it is)."""
    data = event.data  # templates read the data as it was recorded (JSON), whatever the class says
    match event.model():
        case ScoringOpened():
            due = _reminder_due(round_)
            if not panel or due is None:
                return []
            # each judge is reminded the working morning before the scoring window closes, unless they scored
            return [Message(SCORE_REMINDER, Recipient(m["id"], m["name"], m.get("email")), event, {"scoring": data},
                            due) for m in panel["members"] if m["role"] != "secretary" and m.get("email")]
        case MemberSubstituted():
            return _substitute(event, panel, round_, scoring)
        case PanelFormed():
            return [Message(event.type, Recipient(m["id"], m["name"], m.get("email"), ROLES_VN[m["role"]]), event)
                    for m in data["members"] if m.get("email")]
        case ScoringCompleted() if panel:
            chair = next(m for m in panel["members"] if m["role"] == "chair")
            return [Message(event.type, Recipient(chair["id"], chair["name"], chair.get("email")), event)] \
                if chair.get("email") else []
        case ResultProposed():
            return [Message(event.type, a, event) for a in approvers if a.email]
        case CeremonyScheduled():
            return _ceremony(event, contacts)
        case FeePaid() if panel:
            # the judge paid, by the address the panel gave (a substitute, not on the panel's list, is not told)
            judge = next((m for m in panel["members"] if m["id"] == data["member_id"] and m.get("email")), None)
            return [Message(event.type, Recipient(judge["id"], judge["name"], judge["email"],
                                                  ROLES_VN[judge["role"]]), event)] if judge else []
        case told if isinstance(told, PRODUCER_EVENTS):
            return [Message(event.type, producer, event)] if producer and producer.email else []
    return []


# Every event ``messages_for`` may make a message of (keep the two together): any other tells nobody, whatever
# notify knows, so nothing is looked up for it (ADR 0054).
TOLD_OF: tuple[type, ...] = (ScoringOpened, MemberSubstituted, PanelFormed, ScoringCompleted, ResultProposed,
                             CeremonyScheduled, FeePaid, *PRODUCER_EVENTS)


def calls_for_telling(told: object) -> bool:
    """Whether ``messages_for`` may make a message of an event (its model)."""
    return isinstance(told, TOLD_OF)


def _ceremony(event: RecordedEvent, contacts: Mapping[str, Recipient]) -> list[Message]:
    """One invitation and one confirmation request per producer, naming every certificate they receive: a producer
    holding two of the ceremony's certificates is one recipient (``producer:<registration number>``), so one mail
    each listing both, rather than two mails whose keys would collide (and the second certificate go unsaid)."""
    data = event.data
    day = date.fromisoformat(data["on"])
    theirs: dict[str, tuple[Recipient, list[Mapping[str, Any]]]] = {}
    for invitee in data["invitees"]:  # in certificate-number order: the first dossier's contact addresses the mail
        who = contacts.get(invitee["dossier_id"])
        if who is None or not who.email:
            continue
        theirs.setdefault(who.id, (who, []))[1].append(invitee)
    out = []
    for who, invitees in theirs.values():
        context = {"invitees": invitees, "invitee": invitees[0]}  # ``invitee``: for templates written before
        out.append(Message(CEREMONY_INVITATION, who, event, context,
                           at_eight(day - timedelta(days=data["invitation_days_before"]))))
        out.append(Message(CEREMONY_CONFIRMATION, who, event, context,
                           at_eight(day - timedelta(days=data["confirmation_days_before"]))))
    return out


def _substitute(event: RecordedEvent, panel: Mapping[str, Any] | None, round_: Mapping[str, Any] | None,
                scoring: Mapping[str, Any] | None) -> list[Message]:
    """A substitute member is told they now score the dossier, and why; and is reminded like the panel's judges
    (the reminder keyed to this event, cancelled when they score, are recused, or the dossier completes)."""
    substitute = event.data.get("substitute") or {}
    if not substitute.get("email"):
        return []
    who = Recipient(substitute["id"], substitute.get("name") or "", substitute["email"],
                    ROLES_VN.get(substitute.get("role") or "member", ROLES_VN["member"]))
    context = {"scoring": scoring or {}, "round": round_ or {}, "panel": panel or {}}
    out = [Message(event.type, who, event, context)]
    due = _reminder_due(round_)
    # substituted after the reminders' morning (at the scoring session, say): the mail just sent says it all
    if due is not None and due > event.time:
        out.append(Message(SCORE_REMINDER, who, event, {"scoring": scoring or {}}, due))
    return out
