"""Working days in Vietnam: Monday to Friday, less the public holidays (Tết included) of the `holidays` package."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _vietnam(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=year)


def prepare(today: date) -> None:
    """Build this year's and next year's calendars now (a service's start): the first build imports the
    country's module and computes its lunar holidays, a share of a first request's time otherwise."""
    for year in (today.year, today.year + 1):
        _vietnam(year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _vietnam(day.year)


def add_working_days(start: date, days: int) -> date:
    """The date ``days`` working days after ``start`` (the day of receipt itself is not counted)."""
    if days < 0:
        raise ValueError("days must not be negative")
    current = start
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current
