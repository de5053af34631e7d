"""What agencies' webhooks carry: the published view of an event (the declaration is binhchon_kit.contracts.agencies,
ADR 0028), with every sealed value withheld (ADR 0048)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from binhchon_kit.contracts.agencies import PUBLISHED, SEALED, WITHHELD, Fields, withheld
from binhchon_kit.events import RecordedEvent

__all__ = ["PUBLISHED", "SEALED", "WITHHELD", "agency_data", "agency_event", "is_published", "project",
           "published_types"]


def is_published(event_type: str) -> bool:
    return event_type in PUBLISHED and event_type not in SEALED


def published_types() -> list[str]:
    """What a subscription to "all types" (no ``event_types``) receives."""
    return sorted(t for t in PUBLISHED if is_published(t))


def project(value: Any, fields: Fields) -> Any:
    """Only the declared fields of an object (of each object of a list); a value that is no object is dropped
    where fields were declared for one."""
    if isinstance(value, list):
        return [project(item, fields) for item in value if isinstance(item, Mapping)]
    if not isinstance(value, Mapping):
        return None
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in value or spec is False:
            continue
        out[name] = value[name] if spec is True else project(value[name], spec)
    return out


def agency_data(event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    if not is_published(event_type):
        raise ValueError(f"{event_type} is not published to agencies")
    # a household's name and number are sealed where an organisation's are clear: never sent sealed (ADR 0048)
    return withheld(project(data, PUBLISHED[event_type]))  # type: ignore[no-any-return]


def agency_event(event: RecordedEvent) -> bytes:
    """The webhook body: a CloudEvent (structured mode) with the event's identity and the published fields of its
    data. Not the topic's envelope: no actor, no stream, no hash chain (a projection has no hash of its own to
    check; the webhook's signature is what proves it came from notify), no ``dataschema`` (the data is a part of
    the schema's)."""
    published = event.to_cloudevent()
    body = {"specversion": published.specversion, "id": published.id, "source": published.source,
            "type": published.type, "subject": published.subject, "time": published.time,
            "datacontenttype": "application/json", "data": agency_data(event.type, event.data)}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
