"""Builders for intake's domain tests: a round, a dossier's contents, its events as the store records them."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from binhchon_kit.canonical import GENESIS_HASH, chain_hash
from binhchon_kit.contracts.common import Document, Producer, Product
from binhchon_kit.contracts.intake import DossierReceived, RoundOpened
from binhchon_kit.contracts.registry import EventData, registration_of
from binhchon_kit.envelope import utc_now
from binhchon_kit.events import Actor, RecordedEvent, hashed_content
from intake.domain import dossiers
from intake.domain.rounds import round_id_for

APPLICANT = Actor("applicant-htx-dong-hung", ("applicant",))
SECRETARIAT = Actor("secretariat-1", ("secretariat",))

OPENS, CLOSES = date(2026, 3, 2), date(2026, 4, 30)  # both working days
TODAY = date(2026, 3, 6)  # a Friday inside the submission window
COUNCIL = date(2026, 6, 15)


def round_opened(code: str = "BG-OCOP-2026-1", **over: Any) -> RoundOpened:
    schedule = {"submission_opens": OPENS, "submission_closes": CLOSES, "council_date": COUNCIL,
                **over.pop("schedule", {})}
    fields: dict[str, Any] = {
        "round_id": round_id_for(code), "code": code, "programme": "OCOP", "rulebook_id": "ocop-2025",
        "title": "Đánh giá, phân hạng sản phẩm OCOP tỉnh Bắc Giang năm 2026", "level": "province",
        "area": {"province_code": "24"}, "year": 2026, "batch": 1, "organiser": "UBND tỉnh Bắc Giang",
        "schedule": schedule, **over,
    }
    return RoundOpened.model_validate(fields)


def producer(registration_number: str = "2400123456") -> Producer:
    return Producer.model_validate({
        "kind": "cooperative", "name": "Hợp tác xã Nông nghiệp Đông Hưng",
        "registration_number": registration_number,
        "address": {"commune": "Xã Đông Hưng", "district": "Huyện Lục Nam", "district_code": "218",
                    "province": "Tỉnh Bắc Giang", "province_code": "24"},
        "contact": {"person": "Nguyễn Văn Đức", "phone": "0912 345 678"},
    })


def product(name: str = "Mật ong rừng Lục Nam") -> Product:
    return Product(name=name, product_group="thực phẩm", description="Mật ong nguyên chất", sample_count=5)


def document(kind: str, digit: str = "a") -> Document:
    return Document(kind=kind, file_name=f"{kind}.pdf", size_bytes=120_000, sha256=digit * 64)


def receive(round_: RoundOpened, today: date = TODAY, **over: Any) -> DossierReceived:
    fields: dict[str, Any] = {
        "dossier_id": dossiers.dossier_id_for(round_.round_id, "2400123456", "Mật ong rừng Lục Nam"),
        "receipt_number": "000.00.24.H06-260306-0001", "received_at": datetime.combine(today, time(9, 30)),
        "today": today, "producer": producer(), "product": product(),
        "documents": [document("registration_form"), document("business_plan", "b")], **over,
    }
    return dossiers.receive(round_, **fields)


def recorded(stream: str, version: int, prev_hash: str, data: EventData, actor: Actor = SECRETARIAT
             ) -> RecordedEvent:
    """A decided event as EventStore.append records it (its type from the data's class, ``data`` dumped as
    JSON, hashed into the chain)."""
    registration = registration_of(type(data))
    fields: dict[str, Any] = dict(
        id=f"{stream}-{version}", stream=stream, version=version, type=registration.type,
        schema_version=registration.schema_version, subject=stream, time=utc_now(),
        data=data.model_dump(mode="json"), actor=actor, correlation_id=f"corr-{stream}",
        causation_id=f"request-{version}", source="intake",
    )
    return RecordedEvent(**fields, prev_hash=prev_hash, hash=chain_hash(prev_hash, hashed_content(**fields)))


class DossierHistory:
    """One dossier's recorded events, folded with ``evolve`` as they come."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self.events: list[RecordedEvent] = []
        self.state: dossiers.Dossier | None = None

    def record(self, data: EventData, actor: Actor = SECRETARIAT) -> dossiers.Dossier:
        prev_hash = self.events[-1].hash if self.events else GENESIS_HASH
        event = recorded(self.stream, len(self.events) + 1, prev_hash, data, actor)
        self.events.append(event)
        self.state = dossiers.evolve(self.state, event)
        return self.state

    @property
    def dossier(self) -> dossiers.Dossier:
        assert self.state is not None
        return self.state


def received(round_: RoundOpened, today: date = TODAY) -> DossierHistory:
    decided = receive(round_, today)
    history = DossierHistory(decided.dossier_id)
    history.record(decided, APPLICANT)
    return history
