"""Consuming other services' events on FastStream: idempotent, committed only after the effect is stored,
and dead-lettered with the reason when a message cannot be parsed or handled.

Each handler gets its own consumer group (``<service>.<handler>``), starts from the earliest offset (a new
service replays history), handles one message at a time per partition, and commits after it returns. The
inbox (one document per handled event id and handler, keyed so a second insert fails) makes a redelivery a
no-op; a handler whose effect is itself idempotent (deterministic event ids) stays safe even if the process
dies between the effect and the inbox insert.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from binhchon_kit.contracts.registry import EventData, type_of
from binhchon_kit.envelope import CloudEvent
from binhchon_kit.events import RecordedEvent
from binhchon_kit.eventstore import AlreadyRecorded
from binhchon_kit.metrics import MESSAGES_HANDLED
from binhchon_kit.topics import dead_letter_topic

log = logging.getLogger("binhchon.consumer")

Handler = Callable[[RecordedEvent], Awaitable[None]]


class PermanentError(Exception):
    """The event can never be handled (retrying will not help): dead-letter it at once."""


@dataclass(frozen=True)
class Retry:
    attempts: int = 4
    first_delay: float = 0.2
    max_delay: float = 5.0


@dataclass(frozen=True)
class Origin:
    """Where the message being handled came from: a handler that sets an event aside (to dead-letter it later,
    outside the consumer) keeps these to write the same headers as the consumer would."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    handler: str

    @classmethod
    def of(cls, raw: Any, topic: str, handler: str) -> Origin:
        return cls(topic, raw.partition, raw.offset, raw.key, handler)


consuming: ContextVar[Origin | None] = ContextVar("binhchon_consuming", default=None)


async def _from(origin: Origin, handler: Handler, event: RecordedEvent) -> None:
    token = consuming.set(origin)
    try:
        await handler(event)
    finally:
        consuming.reset(token)


def dead_letter_headers(reason: str, origin: Origin, at: datetime) -> dict[str, str]:
    """The ``dlq-*`` headers every dead letter carries (ADR 0003)."""
    return {
        "dlq-reason": reason[:2000],
        "dlq-handler": origin.handler,
        "dlq-source-topic": origin.topic,
        "dlq-source-partition": str(origin.partition),
        "dlq-source-offset": str(origin.offset),
        "dlq-at": at.isoformat(),
    }


class Inbox:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db["inbox"]

    async def seen(self, handler: str, event_id: str) -> bool:
        return await self.collection.find_one({"_id": f"{handler}:{event_id}"}, projection={"_id": 1}) is not None

    async def record(self, handler: str, event: RecordedEvent) -> None:
        try:
            await self.collection.insert_one(
                {"_id": f"{handler}:{event.id}", "handler": handler, "type": event.type,
                 "subject": event.subject, "at": datetime.now(UTC)}
            )
        except DuplicateKeyError:
            pass


class EventConsumers:
    """Registers handlers for event types on topics, each wrapped in the idempotency and dead-letter policy."""

    def __init__(
        self, broker: KafkaBroker, db: AsyncDatabase[dict[str, Any]], *, service: str, topic_prefix: str = "",
        retry: Retry = Retry(),
    ) -> None:
        self.broker = broker
        self.inbox = Inbox(db)
        self.service = service
        self.topic_prefix = topic_prefix
        self.retry = retry

    def handle(self, topic: str, events: Iterable[type[EventData]], name: str, handler: Handler) -> None:
        types = {type_of(event) for event in events}  # the handled classes' names, as they come on the wire
        full_topic = self.topic_prefix + topic
        handler_id = f"{self.service}.{name}"

        async def consume(message: KafkaMessage) -> None:
            await self._consume(message, full_topic, types, handler_id, handler)

        consume.__name__ = f"consume_{name}"
        self.broker.subscriber(
            full_topic, group_id=handler_id, auto_offset_reset="earliest", ack_policy=AckPolicy.NACK_ON_ERROR,
            title=f"{handler_id}:{full_topic}",
            description=f"{self.service} handles {', '.join(sorted(types))}",
        )(consume)

    async def _consume(
        self, message: Any, topic: str, types: set[str], handler_id: str, handler: Handler
    ) -> None:
        raw: bytes = message.body
        try:
            event = RecordedEvent.from_cloudevent(CloudEvent.from_bytes(raw))
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(message, topic, handler_id, f"unparseable CloudEvent: {exc}")
            return
        if event.type not in types:
            return
        if await self.inbox.seen(handler_id, event.id):
            MESSAGES_HANDLED.labels(self.service, handler_id, "duplicate").inc()
            return
        delay = self.retry.first_delay
        for attempt in range(1, self.retry.attempts + 1):
            try:
                await _from(Origin.of(message.raw_message, topic, handler_id), handler, event)
                break
            except AlreadyRecorded:
                break  # the effect was stored by an earlier delivery
            except (PermanentError, ValidationError) as exc:
                await self._dead_letter(message, topic, handler_id, f"{type(exc).__name__}: {exc}", event)
                return
            except Exception as exc:
                if attempt == self.retry.attempts:
                    reason = f"failed after {attempt} attempts: {type(exc).__name__}: {exc}"
                    log.error("%s: %s", handler_id, reason, extra={"traceback": traceback.format_exc()})
                    await self._dead_letter(message, topic, handler_id, reason, event)
                    return
                log.warning("%s: attempt %d failed (%s), retrying in %.1fs", handler_id, attempt, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry.max_delay)
        await self.inbox.record(handler_id, event)
        MESSAGES_HANDLED.labels(self.service, handler_id, "handled").inc()

    async def _dead_letter(
        self, message: Any, topic: str, handler_id: str, reason: str, event: RecordedEvent | None = None
    ) -> None:
        raw = message.raw_message
        headers = dead_letter_headers(reason, Origin.of(raw, topic, handler_id), datetime.now(UTC))
        # If this publish fails the handler raises, the offset is not committed and the message comes back.
        await self.broker.publish(message.body, topic=dead_letter_topic(topic), key=raw.key, headers=headers)
        MESSAGES_HANDLED.labels(self.service, handler_id, "dead_lettered").inc()
        log.warning("%s: dead-lettered %s@%s/%s: %s", handler_id, event.id if event else "?", topic, raw.offset, reason)
