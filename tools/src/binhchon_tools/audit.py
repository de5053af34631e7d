"""Audit binhchon's event log from Kafka, the independent copy (no database access needed), or a service's
store against it.

    binhchon-audit verify [--bootstrap-servers HOST:PORT] [--topic-prefix P] [--jwks URL|FILE]
                          [--log-jwks SERVICE=URL|FILE ...] [--json]
    binhchon-audit compare --mongodb-url URL [--database SERVICE=DB ...]
    binhchon-audit timeline DOSSIER_ID
    binhchon-audit rebuild SERVICE --mongodb-url URL [--database DB]
    binhchon-audit what-if ROUND_ID --rulebook ID@VERSION

``verify`` reads every event of the four service topics from the earliest offsets and checks every stream's
chain and every hash; recomputes every ``scoring.completed`` and ``result.*`` from its sheets and the rulebook
version it names; checks every certificate's signature against the JWKS, one per recognised result and none
for others; matches every escalation with its approved result; checks every signed checkpoint of each service's
log (``log.checkpoint``): its signature against the service's ``/log/jwks.json`` (``--log-jwks``), its root
against the service's first events on the topics in publication order, its consistency with the one before.
Each discrepancy is listed with its event ids; the exit status is 1 if there is any. Progress and the summary
go to stderr, the table (or ``--json``) to stdout.

The store's own checks stay: ``verify --database DB`` verifies one database's chains (reading the event
documents, never the pages, docs/adr/0019), ``timeline STREAM --database DB`` prints one stored stream.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from binhchon_kit.principals import AUDITOR
from binhchon_kit.store_principals import service_url
from binhchon_tools import audit_history, audit_store, audit_verify
from binhchon_tools.audit_report import report
from binhchon_tools.audit_topics import service_topics


def kafka_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser.add_argument("--topic-prefix", default=os.environ.get("KAFKA_TOPIC_PREFIX", ""))
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout, for machines")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mongodb-url", default=os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017"))
    sub = parser.add_subparsers(dest="command", required=True)
    v = sub.add_parser("verify", help="every chain, hash, decision, certificate and escalation, from the topics")
    kafka_options(v)
    v.add_argument("--jwks", help="certification's /.well-known/jwks.json URL, or a saved copy")
    v.add_argument("--log-jwks", action="append", default=[], metavar="[SERVICE=]URL|FILE",
                   help="a service's /log/jwks.json (or a saved copy), which verifies its checkpoints; repeat it "
                        "for each service; without SERVICE=, keys for every service")
    v.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="processes hashing events (0: hash in this process)")
    v.add_argument("--database", help="verify this database's chains instead (the store's own check)")
    c = sub.add_parser("compare", help="the services' stores against the topics: missing, extra, altered events")
    kafka_options(c)
    c.add_argument("--mongodb-url", dest="mongodb_url", default=argparse.SUPPRESS)
    c.add_argument("--database", action="append", default=[], metavar="SERVICE=DB",
                   help="a service's database (default binhchon_<service> for each of the four)")
    t = sub.add_parser("timeline", help="a dossier's whole history across services and levels, in causal order")
    kafka_options(t)
    t.add_argument("dossier", help="a dossier id (with --database: any stream of that database)")
    t.add_argument("--database", help="print one stream of this database instead (the store's own view)")
    r = sub.add_parser("rebuild", help="drop a service's read models and rebuild them from its events")
    r.add_argument("service", choices=audit_store.SERVICES)
    r.add_argument("--mongodb-url", dest="mongodb_url", default=argparse.SUPPRESS)
    r.add_argument("--database", help="default binhchon_<service>")
    w = sub.add_parser("what-if", help="re-aggregate a round under another rulebook version (read-only)")
    kafka_options(w)
    w.add_argument("round", help="the round id")
    w.add_argument("--rulebook", required=True, metavar="ID@VERSION")
    return parser


def store_url(url: str, principal: str) -> str:
    """The store signed in as ``principal`` when MONGODB_CREDENTIALS_DIR is set (``make up`` locks the store,
    docs/adr/0039): the auditor reads every database; a rebuild writes as the service it rebuilds."""
    return service_url(url, principal, os.environ.get("MONGODB_CREDENTIALS_DIR", ""),
                       os.environ.get("MONGODB_AUTH_MECHANISM", "PLAIN"), os.environ.get("MONGODB_AUTH_SOURCE", ""))


async def run(args: argparse.Namespace) -> int:
    if "mongodb_url" in args:
        args.mongodb_url = store_url(args.mongodb_url, args.service if args.command == "rebuild" else AUDITOR)
    if args.command == "verify" and args.database:
        return await audit_store.verify_database(args.mongodb_url, args.database)
    if args.command == "timeline" and args.database:
        return await audit_store.print_stream(args.mongodb_url, args.database, args.dossier)
    if args.command == "rebuild":
        return await audit_store.rebuild(args.service, args.mongodb_url, args.database)
    topics = service_topics(args.topic_prefix)
    if args.command == "verify":
        findings = await audit_verify.verify(args.bootstrap_servers, topics, args.topic_prefix,
                                             jwks=audit_verify.load_jwks(args.jwks),
                                             log_jwks=audit_verify.load_log_jwks(args.log_jwks), workers=args.workers)
        return report(findings, as_json=args.json)
    if args.command == "compare":
        findings = await audit_store.compare(args.bootstrap_servers, args.topic_prefix, args.mongodb_url,
                                             audit_store.databases(args.database))
        return report(findings, as_json=args.json)
    if args.command == "timeline":
        return await audit_history.timeline(args.bootstrap_servers, topics, args.dossier, as_json=args.json)
    return await audit_history.what_if(args.bootstrap_servers, topics, args.round, args.rulebook, as_json=args.json)


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(build_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
