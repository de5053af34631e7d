"""A dossier (hồ sơ) from receipt to the end of intake: the one-stop-shop completeness check.

    received ──request supplement──▶ supplement_requested ──supplement──▶ supplemented
       │  ▲                                                                  │
       │  └──────────────(a further request, only where the round allows)───┘
       ├──accept──▶ accepted (goes to scoring)        any state before scoring ──withdraw──▶ withdrawn
       └──reject──▶ rejected
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from binhchon_kit.contracts.intake import (
    DossierAccepted,
    DossierReceived,
    DossierRejected,
    DossierRescheduled,
    DossierSupplemented,
    DossierSupplementRequested,
    DossierWithdrawn,
    PromisedDate,
    Receives,
    RoundOpened,
)
from binhchon_kit.events import RecordedEvent, deterministic_id
from binhchon_kit.folding import replay
from binhchon_kit.personal import copy_sealed, is_individual, is_individual_number, is_sealed
from binhchon_kit.text import skeleton
from binhchon_kit.workdays import add_working_days
from intake.domain.errors import Refused


class Status(StrEnum):
    RECEIVED = "received"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    SUPPLEMENTED = "supplemented"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


AWAITING_CHECK = (Status.RECEIVED, Status.SUPPLEMENTED)
WITHDRAWABLE = (Status.RECEIVED, Status.SUPPLEMENT_REQUESTED, Status.SUPPLEMENTED, Status.ACCEPTED)


def product_key(name: str) -> str:
    """Two spellings of one product name a reader cannot tell apart are the same product: differing in case,
    spacing, invisible characters, compatibility forms or Cyrillic/Greek look-alike letters (ADR 0027)."""
    return skeleton(name)


def dossier_id_for(round_id: str, registration_number: str, product_name: str) -> str:
    """One producer's one product in one round has one dossier id: a second submission collides with the first."""
    return "dossier-" + deterministic_id(round_id, registration_number.upper(), product_key(product_name))


def unverified_dossier_id_for(round_id: str, registration_number: str, product_name: str, applicant_id: str) -> str:
    """The dossier id of an account not (yet) verified for the producer (ADR 0037): it carries the account, so
    such a filing never takes the producer's own id and blocks no one; the same account filing twice collides."""
    return "dossier-" + deterministic_id(round_id, registration_number.upper(), product_key(product_name),
                                         "applicant", applicant_id)


def product_identity(state: Dossier) -> str:
    """The producer's own dossier id for this dossier's product: what two accounts' dossiers of one product share.
    From dossier.received v3 the event says it (an individual's registration number is sealed there: ADR 0048)."""
    given = state.received.get("product_identity")
    if isinstance(given, str):
        return given
    return dossier_id_for(state.round_id, state.received["producer"]["registration_number"],
                          state.received["product"]["name"])


@dataclass(frozen=True)
class Dossier:
    id: str
    version: int
    status: Status
    round_id: str
    producer_id: str  # the applicant's token subject
    check_due_date: date
    result_due_date: date | None = None
    supplement_requests: int = 0
    received: dict[str, Any] = field(default_factory=dict)
    received_event_id: str = ""  # what the producer's sealed fields are bound to (ADR 0035)


def evolve(state: Dossier | None, event: RecordedEvent) -> Dossier:
    """The dossier after ``event``, chosen by the event's class."""
    match data := event.model():
        case DossierReceived():
            return Dossier(id=event.stream, version=event.version, status=Status.RECEIVED, round_id=data.round_id,
                           producer_id=event.actor.id, check_due_date=data.check_due_date, received=event.data,
                           received_event_id=event.id)
    assert state is not None, f"{event.type} before the dossier was received"
    state = replace(state, version=event.version)
    match data:
        case DossierSupplementRequested(request_number=number):
            return replace(state, status=Status.SUPPLEMENT_REQUESTED, supplement_requests=number)
        case DossierSupplemented(check_due_date=due):
            return replace(state, status=Status.SUPPLEMENTED, check_due_date=due)
        case DossierAccepted(result_due_date=due):
            return replace(state, status=Status.ACCEPTED, result_due_date=due)
        case DossierRejected():
            return replace(state, status=Status.REJECTED)
        case DossierWithdrawn():
            return replace(state, status=Status.WITHDRAWN)
        case DossierRescheduled(which=PromisedDate.CHECK, new_date=new):
            return replace(state, check_due_date=new)
        case DossierRescheduled(new_date=new):
            return replace(state, result_due_date=new)
    return state


def _require(state: Dossier, allowed: Sequence[Status], action: str) -> None:
    if state.status not in allowed:
        raise Refused(f"cannot {action}: the dossier is {state.status.value}", current_status=state.status.value)


# ---- decisions -------------------------------------------------------------------------------------------

def kind_fits_number(kind: Any, registration_number: str) -> None:
    """A filing that names an organisation (enterprise, cooperative, cooperative group) is refused when its
    registration number has a shape only an individual's has (``binhchon_kit.personal.INDIVIDUAL_NUMBER``, ADR 0048):
    received as filed, a household business's number would be on the forever topic in clear, never erasable.
    The same rule the counter binding applies; the shape only ever refuses clear, never makes a number public."""
    if not is_individual(kind) and is_individual_number(registration_number):
        raise Refused(
            "producer_kind: số đăng ký có dạng số của hộ kinh doanh (mã số thuế/số định danh cá nhân 12 chữ số, "
            "hoặc số giấy chứng nhận đăng ký hộ kinh doanh do cấp huyện cấp), không phải của doanh nghiệp, hợp "
            "tác xã hay tổ hợp tác; nếu chủ thể là hộ kinh doanh, hãy khai loại chủ thể là hộ kinh doanh "
            "(producer.kind: household)", kind="invalid", field="producer_kind")


def receive(
    round_: RoundOpened, *, dossier_id: str, receipt_number: str, received_at: datetime, today: date,
    producer: Any, product: Any, documents: list[Any], escalated_from: Any = None, product_identity: str | None = None,
) -> DossierReceived:
    """A receipt is never refused for lateness when the dossier is escalated (the lower level sent it)."""
    if escalated_from is None and round_.receives is Receives.ESCALATIONS_ONLY:
        raise Refused(f"round {round_.code} only receives dossiers sent up from its child rounds; submit the "
                      "dossier to the round of your own level", receives=round_.receives.value)
    if escalated_from is None and not (round_.schedule.submission_opens <= today <= round_.schedule.submission_closes):
        raise Refused(
            f"round {round_.code} takes dossiers from {round_.schedule.submission_opens} "
            f"to {round_.schedule.submission_closes}", today=today.isoformat())
    return DossierReceived(
        dossier_id=dossier_id, round_id=round_.round_id, round_code=round_.code, programme=round_.programme,
        level=round_.level, receipt_number=receipt_number, received_at=received_at,
        check_due_date=add_working_days(today, round_.schedule.check_working_days), producer=producer,
        product=product, documents=documents, escalated_from=escalated_from, product_identity=product_identity,
    )


def request_supplement(
    state: Dossier, round_: RoundOpened, *, items: list[Any], reason: str, due_date: date | None, today: date
) -> DossierSupplementRequested:
    _require(state, AWAITING_CHECK, "request a supplement")
    if state.supplement_requests >= round_.max_supplement_requests:
        raise Refused(
            "the supplement request is written once, listing every missing item; this round allows "
            f"{round_.max_supplement_requests} request(s) and {state.supplement_requests} was already made",
            current_status=state.status.value)
    due = due_date or add_working_days(today, round_.schedule.supplement_working_days)
    if due <= today:
        raise Refused("due_date must be after today", kind="invalid", field="due_date")
    return DossierSupplementRequested(items=items, reason=reason, due_date=due,
                                      request_number=state.supplement_requests + 1)


def supplement(state: Dossier, round_: RoundOpened, *, documents: list[Any], note: str, today: date
               ) -> DossierSupplemented:
    _require(state, (Status.SUPPLEMENT_REQUESTED,), "supplement")
    return DossierSupplemented(documents=documents, note=note,
                               check_due_date=add_working_days(today, round_.schedule.check_working_days))


def accept(state: Dossier, round_: RoundOpened, *, product_group: str, sample_code: str,
           organisation: Mapping[str, str] | None = None) -> DossierAccepted:
    """``organisation``: the producer's name and registration number, opened, when it is an organisation whose
    identity was sealed at filing (ADR 0048, fourth amendment): this acceptance verifies it, and makes them public."""
    _require(state, AWAITING_CHECK, "accept")
    product = state.received["product"]
    carried = dict(organisation) if organisation else {f: _carried(state, f) for f in ("name", "registration_number")}
    return DossierAccepted(
        round_id=round_.round_id, rulebook_id=round_.rulebook_id, programme=round_.programme, level=round_.level,
        product_group=product_group, sample_code=sample_code,
        result_due_date=round_.schedule.result_due_date or round_.schedule.council_date,
        product_name=product["name"], producer_name=carried["name"],
        producer_address=address_line(state.received["producer"]["address"]),
        province_code=state.received["producer"]["address"]["province_code"],
        producer_registration_number=carried["registration_number"],
    )


def _carried(state: Dossier, field_name: str) -> Any:
    """A producer's identity field as a later event carries it: clear, or the sealed copy of an individual's
    (ADR 0048), which opens with the producer's key wherever it travels."""
    value = state.received["producer"][field_name]
    if is_sealed(value):
        return copy_sealed(value, event_id=state.received_event_id, path=f"producer.{field_name}")
    return value


def address_line(address: dict[str, Any]) -> str:
    """The address as dossier.accepted carries it. A sealed street (dossier.received v2, ADR 0035) is left out:
    it is personal data, and the events downstream are not erasable."""
    return ", ".join(address[k] for k in ("street", "commune", "district", "province")
                     if isinstance(address.get(k), str) and address[k])


def reject(state: Dossier, *, reason: str) -> DossierRejected:
    _require(state, AWAITING_CHECK, "reject")
    return DossierRejected(reason=reason)


def reject_unbound(state: Dossier, *, reason: str) -> DossierRejected | None:
    """A refused binding rejects the account's dossiers for that producer still before acceptance (none: this one
    is past that, or already closed)."""
    if state.status not in (*AWAITING_CHECK, Status.SUPPLEMENT_REQUESTED):
        return None
    return DossierRejected(reason=reason)


def withdraw(state: Dossier, *, reason: str) -> DossierWithdrawn:
    # Accepted dossiers may still be withdrawn until scoring starts; scoring's own events will close that door.
    _require(state, WITHDRAWABLE, "withdraw")
    return DossierWithdrawn(reason=reason)


def reschedule(state: Dossier, *, which: PromisedDate, new_date: date, apology_note: str, today: date
               ) -> DossierRescheduled:
    if which is PromisedDate.CHECK:
        _require(state, AWAITING_CHECK, "reschedule the check")
        previous: date | None = state.check_due_date
    else:
        _require(state, (Status.ACCEPTED,), "reschedule the result")
        previous = state.result_due_date
    if new_date <= today or (previous is not None and new_date <= previous):
        raise Refused("new_date must be later than today and than the date it replaces", kind="invalid",
                      field="new_date", previous_date=previous.isoformat() if previous else None)
    return DossierRescheduled(which=which, previous_date=previous, new_date=new_date, apology_note=apology_note)


def is_overdue(state: Dossier, as_of: date) -> bool:
    return state.status in AWAITING_CHECK and state.check_due_date < as_of


# ---- read model ------------------------------------------------------------------------------------------

def check_key(doc: Mapping[str, Any]) -> str | None:
    """Where a dossier stands in the overdue list (ADR 0015): by the day its check is due, then receipt number;
    none when no check awaits it, so the list's query leaves it out."""
    if doc["status"] not in AWAITING_CHECK:
        return None
    return f"{doc['check_due_date']}|{doc['receipt_number']}"


def filter_keys(doc: Mapping[str, Any]) -> dict[str, str]:
    """The lists' keys for their selective filters, an applicant's or a round's dossiers: the filter's value then
    the receipt number (ADR 0015), so such a page walks that applicant's or round's rows only."""
    return {"applicant_page_key": f"{doc['applicant_id']}|{doc['receipt_number']}",
            "round_page_key": f"{doc['round_id']}|{doc['receipt_number']}"}


def identity_key(doc: Mapping[str, Any]) -> str | None:
    """The key the duplicate check of an acceptance walks (ADR 0053, 2026-11-30): the producer's product identity,
    then the receipt number (unique), so that one product's dossiers are one range of its index."""
    identity = doc.get("product_identity")
    return f"{identity}|{doc['receipt_number']}" if isinstance(identity, str) else None


def fold_dossier(events: Sequence[RecordedEvent]) -> dict[str, Any]:
    """The dossier's read model: current state, the receipt, and the whole history from its events."""
    state = replay(evolve, events)
    assert state is not None
    received = state.received
    last = events[-1]
    doc: dict[str, Any] = {
        "dossier_id": state.id, "status": state.status.value, "round_id": state.round_id,
        "round_code": received["round_code"], "programme": received["programme"], "level": received["level"],
        "receipt_number": received["receipt_number"], "received_at": received["received_at"],
        "check_due_date": state.check_due_date.isoformat(),
        "result_due_date": state.result_due_date.isoformat() if state.result_due_date else None,
        "producer": received["producer"], "product": received["product"], "applicant_id": state.producer_id,
        "province_code": received["producer"]["address"]["province_code"],
        "district_code": received["producer"]["address"].get("district_code"),
        "escalated_from": received.get("escalated_from"), "updated_at": last.time,
        # the producer's personal fields stay sealed here; they open with this event's id (ADR 0035)
        "received_event_id": events[0].id,
        "page_key": received["receipt_number"],  # its place in the lists (unique, ASCII: ADR 0015)
        "product_identity": product_identity(state),  # one accepted dossier per producer's product (ADR 0037)
    }
    doc["check_key"] = check_key(doc)
    doc["identity_key"] = identity_key(doc)
    doc.update(filter_keys(doc))
    for event in events:
        if isinstance(accepted := event.model(), DossierAccepted):
            doc["classification"] = {"product_group": accepted.product_group, "sample_code": accepted.sample_code}
    return doc
