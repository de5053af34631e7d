"""What a fault test writes to the broker itself: copies of consumed events, poison, consumer offsets at 0.

Signed in as ``admin`` (the super user, ADR 0031): an operator's hands, or a misbehaving producer's. Each record
written is returned as (topic, partition, offset) so the checker leaves it out of the system's own history.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata

from binhchon_kit.canonical import cloudevent_hash
from binhchon_kit.signing import Signer
from binhchon_kit.topics import source_of
from binhchon_kit.trust import signed

from .checker import Record, read_topics

if TYPE_CHECKING:
    from .system import System

Written = set[tuple[str, int, int]]


async def _produce(system: System, records: list[tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]]
                   ) -> Written:
    producer = AIOKafkaProducer(bootstrap_servers=system.bootstrap, max_request_size=2_000_000,
                                **system.client("admin"))
    await producer.start()
    written: Written = set()
    try:
        for topic, key, value, headers in records:
            meta = await producer.send_and_wait(system.prefix + topic, value, key=key, headers=headers)
            written.add((topic, meta.partition, meta.offset))
    finally:
        await producer.stop()
    return written


def copies(system: System, times: int = 1) -> tuple[Written, int]:
    """Every event of every service's topic produced again ``times`` times, same key, value and headers: a
    duplicate delivery of all that was consumed. Returns what was written and how many."""
    topics = [f"{s}.events" for s in ("intake", "scoring", "certification", "notify")]
    found = asyncio.run(read_topics(system, topics))
    again = [(r.topic, r.key, r.value, list(r.raw_headers)) for t in topics for r in found[t]] * times
    return asyncio.run(_produce(system, again)), len(again)


def poison(system: System) -> dict[str, Written]:
    """On each service's topic: bad JSON; an event of a type nobody knows and one whose data breaks its contract,
    both well signed by the topic's owner (so the type and the data, not the signature, are what is wrong); and a
    signed event padded to nearly a megabyte (the broker's default limit). Kind → what was written."""
    found = asyncio.run(read_topics(system, [f"{s}.events" for s in ("intake", "scoring", "certification")]))
    # a dossier's receipt, as intake produced it: a type other services take (notify mails it), so that its copies
    # with bad data reach a handler that reads them. A consumer passes over, unread, the events of types it does not
    # take (binhchon_kit.consumer: most of a topic is someone else's), so poison of such a type is rightly no one's
    # dead letter; the first event there was drawn before, and a run that drew `producer_binding.requested` failed.
    events = [r for t in found.values() for r in t if r.event is not None]
    first = next((r for r in events if r.type == "dossier.received"), events[0])
    out: dict[str, list[tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]]] = {
        "bad JSON": [], "unknown type": [], "invalid data": [], "over-size": []}
    for service in ("intake", "scoring", "certification"):
        topic = f"{service}.events"
        model = replace(first, event={**(first.event or {}), "source": source_of(service)})
        signer = Signer.from_pem((system.keys / f"log-signing-{service}.pem").read_bytes())
        key = model.key
        out["bad JSON"].append((topic, key, b'{"specversion": "1.0", "id": ', []))
        out["unknown type"].append((topic, key, _resigned(model, signer, type="dossier.teleported"), []))
        out["invalid data"].append((topic, key, _resigned(model, signer, data={"nonsense": True}), []))
        padded = {**model.data, "padding": "x" * 900_000}
        out["over-size"].append((topic, key, _resigned(model, signer, data=padded), []))
    return {kind: asyncio.run(_produce(system, records)) for kind, records in out.items()}


def _resigned(model: Record, signer: Signer, **change: Any) -> bytes:
    event = {k: v for k, v in (model.event or {}).items() if k not in ("signature", "signaturekid")}
    event.update(change, id=str(uuid.uuid4()))
    event["hash"] = cloudevent_hash(event)
    return json.dumps(signed(event, signer), ensure_ascii=False).encode()


async def _rewind(system: System) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=system.bootstrap, **system.client("admin"))
    await admin.start()
    rewound = []
    try:
        for group, *_ in await admin.list_consumer_groups():
            committed = await admin.list_consumer_group_offsets(group)
            parts = [tp for tp in committed if tp.topic.startswith(system.prefix)]
            if not parts:
                continue
            # a standalone commit for a group with no member: what kafka-consumer-groups --reset-offsets does
            consumer = AIOKafkaConsumer(bootstrap_servers=system.bootstrap, group_id=group,
                                        enable_auto_commit=False, **system.client("admin"))
            await consumer.start()
            try:
                consumer.assign(parts)  # assigned by hand, not joined: the commit goes in as generation -1
                await consumer.commit({tp: OffsetAndMetadata(0, "") for tp in parts})
            finally:
                await consumer.stop()
            rewound.append(group)
    finally:
        await admin.close()
    return rewound


def rewind_every_group(system: System) -> list[str]:
    """Every consumer group of this system back to offset 0 on every partition it had committed (the services
    must be stopped: a group with members refuses a commit from outside)."""
    return asyncio.run(_rewind(system))

