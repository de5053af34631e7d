"""Selection rounds (đợt đánh giá / bình chọn)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from binhchon_kit.contracts.intake import RoundOpened
from binhchon_kit.events import RecordedEvent, deterministic_id
from intake.domain.errors import Refused


def round_id_for(code: str) -> str:
    """A round's id follows from its code, so opening the same round twice is refused by the store."""
    return "round-" + deterministic_id("round", code.upper())


def open_round(opened: RoundOpened, exists: bool) -> RoundOpened:
    if exists:
        raise Refused(f"a round with code {opened.code} is already open", round_id=opened.round_id)
    s = opened.schedule
    problems = []
    if s.submission_closes < s.submission_opens:
        problems.append("schedule.submission_closes is before schedule.submission_opens")
    if s.scoring_opens and s.scoring_closes and s.scoring_closes < s.scoring_opens:
        problems.append("schedule.scoring_closes is before schedule.scoring_opens")
    if problems:
        raise Refused("the schedule does not hold together", kind="invalid", problems=problems)
    return opened


def fold_round(events: Sequence[RecordedEvent]) -> dict[str, Any]:
    """The round's read model: what it was opened with (rounds have no other events yet)."""
    state: dict[str, Any] = {}
    for event in events:
        if event.type == "round.opened":
            state = {**event.data, "status": "open", "opened_at": event.time, "opened_by": event.actor.id}
    return state
