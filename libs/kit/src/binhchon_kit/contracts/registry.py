"""Event type registry: type name → (schema version, model, topic)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict


class EventData(BaseModel):
    """Base of every event's ``data``: immutable, and unknown fields are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


EventDataModel = type[EventData]


@dataclass(frozen=True)
class Registration:
    type: str
    schema_version: int
    model: EventDataModel
    topic: str
    summary: str


_registry: dict[str, Registration] = {}


def registered(
    type_: str, *, topic: str, schema_version: int = 1
) -> Callable[[type[EventData]], type[EventData]]:
    """Class decorator: registers ``model`` as the data of event type ``type_``."""

    def register(model: type[EventData]) -> type[EventData]:
        if type_ in _registry:
            raise ValueError(f"event type {type_} registered twice")
        summary = (model.__doc__ or type_).strip().splitlines()[0]
        _registry[type_] = Registration(type_, schema_version, model, topic, summary)
        return model

    return register


def event_model(type_: str) -> Registration:
    try:
        return _registry[type_]
    except KeyError:
        raise KeyError(f"unknown event type {type_!r}") from None


def event_types() -> list[Registration]:
    return sorted(_registry.values(), key=lambda r: (r.topic, r.type))
