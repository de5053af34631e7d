"""Prizes, judges' fees and the exhibition, as certification records them on ``certification.events``
(issue 16, ADR 0050). Amounts are whole đồng (VND has no minor unit in use): strict integers, never floats.

Subjects: a schedule's and a fee's, the round id; an award's, the dossier id; a display's, the dossier id of the
certificate displayed."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from binhchon_kit.contracts.common import Code, Level, Text, Value
from binhchon_kit.contracts.registry import EventData, registered
from binhchon_kit.contracts.scoring import Session
from binhchon_kit.personal import SealedCopy

TOPIC = "certification.events"
MAX_DONG = 10_000_000_000  # ten billion đồng: far above any prize or fee a round budgets, far below int64
Dong = Annotated[int, Field(strict=True, ge=0, le=MAX_DONG, description="whole đồng (VND), an integer")]


class PrizeRate(Value):
    """The prize for a recognised result of the round's level: for this star rating, or (no stars) for any
    rating the round recognises that no other rate names (CNNTTB: every recognised product)."""

    stars: int | None = Field(default=None, ge=1, le=5)
    amount: Dong


@registered("prize_schedule.set", topic=TOPIC)
class PrizeScheduleSet(EventData):
    """The secretariat set the round's prizes (tiền thưởng) per recognised rating and the judges' fee (thù lao)
    per session; once per round. Results approved before it get their awards when it is set."""

    round_id: str
    currency: Literal["VND"] = "VND"
    prizes: list[PrizeRate] = Field(min_length=1, max_length=6)
    fee_per_session: Dong
    basis: Text | None = Field(default=None, description="the plan or decision the amounts come from")


@registered("award.granted", topic=TOPIC, schema_version=2)
class AwardGranted(EventData):
    """A recognised result is owed its prize: one award per recognised ``result.approved``, whatever the number
    of deliveries.

    v2: the name of a household business are the sealed copies its dossier.received v3 made (``SealedCopy``,
    ADR 0048), opened with the producer's key where they are shown.
    """

    award_id: str
    round_id: str
    dossier_id: str
    result_event_id: str
    level: Level
    product_name: Text
    producer_name: SealedCopy | Text
    rating_label: Text
    stars: int | None = None
    amount: Dong
    schedule_event_id: str


@registered("award.paid", topic=TOPIC)
class AwardPaid(EventData):
    """The secretariat paid an award in full, with the payment's reference (số chứng từ / ủy nhiệm chi)."""

    award_id: str
    round_id: str
    amount: Dong
    payment_reference: Text
    paid_on: date


@registered("fee.owed", topic=TOPIC)
class FeeOwed(EventData):
    """A judge is owed the fee of one session of the round's panel: every member whose sheet counted in a
    completed dossier of the round, for each session the panel sits (ADR 0050)."""

    fee_id: str
    round_id: str
    panel_id: str
    member_id: Text
    member_name: Text
    session: Session
    amount: Dong
    schedule_event_id: str


@registered("fee.paid", topic=TOPIC)
class FeePaid(EventData):
    """The secretariat paid a judge's fee in full, with the payment's reference."""

    fee_id: str
    round_id: str
    member_id: Text
    session: Session = Field(description="the session the fee is for (the judge's mail names it)")
    amount: Dong
    payment_reference: Text
    paid_on: date


@registered("product.displayed", topic=TOPIC)
class ProductDisplayed(EventData):
    """A recognised product (by its certificate) is displayed at an event: a trade fair, an exhibition (trưng
    bày tại …)."""

    display_id: str
    certificate_number: Text
    round_id: str
    exhibition: Text = Field(description="the event's name, e.g. 'Hội chợ triển lãm hàng CNNT tiêu biểu khu vực "
                                         "phía Nam năm 2024'")
    on: date
    until: date | None = None
    place: Text
    product_name: Text
    code: Code | None = Field(default=None, description="the stand or display code, if the organiser gives one")
