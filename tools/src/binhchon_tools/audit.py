"""Audit a service's event log: verify every stream's hash chain, or print one dossier's timeline.

    binhchon-audit verify --database binhchon_intake [--mongodb-url URL]
    binhchon-audit timeline DOSSIER_ID --database binhchon_intake

``verify`` exits 1 and lists every problem (a gap, a broken link, content that no longer matches its hash, a page
of events that differs from the events it copies). The audit reads the event documents, never the pages
(docs/adr/0019-event-pages.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from pymongo import AsyncMongoClient

from binhchon_kit.events import RecordedEvent
from binhchon_kit.eventstore import EventStorePort, verify_chain
from binhchon_kit.eventstore_mongo import MongoEventStore


async def verify(store: EventStorePort) -> tuple[int, int, list[str]]:
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


async def run(args: argparse.Namespace) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(args.mongodb_url, tz_aware=True)
    try:
        store = MongoEventStore(client[args.database], source="audit", pages=False)
        if args.command == "verify":
            streams, events, problems = await verify(store)
            problems += await store.verify_pages()
            for problem in problems:
                print(f"TAMPERED {problem}")
            print(f"{streams} streams, {events} events, {len(problems)} problem(s)", file=sys.stderr)
            return 1 if problems else 0
        for event in await store.read_stream(args.stream):
            print(json.dumps({"version": event.version, "time": event.time.isoformat(), "type": event.type,
                              "actor": event.actor.id, "data": event.data, "hash": event.hash,
                              "intact": event.verify_hash()}, ensure_ascii=False))
        return 0
    finally:
        await client.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mongodb-url", default=os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017"))
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify")
    v.add_argument("--database", required=True)
    t = sub.add_parser("timeline")
    t.add_argument("stream", help="a dossier id (or round id)")
    t.add_argument("--database", required=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(build_parser().parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
