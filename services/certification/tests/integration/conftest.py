"""Certification against the real broker and server, with one injected clock: the service's "today" and the
tests' are the same value, whatever the machine's time zone or hour."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pymongo import AsyncMongoClient

from binhchon_kit.contracts.common import DecisionReference, Level, Programme
from binhchon_kit.contracts.registry import EventData
from binhchon_kit.contracts.scoring import Rating, ResultApproved
from binhchon_kit.events import Actor, Cause, NewEvent, RecordedEvent
from binhchon_kit.eventstore import EventStore
from binhchon_kit.personal_keys import CopiesOpener
from binhchon_kit.principals import ADMIN, PRINCIPALS
from binhchon_kit.relay import Relay
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.infra import Infra
from binhchon_kit.trust import dev_log_signer
from certification.adapters.idempotency import Answers
from certification.main import CertificationSettings, build

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
TODAY = date(2026, 11, 23)  # Vietnam's date as the service's clock gives it in these tests
PRODUCT = "Rượu nếp cẩm Đông Hưng – ủ men lá"
DECISION = DecisionReference(number="88/QĐ-UBND", date=date(2026, 11, 20), signer="Nguyễn Thị Ký",
                             authority="UBND tỉnh Bắc Giang")


class Clock:
    """The service's clock (a date in Vietnam, and the hour there), set by the test."""

    def __init__(self, day: date, hour: time = time(9, 0)) -> None:
        self.day = day
        self.hour = hour

    def __call__(self) -> date:
        return self.day

    def now(self) -> datetime:
        return datetime.combine(self.day, self.hour, VIETNAM)


def result(dossier_id: str, *, stars: int = 4, recognised: bool = True, points: float = 78.25,
           product: str = PRODUCT, producer: str = "Hợp tác xã Đông Hưng", registration: str | None = "2400123456",
           province_code: str = "24", decision: DecisionReference = DECISION, round_id: str = "round-1",
           validity_months: int | None = 36) -> ResultApproved:
    return ResultApproved(
        dossier_id=dossier_id, round_id=round_id, programme=Programme.OCOP, level=Level.PROVINCE,
        rulebook_id="ocop-2023", rating=Rating(stars=stars, recognised=recognised, label=f"{stars} sao"),
        points=points, decision=decision, goes_up_a_level=not recognised,
        next_level=None if recognised else Level.NATIONAL, product_name=product, producer_name=producer,
        producer_address=f"Xã Đông Hưng, Tỉnh mã {province_code}", province_code=province_code,
        certificate_validity_months=validity_months, producer_registration_number=registration)


@dataclass
class CertEnv:
    infra: Infra
    mongo: AsyncMongoClient[dict[str, Any]]
    unique: str
    prefix: str
    key: str
    clock: Clock
    result = staticmethod(result)

    @property
    def db(self) -> Any:
        return self.mongo[f"certification_{self.unique}"]

    def settings(self, name: str = "certification", **over: Any) -> CertificationSettings:
        return CertificationSettings(service_name=name, mongodb_url=self.infra.mongodb,
                                     mongodb_database=f"certification_{self.unique}",
                                     kafka_bootstrap_servers=self.infra.kafka, kafka_topic_prefix=self.prefix,
                                     auth_public_keys_file=self.key, **over)

    def app(self, name: str = "certification", **over: Any) -> Any:
        return build(self.settings(name, **over), clock=self.clock, now=self.clock.now)

    def running(self, name: str = "certification", **over: Any) -> contextlib.AbstractAsyncContextManager[
            httpx.AsyncClient]:
        return running(self.app(name, **over), f"http://{name}")

    @property
    def answers(self) -> Answers:
        """How the service answers under an Idempotency-Key, on this test's store and clock; nothing sealed to show."""
        return Answers(self.db, self.clock.now, CopiesOpener(None))

    async def publish(self, service: str, stream_of: str, events: list[tuple[EventData, str]]) -> None:
        """Append events to a store with ``service``'s source and relay them to its topic, as that service does."""
        store = EventStore(self.mongo[f"{service}_{self.unique}"], source=f"/binhchon/{service}")
        await store.setup()
        for data, subject in events:
            stream = f"{stream_of}-{subject}"
            await store.append(stream, await store.version(stream), NewEvent(data), subject=subject,
                               actor=Actor(f"system:{service}", ("system",)), cause=Cause("c", "c"))
        # signed with that service's development log key, the one certification trusts here (ADR 0026)
        # a name that is no principal of the broker (a forger) would be refused by its ACLs (ADR 0031): it
        # produces as the super user, so that what is tested is the consumer's own check (ADR 0026)
        principal = service if service in PRINCIPALS else ADMIN
        relay = Relay(store, self.infra.kafka, client_id=f"{service}-relay", topic_prefix=self.prefix,
                      signer=dev_log_signer(service), security=self.infra.kafka_client(principal))
        await relay.publish_pending()
        await relay._drop_producer()

    async def scored(self, result: ResultApproved) -> RecordedEvent:
        """A result.approved as scoring stores it, not published: for a test that hands it to the handlers
        itself (two replicas at once, a crash between two writes)."""
        store = EventStore(self.mongo[f"scoring_{self.unique}"], source="/binhchon/scoring")
        await store.setup()
        stream = f"scoring-{result.dossier_id}"
        return await store.append(stream, await store.version(stream), NewEvent(result),
                                  subject=result.dossier_id, actor=Actor("system:scoring", ("system",)),
                                  cause=Cause("c", "c"))

    async def approve(self, *results: ResultApproved) -> None:
        """Scoring approves these results: result.approved on scoring.events, as scoring publishes it."""
        await self.publish("scoring", "scoring", [(r, r.dossier_id) for r in results])


@pytest.fixture
def clock() -> Clock:
    return Clock(TODAY)


@pytest.fixture
async def env(infra: Infra, mongo: AsyncMongoClient[dict[str, Any]], unique: str, topic_prefix: str,
              dev_keys: tuple[Path, Path], clock: Clock) -> AsyncIterator[CertEnv]:
    yield CertEnv(infra, mongo, unique, topic_prefix, str(dev_keys[1]), clock)
