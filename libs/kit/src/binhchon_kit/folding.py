"""Replaying a stream: the one left fold every aggregate's state is made with."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from binhchon_kit.events import RecordedEvent

State = TypeVar("State")

Evolve = Callable[[State | None, RecordedEvent], State | None]


def replay(evolve: Evolve[State], events: Iterable[RecordedEvent]) -> State | None:
    """The state after ``events``, each applied by ``evolve`` to the state before it; None for no events.

    ``evolve(None, first)`` makes the state from a stream's first event (or keeps None, for a stream whose first
    event says the thing never came to be); each domain's ``evolve`` dispatches on the event's class
    (``event.model()``)."""
    state: State | None = None
    for event in events:
        state = evolve(state, event)
    return state
