"""What an agency's own tools meet on our topics, on the real broker and server (issue 12, item 4).

The four services run in-process under uvicorn and a whole round is played over HTTP (binhchon-demo's round,
then its certificate). Every event the services recorded is then read from Kafka by:
- the Java consumer of ``docs/examples/java-consumer`` (the official CloudEvents SDK for Java and a JSON Schema
  validator from Maven Central, nothing of ours), built with Maven and run as an agency would run it;
- the Python CloudEvents SDK's Kafka binding (``from_kafka_event`` must see structured mode, not binary).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer
from cloudevents.core.bindings import kafka as kafka_binding
from cloudevents.v1 import kafka as kafka_binding_v1
from fastapi import FastAPI

from binhchon_kit.principals import AUDITOR, client_options
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.infra import REPO, Infra, free_port
from binhchon_kit.testing.personal import intake_keys
from binhchon_tools.demo import auth_with, certificates, play_round
from certification.main import CertificationSettings
from certification.main import build as build_certification
from intake.main import IntakeSettings
from intake.main import build as build_intake
from notify.main import NotifySettings
from notify.main import build as build_notify
from scoring.main import ScoringSettings
from scoring.main import build as build_scoring

pytestmark = pytest.mark.integration

EXAMPLE = REPO / "docs" / "examples" / "java-consumer"
SCHEMAS = REPO / "docs" / "contract" / "schemas"
SERVICES = ("intake", "scoring", "certification", "notify")
LINE = re.compile(r"^(OK|FAIL) (\S+)/(\d+)@(\d+) (\S+) (\S+) (.*)$")


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """The app under uvicorn on a free port, lifespan and all (relay, consumers); yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())

    async def started() -> bool | None:
        if task.done():
            task.result()  # start-up failed: say why
        return server.started or None

    await eventually(started, timeout=90, what="the service to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def stack(infra: Any, unique: str, prefix: str, key: str, service_token: str) -> list[FastAPI]:
    common = {"mongodb_url": infra.mongodb, "kafka_bootstrap_servers": infra.kafka, "kafka_topic_prefix": prefix,
              "auth_public_keys_file": key}
    intake = build_intake(IntakeSettings(mongodb_database=f"intake_{unique}", **common))
    return [
        intake,
        build_scoring(ScoringSettings(mongodb_database=f"scoring_{unique}", **common)),
        build_certification(CertificationSettings(mongodb_database=f"certification_{unique}", **common)),
        # no SMTP server listens there: each mail fails at once, which notify records (notification.failed)
        build_notify(NotifySettings(mongodb_database=f"notify_{unique}", smtp_port=free_port(),
                                    notify_max_attempts=1, notify_poll_seconds=0.2, **common),
                     key_client=intake_keys(intake, service_token)),  # the producers' sealed addresses (ADR 0035)
    ]


async def records_on(bootstrap: str, topics: list[str], at_least: int) -> list[Any]:
    """Every record of the topics, once there are at least ``at_least``, read as a plain consumer does."""
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None, **client_options(AUDITOR))
    await consumer.start()
    records: list[Any] = []
    try:
        async def enough() -> bool | None:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
            return len(records) >= at_least or None

        await eventually(enough, timeout=60, what=f"{at_least} records on {topics}")
    finally:
        await consumer.stop()
    return records


async def recorded_ids(mongo: Any, unique: str) -> set[str]:
    ids: set[str] = set()
    for service in SERVICES:
        ids |= {doc["event_id"] async for doc in mongo[f"{service}_{unique}"]["events"].find({}, {"event_id": 1})}
    return ids


def sign_in(infra: Infra, principal: str) -> list[str]:
    """The Java client's ``--command-config``: the principal's properties file beside its password, as ops and an
    agency get it (SASL_SSL trusting the broker's CA as PEM, docs/adr/0055); none for a PLAINTEXT broker."""
    if infra.kafka_credentials is None:
        return []
    return ["--command-config", str(infra.kafka_credentials / f"{principal}.properties")]


def build_example(workdir: Path) -> Path:
    """The example built as its README says, from a copy (the repository's tree stays clean); ~/.m2 caches."""
    for tool in ("java", "mvn"):
        assert shutil.which(tool), f"{tool} is needed to build the Java example (apt-get install openjdk-17-jdk maven)"
    project = workdir / "java-consumer"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("target"))
    built = subprocess.run(["mvn", "-q", "-B", "package"], cwd=project, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    return project / "target" / "agency-consumer.jar"


@pytest.mark.timeout(900)
async def test_an_agency_reads_and_validates_every_event_of_a_round_with_the_official_sdks(
        infra, mongo, unique, topic_prefix, dev_keys, token, tmp_path):
    jar = await asyncio.to_thread(build_example, tmp_path)  # while nothing else runs: Maven is CPU-heavy
    auth = auth_with(dev_keys[0].read_bytes())
    topics = [f"{topic_prefix}{service}.events" for service in SERVICES]
    async with contextlib.AsyncExitStack() as services:
        urls = [await services.enter_async_context(serving(app))
                for app in stack(infra, unique, topic_prefix, str(dev_keys[1]), token("notify", "service"))]

        def round_over_http() -> None:
            with httpx.Client(base_url=urls[0], timeout=30) as intake, \
                    httpx.Client(base_url=urls[1], timeout=30) as scoring, \
                    httpx.Client(base_url=urls[2], timeout=30) as certification:
                played = play_round(intake, scoring, auth, unique[:4].upper())
                certificates(certification, auth, played, expected=1)

        await asyncio.to_thread(round_over_http)

        async def settled() -> set[str] | None:  # notify has told everyone it could (each mail failed once)
            pending = await mongo[f"notify_{unique}"]["deliveries"].count_documents({"status": "pending"})
            return None if pending else await recorded_ids(mongo, unique)

        await eventually(settled, timeout=60, what="notify's deliveries to finish")
        recorded = await recorded_ids(mongo, unique)
        before = await records_on(infra.kafka, topics, len(recorded))

        java = await asyncio.to_thread(subprocess.run, [
            "java", "-jar", str(jar), "--bootstrap-server", infra.kafka, "--schemas", str(SCHEMAS),
            *sign_in(infra, AUDITOR), *topics],
            capture_output=True, text=True, timeout=300)
    lines = java.stdout.splitlines()
    report = "\n".join([*lines[-40:], java.stderr[-3000:]])
    assert java.returncode == 0, report
    read = [LINE.match(line) for line in lines if not line.startswith("SUMMARY ")]
    assert all(read) and read, report
    assert {m[1] for m in read if m} == {"OK"}, report
    java_ids = {m[6] for m in read if m}
    summary = lines[-1]
    assert summary.startswith(f"SUMMARY events={len(read)} valid={len(read)} invalid=0 topics=4 "), summary
    # every event of the round, and nothing that was not on the topics
    assert recorded <= java_ids, sorted(recorded - java_ids)
    assert len(read) == len(java_ids) >= len(recorded)  # each event once, none missing
    types = {m[5] for m in read if m}
    assert {"round.opened", "dossier.received", "score.amended", "judge.recused", "result.approved",
            "certificate.issued", "notification.failed"} <= types, types

    # the Python SDK reads every record too: structured mode (no ce_ header), the same event
    python_ids = set()
    for record in before:
        headers = {name: value for name, value in record.headers}
        assert not [name for name in headers if name.lower().startswith("ce_")], headers
        message = kafka_binding.KafkaMessage(headers=headers, key=record.key, value=record.value)
        event = kafka_binding.from_kafka_event(message)
        assert event.get_type() == headers["event-type"].decode() and event.get_id() == headers["event-id"].decode()
        assert event.get_dataschema() and isinstance(event.get_data(), dict)
        v1 = kafka_binding_v1.from_structured(kafka_binding_v1.KafkaMessage(headers, record.key, record.value))
        assert v1["id"] == event.get_id() and v1.data == event.get_data()
        python_ids.add(event.get_id())
    assert recorded <= python_ids <= java_ids
