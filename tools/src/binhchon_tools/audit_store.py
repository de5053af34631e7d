"""What the audit does with the services' databases: compare their event stores with the topics, rebuild a
service's read models from its events, and the store's own chain check and stream print (kept from before the
audit read Kafka).

The stores are read through ``MongoEventStore(..., pages=False)``: the event documents, the record itself,
never the pages (docs/adr/0019-event-pages.md).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from pymongo import AsyncMongoClient

from binhchon_kit.checkpoints import checkpoint_stream
from binhchon_kit.events import RecordedEvent
from binhchon_kit.eventstore import EventStorePort, event_key, verify_chain
from binhchon_kit.eventstore_mongo import MongoEventStore
from binhchon_kit.trust import SIGNATURE_ATTRIBUTES
from binhchon_tools.audit_findings import Findings
from binhchon_tools.audit_report import Progress
from binhchon_tools.audit_topics import read_records

SERVICES = ("intake", "scoring", "certification", "notify")


def databases(pairs: Sequence[str]) -> dict[str, str]:
    """``SERVICE=DB`` options over the default database of each service."""
    chosen = {s: f"binhchon_{s}" for s in SERVICES}
    for pair in pairs:
        service, _, db = pair.partition("=")
        if service not in SERVICES or not db:
            raise SystemExit(f"--database {pair!r}: expected SERVICE=DB, SERVICE one of {', '.join(SERVICES)}")
        chosen[service] = db
    return chosen


def open_store(client: AsyncMongoClient[dict[str, Any]], database: str, service: str) -> MongoEventStore:
    return MongoEventStore(client[database], source=f"/binhchon/{service}", pages=False)


def as_published(event: RecordedEvent) -> dict[str, Any]:
    """The CloudEvent the relay publishes for a stored event, as a parsed JSON object."""
    parsed: dict[str, Any] = json.loads(event.to_cloudevent().to_bytes())
    return parsed


CHECKPOINT_TOPIC = "log.checkpoints"


async def compare(bootstrap: str, prefix: str, mongodb_url: str, dbs: dict[str, str]) -> Findings:
    """Each service's store against its topic: events missing from the topic (other than those the relay has not
    published yet), events on the topic the store does not hold, and events that differ."""
    findings = Findings()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, tz_aware=True)
    try:
        for service, database in dbs.items():
            topic = f"{prefix}{service}.events"
            # a service's checkpoints go to the topic every service shares (ADR 0022), in a stream of its own
            checkpoints, own_checkpoints = f"{prefix}{CHECKPOINT_TOPIC}", checkpoint_stream(service)
            on_topic: dict[str, dict[str, Any]] = {}
            progress = Progress(f"compare {topic}")
            async for batch in read_records(bootstrap, [topic, checkpoints], on_start=progress.start):
                for record in batch:
                    try:
                        event = json.loads(record.value)
                        if record.topic == checkpoints and event["streamid"] != own_checkpoints:
                            continue
                        on_topic.setdefault(event_key(event["streamid"], int(event["streamversion"])), event)
                    except (ValueError, KeyError, TypeError):
                        findings.add("unreadable", f"{topic}/{record.partition}@{record.offset}",
                                     "not a binhchon CloudEvent")
                progress.advance(len(batch))
            progress.finish()
            store = open_store(client, database, service)
            waiting = {event_key(e.stream, e.version) for e in await store.unpublished(10_000_000)}
            stored = 0
            async for event in store.read_all():
                stored += 1
                key = event_key(event.stream, event.version)
                published = on_topic.pop(key, None)
                if published is None:
                    if key not in waiting:
                        findings.add("missing", key, f"in {database}, marked published, not on {topic}", event.id)
                    continue
                mine = as_published(event)
                # the relay's signature is added on publishing, never stored (ADR 0026): not a difference
                changed = sorted(k for k in (set(mine) | set(published)) - set(SIGNATURE_ATTRIBUTES)
                                 if mine.get(k) != published.get(k))
                if changed:
                    findings.add("altered", key, f"{database} and {topic} differ in: {', '.join(changed)}",
                                 event.id, *([str(published.get("id"))] if published.get("id") != event.id else []))
            for key, event in sorted(on_topic.items()):
                findings.add("extra", key, f"on {topic}, not in {database}", str(event.get("id", "")))
            if waiting:
                findings.notes.append(f"{service}: {len(waiting)} event(s) not published yet")
            findings.counts[f"{service}_stored"] = stored
    finally:
        await client.close()
    return findings


async def rebuild(service: str, mongodb_url: str, database: str | None) -> int:
    """Drop the service's read models and rebuild them from its events, with the service's own folds (its
    composition root, built without relay or consumers); each model is rebuilt aside, then switched."""
    counts = await rebuild_read_models(service, mongodb_url, database)
    for name, count in counts.items():
        print(f"[audit] rebuilt {name}: {count:,} document(s)", file=sys.stderr)
    return 0


async def rebuild_read_models(service: str, mongodb_url: str, database: str | None) -> dict[str, int]:
    from binhchon_kit.settings import ServiceSettings

    settings_class: type[ServiceSettings]
    if service == "intake":
        from intake.main import IntakeSettings as settings_class
        from intake.main import build
    elif service == "scoring":
        from scoring.main import ScoringSettings as settings_class
        from scoring.main import build  # type: ignore[assignment]
    elif service == "certification":
        from certification.main import CertificationSettings as settings_class
        from certification.main import build  # type: ignore[assignment]
    else:
        from notify.main import NotifySettings as settings_class
        from notify.main import build  # type: ignore[assignment]
    settings = settings_class(mongodb_url=mongodb_url, mongodb_database=database or "", relay_enabled=False,
                              consumers_enabled=False)
    app = build(settings)  # type: ignore[arg-type]
    runtime = app.state.runtime
    try:
        counts: dict[str, int] = await runtime.projections.rebuild()
        return counts
    finally:
        await runtime.mongo.close()


async def verify_store(store: EventStorePort) -> tuple[int, int, list[str]]:
    """One database's chains, stream by stream (the store's own check)."""
    streams = events = 0
    problems: list[str] = []
    current: list[RecordedEvent] = []
    async for event in store.read_all():
        events += 1
        if current and current[-1].stream != event.stream:
            problems += verify_chain(current)
            streams += 1
            current = []
        current.append(event)
    if current:
        problems += verify_chain(current)
        streams += 1
    return streams, events, problems


async def verify_database(mongodb_url: str, database: str) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, tz_aware=True)
    try:
        store = MongoEventStore(client[database], source="audit", pages=False)
        streams, events, problems = await verify_store(store)
        problems += await store.verify_pages()
        for problem in problems:
            print(f"TAMPERED {problem}")
        print(f"{streams} streams, {events} events, {len(problems)} problem(s)", file=sys.stderr)
        return 1 if problems else 0
    finally:
        await client.close()


async def print_stream(mongodb_url: str, database: str, stream: str) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, tz_aware=True)
    try:
        store = MongoEventStore(client[database], source="audit", pages=False)
        for event in await store.read_stream(stream):
            print(json.dumps({"version": event.version, "time": event.time.isoformat(), "type": event.type,
                              "actor": event.actor.id, "data": event.data, "hash": event.hash,
                              "intact": event.verify_hash()}, ensure_ascii=False))
        return 0
    finally:
        await client.close()
