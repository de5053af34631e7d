"""The event types: each pydantic ``EventData`` class is one event type, registered with its type name (the
CloudEvent ``type`` on the wire), its schema version and its topic. The registry answers both ways: the class
of a name (to read a stored or received event) and the name of a class (to record one). Code names events by
their class; the name is only what goes on the wire and into the hash chain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ConfigDict


class EventData(BaseModel):
    """Base of every event's ``data``: immutable, and unknown fields are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


EventDataModel = type[EventData]
E = TypeVar("E", bound=EventDataModel)


class UnknownEventType(KeyError):
    """A type name, or a class, that no registration claims (a KeyError, as the lookup by name always raised)."""

    def __str__(self) -> str:  # KeyError's own str() would quote the message like a key
        return str(self.args[0])


@dataclass(frozen=True)
class Registration:
    type: str
    schema_version: int
    model: EventDataModel
    topic: str
    summary: str


_by_type: dict[str, Registration] = {}
_by_model: dict[EventDataModel, Registration] = {}


def registered(type_: str, *, topic: str, schema_version: int = 1) -> Callable[[E], E]:
    """Class decorator: ``model`` is event type ``type_``. A name or a class claimed twice fails at import."""

    def register(model: E) -> E:
        if (taken := _by_type.get(type_)) is not None:
            raise ValueError(f"event type {type_} registered twice: by {_name(taken.model)} and {_name(model)}")
        if (named := _by_model.get(model)) is not None:
            raise ValueError(f"{_name(model)} is already event type {named.type}; it cannot also be {type_}")
        summary = (model.__doc__ or type_).strip().splitlines()[0]
        _by_type[type_] = _by_model[model] = Registration(type_, schema_version, model, topic, summary)
        return model

    return register


def event_model(type_: str) -> Registration:
    """The registration of a type name (as read from the store or the wire)."""
    try:
        return _by_type[type_]
    except KeyError:
        raise UnknownEventType(f"unknown event type {type_!r}") from None


def registration_of(model: EventDataModel) -> Registration:
    """The registration of an event class. Exact class only: a subclass is not its parent's event type."""
    try:
        return _by_model[model]
    except KeyError:
        raise UnknownEventType(f"{_name(model)} is not a registered event type (decorate it with @registered)"
                               ) from None


def type_of(model: EventDataModel) -> str:
    """The type name of an event class, as it goes on the wire."""
    return registration_of(model).type


def event_types() -> list[Registration]:
    return sorted(_by_type.values(), key=lambda r: (r.topic, r.type))


def _name(model: type) -> str:
    return f"{model.__module__}.{model.__qualname__}"
