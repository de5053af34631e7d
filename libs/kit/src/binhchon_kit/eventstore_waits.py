"""How long each unprojected event has waited, as one store handle knows it: the rule of ``unprojected``'s
``older_than`` (ADR 0051). Measured on the process's monotonic clock, never from an event's time, which is its
service's clock's and may stand still (a test) or run ahead."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from binhchon_kit.events import RecordedEvent
from binhchon_kit.eventstore import event_key


class WaitTimes:
    """How long each unprojected event has waited, as this store handle knows it (the ``unprojected`` rule)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.monotonic = monotonic
        self.since: dict[str, float] = {}

    def appended(self, key: str) -> None:
        self.since[key] = self.monotonic()

    def waited(self, events: Sequence[RecordedEvent], older_than: timedelta | None) -> list[RecordedEvent]:
        """The events that have waited longer than ``older_than`` (all of them when it is None); forgets the keys
        no longer waiting among those read."""
        now = self.monotonic()
        keys = {event_key(e.stream, e.version) for e in events}
        for gone in [k for k in self.since if k not in keys]:
            del self.since[gone]
        if older_than is None:
            return list(events)
        limit = older_than.total_seconds()
        return [e for e in events if now - self.since.setdefault(event_key(e.stream, e.version), now) >= limit]
