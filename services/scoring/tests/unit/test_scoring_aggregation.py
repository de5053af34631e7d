"""From counted sheets to a result: mean of totals rounded once, part averages, spread, outliers, mandatory
criteria, stars or pass, and what the level does with the rating."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from binhchon_kit.contracts.common import Level
from scoring.domain.aggregation import aggregate, spread, total
from scoring.domain.rulebook import Criterion, Rulebook, Sheet

from .scoring_builders import RULEBOOK_IDS, full, general, rulebook, with_total

OCOP23 = rulebook("ocop-2023")
SHEET23 = general("ocop-2023")


def members(*totals: float, sheet: Sheet = SHEET23, **fixed: float) -> dict[str, dict[str, float]]:
    return {f"m{n}": with_total(sheet, t, **fixed) for n, t in enumerate(totals, start=1)}


# ---- the mean, the parts, the spread ---------------------------------------------------------------------

def test_the_score_is_the_mean_of_the_totals_rounded_once_half_up() -> None:
    result = aggregate(OCOP23, SHEET23, Level.PROVINCE, members(100, 98, 98, 97, 96, 95))
    assert result.totals == {"m1": 100, "m2": 98, "m3": 98, "m4": 97, "m5": 96, "m6": 95}
    assert result.average_total == 97.33  # 584 / 6 = 97.333…
    assert result.spread == 5
    assert result.outliers == []
    assert (result.band_stars, result.stars, result.rating_label) == (5, 5, "5 sao")
    assert result.passed is None


def test_a_mean_ending_in_5_at_the_third_decimal_rounds_up() -> None:
    # 8 members: 7 × 80 + 79.5 → 639.5 / 8 = 79.9375 → 79.94; 8 members: 6 × 80 + 2 × 79.5 → 79.875 → 79.88
    assert aggregate(OCOP23, SHEET23, Level.PROVINCE, members(*[80] * 7, 79.5)).average_total == 79.94
    assert aggregate(OCOP23, SHEET23, Level.PROVINCE, members(*[80] * 6, 79.5, 79.5)).average_total == 79.88


def test_part_averages_are_each_part_s_mean() -> None:
    # with_total lowers A1, then A2, … first: part A carries the whole difference
    result = aggregate(OCOP23, SHEET23, Level.PROVINCE, members(100, 98, 98, 97, 96, 95))
    parts = {p.code: (p.average, p.maximum) for p in result.part_averages}
    assert parts == {"A": (37.33, 40), "B": (25, 25), "C": (35, 35)}
    assert [p.label for p in result.part_averages] == [p.label for p in OCOP23.parts]


def test_part_averages_hand_computed_across_parts() -> None:
    a = full(SHEET23, A1=4, B1=8.5, C1=7)  # A 39, B 23.5, C 32
    b = full(SHEET23, A8=3, B2=2, C2=0.5)  # A 36, B 22,   C 30.5
    c = full(SHEET23, C4=6)                # A 40, B 25,   C 31
    result = aggregate(OCOP23, SHEET23, Level.PROVINCE, {"a": a, "b": b, "c": c})
    assert result.totals == {"a": 94.5, "b": 88.5, "c": 96}
    assert {p.code: p.average for p in result.part_averages} == {"A": 38.33, "B": 23.5, "C": 31.17}
    assert result.average_total == 93.0
    assert result.spread == 7.5


def test_spread_is_highest_minus_lowest() -> None:
    assert spread({"a": {"x": 80.5}, "b": {"x": 70}, "c": {"x": 75}}) == 10.5
    assert spread({"a": {"x": 0.1, "y": 0.2}, "b": {"x": 0}}) == 0.3  # decimal, not binary, arithmetic
    assert spread({}) == 0.0
    assert total({"x": 0.1, "y": 0.2}) == 0.3


def test_no_sheets_is_an_error() -> None:
    with pytest.raises(ValueError, match="no sheets"):
        aggregate(OCOP23, SHEET23, Level.PROVINCE, {})


def test_a_level_the_rulebook_does_not_have_is_an_error() -> None:
    with pytest.raises(ValueError, match="no district level"):
        aggregate(rulebook("ocop-2025"), general("ocop-2025"), Level.DISTRICT, members(80))


# ---- outliers ---------------------------------------------------------------------------------------------

def test_a_member_more_than_10_points_from_the_others_mean_is_an_outlier() -> None:
    result = aggregate(OCOP23, SHEET23, Level.PROVINCE, members(90, 90, 90, 79.5))
    assert result.outliers == ["m4"]  # 10.5 from 90; the others are 3.5 from 86.5


def test_a_member_exactly_at_the_limit_is_not_an_outlier() -> None:
    assert aggregate(OCOP23, SHEET23, Level.PROVINCE, members(90, 90, 90, 80)).outliers == []
    assert aggregate(OCOP23, SHEET23, Level.PROVINCE, members(90, 90, 90, 100)).outliers == []


def test_outliers_on_both_sides_and_the_mean_of_the_others() -> None:
    # m1 = 95: others' mean (80 + 80 + 70) / 3 = 76.67 → 18.33 away; m4 = 70: others' mean 85 → 15 away;
    # m2, m3 = 80: others' mean (95 + 80 + 70) / 3 = 81.67 → 1.67 away
    result = aggregate(OCOP23, SHEET23, Level.PROVINCE, members(95, 80, 80, 70))
    assert result.outliers == ["m1", "m4"]


def test_two_members_far_apart_are_both_outliers_and_one_member_never_is() -> None:
    assert aggregate(OCOP23, SHEET23, Level.PROVINCE, members(90, 75)).outliers == ["m1", "m2"]
    assert aggregate(OCOP23, SHEET23, Level.PROVINCE, members(40)).outliers == []


def test_outlier_points_come_from_the_rulebook() -> None:
    strict = OCOP23.model_copy(update={"outlier_points": 5})
    assert aggregate(strict, SHEET23, Level.PROVINCE, members(90, 90, 84.5)).outliers == ["m3"]
    assert aggregate(OCOP23, SHEET23, Level.PROVINCE, members(90, 90, 84.5)).outliers == []


# ---- OCOP mandatory criteria ------------------------------------------------------------------------------

def test_4_star_band_without_its_mandatory_criterion_gives_3_stars() -> None:
    # C4 (Kiểm soát chất lượng, minimum 5 for 4 stars): members give 4, 5, 5.5 → mean 4.83
    sheets = {"a": with_total(SHEET23, 85, C4=4), "b": with_total(SHEET23, 85, C4=5),
              "c": with_total(SHEET23, 85, C4=5.5)}
    result = aggregate(OCOP23, SHEET23, Level.PROVINCE, sheets)
    assert result.average_total == 85
    assert (result.band_stars, result.stars, result.rating_label) == (4, 3, "3 sao")
    c4 = next(m for m in result.mandatory if m.code == "C4")
    assert (c4.required_for_stars, c4.minimum, c4.average, c4.met) == (4, 5, 4.83, False)
    assert not result.recognised_at_level and not result.goes_up_a_level  # province recognises 4 only


def test_a_mandatory_minimum_is_met_on_the_mean_exactly() -> None:
    sheets = {"a": with_total(SHEET23, 85, C4=4), "b": with_total(SHEET23, 85, C4=5),
              "c": with_total(SHEET23, 85, C4=6)}
    result = aggregate(OCOP23, SHEET23, Level.PROVINCE, sheets)
    assert result.stars == 4 and result.recognised_at_level
    assert next(m for m in result.mandatory if m.code == "C4").met


@pytest.mark.parametrize(("fixed", "unmet"), [
    ([{"C3": 3}, {"C3": 3}, {"C3": 0}], "C3"),  # mean 2 < 3
    ([{"B4": 2}, {"B4": 2}, {"B4": 0}], "B4"),  # mean 1.33 < 2
])
def test_3_star_mandatory_not_met_gives_at_most_2_stars(fixed: list[dict[str, float]], unmet: str) -> None:
    for wanted, band in ((85, 4), (60, 3), (95, 5)):
        sheets = {f"m{n}": with_total(SHEET23, wanted, **f) for n, f in enumerate(fixed)}
        result = aggregate(OCOP23, SHEET23, Level.DISTRICT, sheets)
        assert result.band_stars == band
        assert result.stars == 2
        assert [m.code for m in result.mandatory if not m.met] == [unmet]
        assert not result.recognised_at_level and not result.goes_up_a_level


def test_5_star_band_without_export_capacity_gives_4_stars() -> None:
    sheets = members(95, 95, 95, C5=2)
    result = aggregate(OCOP23, SHEET23, Level.PROVINCE, sheets)
    assert (result.band_stars, result.stars) == (5, 4)
    assert result.recognised_at_level and not result.goes_up_a_level


def test_a_low_band_ignores_higher_stars_mandatory_criteria() -> None:
    result = aggregate(OCOP23, SHEET23, Level.DISTRICT, members(60, 60, C4=0, C5=0))
    assert (result.band_stars, result.stars) == (3, 3)
    assert result.recognised_at_level


def test_one_star_is_the_floor() -> None:
    result = aggregate(OCOP23, SHEET23, Level.DISTRICT, members(25, 25))
    assert (result.band_stars, result.stars, result.rating_label) == (1, 1, "1 sao")
    sheets = {"a": with_total(SHEET23, 30, C3=0, B4=0)}
    result = aggregate(OCOP23, SHEET23, Level.DISTRICT, sheets)
    assert (result.band_stars, result.stars) == (2, 2)  # 2 stars has no mandatory criterion


# ---- what each level does with the rating ----------------------------------------------------------------

@pytest.mark.parametrize(("level", "average", "stars", "recognised", "goes_up", "next_level"), [
    (Level.DISTRICT, 40, 2, False, False, Level.PROVINCE),
    (Level.DISTRICT, 60, 3, True, False, Level.PROVINCE),
    (Level.DISTRICT, 80, 4, False, True, Level.PROVINCE),
    (Level.DISTRICT, 95, 5, False, True, Level.PROVINCE),
    (Level.PROVINCE, 60, 3, False, False, Level.NATIONAL),
    (Level.PROVINCE, 80, 4, True, False, Level.NATIONAL),
    (Level.PROVINCE, 95, 5, False, True, Level.NATIONAL),
    (Level.NATIONAL, 80, 4, False, False, None),
    (Level.NATIONAL, 95, 5, True, False, None),
])
def test_ocop_2023_routing(level: Level, average: float, stars: int, recognised: bool, goes_up: bool,
                           next_level: Level | None) -> None:
    result = aggregate(OCOP23, SHEET23, level, members(average, average))
    assert result.stars == stars
    assert (result.recognised_at_level, result.goes_up_a_level, result.next_level) == (
        recognised, goes_up, next_level)


@pytest.mark.parametrize(("level", "average", "recognised", "goes_up"), [
    (Level.COMMUNE, 25, False, True),   # the commune pre-assesses and sends every product on
    (Level.COMMUNE, 95, False, True),
    (Level.PROVINCE, 45, False, False),
    (Level.PROVINCE, 55, True, False),
    (Level.PROVINCE, 80, True, False),
    (Level.PROVINCE, 92, False, True),
    (Level.NATIONAL, 92, True, False),
])
def test_ocop_2025_routing(level: Level, average: float, recognised: bool, goes_up: bool) -> None:
    book = rulebook("ocop-2025")
    result = aggregate(book, book.sheet("general"), level, members(average, sheet=book.sheet("general")))
    assert (result.recognised_at_level, result.goes_up_a_level) == (recognised, goes_up)


# ---- CNNTTB pass marks ------------------------------------------------------------------------------------

CNN = rulebook("cnnttb-2025")
CNN_SHEET = general("cnnttb-2025")


def test_cnnttb_passes_at_exactly_70_at_the_province_and_goes_up_to_the_region() -> None:
    result = aggregate(CNN, CNN_SHEET, Level.PROVINCE, members(70.5, 69.5, sheet=CNN_SHEET))
    assert result.average_total == 70.0
    assert (result.passed, result.rating_label) == (True, "Đạt")
    assert result.recognised_at_level and result.goes_up_a_level and result.next_level is Level.REGION
    assert result.stars is None and result.band_stars is None and result.mandatory == []


def test_cnnttb_69_99_fails_at_the_province() -> None:
    # 49 jurors at 70 and one at 69.5: 3499.5 / 50 = 69.99
    result = aggregate(CNN, CNN_SHEET, Level.PROVINCE, members(*[70] * 49, 69.5, sheet=CNN_SHEET))
    assert result.average_total == 69.99
    assert (result.passed, result.rating_label) == (False, "Không đạt")
    assert not result.recognised_at_level and not result.goes_up_a_level


def test_cnnttb_a_mean_rounding_up_to_70_passes() -> None:
    # 200 jurors, 199 at 70 and one at 69 → 69.995 → 70.00 (rounded once, then compared with the pass mark)
    result = aggregate(CNN, CNN_SHEET, Level.PROVINCE, members(*[70] * 199, 69, sheet=CNN_SHEET))
    assert result.average_total == 70.0 and result.passed


def test_cnnttb_national_pass_does_not_go_up() -> None:
    result = aggregate(CNN, CNN_SHEET, Level.NATIONAL, members(85, 90, sheet=CNN_SHEET))
    assert result.passed and result.recognised_at_level
    assert not result.goes_up_a_level and result.next_level is None


@pytest.mark.parametrize(("rulebook_id", "level", "average", "passed", "next_level"), [
    ("cnnttb-2025", Level.COMMUNE, 60, True, Level.PROVINCE),
    ("cnnttb-2025", Level.COMMUNE, 59.5, False, Level.PROVINCE),
    ("cnnttb-2025", Level.REGION, 70, True, Level.NATIONAL),
    ("cnnttb-2018", Level.DISTRICT, 60, True, Level.PROVINCE),
    ("cnnttb-2018", Level.PROVINCE, 69.5, False, Level.REGION),
])
def test_cnnttb_levels(rulebook_id: str, level: Level, average: float, passed: bool, next_level: Level) -> None:
    book = rulebook(rulebook_id)
    result = aggregate(book, book.sheet("general"), level, members(average, sheet=book.sheet("general")))
    assert result.passed is passed
    assert result.goes_up_a_level is passed and result.next_level is next_level


def test_cnnttb_mandatory_criterion_blocks_a_pass() -> None:
    data = CNN.model_dump(mode="json")
    next(c for c in data["sheets"][0]["criteria"] if c["code"] == "2")["mandatory"] = {"minimum": 30}
    book = Rulebook.model_validate(data)
    sheet = book.sheet("general")
    result = aggregate(book, sheet, Level.PROVINCE, members(85, 85, sheet=sheet, **{"2": 29}))
    assert result.average_total == 85 and result.passed is False
    assert [(m.code, m.met) for m in result.mandatory] == [("2", False)]


# ---- properties -------------------------------------------------------------------------------------------

def points_for(criterion: Criterion) -> st.SearchStrategy[float]:
    if criterion.allowed is not None:
        return st.sampled_from(criterion.allowed)
    return st.integers(0, int(criterion.maximum * 2)).map(lambda n: n / 2)


def sheet_strategy(sheet: Sheet) -> st.SearchStrategy[dict[str, float]]:
    return st.fixed_dictionaries({c.code: points_for(c) for c in sheet.criteria})


@st.composite
def scored(draw: st.DrawFn) -> tuple[Rulebook, Sheet, Level, dict[str, dict[str, float]]]:
    book = rulebook(draw(st.sampled_from(RULEBOOK_IDS)))
    sheet = book.sheet("general")
    level = draw(st.sampled_from([lr.level for lr in book.levels]))
    ids = draw(st.lists(st.text("abcdefghijklmnop0123456789", min_size=1, max_size=6), min_size=1, max_size=9,
                        unique=True))
    return book, sheet, level, {member: draw(sheet_strategy(sheet)) for member in ids}


def half_up_2(value: Fraction) -> float:
    return math.floor(value * 100 + Fraction(1, 2)) / 100


@settings(max_examples=300, deadline=None)
@given(scored())
def test_aggregation_properties(case: tuple[Rulebook, Sheet, Level, dict[str, dict[str, float]]]) -> None:
    book, sheet, level, sheets = case
    result = aggregate(book, sheet, level, sheets)
    totals = [Fraction(str(sum(Fraction(str(p)) for p in s.values()))) for s in sheets.values()]
    assert min(totals) <= Fraction(str(result.average_total)) <= max(totals)
    assert result.average_total == half_up_2(sum(totals, Fraction(0)) / len(totals))
    assert result.spread == float(max(totals) - min(totals))
    assert result.totals == {m: float(t) for m, t in zip(sheets, totals, strict=True)}
    assert list(result.totals) == sorted(sheets)
    assert set(result.outliers) <= set(sheets)
    for part in result.part_averages:
        assert 0 <= part.average <= part.maximum
    rule = book.level_rule(level)
    assert rule is not None
    if book.star_bands:
        assert result.band_stars == book.band(result.average_total)
        assert result.stars is not None and 1 <= result.stars <= result.band_stars
        unmet = {m.required_for_stars for m in result.mandatory if not m.met and m.required_for_stars}
        expected = result.band_stars
        while expected > 1 and any(s <= expected for s in unmet):
            expected -= 1
        assert result.stars == expected
        assert result.recognised_at_level == (result.stars in rule.recognises)
        assert result.goes_up_a_level == (result.stars in rule.forwards)
        assert result.passed is None
    else:
        assert result.passed == (result.average_total >= (rule.pass_mark or 0))
        assert result.recognised_at_level == result.passed
        assert result.goes_up_a_level == (result.passed and rule.forwards_passed)
    # the order the members come in does not matter
    assert aggregate(book, sheet, level, dict(reversed(list(sheets.items())))) == result


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_adding_a_member_at_the_mean_never_changes_the_banding(data: st.DataObject) -> None:
    book, sheet, level, sheets = data.draw(scored())
    result = aggregate(book, sheet, level, sheets)
    # a copy of every sheet (each member scored twice) leaves the mean, parts and the rating unchanged
    doubled = {**sheets, **{f"{m}-bis": s for m, s in sheets.items()}}
    again = aggregate(book, sheet, level, doubled)
    assert (again.average_total, again.stars, again.passed, again.spread) == (
        result.average_total, result.stars, result.passed, result.spread)
    assert again.part_averages == result.part_averages
