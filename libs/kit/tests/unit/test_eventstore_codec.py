"""How pages and segments keep their events (ADR 0033), without a server: rows read back as the very events
written, copies of the layout before rows still read, and a copy that does not read is refused."""

from __future__ import annotations

import dataclasses
import json
import zlib

import pytest
from bson import Binary

from binhchon_kit.envelope import format_time
from binhchon_kit.eventstore_codec import ROW, ROWS, decode_events, encode_events, stored_body
from binhchon_kit.eventstore_memory import MemoryEventStore
from binhchon_kit.eventstore_pages import page_document, page_events
from binhchon_kit.eventstore_segments import segment_document, segment_events
from binhchon_kit.testing.eventstore_contract import grow


async def written(stream: str, count: int):
    return await grow(MemoryEventStore("/binhchon/test"), stream, count)


def legacy_copy(events, *, with_stream: bool) -> dict:
    """Events as copies kept them before rows (ADR 0019, 0024): an object per event, ``body`` nested, level 1."""
    entries = [{"event_id": e.id, "version": e.version, "type": e.type, "subject": e.subject,
                "time": format_time(e.time), "body": stored_body(e), **({"stream": e.stream} if with_stream else {})}
               for e in events]
    text = json.dumps(entries, ensure_ascii=False, separators=(",", ":"))
    return {"events": Binary(zlib.compress(text.encode(), 1))}


async def test_rows_read_back_as_the_events_written_field_by_field():
    events = await written("dossier-r", 5)
    copy = encode_events(events)
    assert copy["layout"] == ROWS
    read = decode_events(copy)
    assert read == events
    for mine, theirs in zip(read, events, strict=True):
        assert vars(mine) == vars(theirs)  # the same fields, nothing more (the fast build sets exactly them)
        assert [type(getattr(mine, f.name)) for f in dataclasses.fields(mine)] == \
            [type(getattr(theirs, f.name)) for f in dataclasses.fields(theirs)]
        assert mine.verify_hash()
        assert mine.time.utcoffset() is not None
    assert encode_events(events) == copy  # the same events give the same bytes


async def test_copies_written_before_rows_still_read():
    events = await written("dossier-l", 3)
    page = {**page_document(events), **legacy_copy(events, with_stream=False)}
    del page["layout"]
    assert page_events(page) == events
    segment = {**segment_document(events[::-1], events[0].time), **legacy_copy(events[::-1], with_stream=True)}
    del segment["layout"]
    assert segment_events(segment) == events[::-1]


async def test_a_copy_that_does_not_read_is_refused():
    events = await written("dossier-x", 2)
    copy = encode_events(events)
    rows = json.loads(zlib.decompress(copy["events"]))
    short = [rows[0][:-1], rows[1]]
    mistyped = [[None if f == "version" else v for f, v in zip(ROW, rows[0], strict=True)], rows[1]]
    for bad in (short, mistyped, {"not": "a list"}):
        with pytest.raises((KeyError, TypeError, ValueError)):
            decode_events({**copy, "events": Binary(zlib.compress(json.dumps(bad).encode()))})
    with pytest.raises(ValueError):
        decode_events({**copy, "layout": 99})
    assert segment_events({**segment_document(events, events[0].time), "layout": 99}) is None
