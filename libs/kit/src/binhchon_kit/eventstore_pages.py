"""Pages of a stream's events: derived, immutable copies that let the MongoDB driver read a long stream in a few
documents instead of one per event (docs/adr/0019-event-pages.md).

FerretDB pays a fixed cost per document it returns and a cost per byte it decodes, so a page holds ``PAGE_SIZE``
consecutive events of one stream as one compressed JSON text: ``{_id: "<stream>/<first version, 10 digits>",
stream, first, last, events: zlib(JSON list)}`` in its own collection (``event_pages``). The ``events``
collection stays the record: appends, concurrency, the marks, ``get``, ``read_all`` and the audit read only it.
A page is written only after the events it copies, by an insert under its unique ``_id`` (a repeat or a race
inserts the same content, and the loser's duplicate is ignored); a missing page only means reading those events
one document each. Pages hold whole aligned runs (versions ``n*PAGE_SIZE+1`` to ``(n+1)*PAGE_SIZE``), so they
never change once written.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

from bson import Binary

from binhchon_kit.canonical import LEGACY_HASH_ALG
from binhchon_kit.envelope import format_time
from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.eventstore import event_key

PAGE_SIZE = 32  # events per page; the events after the last full page (on average half this) are read one by one
PAGES = "event_pages"
COMPRESSION = 1  # zlib's fastest level: FerretDB's cost is per byte decoded; ours is decompressing


def stored_body(event: RecordedEvent) -> dict[str, Any]:
    """What an event document keeps as one JSON text (``body``), and a page keeps for each event."""
    return {"schema_version": event.schema_version, "data": event.data,
            "actor": {"id": event.actor.id, "roles": list(event.actor.roles)},
            "correlation_id": event.correlation_id, "causation_id": event.causation_id, "source": event.source,
            "prev_hash": event.prev_hash, "hash": event.hash, "hash_alg": event.hash_alg}


def event_entry(event: RecordedEvent) -> dict[str, Any]:
    return {"event_id": event.id, "version": event.version, "type": event.type, "subject": event.subject,
            "time": format_time(event.time), "body": stored_body(event)}


def page_document(events: Sequence[RecordedEvent]) -> dict[str, Any]:
    """The page of these events (one stream, consecutive versions): the same events give the same document."""
    text = json.dumps([event_entry(e) for e in events], ensure_ascii=False, separators=(",", ":"))
    return {"_id": event_key(events[0].stream, events[0].version), "stream": events[0].stream,
            "first": events[0].version, "last": events[-1].version,
            "events": Binary(zlib.compress(text.encode(), COMPRESSION))}


def page_events(doc: dict[str, Any]) -> list[RecordedEvent] | None:
    """The events of a page, or None when it does not read as one: not ``first``..``last`` of its stream, or its
    events not linked by their hashes. (Content is checked by the audit against the events, not here.)"""
    stream, first, last = doc.get("stream"), doc.get("first"), doc.get("last")
    if not (isinstance(stream, str) and isinstance(first, int) and isinstance(last, int)):
        return None
    actors: dict[tuple[str, tuple[str, ...]], Actor] = {}  # a page's events share few actors: build each once
    try:
        events = [entry_event(stream, e, actors) for e in json.loads(zlib.decompress(doc["events"]))]
    except (KeyError, TypeError, ValueError, zlib.error):
        return None
    if not events or [e.version for e in events] != list(range(first, last + 1)):
        return None
    if doc.get("_id") != event_key(stream, first):
        return None
    if any(later.prev_hash != earlier.hash for earlier, later in pairwise(events)):
        return None
    return events


def entry_event(stream: str, entry: dict[str, Any], actors: dict[tuple[str, tuple[str, ...]], Actor]) -> RecordedEvent:
    body = entry["body"]
    who = (body["actor"]["id"], tuple(body["actor"]["roles"]))
    actor = actors.get(who) or actors.setdefault(who, Actor(*who))
    return RecordedEvent(
        id=entry["event_id"], stream=stream, version=entry["version"], type=entry["type"],
        schema_version=body["schema_version"], subject=entry["subject"], time=datetime.fromisoformat(entry["time"]),
        data=body["data"], actor=actor,
        correlation_id=body["correlation_id"], causation_id=body["causation_id"], source=body["source"],
        prev_hash=body["prev_hash"], hash=body["hash"], hash_alg=body.get("hash_alg", LEGACY_HASH_ALG),
    )


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
