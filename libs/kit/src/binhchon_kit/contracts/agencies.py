"""What agencies' webhooks carry: the one declaration of the event types and fields published to agencies (ADR 0028),
beside the contracts it is a view of; notify's webhooks send it (notify.domain.published).

A webhook is not the topic. The topics carry every event whole, hash-chained, to the services and the auditors
that are their principals; an agency's webhook gets a view of the events it is meant to know of, and of each only
the fields declared here. Anything not declared is not sent: a type added to a contract, or a field added to a
type, reaches no agency until someone writes it here.

Never published: the judges' sheets (``score.submitted``, ``score.amended``, ``scoring.rescore_requested``'s
member totals), who scores what (``judge.recused``, ``panel.member_substituted``), the council's figures before
the authority decides (``scoring.completed``, ``result.proposed``: the decision is ``result.approved`` or
``result.not_recognised``), and personal data (issue 13: the contact person, phone, e-mail, street,
registration numbers; the panel's members).

A household business's name and registration number (ADR 0048) are personal data too, but they sit in fields
published for an organisation (``producer_name``, ``holder.name``, an invitee's ``holder``): there the events carry
them sealed, and a sealed value (its ciphertext, a copy of it) is never sent: it goes as ``WITHHELD`` instead,
whatever field it is in (``withheld``). An organisation's name, in clear, goes as it is.

A field set is a mapping: ``True`` publishes a field as it is; a nested mapping publishes only those fields of an
object, or of each object of a list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Union

from binhchon_kit.personal import is_sealed

WITHHELD = "[dữ liệu cá nhân]"
"""What a webhook carries in place of a sealed value: a household business's name or number (personal data)."""

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




def withheld(value: Any) -> Any:
    """``value`` with every sealed value in it (a ciphertext, a sealed copy) replaced by ``WITHHELD``."""
    if is_sealed(value):
        return WITHHELD
    if isinstance(value, Mapping):
        return {name: withheld(item) for name, item in value.items()}
    if isinstance(value, list):
        return [withheld(item) for item in value]
    return value
