"""Commands' common step: append the decided event and refresh its stream's read model; the cause of an HTTP
command."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from binhchon_kit.contracts.registry import EventData
from binhchon_kit.events import Actor, Cause, NewEvent, RecordedEvent
from binhchon_kit.logs import correlation_id
from binhchon_kit.metrics import EVENTS_APPENDED

if TYPE_CHECKING:
    from binhchon_kit.runtime import Runtime

log = logging.getLogger("binhchon.commands")


async def record(
    runtime: Runtime, stream: str, expected: int, data: EventData, actor: Actor, cause: Cause, subject: str,
    event_id: str | None = None, history: list[RecordedEvent] | None = None,
) -> RecordedEvent:
    """Append one event, its type named by the class of ``data``; then refresh the stream's read model from
    ``history`` (the events the decision was made on) and the new event. If projecting fails the event is still
    stored and the projector catches up."""
    event = NewEvent(data, id=event_id) if event_id else NewEvent(data)
    recorded = await runtime.store.append(stream, expected, event, subject=subject, actor=actor, cause=cause)
    EVENTS_APPENDED.labels(runtime.store.source, event.type).inc()
    try:
        await runtime.projections.project(stream, [*(history or []), recorded])
    except Exception:
        log.warning("projecting %s failed; left to the projector", stream, exc_info=True)
    return recorded


def request_cause() -> Cause:
    """The cause of an HTTP command: the request's correlation id."""
    cid = correlation_id.get() or "none"
    return Cause(correlation_id=cid, causation_id=f"http:{cid}")
