"""Star bands (1048 bands, minimum inclusive) and rounding (once, before banding)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binhchon_kit.contracts.common import Level
from scoring.domain.aggregation import aggregate
from scoring.domain.rulebook import Rounding, RoundingMode

from .scoring_builders import general, rulebook, with_total

BOOK = rulebook("ocop-2023")
averages = st.decimals(min_value=0, max_value=100, places=2).map(float)
any_average = st.floats(min_value=0, max_value=100, allow_nan=False)


@pytest.mark.parametrize(("average", "stars"), [
    (0, 1), (29.99, 1), (30, 2), (49.99, 2), (50, 3), (69.99, 3), (70, 4), (89.99, 4), (90, 5), (100, 5),
])
def test_band_boundaries(average: float, stars: int) -> None:
    assert BOOK.band(average) == stars


@pytest.mark.parametrize("rulebook_id", ["ocop-2019", "ocop-2025"])
def test_the_other_ocop_rulebooks_band_the_same(rulebook_id: str) -> None:
    for average in (0, 29.99, 30, 49.99, 50, 69.99, 70, 89.99, 90, 100):
        assert rulebook(rulebook_id).band(average) == BOOK.band(average)


@given(any_average, any_average)
def test_band_is_monotone(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert BOOK.band(low) <= BOOK.band(high)


@given(any_average)
def test_band_is_the_highest_band_reached(average: float) -> None:
    reached = [b for b in BOOK.star_bands if b.minimum <= average]
    assert BOOK.band(average) == max(b.stars for b in reached)
    nxt = [b for b in BOOK.star_bands if b.stars == BOOK.band(average) + 1]
    assert not nxt or average < nxt[0].minimum


@given(averages)
def test_band_on_two_decimal_averages(average: float) -> None:
    expected = 5 if average >= 90 else 4 if average >= 70 else 3 if average >= 50 else 2 if average >= 30 else 1
    assert BOOK.band(average) == expected


# ---- rounding ---------------------------------------------------------------------------------------------

def test_half_up_rounds_89_995_to_90_which_is_5_stars() -> None:
    rounded = Rounding(decimals=2, mode=RoundingMode.HALF_UP).apply(89.995)
    assert rounded == 90.0
    assert BOOK.band(rounded) == 5
    assert BOOK.band(89.995) == 4  # unrounded, it would be 4 stars


def test_half_even_differs_from_half_up_on_a_tie() -> None:
    assert Rounding(decimals=2, mode=RoundingMode.HALF_EVEN).apply(0.125) == 0.12
    assert Rounding(decimals=2, mode=RoundingMode.HALF_UP).apply(0.125) == 0.13
    assert Rounding(decimals=2, mode=RoundingMode.HALF_EVEN).apply(0.135) == 0.14


def test_rounding_takes_the_decimal_as_written_not_the_binary_float() -> None:
    # 2.675 is 2.67499999... in binary; the rulebook rounds the number people read
    assert Rounding(decimals=2).apply(2.675) == 2.68
    assert Rounding(decimals=2).apply(Decimal("97.333333333333")) == 97.33
    assert Rounding(decimals=0).apply(69.5) == 70.0
    assert Rounding(decimals=1).apply(69.95) == 70.0


def test_rounding_happens_once_not_step_by_step() -> None:
    # 89.9949 → 89.99 (rounded once); rounding to 3 decimals first would give 89.995 and then 90.00
    assert Rounding(decimals=2).apply(89.9949) == 89.99


def test_describe_names_mode_and_decimals() -> None:
    assert Rounding(decimals=2).describe() == "the average total is rounded once, half up, to 2 decimals"


@given(st.decimals(min_value=0, max_value=100, places=4), st.integers(0, 4),
       st.sampled_from(list(RoundingMode)))
def test_rounding_moves_by_at_most_half_a_unit(value: Decimal, decimals: int, mode: RoundingMode) -> None:
    rounded = Decimal(str(Rounding(decimals=decimals, mode=mode).apply(value)))
    assert abs(rounded - value) <= Decimal(1).scaleb(-decimals) / 2
    assert rounded == rounded.quantize(Decimal(1).scaleb(-decimals))


def test_an_average_of_89_995_is_rounded_before_banding_in_aggregation() -> None:
    # 99 members at 90 and one at 89.5: the mean is exactly 89.995, rounded half up to 90.00 → 5 stars
    sheet = general("ocop-2023")
    sheets = {f"m{n:03}": with_total(sheet, 90) for n in range(99)}
    sheets["m999"] = with_total(sheet, 89.5)
    result = aggregate(BOOK, sheet, Level.NATIONAL, sheets)
    assert result.average_total == 90.0
    assert result.band_stars == 5 and result.stars == 5
    assert result.recognised_at_level


def test_aggregation_bands_the_rounded_mean_with_whole_point_rounding() -> None:
    book = BOOK.model_copy(update={"rounding": Rounding(decimals=0)})
    sheet = book.sheet("general")
    result = aggregate(book, sheet, Level.PROVINCE, {"a": with_total(sheet, 70), "b": with_total(sheet, 69)})
    assert result.average_total == 70.0  # 69.5 rounded half up
    assert result.band_stars == 4
    even = BOOK.model_copy(update={"rounding": Rounding(decimals=0, mode=RoundingMode.HALF_EVEN)})
    assert aggregate(even, sheet, Level.PROVINCE,
                     {"a": with_total(sheet, 70), "b": with_total(sheet, 69)}).average_total == 70.0
    assert aggregate(even, sheet, Level.PROVINCE,
                     {"a": with_total(sheet, 69), "b": with_total(sheet, 68)}).band_stars == 3  # 68.5 → 68
