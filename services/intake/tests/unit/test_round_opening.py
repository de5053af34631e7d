"""Opening a selection round: one round per code, with a schedule that holds together."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from binhchon_kit.canonical import GENESIS_HASH
from binhchon_kit.contracts.common import Level
from binhchon_kit.contracts.intake import ApprovingAuthority, RoundArea, RoundOpened
from intake.domain import rounds
from intake.domain.errors import Refused

from .dossier_builders import CLOSES, OPENS, SECRETARIAT, TODAY, receive, recorded, round_opened
from .test_submission_window import ESCALATED

INVERTED_SUBMISSIONS = {"submission_opens": date(2026, 4, 30), "submission_closes": date(2026, 3, 2)}


def test_a_new_round_is_opened_as_given() -> None:
    opened = round_opened()
    assert rounds.open_round(opened, exists=False, today=TODAY) is opened
    assert opened.round_id == rounds.round_id_for("bg-ocop-2026-1")


def test_an_existing_code_is_refused() -> None:
    opened = round_opened()
    with pytest.raises(Refused) as refused:
        rounds.open_round(opened, exists=True, today=TODAY)
    assert refused.value.kind == "conflict"
    assert refused.value.detail == {"round_id": opened.round_id}
    assert "BG-OCOP-2026-1" in refused.value.message


def test_submissions_closing_before_they_open_are_invalid() -> None:
    opened = round_opened(schedule=INVERTED_SUBMISSIONS)
    with pytest.raises(Refused) as refused:
        rounds.open_round(opened, exists=False, today=date(2026, 2, 1))
    assert refused.value.kind == "invalid"
    assert refused.value.detail == {
        "problems": ["schedule.submission_closes is before schedule.submission_opens"]}


def test_every_inverted_period_is_listed() -> None:
    opened = round_opened(schedule={**INVERTED_SUBMISSIONS,
                                    "scoring_opens": date(2026, 6, 1), "scoring_closes": date(2026, 5, 20)})
    with pytest.raises(Refused) as refused:
        rounds.open_round(opened, exists=False, today=date(2026, 2, 1))
    assert refused.value.kind == "invalid"
    assert len(refused.value.detail["problems"]) == 2


def test_a_one_day_window_is_fine() -> None:
    one_day = date(2026, 3, 2)
    opened = round_opened(schedule={"submission_opens": one_day, "submission_closes": one_day})
    assert rounds.open_round(opened, exists=False, today=one_day) is opened


def test_a_window_closed_before_today_is_refused_naming_its_dates() -> None:
    opened = round_opened()
    assert rounds.open_round(opened, exists=False, today=CLOSES) is opened  # the last day still takes dossiers
    with pytest.raises(Refused) as refused:
        rounds.open_round(opened, exists=False, today=CLOSES + timedelta(days=1))
    assert refused.value.kind == "invalid"
    [problem] = refused.value.detail["problems"]
    assert problem.startswith("schedule.submission_closes:")
    assert f"from {OPENS} to {CLOSES}" in problem and "escalations_only" in problem


def test_a_parent_round_that_only_receives_escalations_opens_whatever_its_window() -> None:
    opened = round_opened(receives="escalations_only")
    assert rounds.open_round(opened, exists=False, today=CLOSES + timedelta(days=90)) is opened


def test_an_escalations_only_round_refuses_direct_submissions_and_takes_escalated_ones() -> None:
    opened = round_opened(receives="escalations_only")
    with pytest.raises(Refused) as refused:
        receive(opened, today=TODAY)
    assert refused.value.kind == "conflict" and refused.value.detail == {"receives": "escalations_only"}
    assert receive(opened, today=TODAY, escalated_from=ESCALATED).escalated_from == ESCALATED


def test_a_v1_round_opened_reads_as_receiving_all() -> None:
    v1 = round_opened().model_dump(mode="json")
    del v1["receives"]
    assert RoundOpened.model_validate(v1).receives.value == "all"


def test_fold_round_gives_what_it_was_opened_with() -> None:
    opened = round_opened()
    event = recorded(opened.round_id, 1, GENESIS_HASH, opened)
    state = rounds.fold_round([event])
    assert (state["status"], state["code"], state["opened_by"]) == ("open", "BG-OCOP-2026-1", SECRETARIAT.id)
    assert state["schedule"]["submission_opens"] == "2026-03-02"
    assert state["opened_at"] == event.time
    assert RoundOpened.model_validate({k: v for k, v in state.items()
                                       if k not in ("status", "opened_at", "opened_by", "page_key")}) == opened


@pytest.mark.parametrize(("level", "area", "field"), [
    (Level.DISTRICT, {"province_code": "24"}, "area.district_code"),
    (Level.COMMUNE, {"province_code": "24"}, "area.commune_code"),
    (Level.PROVINCE, {"province_code": "24", "commune_code": "07480"}, "area.commune_code"),
])
def test_a_local_round_names_the_area_whose_authority_decides(level: Level, area: dict[str, str],
                                                               field: str) -> None:
    """A district's or commune's round must say which: its UBND decides and numbers its certificates (ADR 0029)."""
    given = RoundArea.model_validate(area)
    assert any(p.startswith(field + ":") for p in rounds.area_problems(level, given))
    assert rounds.approving_authority(level, given, "UBND") is None


def test_a_round_is_decided_by_the_authority_over_its_area_by_the_name_it_gives() -> None:
    area = RoundArea(province_code="24", district_code="219")
    assert rounds.approving_authority(Level.DISTRICT, area, "UBND huyện Lục Ngạn") == ApprovingAuthority(
        id="district:219", name="UBND huyện Lục Ngạn")
    assert rounds.approving_authority(Level.PROVINCE, RoundArea(province_code="24"), "UBND tỉnh Bắc Giang"
                                      ) == ApprovingAuthority(id="province:24", name="UBND tỉnh Bắc Giang")
