"""``binhchon-<service> restore-from-topic``: a service's lost event store written back from its Kafka topic (ADR 0047).

Run with the service stopped and its settings (the same environment), into its empty database:

1. reads its own topic and ``log.checkpoints`` from offset 0 as its own broker principal (``restore_topic``);
2. checks every event (hash, signature by the service's log key, chain) and takes each once, by event id;
3. writes the events as they were (id, stream, version, time, hashes), already published and projected: the relay
   does not publish them again; and the Merkle log's leaves in publication order, checked against every signed
   checkpoint, so the log has the same tree and roots and the service goes on signing it;
4. rebuilds the read models from the events (the projector's folds; the segments are written again on the way);
5. rewinds the service's consumer groups to offset 0: what it did with other services' events and kept only in
   its database (scoring's rounds, the inbox) is done again by its handlers, which are idempotent (each effect
   has a deterministic event id already in the restored store, so a re-run records nothing new).

Refuses a database that holds events or leaves, unless ``--into-non-empty`` (then an event already there must be
the topic's, and only the missing ones are written: a restore cut short is simply run again).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from binhchon_kit.checkpoints import LEAVES, Checkpoints, _leaf
from binhchon_kit.events import RecordedEvent
from binhchon_kit.eventstore_mongo import UNPROJECTED, UNPUBLISHED, MongoEventStore, _to_document
from binhchon_kit.leaf_ids import leaf_id
from binhchon_kit.leaf_upgrade import OLD_LEAVES
from binhchon_kit.restore_topic import TopicDamaged, chains, publication_order, read_copies, verified
from binhchon_kit.runtime import Runtime, log_signer, producer_keys
from binhchon_kit.settings import ServiceSettings

log = logging.getLogger("binhchon.restore")
COMMAND = "restore-from-topic"
BATCH = 500
GROUP_WAIT = 120.0  # seconds a killed replica may still hold its group (its session's timeout, and some)

S = TypeVar("S", bound=ServiceSettings)

# What a service keeps only in its database, which neither its topic nor a re-run of its handlers gives back
# (ADR 0047). A service listed here is restored only when ops say they accept it (--accept-losses): each line can
# break a promise the README makes. Scoring is not listed: what it keeps beside its events (the rounds and their
# rulebook pins, from intake's topic; its inbox; the decision leases, which expire) comes back by the rewind.
NOT_ON_THE_TOPIC: dict[str, tuple[str, ...]] = {
    "intake": (
        "the personal-data keys (personal_keys, ADR 0035): the restored events' personal data stay encrypted "
        "under keys that are gone, so they read as erased",
        "the receipt-number claims (sequence_claims, sequence_pending): a new dossier of a round "
        "would be offered a number already given, until the claims are written again from dossier.received",
    ),
    "certification": (
        "the certificate-number and status-list claims (sequence_claims): a new certificate would "
        "be offered a number, or a status-list position, already given",
        "what its handlers write beside the folds (numbers, holders, products, status_entries) and the "
        "idempotency keys and ceremony deliveries",
    ),
    "notify": (
        "the deliveries and their claims (deliveries, due, parked, recipients, subscriptions): with the groups "
        "rewound every mail and webhook would be sent again; with --keep-offsets none is, and one pending at the "
        "loss is never sent",
    ),
}


class LossesNotAccepted(Exception):
    """The service keeps state only in its database that a restore cannot give back (NOT_ON_THE_TOPIC)."""


class StoreNotEmpty(Exception):
    """The database holds events or leaves: restoring into it could mix two histories."""


@dataclass
class Restored:
    """What a restore did, printed as one JSON line."""

    service: str
    database: str
    records: int = 0
    events: int = 0
    written: int = 0
    republished: int = 0
    left_out: int = 0  # records on the topic that are no event of the service's (poison, forgeries): in notes
    leaves: int = 0
    checkpoints_matched: int = 0
    read_models: dict[str, int] = field(default_factory=dict)
    rebuilt: dict[str, int] = field(default_factory=dict)  # what the service writes again from its read models
    groups_rewound: list[str] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def service_keys(settings: ServiceSettings) -> dict[str, Ed25519PublicKey]:
    """The public keys the service's events may be signed with: its log key now, and those its consumers trust for
    it (EVENT_PRODUCER_KEYS_DIR, which keeps a rotated key's public half)."""
    signer = log_signer(settings)
    keys = dict(producer_keys(settings).keys.get(settings.service_name, {}))
    keys[signer.kid] = signer.public
    return keys


# what a service keeps beside its read models and writes again from them after a restore (its claims), by name:
# the composition root puts them on ``app.state.after_restore``; each answers how many documents it wrote
Rebuild = Callable[[], Awaitable[int]]


async def restore(runtime: Runtime, *, into_non_empty: bool = False, rewind: bool = True,
                  accept_losses: bool = False, rebuilds: Mapping[str, Rebuild] | None = None) -> Restored:
    settings = runtime.settings
    lost = NOT_ON_THE_TOPIC.get(settings.service_name, ())
    if lost and not accept_losses:
        raise LossesNotAccepted(f"{settings.service_name} keeps in its database what its topic cannot give back: "
                                + "; ".join(lost) + ". Restore anyway with --accept-losses")
    store = runtime.store
    if not isinstance(store, MongoEventStore) or runtime.checkpoints is None:
        raise TypeError("a restore writes a MongoDB event store (EVENT_STORE=mongo)")
    started = time.monotonic()
    service, db = settings.service_name, runtime.db
    done = Restored(service, settings.database_name)
    held = (await db["events"].find_one({}, projection={"_id": 1}) or await db[LEAVES].find_one({})
            or await db[OLD_LEAVES].find_one({}))
    if held is not None and not into_non_empty:
        raise StoreNotEmpty(f"{settings.database_name} holds events or leaves already: not restoring into it "
                            "(--into-non-empty to add only what it lacks)")
    copies, done.records, skipped = await read_copies(settings.kafka_brokers, settings.kafka_topic_prefix, service,
                                                      settings.kafka_security())
    by_id, done.republished, rejected = verified(copies, service_keys(settings))
    events = chains(c[0].event for c in by_id.values())
    leaves, done.checkpoints_matched, notes = publication_order(by_id, store.source)
    done.events, done.left_out = len(events), len(skipped) + len(rejected)
    done.notes = [*notes, *(f"left out: {why}" for why in (skipped + rejected)[:20]),
                  *(f"not restored: {what}" for what in lost)]
    done.written = await _write_events(store, events, look=held is not None)
    await store.setup()  # the indexes; a database with events is not taken for a new one (segments stay to do)
    await store.drop_segments()  # the replay below reads the record and writes the segments again (ADR 0024)
    done.leaves = await _write_leaves(runtime.checkpoints, leaves)
    done.read_models = await runtime.projections.rebuild()
    for name, rebuild in (rebuilds or {}).items():
        done.rebuilt[name] = await rebuild()
    if rewind:
        done.groups_rewound = await rewind_groups(settings)
    done.seconds = round(time.monotonic() - started, 2)
    return done


async def _write_events(store: MongoEventStore, events: Sequence[RecordedEvent], *, look: bool) -> int:
    """The events as stored before, without their two marks: published (on the topic) and projected (the rebuild
    below). ``look``: the database held events; one already there must be the same event, and is left as it is
    (FerretDB does not push ``$in`` down: only a non-empty database pays for the look)."""
    written = 0
    for start in range(0, len(events), BATCH):
        batch = events[start:start + BATCH]
        docs = [_unmarked(_to_document(e)) for e in batch]
        there = {d["_id"]: d async for d in store.events.find({"_id": {"$in": [d["_id"] for d in docs]}})} \
            if look else {}
        for doc, event in zip(docs, batch, strict=True):
            old = there.get(doc["_id"])
            if old is not None and old["event_id"] != event.id:
                raise TopicDamaged(f"{doc['_id']} is event {old['event_id']} in the database, {event.id} on the topic")
        new = [d for d in docs if d["_id"] not in there]
        if new:
            await store.events.insert_many(new, ordered=True)
            written += len(new)
    return written


def _unmarked(doc: dict[str, Any]) -> dict[str, Any]:
    doc.pop(UNPUBLISHED, None)
    doc.pop(UNPROJECTED, None)
    return doc


async def _write_leaves(checkpoints: Checkpoints, leaves: Sequence[RecordedEvent]) -> int:
    """Leaf i for ``leaves[i]``; leaves already there must be the same (a restore run again)."""
    await checkpoints.setup()
    have = await checkpoints.size()
    for i in range(min(have, len(leaves))):
        doc = await checkpoints.leaves.find_one({"_id": leaf_id(i)})
        if doc is None or doc["event_id"] != leaves[i].id:
            raise TopicDamaged(f"leaf {i} in the database is not {leaves[i].id}, the topic's")
    docs = [_leaf(i, e) for i, e in enumerate(leaves)][have:]
    for start in range(0, len(docs), BATCH):
        await checkpoints.leaves.insert_many(docs[start:start + BATCH], ordered=True)
    return len(leaves)


async def rewind_groups(settings: ServiceSettings, wait: float = GROUP_WAIT) -> list[str]:
    """The service's consumer groups (``<service>.<handler>``) back to offset 0 on every partition they committed:
    its handlers run again over what it consumed. A group with members refuses the commit: the service is down,
    but a process killed is still a member until its session times out, so each commit is tried for ``wait``
    seconds."""
    security, prefix = settings.kafka_security(), settings.kafka_topic_prefix
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_brokers, **security)
    await admin.start()
    rewound = []
    try:
        for group, *_ in await admin.list_consumer_groups():
            if not group.startswith(f"{settings.service_name}."):
                continue
            parts = [tp for tp in await admin.list_consumer_group_offsets(group) if tp.topic.startswith(prefix)]
            if not parts:
                continue
            await _commit_start(settings, group, parts, wait)
            rewound.append(group)
    finally:
        await admin.close()
    return sorted(rewound)


async def _commit_start(settings: ServiceSettings, group: str, parts: Sequence[TopicPartition], wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_brokers, group_id=group,
                                    enable_auto_commit=False, **settings.kafka_security())
        await consumer.start()
        try:
            consumer.assign(list(parts))  # assigned, not joined: a standalone commit, as kafka-consumer-groups does
            await consumer.commit({TopicPartition(tp.topic, tp.partition): OffsetAndMetadata(0, "") for tp in parts})
            return
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("group %s still has members (%s): trying again", group, exc)
        finally:
            await consumer.stop()
        await asyncio.sleep(2)


def asked(argv: Sequence[str]) -> bool:
    """Whether the console script was started as ``binhchon-<service> restore-from-topic ...``."""
    return len(argv) > 1 and argv[1] == COMMAND


def main(argv: Sequence[str], build: Callable[[S], Any], settings_class: Callable[..., S]) -> int:
    """The command: ``build`` is the service's composition root, built here without relay or consumers."""
    parser = argparse.ArgumentParser(prog=f"binhchon-<service> {COMMAND}", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--into-non-empty", action="store_true",
                        help="add what the database lacks instead of refusing a database with events")
    parser.add_argument("--keep-offsets", action="store_true",
                        help="leave the consumer groups where they are (the handlers' effects kept only in the "
                             "database are then not done again)")
    parser.add_argument("--accept-losses", action="store_true",
                        help="restore a service that keeps state the topic cannot give back (listed on refusal)")
    args = parser.parse_args(list(argv))
    settings = settings_class(relay_enabled=False, consumers_enabled=False)
    app = build(settings)
    runtime: Runtime = app.state.runtime

    async def go() -> Restored:
        try:
            return await restore(runtime, into_non_empty=args.into_non_empty, rewind=not args.keep_offsets,
                                 accept_losses=args.accept_losses,
                                 rebuilds=getattr(app.state, "after_restore", None))
        finally:
            await runtime.mongo.close()

    try:
        done = asyncio.run(go())
    except (StoreNotEmpty, LossesNotAccepted) as exc:
        print(f"[restore] refused: {exc}", file=sys.stderr)
        return 3
    except TopicDamaged as exc:
        print(f"[restore] the topic does not give the store back, nothing more written: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(asdict(done), ensure_ascii=False))
    return 0
