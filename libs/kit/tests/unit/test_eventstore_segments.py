"""Segments (ADR 0024) without a server: what a segment holds, and how a replay puts events back in order."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

from bson import Binary

from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.eventstore_segments import StreamOrder, segment_document, segment_events

AT = datetime(2026, 11, 29, 10, 30, tzinfo=UTC)


def event(stream: str, version: int) -> RecordedEvent:
    return RecordedEvent(
        id=f"{stream}-{version}", stream=stream, version=version, type="dossier.rejected", schema_version=1,
        subject=stream, time=datetime(2026, 11, 29, 3, 0, version, 123000, tzinfo=UTC),
        data={"reason": f"lý do {version}"}, actor=Actor("sec-1", ("secretariat",)), correlation_id="c",
        causation_id="c", source="/binhchon/test", prev_hash=f"{version - 1}", hash=f"{version}",
    ).sealed()


def test_a_segment_holds_events_of_any_streams_as_they_were():
    events = [event("dossier-b", 2), event("dossier-a", 1), event("dossier-b", 1)]
    doc = segment_document(events, AT)
    assert doc["_id"] == "20261129T103000.000000/dossier-b/0000000002"
    assert doc["count"] == 3
    assert segment_events(doc) == events


def test_a_segment_that_does_not_read_is_none():
    doc = segment_document([event("dossier-a", 1)], AT)
    assert segment_events({**doc, "events": Binary(b"not zlib")}) is None
    assert segment_events({**doc, "events": Binary(zlib.compress(b'[{"stream": "x"}]'))}) is None
    assert segment_events({**doc, "count": 2}) is None  # an event gone from it


def test_each_stream_comes_out_once_in_version_order():
    order = StreamOrder()
    offered = [event("dossier-a", 2), event("dossier-b", 1), event("dossier-a", 3), event("dossier-a", 1),
               event("dossier-b", 1), event("dossier-a", 2), event("dossier-b", 2)]
    out = [ready for e in offered for ready in order.offer(e)]
    assert [(e.stream, e.version) for e in out] == [("dossier-b", 1), ("dossier-a", 1), ("dossier-a", 2),
                                                    ("dossier-a", 3), ("dossier-b", 2)]
    assert order.gaps() == {}


def test_a_stream_waiting_for_a_version_is_a_gap():
    order = StreamOrder()
    for e in (event("dossier-a", 1), event("dossier-a", 4), event("dossier-a", 3), event("dossier-c", 2)):
        order.offer(e)
    assert order.gaps() == {"dossier-a": 2, "dossier-c": 1}
    # the record fills it: the held events follow, the record's copies of them are dropped
    filled = [r for v in (2, 3, 4, 5) for r in order.offer(event("dossier-a", v))]
    assert [e.version for e in filled] == [2, 3, 4, 5]
    assert order.gaps() == {"dossier-c": 1}
