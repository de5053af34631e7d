"""Segments: compressed copies of settled events of any streams, so that a replay reads few documents
(docs/adr/0024-replay-from-segments.md).

FerretDB's cost is per document it returns (ADR 0019). A segment is one document holding a batch of events the
projector settled, as one zlib-compressed JSON list, in its own collection (``event_segments``):
``{_id: "<UTC time, microseconds>/<first event's key>", count, layout, events: zlib(JSON list)}``, its events
kept as a page keeps them (``eventstore_codec``). The ``_id`` sorts roughly by
write order; nothing relies on that order, nor on a batch being in one segment only: ``StreamOrder`` puts each
stream's events back in version order and drops the copies.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from binhchon_kit.events import RecordedEvent
from binhchon_kit.eventstore import event_key
from binhchon_kit.eventstore_codec import decode_events, encode_events

SEGMENTS = "event_segments"
META = "event_store_meta"  # {_id: "segments", complete_since}: every settled event is in a segment
SEGMENTS_READY = "segments"


def segment_id(at: datetime, events: Sequence[RecordedEvent]) -> str:
    return f"{at:%Y%m%dT%H%M%S.%f}/{event_key(events[0].stream, events[0].version)}"


def segment_document(events: Sequence[RecordedEvent], at: datetime) -> dict[str, Any]:
    """One segment of these events (any streams, any order), written at ``at``."""
    return {"_id": segment_id(at, events), "count": len(events), **encode_events(events)}


def segment_events(doc: dict[str, Any]) -> list[RecordedEvent] | None:
    """The events of a segment, or None when it does not read as one. (Content is checked by the audit against
    the record, not here.)"""
    try:
        events = decode_events(doc)
    except (KeyError, TypeError, ValueError, zlib.error):
        return None
    if len(events) != doc.get("count"):
        return None
    return events


class StreamOrder:
    """Lets each stream's events through in version order, each once, whatever order and however many times
    they are offered: a version already let through is a copy and dropped; a version ahead of the next one is
    held until the versions before it come."""

    def __init__(self) -> None:
        self.next: dict[str, int] = {}
        self.held: dict[str, dict[int, RecordedEvent]] = {}

    def offer(self, event: RecordedEvent) -> list[RecordedEvent]:
        expected = self.next.get(event.stream, 1)
        if event.version < expected:
            return []
        if event.version > expected:
            self.held.setdefault(event.stream, {}).setdefault(event.version, event)
            return []
        ready = [event]
        held = self.held.get(event.stream)
        expected += 1
        while held and expected in held:
            ready.append(held.pop(expected))
            expected += 1
        if held is not None and not held:
            del self.held[event.stream]
        self.next[event.stream] = expected
        return ready

    def gaps(self) -> dict[str, int]:
        """The streams holding events that wait for an earlier version, with the version they wait for."""
        return {stream: self.next.get(stream, 1) for stream in self.held}
