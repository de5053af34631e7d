"""What a service's topics give back of its lost event store (ADR 0047): its events, checked, and its log's order.

The topics are the durable copy: every event the relay published is on the service's own topic (its checkpoints on
``log.checkpoints``), signed with the service's log key (ADR 0026). This module reads them from offset 0 as the
service's own broker principal, and returns each event once, verified (its hash under its own scheme, its
signature by one of the service's keys, its stream's chain without a gap or a fork), together with the order in
which the relay published them: the order of the Merkle log's leaves (ADR 0022).

That order is not a field of any event. The relay publishes one batch at a time, in key order (stream, then
version), and the producer stamps each record with the time of its ``send``; batches are milliseconds apart (a
round trip to the broker, the leaves' insert and the marks come between two). So (time stamp, key) of the copy
that got the leaf is the publication order. Which copy got it is known only for an event published once; for a
republished one (a crash between publishing and marking), the leaf went with the first copy if the crash came
after the leaves' insert, with a later one if before. The service's own signed checkpoints decide: the order is
accepted only when every checkpoint's root is that of the first ``tree_size`` leaves; otherwise the copies are
tried the other way, and a log no order reproduces is refused (the service would refuse to sign over it).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from binhchon_kit import merkle
from binhchon_kit.checkpoints import checkpoint_stream
from binhchon_kit.contracts.log import LogCheckpoint
from binhchon_kit.envelope import CloudEvent
from binhchon_kit.events import RecordedEvent
from binhchon_kit.eventstore import event_key, verify_chain
from binhchon_kit.signing import verify_bytes
from binhchon_kit.topic_history import Record, read_records
from binhchon_kit.topics import source_of
from binhchon_kit.transparency import event_leaf

CHECKPOINTS_TOPIC = "log.checkpoints"


class TopicDamaged(Exception):
    """The topic does not give back a store: an event that fails its hash or signature, a chain with a gap or a
    fork, a log no order of its copies reproduces. Nothing is written."""


@dataclass(frozen=True)
class Copy:
    """One record of an event on a topic."""

    event: RecordedEvent
    topic: str
    partition: int
    offset: int
    timestamp: int  # the producer's time stamp (ms): when the relay's ``send`` took it
    signature: str | None  # the relay's signature over the hash, and its key's id, as the record carries them
    kid: str | None


async def read_copies(bootstrap: str | list[str], prefix: str, service: str,
                      security: dict[str, Any], *, timeout: float = 600) -> tuple[list[Copy], int, list[str]]:
    """Every record of the service's topic and of ``log.checkpoints`` from offset 0 to the end as it is now, parsed
    (unverified). Returns the copies of this service's events, the number of records read, and why each record
    of the service's own topic that is no event of the service was left out (other services' checkpoints are
    left out without a word)."""
    own, shared = f"{prefix}{service}.events", f"{prefix}{CHECKPOINTS_TOPIC}"
    copies: list[Copy] = []
    skipped: list[str] = []
    missing: list[str] = []
    records = 0
    async for batch in read_records(bootstrap, [own, shared], security, client_id=f"binhchon-{service}-restore",
                                    timeout=timeout, on_missing=missing.append):
        for record in batch:
            records += 1
            copy = _parse(record, service)
            if isinstance(copy, Copy):
                copies.append(copy)
            elif copy is not None:
                skipped.append(copy)
    if len(missing) == 2:
        raise TopicDamaged(f"neither {own} nor {shared} exists, or {service} may not read them")
    return copies, records, skipped


def _parse(record: Record, service: str) -> Copy | str | None:
    """The record as a copy of an event of ``service``, its hash and signature checked later; else why it is not
    one (on the service's own topic: poison someone wrote there, never an event of its store), or None (another
    service's checkpoint)."""
    where = f"{record.topic}[{record.partition}]@{record.offset}"
    shared = record.topic.endswith(CHECKPOINTS_TOPIC)
    try:
        cloud = CloudEvent.model_validate(json.loads(record.value or b""))
    except (ValueError, ValidationError) as exc:
        return None if shared else f"{where}: not an event ({str(exc)[:120]})"
    if cloud.source != source_of(service):
        return None if shared else f"{where}: source {cloud.source}, not {source_of(service)}"
    try:
        event = RecordedEvent.from_cloudevent(cloud)
    except ValueError as exc:
        return f"{where}: does not read as a recorded event ({exc})"
    return Copy(event, record.topic, record.partition, record.offset, record.timestamp, cloud.signature,
                cloud.signaturekid)


def verified(copies: Iterable[Copy], keys: dict[str, Ed25519PublicKey]
             ) -> tuple[dict[str, list[Copy]], int, list[str]]:
    """The copies by event id, each checked: its hash, its producer's signature over it (by one of ``keys``, the
    service's log keys by id), the same content as the event's other copies. A copy that fails its hash or its
    signature is not the service's event: left out, and said why (should it have been a real event, its stream
    now has a gap, which ``chains`` refuses). Returns the copies, how many events came more than once, and the
    copies left out."""
    by_id: dict[str, list[Copy]] = defaultdict(list)
    rejected: list[str] = []
    for copy in copies:
        event = copy.event
        where = f"{copy.topic}[{copy.partition}]@{copy.offset} ({event_key(event.stream, event.version)})"
        why = "its content does not match its hash" if not event.verify_hash() else _unsigned(copy, keys)
        if why:
            rejected.append(f"{where}: {why}")
            continue
        first = by_id.get(event.id)
        if first and first[0].event != event:
            raise TopicDamaged(f"{where}: event {event.id} differs from its copy at "
                               f"{first[0].topic}[{first[0].partition}]@{first[0].offset}, both signed")
        by_id[event.id].append(copy)
    return by_id, sum(len(c) > 1 for c in by_id.values()), rejected


def _unsigned(copy: Copy, keys: dict[str, Ed25519PublicKey]) -> str | None:
    """Why the copy does not carry the service's signature over its hash (None: it does)."""
    signature, kid = copy.signature, copy.kid
    if not isinstance(signature, str) or not isinstance(kid, str):
        return "not signed"
    key = keys.get(kid)
    if key is None:
        return f"signed by key {kid}, not one of the service's"
    if not verify_bytes(key, signature, copy.event.hash.encode("ascii")):
        return "the signature is not the service's over the event's hash"
    return None


def chains(events: Iterable[RecordedEvent]) -> list[RecordedEvent]:
    """The events in key order, every stream's chain checked (from version 1, no gap, no fork, each link)."""
    streams: dict[str, dict[int, RecordedEvent]] = defaultdict(dict)
    for event in events:
        other = streams[event.stream].setdefault(event.version, event)
        if other.id != event.id:
            raise TopicDamaged(f"{event.stream} v{event.version}: two events ({other.id}, {event.id}), a fork")
    ordered: list[RecordedEvent] = []
    for stream in sorted(streams):
        events_ = [streams[stream][v] for v in sorted(streams[stream])]
        problems = verify_chain(events_)
        if problems:
            raise TopicDamaged(f"{stream}: {'; '.join(problems[:3])}")
        ordered += events_
    return sorted(ordered, key=lambda e: event_key(e.stream, e.version))


def publication_order(by_id: dict[str, list[Copy]], source: str) -> tuple[list[RecordedEvent], int, list[str]]:
    """The leaves' order that reproduces every signed checkpoint of the log (module docstring), the number of
    checkpoints it matches, and notes. Raises TopicDamaged when neither order of the copies does."""
    stream = checkpoint_stream(source)
    checkpoints = sorted((c[0].event for c in by_id.values() if c[0].event.stream == stream),
                         key=lambda e: e.version)
    signed = [LogCheckpoint.model_validate(e.data) for e in checkpoints]
    tried: list[str] = []
    for name, pick in (("first", 0), ("last", -1)):
        order = sorted((copies[pick] for copies in by_id.values()),
                       key=lambda c: (c.timestamp, event_key(c.event.stream, c.event.version)))
        leaves = [c.event for c in order]
        wrong = _roots_that_differ(leaves, signed)
        if not wrong:
            return leaves, len(signed), [] if pick == 0 else ["the leaves follow each republished event's last copy"]
        tried.append(f"by each event's {name} copy, {len(wrong)} checkpoint(s) differ (first: {wrong[0]})")
    raise TopicDamaged("no order of the published copies gives the log its checkpoints signed: " + "; ".join(tried))


def _roots_that_differ(leaves: list[RecordedEvent], signed: list[LogCheckpoint]) -> list[str]:
    hashes = [event_leaf(e.hash) for e in leaves]
    wrong = []
    for checkpoint in signed:
        if checkpoint.tree_size > len(hashes):
            wrong.append(f"size {checkpoint.tree_size} beyond {len(hashes)} events")
        elif merkle.root(hashes[:checkpoint.tree_size]).hex() != checkpoint.root_hash:
            wrong.append(f"size {checkpoint.tree_size}")
    return wrong
