"""Time as binhchon reads it: instants are stored in UTC (events are machine data), days and hours are
Vietnam's (Asia/Ho_Chi_Minh, +07:00), whatever the machine's own zone.

These are the real clocks; services take theirs injected (tests pass a fixed one) and default to these."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def now_utc() -> datetime:
    """The present instant, aware, in UTC."""
    return datetime.now(UTC)


def now_in_vietnam() -> datetime:
    """The present instant with Vietnam's offset: its hour is the hour people see on the wall."""
    return datetime.now(VIETNAM)


def today_in_vietnam() -> date:
    """Today on Vietnam's calendar (at 06:26 on 23/11 in Hanoi, UTC still says 22/11)."""
    return now_in_vietnam().date()


def day_in_vietnam(instant: datetime) -> date:
    """The day an instant falls on in Vietnam."""
    return instant.astimezone(VIETNAM).date()
