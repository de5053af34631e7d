"""How pages and segments keep their events: one compressed JSON list of rows (docs/adr/0033-lean-event-copies.md).

A row is an event's fields as a JSON array in a fixed order (``ROW``). The event documents (the record) and the
event's hash are untouched: this is only the layout of the derived copies (ADR 0019's pages, ADR 0024's
segments), which a replay and a long stream's read decode by the thousand. Against the layout before it (a JSON
object per event, with ``body`` nested, compressed at zlib level 1), measured in one process on the bench's
varied payload, a row decodes in about half the time: no keys to parse, no nested object, and the event built
without the frozen dataclass's per-field ``object.__setattr__``. Rows are compressed at zlib level 6, about 20%
fewer bytes than level 1 for the same decompression time: FerretDB keeps binary as base64 in ``jsonb``, and its
cost of returning a copy follows its bytes. The copies are written off the reads (the projector's pass, every
32nd append to a stream), where compressing costs a few milliseconds.

A copy written before carries no ``layout`` and is read as it was written (``LEGACY``): nothing is rewritten.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bson import Binary

from binhchon_kit.canonical import LEGACY_HASH_ALG
from binhchon_kit.envelope import format_time
from binhchon_kit.events import Actor, RecordedEvent

ROWS = 2  # the ``layout`` of a copy written as rows
LEGACY = 1  # a copy without ``layout``: one JSON object per event (ADR 0019, 0024)
COMPRESSION = 6
# the order of a row's fields (written by ``event_row``, read by ``row_event``); never reordered: add a layout
ROW = ("stream", "id", "version", "type", "schema_version", "subject", "time", "data", "actor_id", "actor_roles",
       "correlation_id", "causation_id", "source", "prev_hash", "hash", "hash_alg")

Actors = dict[tuple[str, tuple[str, ...]], Actor]


def stored_body(event: RecordedEvent) -> dict[str, Any]:
    """What an event document keeps as one JSON text (``body``), and a legacy copy kept for each event."""
    return {"schema_version": event.schema_version, "data": event.data,
            "actor": event.actor.as_document(),
            "correlation_id": event.correlation_id, "causation_id": event.causation_id, "source": event.source,
            "prev_hash": event.prev_hash, "hash": event.hash, "hash_alg": event.hash_alg}


def event_row(event: RecordedEvent) -> list[Any]:
    return [event.stream, event.id, event.version, event.type, event.schema_version, event.subject,
            format_time(event.time), event.data, event.actor.id, list(event.actor.roles), event.correlation_id,
            event.causation_id, event.source, event.prev_hash, event.hash, event.hash_alg]


def encode_events(events: Sequence[RecordedEvent]) -> dict[str, Any]:
    """The fields a copy keeps its events in: ``{layout, events}``. The same events give the same bytes."""
    text = json.dumps([event_row(e) for e in events], ensure_ascii=False, separators=(",", ":"))
    return {"layout": ROWS, "events": Binary(zlib.compress(text.encode(), COMPRESSION))}


def decode_events(doc: dict[str, Any], stream: str | None = None) -> list[RecordedEvent]:
    """The events of a copy, whichever layout it was written in. ``stream``: the legacy layout of pages did not
    keep it per event. Raises KeyError, TypeError or ValueError (``zlib.error`` included) when it does not read."""
    entries = json.loads(zlib.decompress(doc["events"]).decode())
    if not isinstance(entries, list):
        raise TypeError("a copy's events are a list")
    actors: Actors = {}  # a copy's events share few actors: build each once
    layout = doc.get("layout", LEGACY)
    if layout == ROWS:
        return [row_event(row, actors) for row in entries]
    if layout == LEGACY:
        return [entry_event(stream if stream is not None else entry["stream"], entry, actors) for entry in entries]
    raise ValueError(f"unknown layout {layout!r}")


_new = object.__new__
_from_iso = datetime.fromisoformat


def row_event(row: list[Any], actors: Actors) -> RecordedEvent:
    (stream, id_, version, type_, schema_version, subject, time, data, actor_id, roles, correlation_id, causation_id,
     source, prev_hash, hash_, hash_alg) = row
    who = (actor_id, tuple(roles))
    actor = actors.get(who) or actors.setdefault(who, Actor(*who))
    if not (isinstance(stream, str) and isinstance(version, int) and isinstance(hash_, str)):
        raise TypeError("not an event's row")
    # Built the way a frozen dataclass's unpickling builds it: its __init__ sets each field through
    # object.__setattr__, which is half of what decoding an event costs here (RecordedEvent has no __post_init__;
    # the round-trip tests compare what this builds with the events written, field by field).
    event: RecordedEvent = _new(RecordedEvent)
    event.__dict__.update(
        id=id_, stream=stream, version=version, type=type_, schema_version=schema_version, subject=subject,
        time=_from_iso(time), data=data, actor=actor, correlation_id=correlation_id, causation_id=causation_id,
        source=source, prev_hash=prev_hash, hash=hash_, hash_alg=hash_alg)
    return event


def entry_event(stream: str, entry: dict[str, Any], actors: Actors) -> RecordedEvent:
    """An event of the legacy layout: ``event_id``, ``version``, ``type``, ``subject``, ``time`` and ``body``."""
    body = entry["body"]
    who = (body["actor"]["id"], tuple(body["actor"]["roles"]))
    actor = actors.get(who) or actors.setdefault(who, Actor(*who))
    return RecordedEvent(
        id=entry["event_id"], stream=stream, version=entry["version"], type=entry["type"],
        schema_version=body["schema_version"], subject=entry["subject"], time=_from_iso(entry["time"]),
        data=body["data"], actor=actor,
        correlation_id=body["correlation_id"], causation_id=body["causation_id"], source=body["source"],
        prev_hash=body["prev_hash"], hash=body["hash"], hash_alg=body.get("hash_alg", LEGACY_HASH_ALG),
    )
