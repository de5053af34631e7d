"""The composition root every service shares: settings in, a ``Runtime`` out — MongoDB, the event store, the
read-model projections, the relay, the Kafka broker and its consumers, token verification."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from binhchon_kit.auth.tokens import TokenVerifier
from binhchon_kit.checkpoints import Checkpoints
from binhchon_kit.consumer import EventConsumers
from binhchon_kit.eventstore import EventStorePort, open_event_store
from binhchon_kit.gauges import Gauges
from binhchon_kit.inbox import MongoInbox
from binhchon_kit.principals import scram
from binhchon_kit.projection import Projections
from binhchon_kit.relay import Relay, lease_for
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.signing import Signer
from binhchon_kit.trust import ProducerKeys, dev_log_signer
from binhchon_kit.vietnam_time import now_utc

log = logging.getLogger("binhchon.runtime")


@dataclass
class Runtime:
    """Everything a service's adapters need, built once in the composition root."""

    settings: ServiceSettings
    mongo: AsyncMongoClient[dict[str, Any]]
    db: AsyncDatabase[dict[str, Any]]
    store: EventStorePort
    projections: Projections
    broker: KafkaBroker
    consumers: EventConsumers
    verifier: TokenVerifier
    relay: Relay
    checkpoints: Checkpoints | None = None  # the signed Merkle log (ADR 0022); None: a store with no database
    broker_ready: bool = False
    gauges: Gauges | None = None  # what ops watch (ADR 0040); build_runtime makes them, once the runtime exists
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    # the service's now: stamps its events, checkpoints and dead letters (tests inject a fixed one)
    clock: Callable[[], datetime] = now_utc

    def spawn(self, name: str, loop: Coroutine[Any, Any, Any]) -> None:
        """Run a background loop while the service runs; it ends when ``stop`` is set."""
        self.tasks.append(asyncio.create_task(loop, name=name))

    async def connect_consumers(self) -> None:
        """Start the broker's subscribers once; a failed start is undone so the next try starts clean."""
        try:
            await self.broker.start()
            await self.consumers.positioned()
        except Exception:
            with contextlib.suppress(Exception):
                await self.broker.stop()
            raise
        self.broker_ready = True


def build_verifier(settings: ServiceSettings) -> TokenVerifier:
    leeway, lifetime = settings.auth_leeway_seconds, settings.auth_max_token_lifetime_seconds
    if settings.auth_jwks_url:
        return TokenVerifier(jwks_url=settings.auth_jwks_url, issuer=settings.auth_issuer,
                             audience=settings.auth_audience,
                             leeway_seconds=leeway, max_lifetime_seconds=lifetime)
    if settings.auth_public_keys_file:
        return TokenVerifier.from_file(settings.auth_public_keys_file, issuer=settings.auth_issuer,
                                       audience=settings.auth_audience, leeway_seconds=leeway,
                                       max_lifetime_seconds=lifetime)
    from binhchon_kit.auth.devtoken import ensure_keys

    log.warning("no AUTH_PUBLIC_KEYS_FILE or AUTH_JWKS_URL: trusting the local development key")
    _, public = ensure_keys()
    return TokenVerifier.from_file(public, issuer=settings.auth_issuer, audience=settings.auth_audience,
                                   leeway_seconds=leeway, max_lifetime_seconds=lifetime)


def log_signer(settings: ServiceSettings) -> Signer:
    """The key that signs the log's checkpoints and the events published (ADR 0022, 0026): LOG_SIGNING_KEY_FILE,
    LOG_SIGNING_KEY, else a dev key."""
    from binhchon_kit.auth.devtoken import key_dir

    if settings.log_signing_key_file or settings.log_signing_key:
        return Signer.from_settings(settings.log_signing_key_file, settings.log_signing_key, key_dir())
    log.warning("no LOG_SIGNING_KEY_FILE or LOG_SIGNING_KEY: signing checkpoints and events with a development key")
    try:
        return dev_log_signer(settings.service_name)
    except OSError as exc:  # a read-only home (a container): a key for this process only
        log.warning("no place for the development key (%s): checkpoints signed now will not verify after a "
                    "restart, and no consumer trusts the events signed with it", exc)
        return Signer(Ed25519PrivateKey.generate())


def producer_keys(settings: ServiceSettings) -> ProducerKeys:
    """The keys of the services whose events this one acts on: EVENT_PRODUCER_KEYS_DIR, else the dev keys."""
    if settings.event_producer_keys_dir:
        return ProducerKeys.from_directory(settings.event_producer_keys_dir)
    log.warning("no EVENT_PRODUCER_KEYS_DIR: trusting events signed with this machine's development log keys")
    return ProducerKeys.development()


def build_runtime(settings: ServiceSettings, folds: dict[str, Any], *, mongo: Any = None,
                  store: EventStorePort | None = None, verifier: TokenVerifier | None = None,
                  clock: Callable[[], datetime] = now_utc) -> Runtime:
    """The service's parts from its settings; a test passes its fakes instead (an in-memory database client, an
    in-memory store, a verifier with its own keys), as a composition root takes them (ADR 0018).

    ``clock`` is the service's now, the one its decisions read: every event its store records carries that time
    (not the machine's), and so do its checkpoints and dead letters. A store passed in keeps its own clock."""
    mongo = mongo if mongo is not None else AsyncMongoClient(
        settings.store_url(), tz_aware=True, serverSelectionTimeoutMS=settings.mongodb_server_selection_ms)
    db = mongo[settings.database_name]
    store = store if store is not None else open_event_store(settings, db, clock)
    # FastStream's own logger prints coloured text; ours goes through the JSON handler with the others
    security = settings.kafka_security()  # the service's own principal on the broker (docs/adr/0031)
    broker = KafkaBroker(settings.kafka_brokers, client_id=f"binhchon-{settings.service_name}",
                         acks="all", enable_idempotence=True, logger=logging.getLogger("binhchon.faststream"),
                         security=scram(security))
    signer = log_signer(settings)
    checkpoints = None if getattr(store, "db", None) is None else Checkpoints(store, db, signer, clock=clock)
    runtime = Runtime(
        checkpoints=checkpoints, clock=clock,
        settings=settings, mongo=mongo, db=db, store=store, projections=Projections(store, folds), broker=broker,
        consumers=EventConsumers(broker, MongoInbox(db, clock), service=settings.service_name,
                                 topic_prefix=settings.kafka_topic_prefix, trusted=producer_keys(settings),
                                 clock=clock),
        verifier=verifier or build_verifier(settings),
        relay=Relay(store, settings.kafka_brokers, client_id=f"binhchon-{settings.service_name}-relay",
                    topic_prefix=settings.kafka_topic_prefix, checkpoints=checkpoints, signer=signer,
                    security=security, lease=lease_for(store, clock)),
    )
    runtime.gauges = Gauges(runtime, clock=clock)
    return runtime
