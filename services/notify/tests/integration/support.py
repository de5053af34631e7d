"""What notify's integration tests share: the one clock a test and every service instance in it read."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


class Clock:
    """One fixed ``now``, read once, that the test and every service it starts share (``build(..., clock=clock)``);
    only the test moves it. "Today" is its date in Vietnam, whatever the machine's time zone: a test that took the
    machine's date would be a day off Vietnam's for part of every day in Kiritimati or Pago Pago."""

    def __init__(self) -> None:
        # whole seconds: the store keeps milliseconds, and a due_at read back must compare equal
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def today(self) -> date:
        return self.now.astimezone(VIETNAM).date()

    def move_to(self, moment: datetime) -> None:
        assert moment >= self.now, "time only moves forward"
        self.now = moment


def vietnam_time(day: date, hour: int, minute: int = 0) -> datetime:
    """An instant given as Vietnam's wall clock (``08:00`` on ``day`` in Hà Nội), in UTC."""
    return datetime.combine(day, time(hour, minute), VIETNAM).astimezone(UTC)
