"""Pages of a stream's events: derived, immutable copies that let the MongoDB driver read a long stream in a few
documents instead of one per event (docs/adr/0019-event-pages.md).

FerretDB pays a fixed cost per document it returns and a cost per byte it decodes, so a page holds ``PAGE_SIZE``
consecutive events of one stream as one compressed JSON text: ``{_id: "<stream>/<first version, 10 digits>",
stream, first, last, layout, events: zlib(JSON list)}`` (``eventstore_codec``) in its own collection
(``event_pages``). The ``events`` collection stays the record: appends, concurrency, the marks, ``get``,
``read_all`` and the audit read only it. A page is written only after the events it copies, by an insert under
its unique ``_id`` (a repeat or a race inserts the same content, and the loser's duplicate is ignored); a missing
page only means reading those events one document each. Pages hold whole aligned runs (versions
``n*PAGE_SIZE+1`` to ``(n+1)*PAGE_SIZE``), so they never change once written.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from binhchon_kit.events import RecordedEvent
from binhchon_kit.eventstore import event_key
from binhchon_kit.eventstore_codec import decode_events, encode_events

PAGE_SIZE = 32  # events per page; the events after the last full page (on average half this) are read one by one
PAGES = "event_pages"


def page_document(events: Sequence[RecordedEvent]) -> dict[str, Any]:
    """The page of these events (one stream, consecutive versions): the same events give the same document."""
    return {"_id": event_key(events[0].stream, events[0].version), "stream": events[0].stream,
            "first": events[0].version, "last": events[-1].version, **encode_events(events)}


def page_events(doc: dict[str, Any]) -> list[RecordedEvent] | None:
    """The events of a page, or None when it does not read as one: not ``first``..``last`` of its stream, or its
    events not linked by their hashes. (Content is checked by the audit against the events, not here.)"""
    stream, first, last = doc.get("stream"), doc.get("first"), doc.get("last")
    if not (isinstance(stream, str) and isinstance(first, int) and isinstance(last, int)):
        return None
    try:
        events = decode_events(doc, stream)
    except (KeyError, TypeError, ValueError, zlib.error):
        return None
    if not events or [e.version for e in events] != list(range(first, last + 1)):
        return None
    if doc.get("_id") != event_key(stream, first) or any(e.stream != stream for e in events):
        return None
    if any(later.prev_hash != earlier.hash for earlier, later in pairwise(events)):
        return None
    return events


def full_pages(events: Sequence[RecordedEvent]) -> list[list[RecordedEvent]]:
    """The whole aligned pages among these consecutive events of one stream (a partial run makes no page)."""
    pages: list[list[RecordedEvent]] = []
    start = next((i for i, e in enumerate(events) if e.version % PAGE_SIZE == 1), None)
    while start is not None and start + PAGE_SIZE <= len(events):
        run = list(events[start:start + PAGE_SIZE])
        if run[-1].version - run[0].version != PAGE_SIZE - 1:
            break  # a version missing from the record: no page past it
        pages.append(run)
        start += PAGE_SIZE
    return pages


def unpaged_tail(events: Sequence[RecordedEvent]) -> list[RecordedEvent]:
    """A stream's events after its last page boundary (all of them read from version 1)."""
    return list(events[len(events) // PAGE_SIZE * PAGE_SIZE:])
