"""Panels: one chair, distinct members; the quorum is a share of the eligible scoring members, the chair
included unless recused; the secretary never counts."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binhchon_kit.contracts.scoring import MemberRole, Session
from scoring.domain import panel as panels
from scoring.domain.errors import Refused

from .scoring_builders import member, panel, scored_in, scorer_ids

SEVEN = panel(7)  # chair, m1…m6, sec; sessions dossier and samples
ITS_RULEBOOK = scored_in(Session.SAMPLES)  # scored on the dossier and the samples


def test_seven_scoring_members_at_three_quarters_need_six_sheets() -> None:
    assert len(panels.scoring_members(SEVEN)) == 7
    assert panels.quorum_needed(SEVEN, set()) == 6  # ceil(5.25)


def test_quorum_met_needs_the_count_and_the_chair() -> None:
    five_and_chair = {"chair", "m1", "m2", "m3", "m4"}
    assert not panels.quorum_met(SEVEN, set(), five_and_chair)
    assert panels.quorum_met(SEVEN, set(), five_and_chair | {"m5"})
    assert not panels.quorum_met(SEVEN, set(), {"m1", "m2", "m3", "m4", "m5", "m6"})  # six, without the chair
    assert panels.quorum_met(SEVEN, set(), set(scorer_ids(SEVEN)))


def test_one_recused_leaves_six_eligible_who_need_five() -> None:
    assert panels.quorum_needed(SEVEN, {"m6"}) == 5  # ceil(4.5)
    assert panels.quorum_met(SEVEN, {"m6"}, {"chair", "m1", "m2", "m3", "m4"})
    # a recused member's sheet does not count towards the quorum
    assert not panels.quorum_met(SEVEN, {"m6"}, {"chair", "m1", "m2", "m3", "m6"})


def test_a_recused_chair_waives_the_chair_requirement() -> None:
    assert panels.quorum_needed(SEVEN, {"chair"}) == 5
    assert panels.quorum_met(SEVEN, {"chair"}, {"m1", "m2", "m3", "m4", "m5"})
    assert not panels.quorum_met(SEVEN, {"chair"}, {"m1", "m2", "m3", "m4"})


def test_chair_not_required_when_the_panel_says_so() -> None:
    lax = panel(7, chair_required=False)
    assert panels.quorum_met(lax, set(), {"m1", "m2", "m3", "m4", "m5", "m6"})


def test_a_secretary_never_counts() -> None:
    assert "sec" not in {m.id for m in panels.scoring_members(SEVEN)}
    assert not panels.quorum_met(SEVEN, set(), {"chair", "m1", "m2", "m3", "m4", "sec"})
    assert panels.quorum_needed(SEVEN, set()) == panels.quorum_needed(panel(7, secretary=False), set())


def test_other_fractions() -> None:
    assert panels.quorum_needed(panel(4), set()) == 3  # exactly 3/4 of 4
    assert panels.quorum_needed(panel(8), set()) == 6
    assert panels.quorum_needed(panel(5, fraction=0.5), set()) == 3
    assert panels.quorum_needed(panel(3, fraction=1), set()) == 3
    assert panels.quorum_needed(panel(10, fraction=0.7), set()) == 7  # 0.7 × 10 is 7.000000000000001 in binary
    assert panels.quorum_needed(panel(1), set()) == 1
    assert panels.quorum_needed(panel(2), {"chair", "m1"}) == 1  # nobody eligible: never met
    assert not panels.quorum_met(panel(2), {"chair", "m1"}, set())


@given(st.integers(1, 25), st.sampled_from([0.5, 0.6, 2 / 3, 0.7, 0.75, 0.8, 0.9, 1.0]), st.data())
def test_quorum_is_the_ceiling_of_the_share_of_eligible_members(size: int, fraction: float,
                                                                data: st.DataObject) -> None:
    p = panel(size, fraction=fraction)
    ids = scorer_ids(p)
    recused = set(data.draw(st.lists(st.sampled_from(ids), unique=True, max_size=size - 1)))
    eligible = [i for i in ids if i not in recused]
    needed = panels.quorum_needed(p, recused)
    exact = math.ceil(round(fraction * len(eligible), 9))
    assert needed == max(1, exact)
    assert 1 <= needed <= len(eligible)
    submitted = set(data.draw(st.lists(st.sampled_from([*ids, "sec"]), unique=True)))
    chair_ok = "chair" in recused or "chair" in submitted
    assert panels.quorum_met(p, recused, submitted) == (len(submitted & set(eligible)) >= needed and chair_ok)


def test_a_valid_panel_passes() -> None:
    assert panels.validate_panel(SEVEN, ITS_RULEBOOK) is SEVEN
    assert panels.chair(SEVEN).id == "chair"
    assert panels.member(SEVEN, "m3").role is MemberRole.MEMBER


def test_a_stranger_is_not_a_member() -> None:
    with pytest.raises(Refused) as refused:
        panels.member(SEVEN, "outsider")
    assert refused.value.kind == "forbidden"


def _with_members(*members: object) -> object:
    return SEVEN.model_copy(update={"members": list(members)})


@pytest.mark.parametrize(("members", "problem"), [
    ([member("c1", MemberRole.CHAIR), member("c2", MemberRole.CHAIR), member("m1")],
     "a panel has exactly one chair"),
    ([member("m1"), member("m2")], "a panel has exactly one chair"),
    ([member("chair", MemberRole.CHAIR), member("m1"), member("m1")], "a member appears twice"),
    ([member("chair", MemberRole.CHAIR), member("chair", MemberRole.SECRETARY)], "a member appears twice"),
], ids=["two-chairs", "no-chair", "duplicate-member", "chair-also-secretary"])
def test_validate_panel_refuses(members: list[object], problem: str) -> None:
    with pytest.raises(Refused) as refused:
        panels.validate_panel(_with_members(*members), ITS_RULEBOOK)  # type: ignore[arg-type]
    assert refused.value.kind == "invalid"
    assert problem in refused.value.detail["problems"]


def test_validate_panel_lists_every_problem() -> None:
    secretaries = _with_members(member("s", MemberRole.SECRETARY), member("s", MemberRole.SECRETARY))
    with pytest.raises(Refused) as refused:
        panels.validate_panel(secretaries, ITS_RULEBOOK)  # type: ignore[arg-type]
    assert refused.value.detail["problems"] == [
        "a member appears twice", "a panel has exactly one chair", "a panel needs members who score"]


def test_a_panel_without_a_session_its_rulebook_scores_in_is_refused_naming_the_criteria() -> None:
    book = scored_in(Session.SAMPLES, Session.FIELD_VISIT, Session.FIELD_VISIT)
    first, second, third = book.sheets[0].criteria[:3]
    with pytest.raises(Refused) as refused:
        panels.validate_panel(SEVEN, book)  # dossier and samples: no field visit
    assert refused.value.kind == "invalid"
    [problem] = refused.value.detail["problems"]
    assert problem.startswith("sessions: field_visit is missing")
    assert f"{book.sheets[0].id}/{second.code} ({second.label})" in problem
    assert f"{book.sheets[0].id}/{third.code}" in problem and f"/{first.code} " not in problem


def test_the_sessions_a_rulebook_needs_are_the_default_in_order() -> None:
    assert panels.default_sessions(scored_in(Session.FIELD_VISIT)) == [Session.DOSSIER, Session.FIELD_VISIT]
    everything = SEVEN.model_copy(update={"sessions": list(Session)})
    assert panels.validate_panel(everything, scored_in(Session.FIELD_VISIT)) is everything
