"""What agencies' webhooks carry: the one declaration of the event types and fields published to agencies (ADR 0028).

A webhook is not the topic. The topics carry every event whole, hash-chained, to the services and the auditors
that are their principals; an agency's webhook gets a view of the events it is meant to know of, and of each only
the fields declared here. Anything not declared is not sent: a type added to a contract, or a field added to a
type, reaches no agency until someone writes it here.

Never published: the judges' sheets (``score.submitted``, ``score.amended``, ``scoring.rescore_requested``'s
member totals), who scores what (``judge.recused``, ``panel.member_substituted``), the council's figures before
the authority decides (``scoring.completed``, ``result.proposed``: the decision is ``result.approved`` or
``result.not_recognised``), and personal data (issue 13: the contact person, phone, e-mail, street,
registration numbers; the panel's members).

A field set is a mapping: ``True`` publishes a field as it is; a nested mapping publishes only those fields of an
object, or of each object of a list.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Union

from binhchon_kit.events import RecordedEvent

Fields = Mapping[str, Union[bool, "Fields"]]

_ADDRESS_NO_STREET: Fields = {"commune": True, "commune_code": True, "district": True, "district_code": True,
                              "province": True, "province_code": True}
_DECISION: Fields = {"number": True, "date": True, "signer": True, "authority": True}

PUBLISHED: Mapping[str, Fields] = {
    "round.opened": {"round_id": True, "code": True, "title": True, "programme": True, "rulebook_id": True,
                     "level": True, "area": True, "year": True, "batch": True, "organiser": True, "schedule": True,
                     "parent_round_id": True, "max_supplement_requests": True, "receives": True},
    "dossier.received": {"dossier_id": True, "round_id": True, "round_code": True, "programme": True, "level": True,
                         "received_at": True, "check_due_date": True,
                         "producer": {"kind": True, "name": True, "address": _ADDRESS_NO_STREET},
                         "product": {"name": True, "product_group": True, "sample_count": True},
                         "documents": {"kind": True}, "escalated_from": True},
    "dossier.supplement_requested": {"items": True, "reason": True, "due_date": True, "request_number": True},
    "dossier.supplemented": {"documents": {"kind": True}, "check_due_date": True},
    "dossier.accepted": {"round_id": True, "rulebook_id": True, "programme": True, "level": True,
                         "product_group": True, "sample_code": True, "result_due_date": True, "product_name": True,
                         "producer_name": True, "province_code": True},
    "dossier.rejected": {"reason": True},
    "dossier.withdrawn": {},  # the producer's own words stay with the secretariat
    "dossier.rescheduled": {"which": True, "previous_date": True, "new_date": True, "apology_note": True},
    "panel.formed": {"panel_id": True, "round_id": True, "name": True, "sessions": True},
    "scoring.opened": {"dossier_id": True, "round_id": True, "programme": True, "level": True, "rulebook_id": True,
                       "rulebook_version": True, "sheet_id": True, "product_group": True, "product_name": True,
                       "producer_name": True, "sample_code": True, "province_code": True},
    "result.approved": {"dossier_id": True, "round_id": True, "programme": True, "level": True, "rulebook_id": True,
                        "rating": True, "points": True, "decision": _DECISION, "goes_up_a_level": True,
                        "next_level": True, "product_name": True, "producer_name": True, "province_code": True,
                        "certificate_validity_months": True},
    "result.not_recognised": {"dossier_id": True, "round_id": True, "programme": True, "level": True, "points": True,
                              "rating_label": True, "reason": True, "reason_code": True, "reason_params": True,
                              "next_step": True, "decision": _DECISION, "product_name": True, "producer_name": True},
    "certificate.issued": {"certificate_id": True, "number": True, "dossier_id": True, "round_id": True,
                           "programme": True, "level": True, "product_name": True, "holder": {"name": True},
                           "rating_label": True, "stars": True, "points": True, "decision": _DECISION,
                           "issued_on": True, "valid_until": True, "issuer": True, "rulebook_id": True,
                           "supersedes": True, "province_code": True},
    "certificate.superseded": {"number": True, "superseded_by": True},
    "certificate.revoked": {"number": True, "reason": True, "revoked_on": True},
    "certificate.expiring": {"number": True, "valid_until": True, "holder": {"name": True}, "product_name": True},
    "certificate.expired": {"number": True, "valid_until": True},
    "ceremony.scheduled": {"ceremony_id": True, "round_id": True, "title": True, "on": True, "at": True,
                           "place": True, "invitees": {"certificate_number": True, "holder": True,
                                                       "product_name": True, "dossier_id": True},
                           "invitation_days_before": True, "confirmation_days_before": True},
    # a prize paid to an establishment is public money: its amount and day, not the payment order (ADR 0050)
    "award.paid": {"award_id": True, "round_id": True, "amount": True, "paid_on": True},
}

# never in a webhook, whatever a subscription or a future edit of PUBLISHED says (a test holds the two apart)
# (personal_data.erased: internal housekeeping of keys agencies never had, ADR 0035; fee.paid: a person's pay;
# samples.return_due: it ties a selection code to its dossier, which judges scoring by code must not learn: ADR 0046)
SEALED = frozenset({"score.submitted", "score.amended", "scoring.rescore_requested", "scoring.completed",
                    "result.proposed", "judge.recused", "panel.member_substituted", "personal_data.erased",
                    "fee.paid", "samples.return_due"})


def is_published(event_type: str) -> bool:
    return event_type in PUBLISHED and event_type not in SEALED


def published_types() -> list[str]:
    """What a subscription to "all types" (no ``event_types``) receives."""
    return sorted(t for t in PUBLISHED if is_published(t))


def project(value: Any, fields: Fields) -> Any:
    """Only the declared fields of an object (of each object of a list); a value that is no object is dropped
    where fields were declared for one."""
    if isinstance(value, list):
        return [project(item, fields) for item in value if isinstance(item, Mapping)]
    if not isinstance(value, Mapping):
        return None
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in value or spec is False:
            continue
        out[name] = value[name] if spec is True else project(value[name], spec)
    return out


def agency_data(event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    if not is_published(event_type):
        raise ValueError(f"{event_type} is not published to agencies")
    return project(data, PUBLISHED[event_type])  # type: ignore[no-any-return]


def agency_event(event: RecordedEvent) -> bytes:
    """The webhook body: a CloudEvent (structured mode) with the event's identity and the published fields of its
    data. Not the topic's envelope: no actor, no stream, no hash chain (a projection has no hash of its own to
    check; the webhook's signature is what proves it came from notify), no ``dataschema`` (the data is a part of
    the schema's)."""
    published = event.to_cloudevent()
    body = {"specversion": published.specversion, "id": published.id, "source": published.source,
            "type": published.type, "subject": published.subject, "time": published.time,
            "datacontenttype": "application/json", "data": agency_data(event.type, event.data)}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
