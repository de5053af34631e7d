"""A whole season audited from the outside (issue 12, item 5).

The four services run as separate processes, started from their console scripts as a deployment starts them,
on the real broker and the real MongoDB-protocol server. `binhchon_tools.scenario` plays Bắc Giang's season
through their HTTP ports: a district OCOP round forwarding to its province round (one dossier supplemented, one
rejected, one withdrawn, a recusal, an amended sheet) and a province CNNTTB round. Then `binhchon-audit`, run as
an auditor runs it (its command line, reading Kafka), verifies everything and finds the stores equal to the
topics. Then the history is tampered with in a service's store — (a) one stored event altered, (b) a whole
stream rewritten with a consistent chain, (c) the last events of a stream deleted — and each is detected and
named with the event ids.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo import MongoClient

from binhchon_kit.canonical import GENESIS_HASH
from binhchon_kit.events import RecordedEvent
from binhchon_kit.eventstore_mongo import _to_document, from_document
from binhchon_kit.testing.infra import free_port
from binhchon_kit.trust import PRODUCERS_DIR, write_keys
from binhchon_tools.scenario import Season, play

pytestmark = pytest.mark.integration
SERVICES = ("intake", "scoring", "certification", "notify")
BIN = Path(sys.executable).parent


class Catcher:
    """An SMTP server that accepts every mail (the mails themselves are checked elsewhere)."""

    received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        Catcher.received += 1
        return "250 OK"


@contextlib.contextmanager
def deployment(infra: Any, unique: str, prefix: str, public_key: Path, keys: Path) -> Iterator[dict[str, Any]]:
    """The four services as processes of their own, each on a free port; stopped with SIGTERM at the end."""
    smtp = Controller(Catcher(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    (keys / "cert-signing.pem").write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    # each service's own log key, which signs its checkpoints and events, and the public keys each trusts (ADR 0026)
    write_keys(keys)
    ports = {s: free_port() for s in SERVICES}
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    databases = {s: f"{s}_{unique}" for s in SERVICES}
    common = {"MONGODB_URL": infra.mongodb, "KAFKA_BOOTSTRAP_SERVERS": infra.kafka, "KAFKA_TOPIC_PREFIX": prefix,
              "AUTH_PUBLIC_KEYS_FILE": str(public_key), "EVENT_PRODUCER_KEYS_DIR": str(keys / PRODUCERS_DIR),
              "LOG_LEVEL": "WARNING", "LOG_CHECKPOINT_SECONDS": "5"}  # checkpoints recorded during the season
    own = {"certification": {"CERT_SIGNING_KEY_FILE": str(keys / "cert-signing.pem"),
                             "PUBLIC_BASE_URL": urls["certification"]},
           "notify": {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "NOTIFY_POLL_SECONDS": "0.5",
                      "CERTIFICATION_PUBLIC_URL": urls["certification"], "INTAKE_PUBLIC_URL": urls["intake"]}}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    logs = {s: (keys.parent / f"{s}.log").open("wb") for s in SERVICES}
    try:
        for s in SERVICES:
            env = {**os.environ, **common, "MONGODB_DATABASE": databases[s], "HTTP_PORT": str(ports[s]),
                   "LOG_SIGNING_KEY_FILE": str(keys / f"log-signing-{s}.pem"), **own.get(s, {})}
            processes[s] = subprocess.Popen([str(BIN / f"binhchon-{s}")], env=env, stdout=logs[s],
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        for s in SERVICES:
            while True:
                assert processes[s].poll() is None, f"{s} exited: {(keys.parent / f'{s}.log').read_text()[-3000:]}"
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{urls[s]}/readyz", timeout=5).status_code == 200:
                        break
                assert time.monotonic() < deadline, f"{s} not ready: {(keys.parent / f'{s}.log').read_text()[-3000:]}"
                time.sleep(0.5)
        yield {"urls": urls, "databases": databases}
    finally:
        for p in processes.values():
            p.send_signal(signal.SIGTERM)
        for p in processes.values():
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        for f in logs.values():
            f.close()
        smtp.stop()


def audit(*args: str, timeout: float = 600) -> tuple[int, dict[str, Any]]:
    """`binhchon-audit --json …` as an auditor runs it: its exit status and its report."""
    result = subprocess.run([str(BIN / "binhchon-audit"), *args], capture_output=True, text=True, timeout=timeout)
    assert result.stdout.strip(), f"binhchon-audit {' '.join(args)} printed nothing: {result.stderr[-3000:]}"
    return result.returncode, json.loads(result.stdout)


def named(report: dict[str, Any]) -> str:
    """Everything the report names, as text (the discrepancies' kinds, messages and event ids)."""
    return json.dumps(report, ensure_ascii=False)


@pytest.mark.timeout(900)  # a whole season on four processes, then five audits: minutes on two busy cores
def test_a_season_played_on_four_processes_is_verified_and_every_tampering_is_named(
        infra, unique, topic_prefix, dev_keys, tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    with deployment(infra, unique, topic_prefix, dev_keys[1], keys) as stack:
        urls = stack["urls"]
        with httpx.Client(base_url=urls["intake"], timeout=60) as intake, \
                httpx.Client(base_url=urls["scoring"], timeout=60) as scoring:
            season = Season(intake, scoring, unique[:4].upper(), dev_keys[0].read_bytes())
            decisions = play(season)
        assert {name for name in decisions} == {"Huyện Lục Ngạn", "Huyện Lục Nam", "Tỉnh Bắc Giang",
                                                 "CNNTTB Bắc Giang"}

        kafka = ["--bootstrap-servers", infra.kafka, "--topic-prefix", topic_prefix, "--json"]
        stores = [a for s, db in stack["databases"].items() for a in ("--database", f"{s}={db}")]
        compare = ["compare", *kafka, "--mongodb-url", infra.mongodb, *stores]

        # every event recorded reaches its topic (the relays publish asynchronously): then stores = topics
        deadline = time.monotonic() + 180
        while (status := audit(*compare))[0] != 0:
            assert time.monotonic() < deadline, f"stores and topics never agreed: {named(status[1])[:3000]}"
            time.sleep(2)
        # the services' log keys too: every checkpoint recorded during the season is checked (signature, root of
        # the service's first events on the topics, consistency with the one before)
        log_keys = [a for s, url in urls.items() for a in ("--log-jwks", f"{s}={url}/log/jwks.json")]
        status, report = audit("verify", *kafka, "--jwks", f"{urls['certification']}/.well-known/jwks.json",
                               *log_keys)
        assert status == 0, named(report)[:5000]
        assert report["summary"]["checkpoints"] > 0 and not [n for n in report["notes"] if "checkpoint" in n]

        # (a) one stored event altered: a dossier's receipt, its product renamed
        db = MongoClient(infra.mongodb)[stack["databases"]["intake"]]
        events = db["events"]
        received = events.find_one({"type": "dossier.received"})
        assert received is not None
        altered = _with_data(received, lambda data: {**data, "product": {**data["product"], "name": "Hàng giả"}})
        events.replace_one({"_id": received["_id"]}, altered)
        status, report = audit(*compare)
        assert status == 1 and received["event_id"] in named(report), named(report)[:3000]
        events.replace_one({"_id": received["_id"]}, received)

        # (b) a whole stream rewritten with a consistent chain (every hash recomputed): the topics disagree
        stream = received["stream"]
        original = list(events.find({"stream": stream}).sort("_id", 1))
        rewritten = _rewrite(original)
        for doc in rewritten:
            events.replace_one({"_id": doc["_id"]}, doc)
        status, report = audit(*compare)
        assert status == 1 and all(d["event_id"] in named(report) for d in original), named(report)[:3000]
        for doc in original:
            events.replace_one({"_id": doc["_id"]}, doc)

        # (c) the last events of a stream deleted
        last = original[-2:]
        events.delete_many({"_id": {"$in": [d["_id"] for d in last]}})
        status, report = audit(*compare)
        assert status == 1 and all(d["event_id"] in named(report) for d in last), named(report)[:3000]
        for doc in last:
            events.insert_one(doc)
        assert audit(*compare)[0] == 0


def _stored(doc: dict[str, Any], event: RecordedEvent) -> dict[str, Any]:
    """``event`` in the stored layout of ``doc`` (marks left as they were)."""
    return {**doc, **{k: v for k, v in _to_document(event).items() if k not in ("unpublished", "unprojected")}}


def _with_data(doc: dict[str, Any], change: Any) -> dict[str, Any]:
    """The stored event with its data changed and its hash left as it was: a clumsy edit."""
    event = from_document(doc)
    return _stored(doc, replace(event, data=change(event.data)))


def _rewrite(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stream as a forger who can write to the store rewrites it: every event's data changed and every hash
    recomputed with the store's own code, so the stream's chain is consistent again."""
    out, previous = [], GENESIS_HASH
    for doc in docs:
        event = from_document(doc)
        event = replace(event, data={**event.data, "note": "sửa lại"}, prev_hash=previous).sealed()
        previous = event.hash
        out.append(_stored(doc, event))
    return out
