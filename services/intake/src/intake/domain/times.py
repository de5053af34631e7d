"""Vietnam's time, as receipts show it: the instant of receipt is recorded in UTC (events are machine data),
and shown to people in Asia/Ho_Chi_Minh (+07:00), where a dossier received at 06:26 on 23/11 was received on
23/11 even though UTC still says 22/11."""

from __future__ import annotations

from datetime import date, datetime

from binhchon_kit.vietnam_time import VIETNAM


def _instant(value: datetime | str) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def in_vietnam(value: datetime | str) -> str:
    """ISO 8601 with Vietnam's offset, to the second: ``2026-11-23T06:26:00+07:00``."""
    return _instant(value).astimezone(VIETNAM).isoformat(timespec="seconds")


def as_read_in_vietnam(value: datetime | str) -> str:
    """As a person reads it: ``23/11/2026 06:26``."""
    return _instant(value).astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")


def day_as_read(value: date | str | None) -> str:
    """A date as a person reads it: ``27/11/2026`` (``—`` when there is none)."""
    if value is None:
        return "—"
    return (date.fromisoformat(value) if isinstance(value, str) else value).strftime("%d/%m/%Y")
