"""Events the certification service writes to ``certification.events``; subject: the dossier id (ceremonies:
the round id). A certificate's events carry what notify needs to tell the holder."""

from __future__ import annotations

from datetime import date, time

from pydantic import Field

from binhchon_kit.contracts.common import Code, DecisionReference, Level, Programme, RegistrationNumber, Text, Value
from binhchon_kit.contracts.registry import EventData, registered
from binhchon_kit.personal import SealedCopy

TOPIC = "certification.events"


class Holder(Value):
    name: SealedCopy | Text = Field(description="a household business's is the sealed copy of its dossier.received "
                                   "v3 name (certificate.issued v3, ADR 0048): opened where it is shown")
    address: Text
    registration_number: RegistrationNumber | None = Field(
        default=None, description="not set on issued certificates (ADR 0010): for a household producer it is a "
                                  "personal identifier, and signed content can never be erased; certification "
                                  "keeps the holder's identity in its own read model. Set only on certificates "
                                  "issued before that decision")


@registered("certificate.issued", topic=TOPIC, schema_version=3)
class CertificateIssued(EventData):
    """A certificate (giấy chứng nhận) was issued for an approved, recognised result, and signed.

    v2: ``decision.authority_id``, the issuing authority's id (ADR 0029), which also makes the number's prefix;
    a v1 event reads with none.

    v3: the holder's name of a household business are the sealed copies its dossier.received v3 made
    (``SealedCopy``, ADR 0048), opened with the producer's key where they are shown.
    """

    certificate_id: str
    number: Text = Field(description="unique, sequential per issuing authority and the decision's year")
    dossier_id: str
    round_id: str
    programme: Programme
    level: Level
    product_name: Text
    holder: Holder
    rating_label: Text
    stars: int | None = None
    points: float
    decision: DecisionReference
    issued_on: date = Field(description="the day the certificate was issued (Vietnam's date)")
    valid_until: date | None = Field(description="the decision's date plus the rulebook's validity; none: no end")
    issuer: Text
    rulebook_id: Code
    result_event_id: str
    supersedes: Text | None = Field(default=None, description="the number of the earlier certificate it replaces")
    province_code: Code | None = None
    signature: Text = Field(description="Ed25519 over the RFC 8785 form of the certificate, base64url")
    key_id: Text


@registered("certificate.superseded", topic=TOPIC)
class CertificateSuperseded(EventData):
    """A newer rating of the same product replaced this certificate; both stay in the record."""

    number: Text
    superseded_by: Text


@registered("certificate.revoked", topic=TOPIC)
class CertificateRevoked(EventData):
    """The authority revoked a certificate, with the reason (e.g. no re-evaluation, a mandatory criterion failed)."""

    number: Text
    reason: Text
    revoked_on: date


@registered("certificate.expiring", topic=TOPIC, schema_version=2)
class CertificateExpiring(EventData):
    """A certificate ends within 30 days: the holder must be told and may apply for re-evaluation.

    v2: the holder's name of a household business are the sealed copies its dossier.received v3 made
    (``SealedCopy``, ADR 0048), opened with the producer's key where they are shown.
    """

    number: Text
    valid_until: date
    holder: Holder
    product_name: Text


@registered("certificate.expired", topic=TOPIC)
class CertificateExpired(EventData):
    """A certificate's validity ended."""

    number: Text
    valid_until: date


class Invitee(Value):
    certificate_number: Text
    holder: SealedCopy | Text
    product_name: Text
    dossier_id: str
    producer_registration_number: SealedCopy | RegistrationNumber | None = Field(
        default=None, description="the holder's identity, from the certificate; none on older certificates")


@registered("ceremony.scheduled", topic=TOPIC, schema_version=2)
class CeremonyScheduled(EventData):
    """The announcement and award ceremony (lễ công bố, trao chứng nhận) of a round or batch was scheduled.

    v2: the invitees' names and registration numbers of a household business are the sealed copies its
    dossier.received v3 made (``SealedCopy``, ADR 0048), opened with the producer's key where they are shown.
    """

    ceremony_id: str
    round_id: str
    title: Text
    on: date
    at: time
    place: Text
    invitees: list[Invitee]
    invitation_days_before: int = Field(default=3, description="seed 001: the invitation list 3 days before")
    confirmation_days_before: int = Field(default=1, description="seed 001: delegates confirmed 1 day before")
