"""Working days: the clock of the one-stop shop (due dates count working days, never calendar days)."""

from __future__ import annotations

from datetime import date, timedelta

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from binhchon_kit.workdays import add_working_days, is_working_day

# An oracle independent of the module under test: Monday to Friday, less the VN calendar of `holidays`.
VN_HOLIDAYS = holidays.country_holidays("VN", years=range(2024, 2032))


def working(day: date) -> bool:
    return day.weekday() < 5 and day not in VN_HOLIDAYS


def test_tet_2026_is_the_holiday_calendar_we_count_on() -> None:
    tet = [date(2026, 2, 16) + timedelta(days=i) for i in range(5)]
    print({day.isoformat(): VN_HOLIDAYS.get(day) for day in tet})
    assert all(day in VN_HOLIDAYS for day in tet)
    assert not any(is_working_day(day) for day in tet)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 3, 6), 1, date(2026, 3, 9)),  # Friday + 1 → Monday
        (date(2026, 3, 7), 1, date(2026, 3, 9)),  # received on a Saturday
        (date(2026, 3, 8), 1, date(2026, 3, 9)),  # received on a Sunday
        (date(2026, 3, 6), 3, date(2026, 3, 11)),  # Friday + 3 → Wednesday
        (date(2026, 3, 2), 10, date(2026, 3, 16)),  # two whole weeks
    ],
    ids=["fri+1", "sat+1", "sun+1", "fri+3", "mon+10"],
)
def test_weekends_are_not_counted(start: date, days: int, expected: date) -> None:
    assert add_working_days(start, days) == expected


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 2, 13), 1, date(2026, 2, 23)),  # Friday before Tết → Monday after the week off
        (date(2026, 2, 12), 3, date(2026, 2, 24)),  # Thu: Fri 13, (Tết week), Mon 23, Tue 24
        (date(2026, 2, 17), 1, date(2026, 2, 23)),  # received during Tết itself
    ],
    ids=["fri-before-tet", "thu+3-over-tet", "during-tet"],
)
def test_tet_2026_is_not_counted(start: date, days: int, expected: date) -> None:
    assert add_working_days(start, days) == expected


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (date(2026, 4, 29), 1, date(2026, 5, 4)),  # Thu 30 Apr + Fri 1 May off → Monday 4 May
        (date(2026, 4, 28), 3, date(2026, 5, 5)),  # Wed 29, Mon 4, Tue 5
        (date(2025, 4, 29), 1, date(2025, 5, 5)),  # 2025: 30 Apr, 1 May and the substituted 2 May off
        (date(2026, 8, 28), 1, date(2026, 9, 3)),  # 2026: 31 Aug (substituted), 1 and 2 Sep off
        (date(2025, 8, 29), 1, date(2025, 9, 3)),  # 2025: 1 and 2 Sep off
        (date(2025, 12, 31), 1, date(2026, 1, 2)),  # New Year's Day across the year boundary
    ],
    ids=["30apr-1may-2026", "wed+3-over-may-2026", "30apr-2may-2025", "2sep-2026", "2sep-2025", "new-year"],
)
def test_liberation_labour_and_national_days_are_not_counted(start: date, days: int, expected: date) -> None:
    assert add_working_days(start, days) == expected


@pytest.mark.parametrize("start", [date(2026, 3, 4), date(2026, 3, 7), date(2026, 2, 17)],
                         ids=["weekday", "saturday", "tet"])
def test_zero_working_days_is_the_start_itself(start: date) -> None:
    assert add_working_days(start, 0) == start


@pytest.mark.parametrize("days", [-1, -30])
def test_a_negative_number_of_days_is_refused(days: int) -> None:
    with pytest.raises(ValueError, match="negative"):
        add_working_days(date(2026, 3, 4), days)


@settings(deadline=None, max_examples=300)
@given(start=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 6, 30)),
       days=st.integers(min_value=1, max_value=60))
def test_the_due_date_is_a_working_day_exactly_days_working_days_later(start: date, days: int) -> None:
    due = add_working_days(start, days)

    assert due > start
    assert working(due)
    between = [start + timedelta(days=i) for i in range(1, (due - start).days + 1)]  # (start, due]
    assert sum(working(day) for day in between) == days


def test_prepare_builds_this_and_next_years_calendars_ahead_of_any_request() -> None:
    from binhchon_kit import workdays

    workdays._vietnam.cache_clear()
    workdays.prepare(date(2030, 12, 31))
    assert workdays._vietnam.cache_info().currsize == 2
    hits = workdays._vietnam.cache_info().hits
    assert not is_working_day(date(2031, 1, 1))  # New Year's Day of the next year: already built
    assert workdays._vietnam.cache_info().hits == hits + 1
