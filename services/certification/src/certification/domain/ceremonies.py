"""Ceremonies (lễ công bố, trao chứng nhận): one per round, date and place, never in the past; who is invited and
what they were sent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, time
from typing import Any

from binhchon_kit.contracts.certification import Invitee
from binhchon_kit.events import RecordedEvent, deterministic_id
from certification.domain.certificates import normalised
from certification.domain.errors import Refused


def ceremony_id(round_id: str, on: date, place: str) -> str:
    """The same round, date and place is the same ceremony: posting it again finds it instead of making another
    (and sending every invitation again)."""
    return "ceremony-" + deterministic_id("ceremony", round_id, on.isoformat(), normalised(place))


def check_date(on: date, today: date) -> None:
    """A ceremony in the past would send every invitation and confirmation at once, for a day gone by."""
    if on < today:
        raise Refused(f"the ceremony date {on:%d/%m/%Y} is in the past (today in Vietnam is {today:%d/%m/%Y})",
                      kind="invalid", field="on", on=on.isoformat(), today=today.isoformat())


def invitees(certificates: Iterable[Mapping[str, Any]]) -> list[Invitee]:
    """The holders of a round's valid certificates, in certificate-number order."""
    return [Invitee(certificate_number=d["number"], holder=d["holder"]["name"], product_name=d["product_name"],
                    dossier_id=d["dossier_id"], producer_registration_number=d["holder"].get("registration_number"))
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


def fold_ceremony(events: Sequence[RecordedEvent]) -> dict[str, Any]:
    """The ceremony's read model: what was scheduled, and the id of the event notify's deliveries point to."""
    scheduled = events[0]
    return {**scheduled.data, "scheduled_event_id": scheduled.id}


def with_deliveries(ceremony: Mapping[str, Any], deliveries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The ceremony with what notify sent about it: every delivery, and each invitee's own. Notify names a
    producer recipient ``producer:<registration number>``."""
    def mine(invitee: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        reg = invitee.get("producer_registration_number")
        return [d for d in deliveries if reg and d["recipient"] == f"producer:{reg}"]

    return {**ceremony, "invitees": [{**i, "deliveries": mine(i)} for i in ceremony["invitees"]],
            "deliveries": list(deliveries)}
