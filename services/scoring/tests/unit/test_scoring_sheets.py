"""A score sheet is checked against the rulebook's sheet, every problem listed at once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.domain.rulebook import Criterion
from scoring.domain.scoring import check_sheet

from .scoring_builders import RULEBOOK_IDS, full, general, rulebook

SHEET = general("ocop-2023")


@pytest.mark.parametrize("rulebook_id", RULEBOOK_IDS)
def test_a_full_sheet_has_no_problem(rulebook_id: str) -> None:
    sheet = general(rulebook_id)
    assert check_sheet(sheet, full(sheet)) == []
    lowest = {c.code: min(c.allowed) if c.allowed is not None else 0 for c in sheet.criteria}  # some have no 0
    assert check_sheet(sheet, lowest) == []


def test_every_problem_is_listed_at_once() -> None:
    scores: dict[str, float] = full(SHEET, B4=4, A1=6, A2=1.3)
    scores["Z9"] = 1
    del scores["C5"]
    problems = check_sheet(SHEET, scores)
    assert len(problems) == 5, problems
    assert "Z9: not a criterion of sheet general" in problems
    assert "C5: missing (Khả năng xuất khẩu)" in problems
    assert "B4: 4 is not allowed (allowed: [0.0, 2.0, 3.0, 5.0])" in problems
    assert any(p.startswith("A1: 6 is not allowed") and "0..5" in p for p in problems)
    assert any(p.startswith("A2: 1.3 is not allowed") and "in halves" in p for p in problems)


@pytest.mark.parametrize("points", [-0.5, 5.5, 0.25, 2.1, float("nan"), float("inf")])
def test_points_out_of_range_or_not_halves_are_refused(points: float) -> None:
    problems = check_sheet(SHEET, full(SHEET, A1=points))
    assert len(problems) == 1 and problems[0].startswith("A1:")


@pytest.mark.parametrize(("code", "points", "ok"), [
    ("C3", 0, True), ("C3", 3, True), ("C3", 5, True), ("C3", 4, False), ("C3", 2.5, False),
    ("B4", 2, True), ("B4", 1, False), ("C4", 7.5, True), ("C4", 10, True), ("C4", 10.5, False),
])
def test_allowed_values_and_halves(code: str, points: float, ok: bool) -> None:
    assert (check_sheet(SHEET, full(SHEET, **{code: points})) == []) is ok


def test_an_empty_sheet_lists_every_criterion_missing() -> None:
    problems = check_sheet(SHEET, {})
    assert [p.split(":")[0] for p in problems] == [c.code for c in SHEET.criteria]


def test_cnnttb_scores_each_group_in_halves_up_to_its_maximum() -> None:
    sheet = general("cnnttb-2025")
    assert check_sheet(sheet, full(sheet, **{"1": 39.5})) == []
    assert check_sheet(sheet, full(sheet, **{"1": 40.5})) == ["1: 40.5 is not allowed (allowed: 0..40.0 in halves)"]


@given(st.data())
def test_accepts_agrees_with_the_rule(data: st.DataObject) -> None:
    book = rulebook(data.draw(st.sampled_from(RULEBOOK_IDS)))
    criterion: Criterion = data.draw(st.sampled_from(book.sheet("general").criteria))
    halves = st.integers(-2, 50).map(lambda n: n / 2)
    points = data.draw(st.floats(min_value=-5, max_value=25, allow_nan=False) | halves)
    if criterion.allowed is not None:
        expected = points in criterion.allowed
    else:
        expected = 0 <= points <= criterion.maximum and (points * 2) == int(points * 2)
    assert criterion.accepts(points) is expected
    problems = check_sheet(book.sheet("general"), {**full(book.sheet("general")), criterion.code: points})
    assert (problems == []) is expected
