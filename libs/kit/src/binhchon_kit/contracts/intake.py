"""Events the intake service writes to ``intake.events``."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import EmailStr, Field, StringConstraints, field_validator, model_validator

from binhchon_kit.contracts.common import (
    Address,
    AuthorityId,
    Code,
    Contact,
    Document,
    Level,
    LongText,
    Phone,
    Producer,
    Product,
    Programme,
    RegistrationNumber,
    Text,
    Value,
)
from binhchon_kit.contracts.registry import EventData, registered
from binhchon_kit.personal import KID_PATTERN, Sealed, SealedCopy

TOPIC = "intake.events"


class Schedule(Value):
    submission_opens: date
    submission_closes: date
    check_working_days: int = Field(default=3, ge=1, le=60, description="completeness check due after N working days")
    supplement_working_days: int = Field(default=5, ge=1, le=60, description="default time to supplement")
    scoring_opens: date | None = None
    scoring_closes: date | None = None
    council_date: date | None = None
    result_due_date: date | None = Field(
        default=None, description="date the result is promised; defaults to council date")
    ceremony_date: date | None = None


class RoundArea(Value):
    """Where a round runs. A commune, district or province round names its province (codes from the GSO list),
    a district round its district and a commune round its commune (rounds opened from round.opened v3 on);
    a region round names its region and the provinces it covers; a national round covers the country.
    Which fields a level needs is checked when the round is opened (intake's domain), not here, so that every
    round.opened ever recorded still reads."""

    province_code: Code | None = None
    district_code: Code | None = None
    commune_code: Code | None = Field(default=None, description="commune rounds: the commune's GSO code (v3)")
    region: Text | None = Field(default=None, description="region rounds: the region's name, e.g. Khu vực phía Bắc")
    region_code: Code | None = Field(default=None, description="region rounds: the region's code, e.g. MB")
    province_codes: list[Code] = Field(default_factory=list,
                                       description="region rounds: the provinces the region covers")


class Receives(StrEnum):
    """What a round takes in."""

    ALL = "all"  # producers' dossiers inside the submission window, and dossiers escalated from child rounds
    ESCALATIONS_ONLY = "escalations_only"  # a parent round: only what its child rounds send up


class ApprovingAuthority(Value):
    """The competent authority that decides a round's results (ADR 0029): not always its organiser (a province's
    CNNTTB round is organised by the Sở Công Thương and decided by the UBND tỉnh)."""

    id: AuthorityId = Field(description="from the round's level and area, e.g. province:24 (binhchon_kit.authorities)")
    name: Text = Field(description="as printed on decisions and certificates, e.g. UBND tỉnh Bắc Giang")


@registered("round.opened", topic=TOPIC, schema_version=3)
class RoundOpened(EventData):
    """A selection round (đợt đánh giá/bình chọn) was opened at one level, in one area, for one year and batch.

    v2: ``area.province_code`` is optional (a region round names its region and provinces instead) and
    ``receives`` says whether producers may submit directly. A v1 event reads as v2 with ``receives: all``.
    v3: ``approving_authority``, who decides its results; ``area.commune_code``. A v1 or v2 event reads as v3
    with the authority over its area (a district round without a district: ``district-of-province:<code>``)
    named by its organiser."""

    round_id: str
    code: Code
    title: Text
    programme: Programme
    rulebook_id: Code
    level: Level
    area: RoundArea
    year: int = Field(ge=2010, le=2100)
    batch: int = Field(ge=1, le=20)
    organiser: Text
    schedule: Schedule
    parent_round_id: str | None = None
    max_supplement_requests: int = Field(default=1, ge=1, le=5)
    receives: Receives = Field(default=Receives.ALL, description="escalations_only: a parent round that takes "
                               "no direct submissions, only dossiers its child rounds send up")
    approving_authority: ApprovingAuthority

    @model_validator(mode="before")
    @classmethod
    def _upcast(cls, data: Any) -> Any:
        """A round opened before v3 names no approving authority: the one over its area, named by its organiser.
        Reading changes, never the stored data or its hash."""
        if isinstance(data, dict) and "approving_authority" not in data:
            from binhchon_kit.authorities import authority_id  # the kit module builds on these contracts

            area = data.get("area") or {}
            if isinstance(area, RoundArea):
                area = area.model_dump()
            try:
                found = authority_id(Level(str(data.get("level"))), **{k: area.get(k) for k in (
                    "province_code", "district_code", "commune_code", "region_code")})
            except ValueError:
                found = None  # an unknown level: the field's own validation names it
            if found is not None:
                data = {**data, "approving_authority": {"id": found, "name": data.get("organiser")}}
        return data


class EscalatedFrom(Value):
    dossier_id: str
    round_id: str
    result_event_id: str
    rating: str | None = None
    points: float | None = None


class ReceivedAddress(Address):
    street: Sealed | Text | None = Field(  # type: ignore[assignment]
        default=None, description="sealed (ADR 0035) from v2; clear text in v1")


class ReceivedContact(Contact):
    person: Sealed | Text = Field(description="sealed (ADR 0035) from v2; clear text in v1")  # type: ignore[assignment]
    phone: Sealed | Phone = Field(description="sealed (ADR 0035) from v2; clear text in v1")  # type: ignore[assignment]
    email: Sealed | EmailStr | None = Field(  # type: ignore[assignment]
        default=None, description="sealed (ADR 0035) from v2; clear text in v1")


class ReceivedProducer(Producer):
    """The producer as ``dossier.received`` carries it: its personal fields sealed with the producer's key; an
    individual's (a household business's) name and registration number too, from v3 (ADR 0048); from v4 every
    producer's, unless the secretariat has verified that it is an organisation (an escalation of an accepted
    dossier): a declared kind proves nothing (ADR 0048, fourth amendment)."""

    name: Sealed | Text = Field(  # type: ignore[assignment]
        description="sealed (ADR 0048) from v3 when the producer is a household business, from v4 unless it is an "
                    "organisation the secretariat verified (``dossier.accepted`` then carries it clear)")
    registration_number: Sealed | RegistrationNumber = Field(  # type: ignore[assignment]
        description="sealed as ``name`` is")
    address: ReceivedAddress
    contact: ReceivedContact


SEALED_FIELDS = ("producer.contact.person", "producer.contact.phone", "producer.contact.email",
                 "producer.address.street")
"""The personal fields of ``dossier.received``, sealed from v2 on (ADR 0035); with ``fields_to_seal`` an
individual producer's name and registration number too, from v3 (ADR 0048)."""


@registered("dossier.received", topic=TOPIC, schema_version=4)
class DossierReceived(EventData):
    """A producer's dossier was received and given a receipt (giấy biên nhận) with the check due date.

    v2: the contact person, phone, e-mail and street are sealed (``{"enc": "A256GCM", "kid", "iv", "ct"}``) with
    the producer's key, erasable by deleting it (ADR 0035). A v1 event carries them in clear and reads as it is.
    v3: a household business's name and registration number are sealed too (ADR 0048), and ``product_identity``
    says which dossier id the producer's own filing of this product has (derived from the registration number,
    which intake cannot read back once it is erased). A v2 event reads as v3 without it.
    v4: an organisation's name and registration number are sealed too until the secretariat verifies that it is
    one (ADR 0048, fourth amendment): an individual's 10-digit tax code cannot be told from an organisation's, and
    anyone may file declaring ``kind: cooperative``. ``dossier.accepted`` carries a verified organisation's
    clear; an escalation, of a dossier its level accepted, carries them clear here. A v3 event reads as it is."""

    dossier_id: str
    round_id: str
    round_code: Code
    programme: Programme
    level: Level
    receipt_number: str
    received_at: datetime
    check_due_date: date
    producer: ReceivedProducer
    product: Product
    documents: list[Document]
    escalated_from: EscalatedFrom | None = None
    product_identity: str | None = Field(
        default=None, max_length=120, description="the producer's own dossier id for this product (ADR 0037); "
        "from v3")

    @field_validator("producer", mode="before")
    @classmethod
    def _producer_as_given(cls, value: Any) -> Any:
        """A ``Producer`` (the clear form an applicant gives, or a v1 event carried) is taken as its fields."""
        return value.model_dump() if isinstance(value, Producer) and not isinstance(value, ReceivedProducer) else value


class MissingItem(Value):
    document_kind: Text | None = None
    description: Text


@registered("dossier.supplement_requested", topic=TOPIC)
class DossierSupplementRequested(EventData):
    """The secretariat asked, once and in writing, for every missing item of a dossier."""

    items: list[MissingItem] = Field(min_length=1)
    reason: Text
    due_date: date
    request_number: int = Field(ge=1)


@registered("dossier.supplemented", topic=TOPIC)
class DossierSupplemented(EventData):
    """The producer supplied what the supplement request listed; the check is due again."""

    documents: list[Document]
    note: LongText = ""
    check_due_date: date


@registered("dossier.accepted", topic=TOPIC, schema_version=2)
class DossierAccepted(EventData):
    """The dossier is complete and valid; it is classified and goes to scoring.

    v2: a household business's name and registration number are the sealed copies of ``dossier.received`` v3's
    (``SealedCopy``, ADR 0048): whoever shows them opens them with the producer's key, or shows them erased."""

    round_id: str
    rulebook_id: Code
    programme: Programme
    level: Level
    product_group: Text
    sample_code: Code
    result_due_date: date | None
    product_name: Text
    producer_name: SealedCopy | Text
    producer_address: Text | None = Field(
        default=None, description="commune, district, province; the street too for dossiers received before "
                                  "dossier.received v2 (the street is personal data, sealed there: ADR 0035)")
    province_code: Code | None = None
    producer_registration_number: SealedCopy | RegistrationNumber | None = Field(
        default=None, description="the producer's identity (names are never identity); a household's sealed (v2)")


@registered("dossier.rejected", topic=TOPIC)
class DossierRejected(EventData):
    """The dossier was refused, with the reason."""

    reason: Text


@registered("dossier.withdrawn", topic=TOPIC)
class DossierWithdrawn(EventData):
    """The producer withdrew the dossier before scoring."""

    reason: LongText = ""


class PromisedDate(StrEnum):
    CHECK = "check"
    RESULT = "result"


@registered("dossier.rescheduled", topic=TOPIC)
class DossierRescheduled(EventData):
    """A promised date slipped: a new date with an apology (phiếu xin lỗi và hẹn lại ngày trả kết quả)."""

    which: PromisedDate
    previous_date: date | None
    new_date: date
    apology_note: Text


# ---- producer bindings (ADR 0037): which accounts may file for which producer ----------------------------------

BINDING_NUMBER = Field(description="sealed (ADR 0048) from v2 when the producer is a household business")
PRODUCER_REF = Field(default=None, pattern=r"^producer-[0-9a-f-]{36}$", description="from v2: the producer, as a "
                     "hash of its registration number (what bindings are looked up by once the number is sealed)")


@registered("producer_binding.requested", topic=TOPIC, schema_version=2)
class ProducerBindingRequested(EventData):
    """An applicant's account filed for a producer for the first time: the secretariat is to verify it may.

    v2: a household business's registration number and name are sealed with its key (ADR 0048), and
    ``producer_ref`` names the producer; a v1 event reads as v2 without it."""

    binding_id: str
    applicant_id: str = Field(description="the account's token subject")
    registration_number: Sealed | RegistrationNumber = BINDING_NUMBER
    producer_name: Sealed | Text = Field(description="sealed (ADR 0048) from v2 for a household business")
    dossier_id: str = Field(description="the filing that asked")
    producer_ref: str | None = PRODUCER_REF


@registered("producer_binding.verified", topic=TOPIC, schema_version=2)
class ProducerBindingVerified(EventData):
    """The secretariat verified that the account files for the producer (its owner, or holding its authorisation).

    v2: as ``producer_binding.requested`` v2."""

    binding_id: str
    applicant_id: str
    registration_number: Sealed | RegistrationNumber = BINDING_NUMBER
    producer_ref: str | None = PRODUCER_REF
    dossier_id: str | None = Field(default=None, description="the dossier whose completeness check verified it")
    note: LongText = ""


@registered("producer_binding.refused", topic=TOPIC, schema_version=2)
class ProducerBindingRefused(EventData):
    """The secretariat refused the account's claim to file for the producer; its pending dossiers are rejected.

    v2: as ``producer_binding.requested`` v2."""

    binding_id: str
    applicant_id: str
    registration_number: Sealed | RegistrationNumber = BINDING_NUMBER
    producer_ref: str | None = PRODUCER_REF
    reason: Text


@registered("personal_data.erased", topic=TOPIC)
class PersonalDataErased(EventData):
    """A data subject's keys were deleted (ADR 0035): every field they sealed reads as erased from now on.
    Consumers drop the copies they opened. Names no one: the key ids and the dossiers they sealed fields of."""

    kids: list[Annotated[str, StringConstraints(pattern=KID_PATTERN)]] = Field(
        max_length=100, description="the erased keys' ids")
    dossier_ids: list[Annotated[str, StringConstraints(max_length=120)]] = Field(
        max_length=10000, description="the dossiers whose personal fields those keys sealed")
