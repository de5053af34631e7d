"""What ops watch, measured in the background every ``metrics_interval_seconds`` (ADR 0040): each consumer
group's lag per partition, the outbox backlog (events stored, not yet published) and the age of its oldest event,
and whether each dependency is reachable. Prometheus scrapes the gauges at ``/metrics``; the alert rules are
``infra/prometheus/alerts.yml``.

Lag is the partition's end offset minus the group's committed offset (the partition's first offset while the
group has committed none: it starts from the earliest). It is read with the service's own principal (ADR 0031):
its ``Read`` on its groups and on the topics it consumes imply the ``Describe`` that fetching a group's offsets and
a partition's end offset need, so no ACL is added. Only this service's own groups are measured, as its
subscribers name them; a group of another service is that service's to report.

The backlog is read through the store port's ``unpublished`` (in key order, up to ``BACKLOG_SCAN`` events): a
backlog longer than that reports ``BACKLOG_SCAN`` and the oldest among those read, which already says "page ops".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from binhchon_kit.loops import every
from binhchon_kit.metrics import CONSUMER_LAG, DEPENDENCY_READY, GAUGE_FAILURES, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from binhchon_kit.vietnam_time import now_utc

if TYPE_CHECKING:
    from binhchon_kit.runtime import Runtime

log = logging.getLogger("binhchon.gauges")

BACKLOG_SCAN = 10_000  # the most unpublished events one measurement reads
PING_TIMEOUT = 2.0


# /readyz's name of a dependency → the gauge's label
GAUGED = {"mongodb": "store", "kafka": "broker"}


async def dependency_checks(runtime: Runtime, timeout: float = PING_TIMEOUT) -> dict[str, str]:
    """Each dependency's state, ``ok`` or why not: the store answers a ping, the broker's consumers are connected
    and it answers one. ``/readyz`` and the readiness gauge both ask this."""
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(runtime.db.command("ping"), timeout=timeout)
        checks["mongodb"] = "ok"
    except TimeoutError:  # its message is empty: say what happened
        checks["mongodb"] = f"unreachable: no answer to a ping within {timeout:g} s"
    except Exception as exc:
        checks["mongodb"] = f"unreachable: {type(exc).__name__}: {str(exc)[:300]}"
    kafka_ok = runtime.broker_ready and await runtime.broker.ping(timeout=timeout)
    checks["kafka"] = "ok" if kafka_ok else "unreachable (events wait in the store until it is back)"
    return checks


class Offsets:
    """The broker's view of some groups' progress, through an admin client and a group-less consumer of the
    service's own principal, opened on first use and dropped after a failure (the next pass reconnects)."""

    def __init__(self, bootstrap_servers: str | list[str], client_id: str, security: dict[str, Any]) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.security = security
        self.admin: AIOKafkaAdminClient | None = None
        self.consumer: AIOKafkaConsumer | None = None

    async def _open(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self.admin is None or self.consumer is None:
            await self.close()
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers, client_id=self.client_id,
                                        request_timeout_ms=10000, **self.security)
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap_servers, client_id=self.client_id,
                                        group_id=None, enable_auto_commit=False, request_timeout_ms=10000,
                                        **self.security)
            self.admin, self.consumer = admin, consumer
            await admin.start()
            await consumer.start()
        return self.admin, self.consumer

    async def close(self) -> None:
        admin, consumer, self.admin, self.consumer = self.admin, self.consumer, None, None
        for client in (consumer, admin):
            if client is not None:
                with contextlib.suppress(Exception):
                    await (client.stop() if isinstance(client, AIOKafkaConsumer) else client.close())

    async def lag(self, groups: dict[str, set[str]]) -> dict[tuple[str, TopicPartition], int]:
        """Each group's lag on each partition of the topics it reads: ``{(group, partition): messages}``."""
        try:
            admin, consumer = await self._open()
            topics = sorted({t for ts in groups.values() for t in ts})
            partitions: dict[str, list[TopicPartition]] = {}
            for described in await admin.describe_topics(topics):
                if described["error_code"]:
                    raise RuntimeError(f"cannot describe {described['topic']}: error {described['error_code']}")
                partitions[described["topic"]] = sorted(
                    TopicPartition(described["topic"], p["partition"]) for p in described["partitions"])
            every_partition = [tp for tps in partitions.values() for tp in tps]
            ends = await consumer.end_offsets(every_partition)
            firsts = await consumer.beginning_offsets(every_partition)
            lags: dict[tuple[str, TopicPartition], int] = {}
            for group, group_topics in sorted(groups.items()):
                wanted = [tp for t in sorted(group_topics) for tp in partitions[t]]
                committed = await admin.list_consumer_group_offsets(group, partitions=wanted)
                for tp in wanted:
                    done = committed[tp].offset if tp in committed else -1
                    lags[(group, tp)] = max(0, ends[tp] - (done if done >= 0 else firsts[tp]))
            return lags
        except Exception:
            await self.close()
            raise


class Gauges:
    """The service's gauges, set by ``measure``; ``clock`` gives the outbox's age (a test injects its own)."""

    def __init__(self, runtime: Runtime, *, clock: Callable[[], datetime] = now_utc) -> None:
        self.runtime = runtime
        self.clock = clock
        settings = runtime.settings
        self.service = settings.service_name
        self.offsets = Offsets(settings.kafka_brokers, f"binhchon-{self.service}-gauges", settings.kafka_security())

    def groups(self) -> dict[str, set[str]]:
        """This service's consumer groups and the topics each reads, as its subscribers declare them."""
        found: dict[str, set[str]] = {}
        for subscriber in self.runtime.broker.subscribers:
            group, topics = getattr(subscriber, "group_id", None), getattr(subscriber, "topic_names", ())
            if group:
                found.setdefault(group, set()).update(topics)
        return found

    def steps(self) -> list[Callable[[], Awaitable[None]]]:
        """Readiness, the outbox, then the lag: each its own step, so one dependency down leaves the others
        measured (``loops.every`` runs the next step after a failed one)."""
        steps: list[Callable[[], Awaitable[None]]] = [self.measure_readiness, self.measure_outbox]
        if self.runtime.settings.consumers_enabled:
            steps.append(self.measure_lag)
        return steps

    async def measure(self) -> None:
        """One pass of every step (a test's)."""
        for step in self.steps():
            await step()

    async def measure_readiness(self) -> None:
        """What ``/readyz`` answers, as a gauge per dependency."""
        checks = await dependency_checks(self.runtime)
        for check, dependency in GAUGED.items():
            DEPENDENCY_READY.labels(self.service, dependency).set(1 if checks[check] == "ok" else 0)

    async def measure_outbox(self) -> None:
        try:
            waiting = await self.runtime.store.unpublished(BACKLOG_SCAN)
        except Exception:
            GAUGE_FAILURES.labels(self.service, "outbox").inc()
            raise
        OUTBOX_BACKLOG.labels(self.service).set(len(waiting))
        oldest = min((e.time for e in waiting), default=None)
        age = 0.0 if oldest is None else max(0.0, (self.clock() - oldest).total_seconds())
        OUTBOX_OLDEST_AGE.labels(self.service).set(age)

    async def measure_lag(self) -> None:
        groups = self.groups()
        if not groups:
            return
        try:
            lags = await self.offsets.lag(groups)
        except Exception:
            GAUGE_FAILURES.labels(self.service, "consumer_lag").inc()
            raise
        for (group, tp), lag in lags.items():
            CONSUMER_LAG.labels(self.service, group, tp.topic, str(tp.partition)).set(lag)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await every(self.runtime.settings.metrics_interval_seconds, stop, *self.steps())
        finally:
            await self.offsets.close()
