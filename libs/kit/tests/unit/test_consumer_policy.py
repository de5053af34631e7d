"""One handler under the consumers' delivery policy, on FastStream's in-process TestKafkaBroker: the CloudEvent
decoded into a RecordedEvent, routed by type, a redelivery made a no-op by the inbox, a failure retried, and
what cannot be handled dead-lettered to ``<topic>.dlq`` with the ``dlq-*`` headers (ADR 0003, ADR 0018).
The same policy on the real broker: the flows of services/*/tests/integration (scoring's dead-lettered
rulebook miss, certification's forged event, intake's Kafka outage)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from binhchon_kit.consumer import EventConsumers, Origin, PermanentError, Retry, consuming
from binhchon_kit.contracts.intake import RoundOpened
from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.inbox import MemoryInbox

TOPIC = "intake.events"
PREFIX = "t1."
HANDLED_TYPES = {RoundOpened}
AT = datetime(2026, 11, 23, 6, 26, tzinfo=UTC)  # the consumers' clock: the dead letters' dlq-at


def event(id_: str = "e-1", type_: str = "round.opened") -> RecordedEvent:
    return RecordedEvent(
        id=id_, stream="round-r1", version=1, type=type_, schema_version=1, subject="r1",
        time=datetime(2026, 11, 22, 23, 26, tzinfo=UTC), data={"code": "LN-2026", "title": "Vòng OCOP Lục Nam"},
        actor=Actor("officer-1", ("officer",)), correlation_id="c-1", causation_id="http:c-1",
        source="/binhchon/intake", prev_hash="0" * 64, hash="a" * 64,
    )


@dataclass
class Handler:
    """Fails ``failures`` times (``error`` each), then handles; remembers every event and where it came from."""

    failures: int = 0
    error: Exception = field(default_factory=lambda: ConnectionError("store unreachable"))
    calls: list[RecordedEvent] = field(default_factory=list)
    origins: list[Origin | None] = field(default_factory=list)

    async def __call__(self, recorded: RecordedEvent) -> None:
        self.calls.append(recorded)
        self.origins.append(consuming.get())
        if len(self.calls) <= self.failures:
            raise self.error


@dataclass
class Setup:
    broker: KafkaBroker
    inbox: MemoryInbox
    handler: Handler
    dead: list[KafkaMessage]

    async def publish(self, body: bytes, key: bytes = b"r1") -> None:
        await self.broker.publish(body, topic=PREFIX + TOPIC, key=key)


@pytest.fixture
def handler() -> Handler:
    return Handler()


@pytest.fixture
async def setup(handler: Handler) -> AsyncIterator[Setup]:
    broker = KafkaBroker("127.0.0.1:1")  # never connected: TestKafkaBroker routes in-process
    inbox = MemoryInbox()
    consumers = EventConsumers(broker, inbox, service="scoring", topic_prefix=PREFIX,
                               retry=Retry(attempts=3, first_delay=0, max_delay=0), clock=lambda: AT)
    consumers.handle(TOPIC, HANDLED_TYPES, "rounds", handler)
    dead: list[KafkaMessage] = []

    @broker.subscriber(PREFIX + TOPIC + ".dlq", group_id="test-dlq-reader")
    async def dead_letters(message: KafkaMessage) -> None:
        dead.append(message)

    async with TestKafkaBroker(broker):
        yield Setup(broker, inbox, handler, dead)


async def test_the_handler_takes_the_decoded_event_and_knows_where_it_came_from(setup: Setup) -> None:
    sent = event()
    await setup.publish(sent.to_cloudevent().to_bytes())
    assert setup.handler.calls == [sent]
    assert setup.handler.origins == [Origin(PREFIX + TOPIC, 0, 0, b"r1", "scoring.rounds")]
    assert await setup.inbox.seen("scoring.rounds", "e-1")
    assert setup.dead == []


async def test_an_event_of_another_type_is_passed_over(setup: Setup) -> None:
    await setup.publish(event("e-2", "dossier.received").to_cloudevent().to_bytes())
    assert setup.handler.calls == []
    assert not await setup.inbox.seen("scoring.rounds", "e-2")
    assert setup.dead == []


async def test_a_redelivered_event_is_not_handled_twice(setup: Setup) -> None:
    body = event().to_cloudevent().to_bytes()
    await setup.publish(body)
    await setup.publish(body)
    assert [e.id for e in setup.handler.calls] == ["e-1"]
    assert setup.dead == []


async def test_a_failure_is_retried_and_then_handled(setup: Setup) -> None:
    setup.handler.failures = 2  # the third and last attempt succeeds
    await setup.publish(event().to_cloudevent().to_bytes())
    assert [e.id for e in setup.handler.calls] == ["e-1", "e-1", "e-1"]
    assert await setup.inbox.seen("scoring.rounds", "e-1")
    assert setup.dead == []


def assert_dead_letter(letter: KafkaMessage, body: bytes, reason_starts: str) -> None:
    assert letter.body == body  # unchanged, so it can be replayed once the cause is fixed
    assert letter.raw_message.key == b"r1"
    assert letter.headers["dlq-reason"].startswith(reason_starts), letter.headers["dlq-reason"]
    assert letter.headers["dlq-handler"] == "scoring.rounds"
    assert letter.headers["dlq-source-topic"] == PREFIX + TOPIC
    assert letter.headers["dlq-source-partition"] == "0"
    assert letter.headers["dlq-source-offset"] == "0"
    assert letter.headers["dlq-at"] == "2026-11-23T06:26:00+00:00"


async def test_a_permanent_error_is_dead_lettered_at_once_with_its_reason(setup: Setup) -> None:
    setup.handler.failures = 99
    setup.handler.error = PermanentError("product group 'đồ gỗ' is not in rulebook ocop-2025")
    body = event().to_cloudevent().to_bytes()
    await setup.publish(body)
    assert len(setup.handler.calls) == 1  # no retry can help
    [letter] = setup.dead
    assert_dead_letter(letter, body, "PermanentError: product group 'đồ gỗ' is not in rulebook ocop-2025")
    assert not await setup.inbox.seen("scoring.rounds", "e-1")


async def test_a_failure_that_outlasts_the_retries_is_dead_lettered(setup: Setup) -> None:
    setup.handler.failures = 99
    body = event().to_cloudevent().to_bytes()
    await setup.publish(body)
    assert len(setup.handler.calls) == 3
    [letter] = setup.dead
    assert_dead_letter(letter, body, "failed after 3 attempts: ConnectionError: store unreachable")


async def test_bytes_that_are_no_cloudevent_are_dead_lettered_unparsed(setup: Setup) -> None:
    body = b'{"type": "round.opened", "id": "half an envelope"}'
    await setup.publish(body)
    assert setup.handler.calls == []
    [letter] = setup.dead
    assert_dead_letter(letter, body, "unparseable CloudEvent: ")
