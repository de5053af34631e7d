"""One handler under the consumers' delivery policy, on FastStream's in-process TestKafkaBroker: the CloudEvent
decoded into a RecordedEvent, routed by type, a redelivery made a no-op by the inbox, a failure retried, and
what cannot be handled dead-lettered to ``<topic>.dlq`` with the ``dlq-*`` headers (ADR 0003, ADR 0018).
The same policy on the real broker: the flows of services/*/tests/integration (scoring's dead-lettered
rulebook miss, certification's forged event, intake's Kafka outage). Events come signed by their topic's owner,
as the relay publishes them; one that is not is dead-lettered before the inbox (ADR 0026; every reason:
test_event_trust.py)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import anyio.to_thread
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import AckStatus
from pymongo.errors import ServerSelectionTimeoutError

from binhchon_kit import consumer as delivery
from binhchon_kit.consumer import COMMIT_EVERY, Concerns, EventConsumers, Origin, PermanentError, Retry, consuming
from binhchon_kit.contracts.intake import RoundOpened
from binhchon_kit.envelope import CloudEvent
from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.inbox import MemoryInbox
from binhchon_kit.signing import Signer
from binhchon_kit.testing.samples import round_body
from binhchon_kit.trust import ProducerKeys, signed

TOPIC = "intake.events"
PREFIX = "t1."
HANDLED_TYPES = {RoundOpened}
AT = datetime(2026, 11, 23, 6, 26, tzinfo=UTC)  # the consumers' clock: the dead letters' dlq-at
INTAKE = Signer(Ed25519PrivateKey.generate())  # intake's log key: intake.events' owner signs with it
TRUSTED = ProducerKeys.from_jwks({"intake": {"keys": [INTAKE.jwk()]}})


ROUND = RoundOpened.model_validate({
    **round_body("LN-2026", today=date(2026, 11, 23), title="Vòng OCOP Lục Nam"), "round_id": "round-r1",
    "approving_authority": {"id": "province:24", "name": "UBND tỉnh Bắc Giang"}}).model_dump(mode="json")


def event(id_: str = "e-1", type_: str = "round.opened", data: dict[str, Any] | None = None) -> RecordedEvent:
    return RecordedEvent(
        id=id_, stream="round-r1", version=1, type=type_, schema_version=1, subject="r1",
        time=datetime(2026, 11, 22, 23, 26, tzinfo=UTC), data=ROUND if data is None else data,
        actor=Actor("officer-1", ("officer",)), correlation_id="c-1", causation_id="http:c-1",
        source="/binhchon/intake", prev_hash="0" * 64, hash="",
    ).sealed()


def published(recorded: RecordedEvent) -> bytes:
    """The event as intake's relay publishes it: signed."""
    return CloudEvent(**signed(recorded.cloudevent_json(), INTAKE)).to_bytes()


@dataclass
class Handler:
    """Fails ``failures`` times (``error`` each), then handles; remembers every event and where it came from."""

    failures: int = 0
    error: Exception = field(default_factory=lambda: RuntimeError("the rulebook's weights do not add up"))
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


@contextlib.asynccontextmanager
async def running(handler: Handler, concerns: Concerns | None = None,
                  idempotent: Concerns | None = None) -> AsyncIterator[Setup]:
    broker = KafkaBroker("127.0.0.1:1")  # never connected: TestKafkaBroker routes in-process
    inbox = MemoryInbox()
    consumers = EventConsumers(broker, inbox, service="scoring", topic_prefix=PREFIX, trusted=TRUSTED,
                               retry=Retry(attempts=3, first_delay=0, max_delay=0), clock=lambda: AT)
    consumers.handle(TOPIC, HANDLED_TYPES, "rounds", handler, concerns=concerns, idempotent=idempotent)
    dead: list[KafkaMessage] = []

    @broker.subscriber(PREFIX + TOPIC + ".dlq", group_id="test-dlq-reader")
    async def dead_letters(message: KafkaMessage) -> None:
        dead.append(message)

    async with TestKafkaBroker(broker):
        yield Setup(broker, inbox, handler, dead)


@pytest.fixture
async def setup(handler: Handler) -> AsyncIterator[Setup]:
    async with running(handler) as started:
        yield started


async def test_the_handler_takes_the_decoded_event_and_knows_where_it_came_from(setup: Setup) -> None:
    sent = event()
    await setup.publish(published(sent))
    assert setup.handler.calls == [sent]
    assert setup.handler.origins == [Origin(PREFIX + TOPIC, 0, 0, b"r1", "scoring.rounds")]
    assert await setup.inbox.seen("scoring.rounds", "e-1")
    assert setup.dead == []


async def test_the_decoded_event_reaches_the_handler_without_a_worker_thread(
        setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    # fast_depends runs a plain function in a worker thread: FastStream's NoCast did so for every message
    threaded: list[Any] = []
    run_sync = anyio.to_thread.run_sync

    async def counted(func: Any, *args: Any, **kwargs: Any) -> Any:
        threaded.append(func)
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    await setup.publish(published(event()))
    assert [e.id for e in setup.handler.calls] == ["e-1"]
    assert threaded == []


async def test_an_event_of_another_type_is_passed_over(setup: Setup) -> None:
    await setup.publish(published(event("e-2", "dossier.received")))
    assert setup.handler.calls == []
    assert not await setup.inbox.seen("scoring.rounds", "e-2")
    assert setup.dead == []


async def test_a_redelivered_event_is_not_handled_twice(setup: Setup) -> None:
    body = published(event())
    await setup.publish(body)
    await setup.publish(body)
    assert [e.id for e in setup.handler.calls] == ["e-1"]
    assert setup.dead == []


async def test_a_failure_is_retried_and_then_handled(setup: Setup) -> None:
    setup.handler.failures = 2  # the third and last attempt succeeds
    await setup.publish(published(event()))
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
    body = published(event())
    await setup.publish(body)
    assert len(setup.handler.calls) == 1  # no retry can help
    [letter] = setup.dead
    assert_dead_letter(letter, body, "PermanentError: product group 'đồ gỗ' is not in rulebook ocop-2025")
    assert not await setup.inbox.seen("scoring.rounds", "e-1")


async def test_a_failure_that_outlasts_the_retries_is_dead_lettered(setup: Setup) -> None:
    setup.handler.failures = 99
    body = published(event())
    await setup.publish(body)
    assert len(setup.handler.calls) == 3
    [letter] = setup.dead
    assert_dead_letter(letter, body, "failed after 3 attempts: RuntimeError: the rulebook's weights do not add up")


async def test_a_store_that_does_not_answer_is_an_outage_the_message_comes_again_never_dead_lettered(
        setup: Setup) -> None:
    """Issue 14: during a 30 s store outage a dossier.received was dead-lettered and its receipt mail never made."""
    setup.handler.failures = 99
    setup.handler.error = ServerSelectionTimeoutError("127.0.0.1:27017: [Errno 111] Connection refused")
    body = published(event())
    with pytest.raises(ServerSelectionTimeoutError):  # raised to FastStream: nacked, not committed
        await setup.publish(body)
    assert len(setup.handler.calls) == 3
    assert setup.dead == []
    assert not await setup.inbox.seen("scoring.rounds", "e-1")
    setup.handler.failures = 0  # the store answers again: the same message, delivered again, is handled
    await setup.publish(body)
    assert await setup.inbox.seen("scoring.rounds", "e-1")
    assert setup.dead == []


async def test_bytes_that_are_no_cloudevent_are_dead_lettered_unparsed(setup: Setup) -> None:
    body = b'{"type": "round.opened", "id": "half an envelope"}'
    await setup.publish(body)
    assert setup.handler.calls == []
    [letter] = setup.dead
    assert_dead_letter(letter, body, "unparseable CloudEvent: ")


async def test_an_event_not_signed_by_the_topics_owner_is_dead_lettered_never_handled(setup: Setup) -> None:
    body = event().to_cloudevent().to_bytes()  # genuine content, but unsigned: anyone could have written it
    await setup.publish(body)
    assert setup.handler.calls == []
    [letter] = setup.dead
    assert_dead_letter(letter, body, "untrusted event: not signed")
    assert not await setup.inbox.seen("scoring.rounds", "e-1")


async def test_an_altered_copy_of_a_handled_event_is_dead_lettered_not_taken_for_a_duplicate(setup: Setup) -> None:
    genuine = event()
    await setup.publish(published(genuine))
    altered = CloudEvent(**{**CloudEvent.from_bytes(published(genuine)).to_json(),
                            "data": {**genuine.data, "title": "Vòng OCOP giả"}}).to_bytes()
    await setup.publish(altered)
    assert [e.data["title"] for e in setup.handler.calls] == ["Vòng OCOP Lục Nam"]
    [letter] = setup.dead
    assert letter.body == altered
    assert "does not match the event" in letter.headers["dlq-reason"]


async def test_an_event_of_a_type_no_contract_names_is_dead_lettered_not_passed_over_in_silence(setup: Setup) -> None:
    body = published(event("e-3", "round.teleported", {"code": "LN-2026"}))
    await setup.publish(body)
    assert setup.handler.calls == []
    [letter] = setup.dead
    assert_dead_letter(letter, body, "unknown event type 'round.teleported': not in this service's contract")


async def test_an_event_of_another_topics_type_is_dead_lettered_even_when_no_handler_here_takes_it(
        setup: Setup) -> None:
    """The relay publishes each type to its own topic only: scoring's type on intake.events is out of the contract,
    whatever its data, though no handler of this topic takes it (the fault suite's poison)."""
    body = published(event("e-4", "panel.formed", {"padding": "x" * 1000}))
    await setup.publish(body)
    assert setup.handler.calls == []
    [letter] = setup.dead
    assert_dead_letter(letter, body, "event type 'panel.formed' is published on scoring.events, not on intake.events")


async def test_an_event_of_this_topics_type_no_handler_takes_is_passed_over(setup: Setup) -> None:
    """Intake's own dossier.withdrawn on intake.events: in the contract, only not this handler's business."""
    await setup.publish(published(event("e-5", "dossier.withdrawn", {"anything": True})))
    assert setup.handler.calls == [] and setup.dead == []


async def test_data_that_breaks_the_contract_is_dead_lettered_at_once_with_the_problems(setup: Setup) -> None:
    body = published(event(data={k: v for k, v in ROUND.items() if k != "schedule"}))  # signed by its owner
    await setup.publish(body)
    assert setup.handler.calls == []  # never handed to the handler, never retried
    [letter] = setup.dead
    assert_dead_letter(letter, body, "the data does not match round.opened v1: ")
    assert "schedule" in letter.headers["dlq-reason"] and "Field required" in letter.headers["dlq-reason"]
    assert not await setup.inbox.seen("scoring.rounds", "e-1")


@pytest.fixture
async def concerned(handler: Handler) -> AsyncIterator[Setup]:
    """A handler that takes round.opened, but only a round of Lục Nam's (a test on the event alone)."""
    async with running(handler, concerns=lambda e: e.data["code"] == "LN-2026") as started:
        yield started


async def test_an_event_the_handler_is_not_concerned_by_is_passed_over_without_an_inbox_entry(
        concerned: Setup) -> None:
    other = event("e-9", data={**ROUND, "code": "LG-2026"})
    await concerned.publish(published(other))
    await concerned.publish(published(other))  # its duplicate: passed over again, still no entry
    assert concerned.handler.calls == []
    assert concerned.inbox.handled == set()
    # then one that concerns the handler, delivered twice: handled once, and only it is in the inbox
    await concerned.publish(published(event("e-1")))
    await concerned.publish(published(event("e-1")))
    await concerned.publish(published(other))
    assert [e.id for e in concerned.handler.calls] == ["e-1"]
    assert concerned.inbox.handled == {"scoring.rounds:e-1"}
    assert concerned.dead == []


async def test_an_event_the_handler_is_not_concerned_by_is_still_dead_lettered_when_forged(concerned: Setup) -> None:
    forged = CloudEvent(**signed(event("e-9", data={**ROUND, "code": "LG-2026"}).cloudevent_json(),
                                 Signer(Ed25519PrivateKey.generate()))).to_bytes()
    await concerned.publish(forged)
    assert concerned.handler.calls == []
    assert [m.headers["dlq-handler"] for m in concerned.dead] == ["scoring.rounds"]


async def test_an_event_whose_effect_is_idempotent_is_handled_again_on_redelivery_with_no_inbox(
        handler: Handler) -> None:
    """``idempotent`` (a test on the event alone): those events cost no inbox read or entry; a redelivery is
    handled again (its effect made twice is made once). The others are still kept from a second handling."""
    async with running(handler, idempotent=lambda e: e.data["code"] == "LN-2026") as setup:
        for _ in range(2):
            await setup.publish(published(event("e-1")))
            await setup.publish(published(event("e-9", data={**ROUND, "code": "LG-2026"})))
        assert [e.id for e in setup.handler.calls] == ["e-1", "e-9", "e-1"]
        assert setup.inbox.handled == {"scoring.rounds:e-9"}
        assert setup.dead == []



def test_a_consumer_with_records_to_come_commits_about_once_a_second_not_once_per_record(monkeypatch) -> None:
    more = {"known": True}
    monkeypatch.setattr(delivery, "more_to_come", lambda msg: more["known"])
    first, second = object(), object()
    committed_at: dict[int, float] = {}

    def left(consumer: object, now: float) -> bool:
        msg = SimpleNamespace(consumer=consumer, committed=None)
        delivery.leave_commit(msg, committed_at, now=now)  # type: ignore[arg-type]
        return msg.committed is AckStatus.ACKED  # left to a later record; else FastStream's ack commits it

    assert [left(first, t) for t in (100.0, 100.4, 100.99)] == [True, True, True]
    assert not left(first, 100.0 + COMMIT_EVERY), "a second after its consumer's first record, one commits"
    assert left(first, 101.5)
    assert not left(first, 101.0 + COMMIT_EVERY)
    assert left(second, 102.5), "each consumer of the group keeps its own time"
    more["known"] = False
    assert not left(first, 102.6), "the last known record of its partition always commits"
