"""Which accounts may file for which producer (ADR 0037): a binding of an applicant's account to a producer's
registration number, verified once by the secretariat.

    (first filing) ──▶ requested ──verify──▶ verified
                           │                  ▲   │
                           └──refuse──▶ refused ◀─┘ (an authorisation withdrawn; a mistake corrected)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from binhchon_kit.contracts.intake import ProducerBindingRefused, ProducerBindingRequested, ProducerBindingVerified
from binhchon_kit.events import RecordedEvent, deterministic_id
from binhchon_kit.folding import replay
from binhchon_kit.personal import copy_sealed, is_individual_number, is_sealed
from intake.domain.errors import Refused


class Status(StrEnum):
    REQUESTED = "requested"
    VERIFIED = "verified"
    REFUSED = "refused"


def binding_id_for(applicant_id: str, registration_number: str) -> str:
    return "binding-" + deterministic_id("binding", applicant_id, registration_number.strip().upper())


def producer_ref(registration_number: str) -> str:
    """The producer, by a hash of its registration number: what bindings are looked up by, the number itself
    being sealed for a household business (ADR 0048)."""
    return "producer-" + deterministic_id("producer", registration_number.strip().upper())


@dataclass(frozen=True)
class Binding:
    id: str
    version: int
    status: Status
    applicant_id: str
    registration_number: str | dict[str, Any]  # sealed for a household business (ADR 0048)
    first_event_id: str = ""  # what a sealed number is bound to

    @property
    def sealed(self) -> bool:
        return is_sealed(self.registration_number)


def evolve(state: Binding | None, event: RecordedEvent) -> Binding:
    data = event.model()
    assert isinstance(data, ProducerBindingRequested | ProducerBindingVerified | ProducerBindingRefused)
    status = {ProducerBindingRequested: Status.REQUESTED, ProducerBindingVerified: Status.VERIFIED,
              ProducerBindingRefused: Status.REFUSED}[type(data)]
    if state is None:
        return Binding(event.stream, event.version, status, data.applicant_id,
                       event.data["registration_number"], event.id)
    return replace(state, version=event.version, status=status)


# ---- decisions -------------------------------------------------------------------------------------------

def request(state: Binding | None, *, applicant_id: str, registration_number: str, producer_name: str,
            dossier_id: str) -> ProducerBindingRequested | None:
    """The first filing asks; later filings find the binding already there (nothing to record)."""
    if state is not None:
        return None
    return ProducerBindingRequested(
        binding_id=binding_id_for(applicant_id, registration_number), applicant_id=applicant_id,
        registration_number=registration_number.strip().upper(), producer_name=producer_name, dossier_id=dossier_id,
        producer_ref=producer_ref(registration_number))


def verify(state: Binding | None, *, applicant_id: str, registration_number: str, note: str = "",
           dossier_id: str | None = None) -> ProducerBindingVerified:
    """Verified from requested or refused, or registered verified at the counter (no binding yet)."""
    if state is not None and state.status is Status.VERIFIED:
        raise Refused("the binding is already verified", current_status=state.status.value)
    return ProducerBindingVerified(
        binding_id=binding_id_for(applicant_id, registration_number), applicant_id=applicant_id,
        registration_number=registration_number.strip().upper(), dossier_id=dossier_id, note=note,
        producer_ref=producer_ref(registration_number))


def sealed_at_counter(state: Binding | None, registration_number: str, individual: bool | None) -> bool:
    """Whether a binding registered at the counter seals its number (ADR 0048, amendment): a household's always.
    A household is told by the kind declared (``individual``), by a binding already sealed, or by a number only
    an individual holds; an organisation by the kind declared or by a clear binding (asked by a filing before ADR
    0048's fourth amendment: a filing now asks a sealed one, a declared kind proving nothing). A
    number told by none of these is refused: stored clear, a household's number could never be erased."""
    if individual or is_individual_number(registration_number) or (state is not None and state.sealed):
        return True
    if individual is None and state is None:
        raise Refused("producer_kind: whether the producer is a household business (hộ kinh doanh) cannot be told "
                      "from its registration number; say it (household, enterprise, cooperative, cooperative_group)",
                      kind="invalid", field="producer_kind")
    return False


def refuse(state: Binding, *, reason: str, registration_number: str | None = None) -> ProducerBindingRefused:
    """``registration_number``: the binding's, opened by the caller where it is sealed (ADR 0048)."""
    if state.status is Status.REFUSED:
        raise Refused("the binding is already refused", current_status=state.status.value)
    if registration_number is None:
        assert isinstance(state.registration_number, str), "a sealed number is opened by the caller"
        registration_number = state.registration_number
    return ProducerBindingRefused(binding_id=state.id, applicant_id=state.applicant_id,
                                  registration_number=registration_number.strip().upper(), reason=reason,
                                  producer_ref=producer_ref(registration_number))


# ---- read model ------------------------------------------------------------------------------------------

def producer_key(doc: Mapping[str, Any]) -> str | None:
    """The key a producer's bindings are walked by (ADR 0053, 2026-11-30): its reference, then the binding's id,
    so that one producer's bindings are one range of its index; none without a reference."""
    ref = doc.get("producer_ref")
    return f"{ref}|{doc.get('binding_id') or doc['_id']}" if isinstance(ref, str) else None


def fold_binding(events: Sequence[RecordedEvent]) -> dict[str, Any]:
    """The binding as the secretariat's list shows it: state, and who decided it when (the history is the stream)."""
    state = replay(evolve, events)
    assert state is not None
    number = state.registration_number
    doc: dict[str, Any] = {
        "binding_id": state.id, "applicant_id": state.applicant_id, "status": state.status.value,
        # a household's number and name as copies of the sealed fields (ADR 0048): opened where they are shown
        "registration_number": _kept(number, state.first_event_id, "registration_number"),
        "producer_ref": events[0].data.get("producer_ref")
        or (producer_ref(number) if isinstance(number, str) else None),
        "page_key": state.id,  # ASCII and unique: the list's order (ADR 0015)
        "applicant_page_key": f"{state.applicant_id}|{state.id}",
    }
    doc["producer_key"] = producer_key(doc)
    for event in events:
        data = event.model()
        if isinstance(data, ProducerBindingRequested):
            doc.update(producer_name=_kept(event.data["producer_name"], event.id, "producer_name"),
                       requested_at=event.time, requested_with=data.dossier_id)
        elif isinstance(data, ProducerBindingVerified):
            doc.update(decided_by=event.actor.id, decided_at=event.time, verified_with=data.dossier_id,
                       note=data.note, reason=None)
        elif isinstance(data, ProducerBindingRefused):
            doc.update(decided_by=event.actor.id, decided_at=event.time, reason=data.reason)
    return doc


def _kept(value: Any, event_id: str, path: str) -> Any:
    return copy_sealed(value, event_id=event_id, path=path) if is_sealed(value) else value
