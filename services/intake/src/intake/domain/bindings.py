"""Which accounts may file for which producer (ADR 0037): a binding of an applicant's account to a producer's
registration number, verified once by the secretariat.

    (first filing) ──▶ requested ──verify──▶ verified
                           │                  ▲   │
                           └──refuse──▶ refused ◀─┘ (an authorisation withdrawn; a mistake corrected)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from binhchon_kit.contracts.intake import ProducerBindingRefused, ProducerBindingRequested, ProducerBindingVerified
from binhchon_kit.events import RecordedEvent, deterministic_id
from binhchon_kit.folding import replay
from intake.domain.errors import Refused


class Status(StrEnum):
    REQUESTED = "requested"
    VERIFIED = "verified"
    REFUSED = "refused"


def binding_id_for(applicant_id: str, registration_number: str) -> str:
    return "binding-" + deterministic_id("binding", applicant_id, registration_number.strip().upper())


@dataclass(frozen=True)
class Binding:
    id: str
    version: int
    status: Status
    applicant_id: str
    registration_number: str


def evolve(state: Binding | None, event: RecordedEvent) -> Binding:
    data = event.model()
    assert isinstance(data, ProducerBindingRequested | ProducerBindingVerified | ProducerBindingRefused)
    status = {ProducerBindingRequested: Status.REQUESTED, ProducerBindingVerified: Status.VERIFIED,
              ProducerBindingRefused: Status.REFUSED}[type(data)]
    if state is None:
        return Binding(event.stream, event.version, status, data.applicant_id, data.registration_number)
    return replace(state, version=event.version, status=status)


# ---- decisions -------------------------------------------------------------------------------------------

def request(state: Binding | None, *, applicant_id: str, registration_number: str, producer_name: str,
            dossier_id: str) -> ProducerBindingRequested | None:
    """The first filing asks; later filings find the binding already there (nothing to record)."""
    if state is not None:
        return None
    return ProducerBindingRequested(
        binding_id=binding_id_for(applicant_id, registration_number), applicant_id=applicant_id,
        registration_number=registration_number.strip().upper(), producer_name=producer_name, dossier_id=dossier_id)


def verify(state: Binding | None, *, applicant_id: str, registration_number: str, note: str = "",
           dossier_id: str | None = None) -> ProducerBindingVerified:
    """Verified from requested or refused, or registered verified at the counter (no binding yet)."""
    if state is not None and state.status is Status.VERIFIED:
        raise Refused("the binding is already verified", current_status=state.status.value)
    return ProducerBindingVerified(
        binding_id=binding_id_for(applicant_id, registration_number), applicant_id=applicant_id,
        registration_number=registration_number.strip().upper(), dossier_id=dossier_id, note=note)


def refuse(state: Binding, *, reason: str) -> ProducerBindingRefused:
    if state.status is Status.REFUSED:
        raise Refused("the binding is already refused", current_status=state.status.value)
    return ProducerBindingRefused(binding_id=state.id, applicant_id=state.applicant_id,
                                  registration_number=state.registration_number, reason=reason)


# ---- read model ------------------------------------------------------------------------------------------

def fold_binding(events: Sequence[RecordedEvent]) -> dict[str, Any]:
    """The binding as the secretariat's list shows it: state, and who decided it when (the history is the stream)."""
    state = replay(evolve, events)
    assert state is not None
    doc: dict[str, Any] = {
        "binding_id": state.id, "applicant_id": state.applicant_id,
        "registration_number": state.registration_number, "status": state.status.value,
        "page_key": state.id,  # ASCII and unique: the list's order (ADR 0015)
        "applicant_page_key": f"{state.applicant_id}|{state.id}",
    }
    for event in events:
        data = event.model()
        if isinstance(data, ProducerBindingRequested):
            doc.update(producer_name=data.producer_name, requested_at=event.time, requested_with=data.dossier_id)
        elif isinstance(data, ProducerBindingVerified):
            doc.update(decided_by=event.actor.id, decided_at=event.time, verified_with=data.dossier_id,
                       note=data.note, reason=None)
        elif isinstance(data, ProducerBindingRefused):
            doc.update(decided_by=event.actor.id, decided_at=event.time, reason=data.reason)
    return doc
