"""Events the scoring service writes to ``scoring.events`` that other services already consume.

``result.approved`` is defined here ahead of the scoring service: intake escalates on it, certification
issues on it. It carries what those consumers need (event-carried state transfer).
"""

from __future__ import annotations

from pydantic import Field

from binhchon_kit.contracts.common import Code, DecisionReference, Level, Programme, Text, Value
from binhchon_kit.contracts.registry import EventData, registered

TOPIC = "scoring.events"


class Rating(Value):
    stars: int | None = Field(default=None, ge=1, le=5, description="OCOP star rating")
    recognised: bool = Field(description="OCOP: 3 stars or more at the recognising level; CNNTTB: passed")
    label: Text = Field(description="what people read, e.g. '4 sao' or 'Đạt'")


@registered("result.approved", topic=TOPIC)
class ResultApproved(EventData):
    """The competent authority approved a dossier's result with a decision (quyết định công nhận)."""

    dossier_id: str
    round_id: str
    programme: Programme
    level: Level
    rulebook_id: Code
    rating: Rating
    points: float = Field(ge=0, le=100)
    decision: DecisionReference
    goes_up_a_level: bool = Field(description="the rulebook sends this rating to the next level's round")
    next_level: Level | None = None
    product_name: Text
    producer_name: Text
