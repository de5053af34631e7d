"""Selection rounds (đợt đánh giá / bình chọn)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from binhchon_kit.authorities import authority_id
from binhchon_kit.contracts.common import Level
from binhchon_kit.contracts.intake import ApprovingAuthority, Receives, RoundArea, RoundOpened
from binhchon_kit.contracts.samples import RoundClosed
from binhchon_kit.events import RecordedEvent, deterministic_id
from intake.domain.errors import Refused

_LOCAL_LEVELS = (Level.COMMUNE, Level.DISTRICT, Level.PROVINCE)
_REGION_ONLY = ("region", "region_code", "province_codes")


def round_id_for(code: str) -> str:
    """A round's id follows from its code, so opening the same round twice is refused by the store."""
    return "round-" + deterministic_id("round", code.upper())


def open_round(opened: RoundOpened, exists: bool, *, today: date, parent: RoundOpened | None = None) -> RoundOpened:
    """Open a round, or refuse it with every problem named by its field. ``today`` is Vietnam's date."""
    if exists:
        raise Refused(f"a round with code {opened.code} is already open", round_id=opened.round_id)
    problems = [*_schedule_problems(opened, today), *area_problems(opened.level, opened.area)]
    if parent is not None:
        problems += _parent_problems(opened, parent)
    if problems:
        raise Refused("the round cannot be opened as given", kind="invalid", problems=problems)
    return opened


def _schedule_problems(opened: RoundOpened, today: date) -> list[str]:
    s = opened.schedule
    problems = []
    if s.submission_closes < s.submission_opens:
        problems.append("schedule.submission_closes is before schedule.submission_opens")
    if s.scoring_opens and s.scoring_closes and s.scoring_closes < s.scoring_opens:
        problems.append("schedule.scoring_closes is before schedule.scoring_opens")
    # A window already over would take no dossier at all: every submission would be refused. A parent round
    # that only receives escalated dossiers takes them whenever they come, so its window does not matter.
    if opened.receives is Receives.ALL and s.submission_closes < today:
        problems.append(f"schedule.submission_closes: submissions would run from {s.submission_opens} to "
                        f"{s.submission_closes}, and that window closed before today ({today}); give dates "
                        "still to come, or say receives: escalations_only for a round that only takes "
                        "dossiers sent up from its child rounds")
    return problems


def approving_authority(level: Level, area: RoundArea, name: str) -> ApprovingAuthority | None:
    """Who decides a new round's results: the authority over its area at its level, by the name the round gives
    it (ADR 0029). None while the area does not name what the level needs (``area_problems`` says what)."""
    found = authority_id(level, province_code=area.province_code, district_code=area.district_code,
                         commune_code=area.commune_code, region_code=area.region_code)
    if found is None or "-of-province:" in found or area_problems(level, area):
        return None  # the province alone names no district's or commune's authority: only older rounds do that
    return ApprovingAuthority(id=found, name=name)


def area_problems(level: Level, area: RoundArea) -> list[str]:
    """What a round's area must name at its level. A district or commune round names its own district or
    commune: its authority (who decides, how its certificates are numbered) is that district's or commune's."""
    if level in _LOCAL_LEVELS:
        problems = [] if area.province_code else [f"area.province_code: a {level.value} round names its province"]
        if level is Level.DISTRICT and not area.district_code:
            problems.append("area.district_code: a district round names its district (its UBND decides)")
        if level is Level.COMMUNE and not area.commune_code:
            problems.append("area.commune_code: a commune round names its commune (its UBND decides)")
        if level is not Level.COMMUNE and area.commune_code:
            problems.append("area.commune_code: only a commune round names a commune")
        return problems + [f"area.{name}: only a region round names a region and the provinces it covers"
                           for name in _REGION_ONLY if getattr(area, name)]
    if level is Level.REGION:
        problems = [f"area.{name}: a region round names {what}" for name, what in (
            ("region_code", "its region's code"), ("region", "its region's name"),
            ("province_codes", "the provinces it covers")) if not getattr(area, name)]
        if len(set(area.province_codes)) != len(area.province_codes):
            problems.append("area.province_codes: a province is listed twice")
        for name in ("province_code", "district_code", "commune_code"):
            if getattr(area, name):
                problems.append(f"area.{name}: a region round covers area.province_codes, not one province")
        return problems
    return []  # national: the whole country


def _parent_problems(opened: RoundOpened, parent: RoundOpened) -> list[str]:
    problems = []
    order = list(Level)
    if order.index(parent.level) <= order.index(opened.level):
        problems.append(f"parent_round_id: round {parent.code} is at the {parent.level.value} level, not above "
                        f"the {opened.level.value} level")
    if parent.level is Level.REGION and opened.area.province_code not in parent.area.province_codes:
        problems.append(f"area.province_code: province {opened.area.province_code} is not among the provinces "
                        f"of region round {parent.code} ({', '.join(parent.area.province_codes)})")
    return problems


def fold_round(events: Sequence[RecordedEvent]) -> dict[str, Any]:
    """The round's read model: what it was opened with, and whether it was closed (round.closed, ADR 0046)."""
    state: dict[str, Any] = {}
    for event in events:
        if isinstance(event.model(), RoundOpened):  # the data as recorded: a v1 round reads as it was opened
            state = {**event.data, "status": "open", "opened_at": event.time, "opened_by": event.actor.id,
                     "page_key": event.data["code"]}  # its place in the list (unique, ASCII: ADR 0015)
        elif isinstance(event.model(), RoundClosed):
            state = {**state, "status": "closed", "closed_at": event.data["closed_at"], "closed_by": event.actor.id,
                     "samples_retained": event.data["retained"]}
    return state
