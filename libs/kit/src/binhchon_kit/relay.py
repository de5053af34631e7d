"""The relay: publishes the store's unpublished events to Kafka in stream order, then marks them published.

Every event goes out signed by the service's log key (``signature``, ``signaturekid``: binhchon_kit.trust,
ADR 0026): consumers act only on events their topic's owner signed. Ed25519 is deterministic, so an event
published twice is the same bytes twice.

Published, then marked: the events a pass published are remembered in memory until their mark is cleared. If the
store fails between the two (down, or cut), the relay retries only the mark, before reading or publishing anything
else, until the store answers: a store outage publishes nothing twice. Only a process that dies in that window
(SIGKILL, a crash) publishes the same events again on restart; consumers are idempotent and an outside reader
de-duplicates by the event's id (the CloudEvent ``id``, also the ``event-id`` header): at least once, never lost
(docs/adr/0041). When Kafka is down the events wait in the store and go once it is back, each once: a pass whose
send fails part way waits for the sends it queued before it and marks them, so no producer it drops can deliver
what the next one publishes again. One relay per service is active at a time (a lease in the service's database),
so replicas never race each other on a stream. A pass keeps its lease alive while it works (a renewal every
``renew_every`` seconds, due by the service's clock when a third of the lease is left), however long it waits for
the broker; a relay that finds its lease lapsed or taken over sends nothing more and marks nothing more: the
replica holding it now publishes what is left (docs/adr/0041, amended 2026-11-30).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from pymongo.errors import PyMongoError

from binhchon_kit import claims
from binhchon_kit.checkpoints import Checkpoints
from binhchon_kit.contracts.registry import event_model
from binhchon_kit.envelope import CloudEvent
from binhchon_kit.events import RecordedEvent
from binhchon_kit.eventstore import EventStorePort, event_key
from binhchon_kit.loops import pause
from binhchon_kit.metrics import EVENTS_PUBLISHED, RELAY_FAILURES
from binhchon_kit.principals import client_options
from binhchon_kit.signing import Signer
from binhchon_kit.trust import signed

log = logging.getLogger("binhchon.relay")

CONTENT_TYPE = b"application/cloudevents+json; charset=UTF-8"

Sent = tuple[RecordedEvent, "asyncio.Future[Any]"]  # an event and its send, queued in the producer


def make_producer(bootstrap_servers: str | list[str], client_id: str,
                  security: dict[str, Any] | None = None) -> AIOKafkaProducer:
    """An idempotent producer that waits for every in-sync replica (acks=all), signed in as ``security`` says
    (binhchon_kit.principals.client_options; none: PLAINTEXT)."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, client_id=client_id, acks="all", enable_idempotence=True,
        linger_ms=2, request_timeout_ms=15000, retry_backoff_ms=200, **(security or {}),
    )


class Lease:
    """A time-limited lease held in the database: who may relay for this service right now.

    A chain of inserted generations (binhchon_kit.claims): taking it over once expired, and renewing it, insert
    the next generation, so two replicas racing for it cannot both win on a store without compare-and-set."""

    def __init__(self, db: Any, name: str, ttl: timedelta = timedelta(seconds=15), *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), renew_every: float | None = None) -> None:
        self.collection = db["leases"]
        self.name = name
        self.ttl = ttl
        self.clock = clock
        # how often (seconds of waiting) a pass under way offers to renew: a sixth of the lease, so a renewal
        # due when a third is left is made with a sixth still to go
        self.renew_every = renew_every if renew_every is not None else ttl.total_seconds() / 6
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.held_until: datetime | None = None
        self.held_id: str | None = None

    async def acquire(self) -> bool:
        """True while this process holds the lease; renews it when a third of its time is left."""
        now = self.clock()
        if self.held_until is not None and self.held_until - now > self.ttl / 3:
            return True
        # held_until is kept while the renewal is under way: a pass checking its lease meanwhile still holds it
        expired = claims.lapsed("until", now)
        taken = await claims.take(self.collection, self.name, {"owner": self.owner, "at": now, "until": now + self.ttl},
                                  free=lambda newest: expired(newest) or newest.get("owner") == self.owner)
        if taken is None:
            taken = await self._own_newest(now)
            if taken is None:
                self.held_until = None
                return False  # another replica holds an unexpired lease
        self.held_until, self.held_id = claims.aware(taken["until"]), taken["_id"]
        return True

    async def _own_newest(self, now: datetime) -> dict[str, Any] | None:
        """The newest generation if it is this process's own and unexpired: a renewal cancelled with its pass can
        still land its insert after this process read the chain, and the insert that then lost to it was ours."""
        latest = await claims.newest(self.collection, self.name)
        if latest is None or latest.get("owner") != self.owner or latest.get("released"):
            return None
        return latest if claims.aware(latest["until"]) > now else None

    def holds(self) -> bool:
        """True while the lease this process took (or last renewed) has not run out, by the clock."""
        return self.held_until is not None and self.clock() < self.held_until

    def lost(self) -> bool:
        """True if this process held the lease and no longer does: lapsed, or found taken over by another. A lease
        never taken (a pass run directly, by a tool or a test) is not lost."""
        return self.held_id is not None and not self.holds()

    async def release(self) -> None:
        self.held_until = None
        held, self.held_id = self.held_id, None
        if held is not None:  # only the holder writes to its generation
            await self.collection.update_one({"_id": held, "owner": self.owner}, {"$set": {"released": True}})


class SoleLease:
    """The lease of a store no other process shares (the memory driver with no database): always held."""

    ttl = timedelta(seconds=15)
    renew_every = 5.0

    async def acquire(self) -> bool:
        return True

    def holds(self) -> bool:
        return True

    def lost(self) -> bool:
        return False

    async def release(self) -> None:
        return None


class LeaseLost(Exception):
    """The relay's lease lapsed or was taken over by another replica during a pass: it sends and marks nothing more."""


def lease_for(store: EventStorePort, clock: Callable[[], datetime] | None = None) -> Lease | SoleLease:
    """The relay's lease in the database beside the store's events, if the store has one, read on ``clock``."""
    db = getattr(store, "db", None)
    if db is None:
        return SoleLease()
    return Lease(db, f"relay:{store.source}") if clock is None else Lease(db, f"relay:{store.source}", clock=clock)


class Relay:
    def __init__(
        self,
        store: EventStorePort,
        bootstrap_servers: str | list[str],
        *,
        signer: Signer,
        client_id: str,
        topic_prefix: str = "",
        batch_size: int = 500,
        idle_interval: float = 0.25,
        before_mark: Callable[[list[RecordedEvent]], Awaitable[None]] | None = None,
        checkpoints: Checkpoints | None = None,
        security: dict[str, Any] | None = None,
        lease: Lease | SoleLease | None = None,
    ) -> None:
        self.store = store
        # signed in as the service whose store this is, from the environment's credentials unless given
        self.security = security if security is not None else client_options(store.source.rsplit("/", 1)[-1])
        self.signer = signer  # the service's log key: what its consumers check the events against
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.topic_prefix = topic_prefix
        self.batch_size = batch_size
        self.idle_interval = idle_interval
        self.before_mark = before_mark  # a seam for fault-injection tests: runs after publish, before the mark
        self.lease = lease if lease is not None else lease_for(store)
        self.checkpoints = checkpoints  # the Merkle log: its leaves are the events in the order published here
        self.producer: AIOKafkaProducer | None = None
        # published, their mark not yet cleared: retried alone until the store answers (the module's docstring)
        self.unmarked: list[RecordedEvent] = []
        self._leaves_added = False  # the checkpoint leaves of ``unmarked`` are stored

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self.producer is None:
            producer = make_producer(self.bootstrap_servers, self.client_id, self.security)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self.producer = producer
        return self.producer

    async def _drop_producer(self) -> None:
        producer, self.producer = self.producer, None
        if producer is not None:
            try:
                await producer.stop()
            except Exception:
                log.debug("producer stop failed", exc_info=True)

    async def publish_pending(self) -> int:
        """One pass: publish up to ``batch_size`` unpublished events in stream order, then mark them published.

        Returns how many were published. Events published by an earlier pass whose mark could not be cleared are
        marked first; until that succeeds nothing else is read or published. Under the lease (``run`` takes it),
        the pass keeps it alive while it works and raises ``LeaseLost``, sending and marking nothing more, once it
        finds it lapsed or taken over."""
        async with self._lease_kept():
            return await self._pass()

    @contextlib.asynccontextmanager
    async def _lease_kept(self) -> AsyncIterator[None]:
        """The lease renewed while the pass works, if this process holds it: a pass waiting out a broker outage
        can outlast it, and another replica taking it over would publish the same events again."""
        if not self.lease.holds():
            yield
            return
        keeper = asyncio.create_task(self._keep_lease())
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _keep_lease(self) -> None:
        while True:
            await asyncio.sleep(self.lease.renew_every)
            try:
                if not await self.lease.acquire():
                    log.warning("the relay's lease was taken over during a pass: it stops publishing")
                    return
            except Exception as exc:  # tried again; the lease lapses by the clock if the store stays away
                log.warning("the relay's lease could not be renewed: %s", exc)

    def _check_lease(self) -> None:
        if self.lease.lost():
            raise LeaseLost("the relay's lease lapsed or was taken over: another replica publishes now")

    async def _pass(self) -> int:
        await self.mark_published_earlier()
        events = await self.store.unpublished(self.batch_size)
        if not events:
            return 0
        producer = await self._ensure_producer()
        sends: list[Sent] = []
        try:
            for event in events:
                self._check_lease()
                topic = self.topic_prefix + event_model(event.type).topic
                future = await producer.send(
                    topic, value=CloudEvent(**signed(event.cloudevent_json(), self.signer)).to_bytes(),
                    key=event.subject.encode("utf-8"),
                    # Structured mode: the CloudEvent is the value. No `ce_` header: CloudEvents SDKs read any `ce_`
                    # header as binary mode and then fail on our value (issue 12); routing copies use other names.
                    headers=[("content-type", CONTENT_TYPE), ("event-type", event.type.encode()),
                             ("event-id", event.id.encode())],
                )
                sends.append((event, future))
        except Exception:
            # A send failed part way (e.g. KafkaTimeoutError: the broker gone, no room left in the producer). What
            # this pass queued before it still goes out: the idempotent producer retries it until the broker is
            # back, and dropping the producer flushes it. Left unmarked, it would be published again by the next
            # pass's producer: twice on its topic, under two producer ids. So the pass waits for every queued send
            # and marks what was delivered before it fails and the producer is dropped (docs/adr/0041).
            await self._settle(sends)
            raise
        delivered, first_error = await self._settle(sends)
        if first_error is not None:
            raise first_error
        return delivered

    async def _settle(self, sends: list[Sent]) -> tuple[int, BaseException | None]:
        """Await every queued send, then mark the events delivered: how many, and the first send's failure."""
        delivered: list[RecordedEvent] = []
        failed_streams: set[str] = set()
        first_error: BaseException | None = None
        for event, future in sends:
            try:
                await future
            except Exception as exc:
                first_error = first_error or exc
                failed_streams.add(event.stream)
                continue
            # a later version never counts as delivered before an earlier one of its stream
            if event.stream not in failed_streams:
                delivered.append(event)
        self.unmarked, self._leaves_added = delivered, False
        await self.mark_published_earlier()
        return len(delivered), first_error

    async def mark_published_earlier(self) -> None:
        """Clear the marks of the events already published (``unmarked``): their checkpoint leaves, then the mark.
        Raises while the store does not answer; ``unmarked`` is kept for the next try. Raises ``LeaseLost`` (and
        writes nothing) once the lease is lost: ``forget_unmarked`` when another replica holds it."""
        events = self.unmarked
        if not events:
            return
        self._check_lease()
        if self.checkpoints is not None and not self._leaves_added:
            # before the mark: a crash in between publishes again and finds the leaves there (ADR 0022)
            await self.checkpoints.add(events)
            self._leaves_added = True
        if self.before_mark is not None:
            await self.before_mark(events)
        self._check_lease()
        await self.store.mark_published([event_key(e.stream, e.version) for e in events])
        self.unmarked, self._leaves_added = [], False
        EVENTS_PUBLISHED.labels(self.store.source).inc(len(events))

    def forget_unmarked(self) -> None:
        """Another replica holds the lease: the events this process published and could not mark are its to
        publish (again: at least once, readers de-duplicate by event id); this one writes nothing for them."""
        if self.unmarked:
            log.warning("lease lost with %d published events unmarked: the replica holding it publishes them again",
                        len(self.unmarked))
        self.unmarked, self._leaves_added = [], False

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set, backing off while Kafka or MongoDB is unreachable."""
        backoff = 0.5
        while not stop.is_set():
            try:
                # what this process published and could not mark is marked first in the pass, under the lease; a
                # replica that lost it leaves those marks to the one holding it (docs/adr/0041)
                if not await self.lease.acquire():
                    self.forget_unmarked()
                    await pause(stop, self.lease.ttl.total_seconds() / 3)
                    continue
                # cleared before the pass reads, never after: an event appended while a pass that found nothing was
                # reading must still wake the pause, not wait out ``idle_interval`` (a lost wake-up, ADR 0002)
                self.store.appended.clear()
                published = await self.publish_pending()
                backoff = 0.5
                if published:
                    continue
                await pause(stop, self.idle_interval, wake=self.store.appended)
            except asyncio.CancelledError:
                raise
            except LeaseLost as exc:
                log.warning("relay pass stopped: %s", exc)
                await self._drop_producer()
            except Exception as exc:
                RELAY_FAILURES.labels(self.store.source).inc()
                log.warning("relay pass failed, retrying in %.1fs: %s", backoff, exc)
                await self._drop_producer()
                await pause(stop, backoff)
                backoff = min(backoff * 2, 10.0)
        await self._drop_producer()
        try:  # a last try at the marks: left unmarked, a restart publishes those events again
            await asyncio.wait_for(self.mark_published_earlier(), 5)
        except (PyMongoError, TimeoutError, LeaseLost):
            log.warning("stopped with %d published events unmarked: they will be published again",
                        len(self.unmarked))
        try:
            await self.lease.release()
        except PyMongoError:
            pass

