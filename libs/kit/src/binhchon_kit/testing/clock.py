"""The clock a test and every service it starts share (``build(..., clock=clock)``)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from binhchon_kit.vietnam_time import VIETNAM


class Clock:
    """One fixed ``now``, read once, that the test and every service it starts share; only the test moves it.
    "Today" is its date in Vietnam, whatever the machine's time zone: a test that took the machine's date would be
    a day off Vietnam's for part of every day in Kiritimati or Pago Pago."""

    def __init__(self) -> None:
        # whole seconds: the store keeps milliseconds, and a time read back must compare equal
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def today(self) -> date:
        return self.now.astimezone(VIETNAM).date()

    def move_to(self, moment: datetime) -> None:
        assert moment >= self.now, "time only moves forward"
        self.now = moment
