"""Who decides a round's results (ADR 0029): only an approver acting for the round's approving authority, and
the decision recorded is that authority's, whatever name the approver typed."""

from __future__ import annotations

import unicodedata
from datetime import date

from pydantic import Field

from binhchon_kit.authorities import acts_for
from binhchon_kit.contracts.common import DecisionReference, Text, Value
from binhchon_kit.contracts.intake import ApprovingAuthority
from scoring.domain.errors import Refused


def _same_name(a: str, b: str) -> bool:
    """Names compared as people mean them: NFC, case folded, runs of whitespace as one space."""
    def norm(text: str) -> str:
        return " ".join(unicodedata.normalize("NFC", text).casefold().split())
    return norm(a) == norm(b)


class DecisionInput(Value):
    """A decision (quyết định) as the approver gives it: the authority comes from the round."""

    number: Text
    date: date
    signer: Text
    authority: Text | None = Field(default=None, description="may be left out: it is the round's approving "
                                                             "authority; if given, it must be that one's name")


def authority_decision(authority: ApprovingAuthority, acting_for: frozenset[str], given: DecisionInput
                       ) -> DecisionReference:
    """The decision as the round's approving authority makes it. Refused (403) for an approver who does not act
    for that authority; refused (422, naming ``decision.authority``) when the body names another authority."""
    require_acting_for(authority, acting_for)
    if given.authority is not None and not _same_name(given.authority, authority.name):
        raise Refused(f"decision.authority: this round's results are decided by {authority.name}, not "
                      f"{given.authority}", kind="invalid", field="decision.authority", expected=authority.name)
    return DecisionReference(number=given.number, date=given.date, signer=given.signer, authority=authority.name,
                             authority_id=authority.id)


def require_acting_for(authority: ApprovingAuthority, acting_for: frozenset[str]) -> None:
    """Refused (403, naming the round's authority: it is public) unless the approver acts for it."""
    if not acts_for(acting_for, authority.id):
        raise Refused(f"this round's results are decided by {authority.name} ({authority.id}); your token does not "
                      "act for it", kind="forbidden", reason="not_this_authority", authority_id=authority.id,
                      your_authorities=sorted(acting_for))
