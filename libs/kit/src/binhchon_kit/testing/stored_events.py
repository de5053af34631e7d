"""Tests' direct access to a MongoDB event store's documents (ADR 0014): what an intruder with write access to
the database would alter, and what a test reads back from it, whichever layout the event was written in."""

from __future__ import annotations

import json
from typing import Any

from binhchon_kit.eventstore_mongo import event_content


async def alter_data(events: Any, key: str, field: str, value: Any) -> None:
    """Rewrite one field of a stored event's data in place, hash left as it was (tampering)."""
    doc = await events.find_one({"_id": key})
    assert doc is not None, key
    if "body" not in doc:
        await events.update_one({"_id": key}, {"$set": {f"data.{field}": value}})
        return
    body = json.loads(doc["body"])
    body["data"][field] = value
    await events.update_one({"_id": key}, {"$set": {"body": json.dumps(body, ensure_ascii=False)}})


async def stored(events: Any, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The stored events matching ``query`` (top-level fields: type, stream, subject...), each with its data."""
    return [event_content(doc) async for doc in events.find(query or {})]
