"""The dossier streams this process last read or wrote, to decide a judge's next command without reading the
stream again (issue 14: a dossier's seven sheets each reloaded the whole stream, one query per sheet).

A remembered stream is only ever a guess at the record, never a substitute for it: a command decided on it
appends at the remembered version + 1, and the store's optimistic check (the `(stream, version)` key) refuses
that append if anyone — another replica, another path of this process — wrote the stream since. The caller then
forgets it and decides again on the stream read afresh. A refusal decided on a remembered stream is also asked
again on a fresh read (a substitute added elsewhere may now sit on the panel). Events never change once written,
so a remembered stream up to its version is the record up to that version.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from binhchon_kit.events import RecordedEvent

REMEMBERED = 1024  # dossiers being scored at once by one replica: a district's whole round fits


class RecentStreams:
    """Stream → its events from version 1, as this process last saw them; the least recently used go first."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self.size = size
        self._streams: OrderedDict[str, tuple[RecordedEvent, ...]] = OrderedDict()

    def get(self, stream: str) -> list[RecordedEvent] | None:
        events = self._streams.get(stream)
        if events is None:
            return None
        self._streams.move_to_end(stream)
        return list(events)

    def keep(self, stream: str, events: Sequence[RecordedEvent]) -> None:
        """Remember ``events`` (versions 1…n, as read or as just written) unless a later version is known."""
        if not events or events[0].version != 1 or events[-1].version != len(events):
            return
        known = self._streams.get(stream)
        if known is not None and known[-1].version > events[-1].version:
            return
        self._streams[stream] = tuple(events)
        self._streams.move_to_end(stream)
        while len(self._streams) > self.size:
            self._streams.popitem(last=False)

    def forget(self, stream: str) -> None:
        self._streams.pop(stream, None)
