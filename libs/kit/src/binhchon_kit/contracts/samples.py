"""Events of a dossier's product samples in custody (issue 16), written by intake to ``intake.events``: received,
moved, consumed in tasting, returned to the producer, kept with a reason, announced as due back; and the round
closed once every sample is back or kept with a reason. Each carries its instant (``at``, the service's clock)
and its actor (the envelope's). Subject: the dossier (the round for ``round.closed``). ADR 0046."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from binhchon_kit.contracts.common import Code, LongText, Text, Value
from binhchon_kit.contracts.registry import EventData, registered
from binhchon_kit.personal import Sealed

TOPIC = "intake.events"
# the producer's people named in custody events: sealed with the producer's key, erasable (ADR 0035)
SEALED_FIELDS = {"samples.received": ("handed_over_by",), "samples.returned": ("received_by",)}

Count = Annotated[int, Field(ge=1, le=100_000, description="how many samples (mẫu), a whole number")]
Place = Annotated[Text, Field(description="where the samples are kept, as the secretariat names it: "
                                          "kho Sở Công Thương, phòng họp hội đồng, khu trưng bày hội chợ …")]
DossierRef = Annotated[str, StringConstraints(max_length=120)]


@registered("samples.received", topic=TOPIC)
class SamplesReceived(EventData):
    """A dossier's product samples were handed in and taken into custody (biên bản giao nhận mẫu sản phẩm)."""

    dossier_id: DossierRef
    round_id: DossierRef
    selection_code: Code = Field(description="the dossier's selection code (mã số bình chọn), on the label")
    product_name: Text
    count: Count
    condition: Text = Field(description="as found on receipt: nguyên vẹn, còn hạn sử dụng …")
    storage_place: Place
    received_by: Text = Field(description="the officer who took them in, as printed on the slip")
    handed_over_by: Sealed | Text = Field(description="who handed them in for the producer: a person's name, sealed "
                                          "with the producer's key (ADR 0035)")
    at: datetime


@registered("samples.moved", topic=TOPIC)
class SamplesMoved(EventData):
    """Samples were moved from one place to another (to the council room, to the exhibition, back to storage)."""

    dossier_id: DossierRef
    round_id: DossierRef
    count: Count
    from_place: Place
    to_place: Place
    purpose: LongText = ""
    at: datetime


@registered("samples.consumed", topic=TOPIC)
class SamplesConsumed(EventData):
    """Samples were used up evaluating the product (tasting, opening, testing): they are not returned."""

    dossier_id: DossierRef
    round_id: DossierRef
    count: Count
    place: Place
    note: LongText = ""
    at: datetime


@registered("samples.returned", topic=TOPIC)
class SamplesReturned(EventData):
    """Samples were handed back to the producer, who confirmed receiving them (biên bản giao nhận, trả mẫu)."""

    dossier_id: DossierRef
    round_id: DossierRef
    count: Count
    from_place: Place
    condition: Text = Field(description="as handed back")
    returned_by: Text = Field(description="the officer who handed them back")
    received_by: Sealed | Text = Field(description="who took them back for the producer: a person's name, sealed "
                                       "with the producer's key (ADR 0035)")
    producer_confirmation: Text = Field(description="the producer's confirmation, as signed on the slip: "
                                                    "đã nhận đủ, đúng mẫu, nguyên vẹn …")
    at: datetime


class RetainReason(StrEnum):
    """Why samples still held need not go back before the round closes."""

    KEPT_FOR_NEXT_LEVEL = "kept_for_next_level"  # sent up with the dossier (e.g. to the national level)
    CONSUMED = "consumed"  # used up or spoiled, not counted one by one
    NOT_COLLECTED = "not_collected"  # announced and never fetched
    OTHER = "other"


@registered("samples.retained", topic=TOPIC)
class SamplesRetained(EventData):
    """The secretariat recorded why a dossier's samples still held stay with it: the round may close over them."""

    dossier_id: DossierRef
    round_id: DossierRef
    reason_code: RetainReason
    reason: Text
    held: int = Field(ge=0, description="how many were held when the reason was recorded")
    at: datetime


@registered("samples.return_due", topic=TOPIC)
class SamplesReturnDue(EventData):
    """The producer's samples are due back: where and when to collect them (the seed's item 17: after the fair,
    at a time the organiser sets)."""

    dossier_id: DossierRef
    round_id: DossierRef
    selection_code: Code
    product_name: Text
    count: int = Field(ge=1, description="how many are held for the producer")
    place: Place = Field(description="where to collect them")
    from_date: date
    until_date: date | None = None
    occasion: Text = Field(description="after what: kết thúc hội chợ triển lãm, kết thúc đợt bình chọn …")
    at: datetime


class RetainedSamples(Value):
    dossier_id: DossierRef
    selection_code: Code
    held: int = Field(ge=1)
    reason_code: RetainReason
    reason: Text


@registered("round.closed", topic=TOPIC)
class RoundClosed(EventData):
    """The secretariat closed the round: every sample returned, or kept with a recorded reason (listed here)."""

    round_id: DossierRef
    closed_at: datetime
    retained: list[RetainedSamples] = Field(default_factory=list, max_length=10_000)
    note: LongText = ""
