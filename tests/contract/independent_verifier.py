"""An agency's verifier of binhchon's hash chains, written from the published contract alone
(docs/contract/hash-chain.md): it reads the CloudEvents' JSON off the topics and recomputes every hash and every
link. Nothing of binhchon is imported here (a test checks it): aiokafka, rfc8785 and the standard library only.

    python tests/contract/independent_verifier.py --bootstrap-servers localhost:29092 intake.events scoring.events

The broker speaks SASL_SSL (docs/adr/0055): ``--ca-file`` is the CA the operator gives (ca.crt), trusted alone,
and ``--username`` / ``--password-file`` the agency's SCRAM-SHA-512 sign-in.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import ssl
import sys
from collections import defaultdict
from typing import Any

import rfc8785
from aiokafka import AIOKafkaConsumer, TopicPartition

GENESIS = "0" * 64
SCHEME = "cloudevent-jcs-sha256"
# the attributes the contract says the scheme covers: all the services publish but `hash`
ATTRIBUTES = ("specversion", "id", "source", "type", "subject", "time", "datacontenttype", "dataschema", "data",
              "correlationid", "causationid", "actorid", "actorroles", "streamid", "streamversion", "prevhash",
              "hashalg")


async def read_topics(bootstrap_servers: str, topics: list[str], **sign_in: Any) -> list[dict[str, Any]]:
    """Every message's value on these topics, from the earliest offset to the end as it is now, as JSON.
    ``sign_in``: aiokafka's SASL arguments, when the broker asks for them."""
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap_servers, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest", **sign_in)
    await consumer.start()
    try:
        for _ in range(200):  # no group: the consumer assigns itself every partition once it has the metadata
            if len({tp.topic for tp in consumer.assignment()}) == len(topics):
                break
            await asyncio.sleep(0.05)
        partitions = sorted(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        values: list[dict[str, Any]] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                end = ends[TopicPartition(records[0].topic, records[0].partition)] if records else 0
                values += [json.loads(r.value) for r in records if r.offset < end]
        return values
    finally:
        await consumer.stop()


def event_hash(event: dict[str, Any]) -> str | None:
    """The hash the contract gives this event (None: a scheme this verifier does not know)."""
    scheme = event.get("hashalg")
    if scheme == SCHEME:
        hashed = {name: event[name] for name in ATTRIBUTES if name in event}
        return hashlib.sha256(rfc8785.dumps(hashed)).hexdigest()
    if scheme is None:  # recorded before `hashalg`: the legacy scheme, over the store's field names
        content = {
            "id": event["id"], "stream": event["streamid"], "version": event["streamversion"],
            "type": event["type"],
            "schema_version": int(event["dataschema"].rsplit("/v", 1)[1].removesuffix(".json")),
            "subject": event["subject"], "time": event["time"], "data": event["data"],
            "actor": {"id": event["actorid"], "roles": [r for r in event["actorroles"].split(",") if r]},
            "correlation_id": event["correlationid"], "causation_id": event["causationid"],
            "source": event["source"],
        }
        return hashlib.sha256(event["prevhash"].encode("ascii") + rfc8785.dumps(content)).hexdigest()
    return None


def verify(events: list[dict[str, Any]]) -> list[str]:
    """Every problem with these events' chains (empty when every stream is whole and intact). A stream is a
    service's (``source``) ``streamid``; an event delivered twice (same id, same content) counts once."""
    by_id: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for event in events:
        seen = by_id.setdefault(event["id"], event)
        if seen is not event and seen != event:
            problems.append(f"event {event['id']}: two different events under one id")
    streams: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for event in by_id.values():
        streams[(event["source"], event["streamid"])].append(event)
    for (source, stream), chain in sorted(streams.items()):
        chain.sort(key=lambda e: e["streamversion"])
        previous = GENESIS
        for expected, event in enumerate(chain, start=1):
            where = f"{source} {stream} v{event['streamversion']} (event {event['id']})"
            if event["streamversion"] != expected:
                problems.append(f"{where}: version {expected} is missing")
            if event["prevhash"] != previous:
                problems.append(f"{where}: prevhash is not the previous event's hash")
            recomputed = event_hash(event)
            if recomputed is None:
                problems.append(f"{where}: unknown hashalg {event.get('hashalg')!r}")
            elif recomputed != event["hash"]:
                problems.append(f"{where}: hash does not match its content")
            previous = event["hash"]
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description="Verify binhchon's hash chains from the topics alone.")
    parser.add_argument("--bootstrap-servers", default="localhost:29092")
    parser.add_argument("--ca-file", help="the broker's CA (PEM), the only one trusted; none: no TLS")
    parser.add_argument("--username", help="SASL/SCRAM-SHA-512 user")
    parser.add_argument("--password-file", help="that user's password")
    parser.add_argument("topics", nargs="+")
    args = parser.parse_args()
    sign_in: dict[str, Any] = {}
    if args.ca_file:
        sign_in |= {"security_protocol": "SSL", "ssl_context": ssl.create_default_context(cafile=args.ca_file)}
    if args.username:
        with open(args.password_file) as password:
            sign_in |= {"security_protocol": "SASL_SSL" if args.ca_file else "SASL_PLAINTEXT",
                        "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": args.username,
                        "sasl_plain_password": password.read().strip()}
    events = asyncio.run(read_topics(args.bootstrap_servers, args.topics, **sign_in))
    problems = verify(events)
    for problem in problems:
        print(problem)
    print(f"{len(events)} events, {len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
