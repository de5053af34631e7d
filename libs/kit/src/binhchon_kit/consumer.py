"""Consuming other services' events on FastStream: idempotent, committed only after the effect is stored,
and dead-lettered with the reason when a message cannot be parsed or handled (ADR 0003, ADR 0018).

Each handler is a FastStream subscriber with its own consumer group (``<service>.<handler>``), starting from
the earliest offset (a new service replays history), one message at a time per partition, committed after it
returns (``AckPolicy.NACK_ON_ERROR``), by its own commit or a later record's; with ``partitions_at_once`` it
handles that many partitions at the same time, each still in order, through as many consumers of its group
(ADR 0058). A handler whose effect is in the process's own memory runs in every replica instead
(``every_replica``, ``EveryReplica``: no group, from the latest offset). The delivery policy is FastStream's, not
a closure around the handler:

- ``decode_cloudevent``, the subscriber's decoder, turns the CloudEvent body into the ``RecordedEvent`` the
  handler takes (bytes that are no CloudEvent raise ``Unparseable``);
- before the inbox and the handler, an event the handler takes is checked against its topic's owner
  (binhchon_kit.trust, ADR 0026): its source, its hash recomputed, the owner's signature. One that fails is
  dead-lettered with the reason, never handled and never put in the inbox;
- ``DeliveryPolicy``, a middleware on the handler's own router, wraps the call (``consume_scope``): an
  unparseable message, an event of a type no contract names, one whose data breaks its type's contract, or one
  the handler cannot handle goes to ``<topic>.dlq`` with the ``dlq-*`` headers (at once: only a handler's
  failure is retried, a bounded number of times, and a store that does not answer is no fault of the event: the
  message is then not committed but sought back to and delivered again until the store answers); an event of a
  known type the handler does not take, or already in the inbox, is acknowledged untouched; the inbox records the
  event once the handler has returned. None of these commits on its own while a later record of its partition is
  known and its consumer committed less than a second ago: a later commit covers it (``leave_commit``, ADR 0060);
- a handler registered with ``concerns`` (a test on the event alone, after its trust and its contract are checked)
  is not called for an event the test refuses, and the inbox neither reads nor writes for it: an event that is no
  business of the handler by its own content stays so on every delivery, so it needs no record of having been
  handled (ADR 0053: most of certification's inbox was notify's mails, all but the ceremonies' ignored);
- a handler registered with ``idempotent`` (a test on the event alone) handles the events the test accepts with
  no inbox at all, neither read nor written: their effect is the same however often it is made (a mark set, a
  document replaced by the same one), so a redelivery just makes it again (ADR 0053's 2026-11-30 amendment:
  notify's seven ``score.submitted`` per dossier each cost an inbox read and insert to guard one upsert).

The inbox (one document per handled event id and handler, keyed so a second insert fails) makes a redelivery
a no-op; a handler whose effect is itself idempotent (deterministic event ids) stays safe even if the process
dies between the effect and the inbox insert.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, cast

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError
from fast_depends.library import CustomField
from faststream import BaseMiddleware, ContextRepo, StreamMessage
from faststream.kafka import KafkaBroker, KafkaRouter, Topic
from faststream.message import AckStatus
from faststream.middlewares import AckPolicy
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure

from binhchon_kit.contracts.registry import EventData, UnknownEventType, event_model, type_of
from binhchon_kit.envelope import CloudEvent
from binhchon_kit.events import RecordedEvent
from binhchon_kit.eventstore import AlreadyRecorded
from binhchon_kit.inbox import Inbox
from binhchon_kit.metrics import DEAD_LETTERS, MESSAGES_HANDLED, reason_class
from binhchon_kit.topics import dead_letter_topic
from binhchon_kit.trust import ProducerKeys, Untrusted, check
from binhchon_kit.vietnam_time import now_utc

log = logging.getLogger("binhchon.consumer")

Handler = Callable[[RecordedEvent], Awaitable[None]]
Concerns = Callable[[RecordedEvent], bool]  # whether an event of a type the handler takes is its business


class PermanentError(Exception):
    """The event can never be handled (retrying will not help): dead-letter it at once."""


class Unparseable(Exception):
    """The message's bytes are not a CloudEvent binhchon can read."""


@dataclass(frozen=True)
class Retry:
    """How often a failing handler is tried on the same message before it is dead-lettered. The retries hold
    the partition (the next message waits), so they are few and short. A store that still does not answer after
    them is an outage, not the event's fault: the message is not dead-lettered but delivered again (issue 14: a
    receipt mail was lost when its event was dead-lettered during a 30 s store outage)."""

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
    # the message as received, signature included (ADR 0026): a dead letter written later is this, unchanged
    body: bytes = field(default=b"", compare=False, repr=False)

    @classmethod
    def of(cls, raw: Any, topic: str, handler: str) -> Origin:
        return cls(topic, raw.partition, raw.offset, raw.key, handler, raw.value or b"")


consuming: ContextVar[Origin | None] = ContextVar("binhchon_consuming", default=None)


def out_of_contract(event_type: str, topic: str) -> str | None:
    """Why an event of ``event_type`` has no place on ``topic`` (unprefixed) in the contract this service was built
    with, or None when it has: the relay publishes each type to its registered topic only, so a type of another
    topic, like a type no contract names, is a mistake, a forgery or a newer producer, never to pass in silence."""
    try:
        registered_on = event_model(event_type).topic
    except UnknownEventType:
        return f"unknown event type {event_type!r}: not in this service's contract"
    if registered_on != topic:
        return f"event type {event_type!r} is published on {registered_on}, not on {topic}"
    return None


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


async def decode_cloudevent(message: StreamMessage[Any]) -> RecordedEvent:
    """The subscribers' decoder: a message body, a CloudEvent in structured JSON, as the event it carries."""
    try:
        return RecordedEvent.from_cloudevent(CloudEvent.from_bytes(message.body))
    except (ValidationError, ValueError) as exc:
        raise Unparseable(f"unparseable CloudEvent: {exc}") from exc


@dataclass(frozen=True, eq=False)
class Subscription:
    """One handler's delivery policy: which topic, under which name, for which event types."""

    topic: str
    handler: str
    types: set[str]
    service: str
    broker: KafkaBroker
    inbox: Inbox
    retry: Retry
    clock: Callable[[], datetime]
    owned_topic: str  # the topic without the prefix: whose owner must have produced the event
    trusted: ProducerKeys
    # a pure test on the event: never the store's state, which could make a later delivery take what this one
    # passed over, and that one's effect would then rest on the inbox never having heard of the first
    concerns: Concerns | None = None
    # a pure test on the event, as ``concerns``: the events whose effect the handler may make again, unguarded
    idempotent: Concerns | None = None
    # when each of its consumers (by id) last committed, on the monotonic clock: see ``leave_commit``
    committed_at: dict[int, float] = field(default_factory=dict)

    def wants(self, event: RecordedEvent) -> bool:
        return event.type in self.types

    def distrust(self, body: bytes) -> str | None:
        """Why the event in ``body`` must not be acted on, or None when its topic's owner produced it as it is.
        Checked on the JSON as received, as an agency would (the decoded model may have coerced a value)."""
        try:
            check(json.loads(body), self.owned_topic, self.trusted)
        except Untrusted as exc:
            return f"untrusted event: {exc}"
        return None

    def __call__(self, msg: Any, /, *, context: ContextRepo) -> DeliveryPolicy:
        """FastStream builds the middleware anew for every message, from this factory."""
        return DeliveryPolicy(msg, context=context, subscription=self)

    def counted(self, outcome: str) -> None:
        MESSAGES_HANDLED.labels(self.service, self.handler, outcome).inc()

    async def dead_letter(self, message: StreamMessage[Any], reason: str, event: RecordedEvent | None = None) -> None:
        raw = message.raw_message
        headers = dead_letter_headers(reason, Origin.of(raw, self.topic, self.handler), self.clock())
        # If this publish fails the middleware raises, the offset is not committed and the message comes back.
        await self.broker.publish(message.body, topic=dead_letter_topic(self.topic), key=raw.key, headers=headers)
        self.counted("dead_lettered")
        DEAD_LETTERS.labels(self.service, self.topic, reason_class(reason)).inc()
        log.warning("%s: dead-lettered %s@%s/%s: %s", self.handler, event.id if event else "?", self.topic,
                    raw.offset, reason)


def more_to_come(msg: StreamMessage[Any]) -> bool:
    """Whether the consumer knows of a later record in ``msg``'s partition (its last fetch's highwater): one this
    subscriber will be handed next, unless the partition goes to another member first."""
    consumer, raw = getattr(msg, "consumer", None), msg.raw_message
    if not isinstance(consumer, AIOKafkaConsumer) or isinstance(raw, tuple):
        return False  # not a real broker's single record (TestKafkaBroker's fake consumer, a batch): commit
    try:
        highwater = consumer.highwater(TopicPartition(raw.topic, raw.partition))
    except (AssertionError, IllegalStateError):  # the partition was revoked meanwhile
        return False
    return highwater is not None and raw.offset + 1 < highwater


COMMIT_EVERY = 1.0  # seconds: how long a consumer's handled records may wait for a later record's commit


def leave_commit(msg: StreamMessage[Any], committed_at: dict[int, float], now: float | None = None) -> None:
    """Leave ``msg``'s commit to a later record of its partition (``passed_over``) when one is known and its consumer
    committed less than COMMIT_EVERY ago; else let FastStream's ack commit it, covering those left before it. Under a
    steady flow a consumer commits about once a second instead of once per record; a crash or a reassignment
    redelivers at most that second's records, and a long catch-up never leaves the group's offset far behind."""
    now = time.monotonic() if now is None else now
    key = id(getattr(msg, "consumer", None))
    if more_to_come(msg) and now - committed_at.setdefault(key, now) < COMMIT_EVERY:
        passed_over(msg)
    else:
        committed_at[key] = now


def passed_over(msg: StreamMessage[Any]) -> None:
    """Acknowledged without committing its offset now: an event with a later record known in its partition, which
    the handler does not take, or has handled (its effect stored, then its inbox entry) or had handled before.
    Most of a topic's events are someone else's (a score sheet's, to certification's issuing), and a commit each
    was a round trip to the broker per event, per group; under load a commit per handled event was the largest
    part of the services' Kafka work (ADR 0060). The next commit (the consumer's positions, all its partitions at
    once) covers it: the last known record of the partition commits, or the first one after ``COMMIT_EVERY``
    (``leave_commit``). If the process dies or the partition is reassigned first, the event comes again to the
    group: passed over again, or found in the inbox, or made again by a handler whose effect is the same however
    often it is made (``idempotent``): no new effect, as with any redelivery."""
    msg.committed = AckStatus.ACKED  # FastStream's ack then skips the commit (KafkaAckableMessage.ack)


class DeliveryPolicy(BaseMiddleware):
    """Around one message's handling: dead letters, event-type filter, inbox, bounded retries."""

    def __init__(self, msg: Any, /, *, context: ContextRepo, subscription: Subscription) -> None:
        super().__init__(msg, context=context)
        self.subscription = subscription

    async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]) -> Any:
        sub = self.subscription
        try:
            # the subscriber's decoder (decode_cloudevent); FastStream caches it for the handler's call
            event = cast(RecordedEvent, await msg.decode())
        except Unparseable as exc:
            await sub.dead_letter(msg, str(exc))
            return None
        if not sub.wants(event):
            if (misplaced := out_of_contract(event.type, sub.owned_topic)) is not None:
                await sub.dead_letter(msg, misplaced, event)
            else:
                leave_commit(msg, sub.committed_at)
            return None
        # before the inbox: an altered copy of an event already handled is a forgery to report, not a duplicate
        if (distrust := sub.distrust(msg.body)) is not None:
            await sub.dead_letter(msg, distrust, event)
            return None
        # data that breaks the contract will break it on every try: dead-lettered at once, with the problems
        try:
            event.model()
        except ValidationError as exc:
            await sub.dead_letter(msg, f"the data does not match {event.type} v{event.schema_version}: {exc}",
                                  event)
            return None
        if sub.concerns is not None and not sub.concerns(event):
            sub.counted("not_concerned")
            leave_commit(msg, sub.committed_at)
            return None
        guarded = sub.idempotent is None or not sub.idempotent(event)
        if guarded and await sub.inbox.seen(sub.handler, event.id):
            sub.counted("duplicate")
            leave_commit(msg, sub.committed_at)
            return None
        token = consuming.set(Origin.of(msg.raw_message, sub.topic, sub.handler))
        try:
            reason = await self._handle(call_next, msg)
        finally:
            consuming.reset(token)
        if reason is not None:
            await sub.dead_letter(msg, reason, event)
            return None
        if guarded:
            await sub.inbox.record(sub.handler, event)
        sub.counted("handled")
        leave_commit(msg, sub.committed_at)  # its effect is stored and guarded: a redelivery changes nothing
        return None

    async def _handle(self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]) -> str | None:
        """Call the handler, retrying failures; the reason to dead-letter, or None once it is handled."""
        sub = self.subscription
        delay = sub.retry.first_delay
        for attempt in range(1, sub.retry.attempts + 1):
            try:
                await call_next(msg)
                return None
            except AlreadyRecorded:
                return None  # the effect was stored by an earlier delivery
            except (PermanentError, ValidationError) as exc:
                return f"{type(exc).__name__}: {exc}"
            except Exception as exc:
                if attempt == sub.retry.attempts:
                    if isinstance(exc, ConnectionFailure):
                        # raised: FastStream nacks (seeks back to this offset), nothing is committed, and the
                        # same message comes again, holding its partition's order, until the store answers
                        log.warning("%s: the store does not answer after %d attempts; the message will come "
                                    "again: %s", sub.handler, attempt, exc)
                        raise
                    reason = f"failed after {attempt} attempts: {type(exc).__name__}: {exc}"
                    log.error("%s: %s", sub.handler, reason, extra={"traceback": traceback.format_exc()})
                    return reason
                log.warning("%s: attempt %d failed (%s), retrying in %.1fs", sub.handler, attempt, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, sub.retry.max_delay)
        return None


class Decoded(CustomField):
    """FastStream's ``NoCast`` (the decoded body passed on as it is), resolved on the event loop: ``NoCast``'s
    ``use`` is a plain function, which fast_depends runs in a worker thread, a hop there and back per message."""

    def __init__(self) -> None:
        super().__init__(cast=False)

    async def use(self, /, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        return kwargs


class EveryReplica:
    """The inbox of a handler every replica runs, which is none. A consumer group hands each event to one process
    of the service; a handler whose effect is in the process's own memory (an erased key dropped from its cache,
    ADR 0048) must run in every one, so it reads the topic with no group (aiokafka assigns the process every
    partition), from the latest offset (what came before it started is in no cache of it), committing nothing.
    A shared inbox would tell the second replica the event was handled; the effect is idempotent, so none is
    needed. A bad event is dead-lettered by each replica that refuses it (the headers name the handler)."""

    async def seen(self, handler: str, event_id: str) -> bool:
        return False

    async def record(self, handler: str, event: RecordedEvent) -> None:
        return None


class EventConsumers:
    """Registers handlers for event types on topics: a subscriber each, under its own delivery policy."""

    def __init__(
        self, broker: KafkaBroker, inbox: Inbox, *, service: str, trusted: ProducerKeys, topic_prefix: str = "",
        retry: Retry = Retry(), clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.broker = broker
        self.trusted = trusted  # the producing services' public keys (ADR 0026)
        self.inbox = inbox
        self.service = service
        self.topic_prefix = topic_prefix
        self.retry = retry
        self.clock = clock
        self._every_replica: list[Any] = []  # the subscribers every replica runs

    def handle(self, topic: str, events: Iterable[type[EventData]], name: str, handler: Handler, *,
               concerns: Concerns | None = None, idempotent: Concerns | None = None,
               every_replica: bool = False, partitions_at_once: int = 1) -> None:
        """Call ``handler`` for the events of these types on ``topic``; with ``concerns``, only for those of them
        it accepts (a test on the event alone: the others are passed over, no inbox entry). ``every_replica``: every
        process of the service handles each event, not one of the group (see ``EveryReplica``); for an effect on
        the process's own memory, such as dropping an erased key it cached. ``idempotent``: the events it accepts
        (a test on the event alone) are handled with no inbox read or entry, their effect being the same made
        twice; a redelivery is handled again. ``partitions_at_once``: how many of the topic's partitions this
        process handles at the same time, each still one message after the other (ADR 0058): FastStream's
        ``max_workers`` under a commit-after policy, a consumer of the group per worker, each committing only
        the partitions it was assigned and handled in order."""
        if partitions_at_once < 1:
            raise ValueError(f"partitions_at_once must be at least 1, not {partitions_at_once}")
        if every_replica and partitions_at_once > 1:
            # FastStream's only concurrency without a group is a pool fed in arrival order, acknowledged first:
            # one stream's events would overtake each other
            raise ValueError("an every-replica handler reads its partitions one message at a time")
        types = {type_of(event) for event in events}  # the handled classes' names, as they come on the wire
        full_topic = self.topic_prefix + topic
        subscription = Subscription(full_topic, f"{self.service}.{name}", types, self.service, self.broker,
                                    EveryReplica() if every_replica else self.inbox, self.retry, self.clock, topic,
                                    self.trusted, concerns, idempotent)

        # the decoder made the RecordedEvent already; FastStream must pass it on, not validate it again
        async def consume(event: Annotated[RecordedEvent, Decoded()]) -> None:
            await handler(event)

        consume.__name__ = f"consume_{name}"
        # a router per handler: FastStream scopes middlewares by router, and the policy is this handler's own
        router = KafkaRouter(middlewares=[subscription])
        # the topics exist before any service starts (topics.ensure_topics, with their ACLs): a service may not
        # create topics on a locked broker (ADR 0031), so FastStream must not try
        # every replica: no group (every partition to this process), from the end, nothing to commit
        subscriber = router.subscriber(
            Topic(full_topic, declare=False), group_id=None if every_replica else subscription.handler,
            auto_offset_reset="latest" if every_replica else "earliest",
            ack_policy=AckPolicy.ACK_FIRST if every_replica else AckPolicy.NACK_ON_ERROR, decoder=decode_cloudevent,
            # with a commit-after policy, FastStream's workers are consumers of the group (its
            # ConcurrentBetweenPartitionsSubscriber), never a pool: a partition is one worker's, in order (ADR 0058)
            max_workers=partitions_at_once,
            title=f"{subscription.handler}:{full_topic}",
            description=f"{self.service} handles {', '.join(sorted(types))}",
        )
        subscriber(consume)
        self.broker.include_router(router)
        if every_replica:
            # started first: the broker starts its subscribers one after the other, and a group's waits for its
            # rebalance (seconds, when another replica is already in it), while this process already serves
            self.broker.routers.insert(0, self.broker.routers.pop())
            self._every_replica.append(subscriber)

    async def positioned(self) -> None:
        """Once the broker has started: wait until every-replica subscribers know where they read from (the end of
        each partition, looked up by the consumer after it starts). Every event recorded after this reaches them;
        a cache that only such an event can invalidate may keep entries from then on (``KeyClient.caching``)."""
        for subscriber in self._every_replica:
            consumer = subscriber.consumer
            if isinstance(consumer, AIOKafkaConsumer):  # not TestKafkaBroker's fake
                for partition in consumer.assignment():
                    await consumer.position(partition)
