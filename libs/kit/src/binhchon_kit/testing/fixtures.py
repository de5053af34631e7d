"""pytest fixtures for real-infrastructure tests (loaded by the repository's root conftest.py)."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient

from binhchon_kit.auth.devtoken import ensure_keys, mint
from binhchon_kit.envelope import CloudEvent
from binhchon_kit.principals import AUDITOR, client_options
from binhchon_kit.store_principals import redacted
from binhchon_kit.testing import table_reads
from binhchon_kit.testing.infra import REPO, Infra, NativeFerretDB, provide
from binhchon_kit.topics import all_topics, ensure_topics

T = TypeVar("T")


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    workdir = REPO / ".run" / f"test-{uuid.uuid4().hex[:8]}"
    try:
        with provide(workdir) as found, pytest.MonkeyPatch.context() as env:
            print(f"\n[infra] Kafka {found.kafka}, MongoDB {redacted(found.mongodb)} ({found.origin})")
            if found.kafka_credentials is not None:
                # every client of the run signs in as its own principal from here: the services in this process
                # and in the ones it starts (their settings read it), the topics' admin, the audit tool's auditor
                env.setenv("KAFKA_CREDENTIALS_DIR", str(found.kafka_credentials))
            yield found
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def counted_store() -> Iterator[NativeFerretDB]:
    """A store whose PostgreSQL counts what each statement read (binhchon_kit.testing.table_reads), started when a
    test first asks for it, shared by such tests (each in databases of its own name), never the suite's store."""
    with table_reads.counted_store(f"counted-{uuid.uuid4().hex[:8]}") as store:
        yield store


@pytest.fixture
async def counted_mongo(counted_store: NativeFerretDB) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    """A client of the ``counted_store``."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(counted_store.url, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture
def unique() -> str:
    """A short unique name for this test's databases, topics and ids."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def topic_prefix(infra: Infra, unique: str) -> str:
    prefix = f"t{unique}."
    await ensure_topics(infra.kafka, all_topics(prefix), partitions=3)
    return prefix


@pytest.fixture
async def mongo(infra: Infra) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture(scope="session")
def dev_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return ensure_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def token(dev_keys: tuple[Path, Path]) -> Callable[..., str]:
    private = dev_keys[0].read_bytes()

    def make(subject: str, *roles: str, authorities: tuple[str, ...] = ()) -> str:
        return mint(private, subject=subject, roles=list(roles), authorities=list(authorities))

    return make


@pytest.fixture
def auth(token: Callable[..., str]) -> Callable[..., dict[str, str]]:
    """Authorization headers for a subject holding the given roles (an approver: and ``authorities``)."""

    def headers(subject: str, *roles: str, authorities: tuple[str, ...] = ()) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(subject, *roles, authorities=authorities)}"}

    return headers


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 30, interval: float = 0.1,
                     what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


class TopicReader:
    """A plain aiokafka consumer (no group) reading a topic from the beginning: what an integrator sees."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        # signed in as the auditor: reads every topic, writes none
        self.consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                         enable_auto_commit=False, group_id=None, **client_options(AUDITOR))
        self.records: list[Any] = []

    async def __aenter__(self) -> TopicReader:
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def poll(self) -> list[Any]:
        batches = await self.consumer.getmany(timeout_ms=200)
        for records in batches.values():
            self.records.extend(records)
        return self.records

    def events(self) -> list[CloudEvent]:
        return [CloudEvent.from_bytes(r.value) for r in self.records]

    async def wait_for_records(self, count: int, timeout: float = 30) -> list[Any]:
        """At least ``count`` raw records (for topics that may hold what is not a CloudEvent, like a DLQ)."""

        async def check() -> list[Any] | None:
            records = await self.poll()
            return records if len(records) >= count else None

        return await eventually(check, timeout=timeout, what=f"{count} record(s)")

    async def wait_for(self, predicate: Callable[[list[CloudEvent]], bool], timeout: float = 30,
                       what: str = "events") -> list[CloudEvent]:
        async def check() -> list[CloudEvent] | None:
            await self.poll()
            events = self.events()
            return events if predicate(events) else None

        return await eventually(check, timeout=timeout, what=what)
