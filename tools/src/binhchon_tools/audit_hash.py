"""The one place the audit asks the kit what an event's hash is (and what it links to).

The hash scheme belongs to the kit (``binhchon_kit.canonical`` / ``binhchon_kit.events``); the audit never
computes a hash its own way. Everything here goes through ``_kit_hash``: when the kit defines the hash as a
function of the published CloudEvent, that one line changes and nothing else in the audit does.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from binhchon_kit.canonical import GENESIS_HASH, HASH_ALG, chain_hash, cloudevent_hash, read_json
from binhchon_kit.events import Actor, RecordedEvent, hashed_content


def _kit_hash(event: dict[str, Any], exact: bool = False) -> str:
    """The kit's hash of a received CloudEvent (a parsed JSON object) under the scheme its ``hashalg`` names
    (docs/adr/0021): the published attributes for ``cloudevent-jcs-sha256``; the store's field names for an
    event recorded before, which carries none. An unknown scheme gives a hash no event has. ``exact``: the event
    as the kit's ``read_json`` answered exact for (its faster writer then)."""
    if "hashalg" in event:
        if event["hashalg"] != HASH_ALG:
            return f"unknown hashalg {event['hashalg']!r}"
        return cloudevent_hash(event, exact=exact)
    return chain_hash(event["prevhash"], hashed_content(
        id=event["id"], stream=event["streamid"], version=event["streamversion"], type=event["type"],
        schema_version=schema_version(event), subject=event["subject"], time=datetime.fromisoformat(event["time"]),
        data=event["data"], actor=Actor(event["actorid"], tuple(r for r in event["actorroles"].split(",") if r)),
        correlation_id=event["correlationid"], causation_id=event["causationid"], source=event["source"]))


def schema_version(event: dict[str, Any]) -> int:
    return int(str(event["dataschema"]).rsplit("/v", 1)[-1].removesuffix(".json"))


def event_hash(event: dict[str, Any], exact: bool = False) -> str:
    """What the hash of this CloudEvent must be (``exact``: as ``read_event`` answered)."""
    return _kit_hash(event, exact)


def read_event(value: bytes) -> tuple[Any, bool]:
    """A record's value read as the kit reads JSON: the value ``json.loads`` gives, and whether it is exact."""
    return read_json(value)


def previous_link(event: dict[str, Any]) -> str:
    """The hash this event says its stream's previous event has (genesis for a first event)."""
    return str(event["prevhash"])


GENESIS = GENESIS_HASH


def seal(event: RecordedEvent, prev_hash: str) -> RecordedEvent:
    """``event`` linked to ``prev_hash`` and hashed as a store records it now (tests and the bench write chains)."""
    return replace(event, prev_hash=prev_hash).sealed()
