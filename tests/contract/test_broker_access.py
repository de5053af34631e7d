"""Each service is a principal of the broker (docs/adr/0031), on the real broker with SASL/SCRAM and ACLs: what the
probe did with no credentials (a made-up ``result.approved`` on ``scoring.events``) is refused to everyone but
scoring; the auditor reads and cannot write; a service cannot read under another's consumer group, nor read a topic
it does not consume (but its own and the checkpoints, ADR 0047); a wrong password does not sign in. And the ACLs'
table of who consumes what is the one the services' own subscriptions make."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from fastapi import FastAPI

from binhchon_kit.principals import AUDITOR, CONSUMES, client_options
from binhchon_kit.testing.fixtures import TopicReader
from binhchon_kit.testing.infra import Infra
from certification.main import CertificationSettings
from certification.main import build as build_certification
from intake.main import IntakeSettings
from intake.main import build as build_intake
from notify.main import NotifySettings
from notify.main import build as build_notify
from scoring.main import ScoringSettings
from scoring.main import build as build_scoring

pytestmark = pytest.mark.integration

FORGED = json.dumps({"specversion": "1.0", "type": "result.approved", "source": "/binhchon/scoring",
                     "id": "forged-1", "actorid": "attacker", "hash": "f" * 64}).encode()


def signed_in(infra: Infra, principal: str) -> dict[str, Any]:
    options = infra.kafka_client(principal)
    assert options, "this test needs the broker with SASL/SCRAM and ACLs (the native stack the fixtures start)"
    return options


async def produce(infra: Infra, topic: str, sign_in: dict[str, Any], *, idempotent: bool = True) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, enable_idempotence=idempotent, acks="all",
                                request_timeout_ms=10000, **sign_in)
    await producer.start()
    try:
        await producer.send_and_wait(topic, FORGED, key=b"dossier-1")
    finally:
        await producer.stop()


async def test_only_scoring_writes_result_approved_to_scoring_events(infra, topic_prefix):
    topic = f"{topic_prefix}scoring.events"
    for principal in ("intake", "certification", "notify"):
        with pytest.raises(TopicAuthorizationFailedError):
            await produce(infra, topic, signed_in(infra, principal))
    # the auditor may write nowhere: not even an idempotent producer's id is given to it
    with pytest.raises(ClusterAuthorizationFailedError):
        await produce(infra, topic, signed_in(infra, AUDITOR))
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(infra, topic, signed_in(infra, AUDITOR), idempotent=False)
    # with no credentials at all the broker does not even let the client connect
    with pytest.raises(KafkaConnectionError):
        await produce(infra, topic, {})
    wrong = {**signed_in(infra, "intake"), "sasl_plain_password": "guessed"}
    with pytest.raises(KafkaError):  # the SASL handshake fails: no principal at all
        await produce(infra, topic, wrong)

    await produce(infra, topic, signed_in(infra, "scoring"))
    # the auditor reads what scoring wrote (TopicReader signs in as the auditor), and only that one record is there
    async with TopicReader(infra.kafka, topic) as reader:
        records = await reader.wait_for_records(1)
    assert [r.value for r in records] == [FORGED]


async def test_a_service_reads_only_what_it_consumes_under_its_own_groups(infra, topic_prefix):
    async def read(principal: str, topic: str, group: str) -> None:
        consumer = AIOKafkaConsumer(f"{topic_prefix}{topic}", bootstrap_servers=infra.kafka, group_id=group,
                                    auto_offset_reset="earliest", **signed_in(infra, principal))
        try:
            await consumer.start()
            await consumer.getmany(timeout_ms=1000)
        finally:
            await consumer.stop()

    await read("certification", "scoring.events", "certification.issuing")  # its own group, a topic it consumes
    with pytest.raises(GroupAuthorizationFailedError):
        await read("intake", "scoring.events", "certification.issuing")  # certification's group
    with pytest.raises(TopicAuthorizationFailedError):
        await read("intake", "certification.events", "intake.escalation")  # a topic intake does not consume
    # its own history, and the checkpoints (public, signed): what `restore-from-topic` reads back (ADR 0047)
    await read("scoring", "scoring.events", "scoring.restore")
    await read("scoring", "log.checkpoints", "scoring.checkpoints")


def test_the_acls_grant_each_service_what_its_subscriptions_read(dev_keys):
    nowhere = dict(mongodb_url="mongodb://127.0.0.1:9/", kafka_bootstrap_servers="127.0.0.1:9",
                   auth_public_keys_file=str(dev_keys[1]))
    apps: dict[str, FastAPI] = {
        "intake": build_intake(IntakeSettings(**nowhere)), "scoring": build_scoring(ScoringSettings(**nowhere)),
        "certification": build_certification(CertificationSettings(**nowhere)),
        "notify": build_notify(NotifySettings(**nowhere))}
    for service, app in apps.items():
        subscribers = app.state.runtime.broker.subscribers
        assert {t for s in subscribers for t in s.topic_names} == set(CONSUMES[service]), service
        grouped = [s for s in subscribers if s.group_id is not None]
        assert all(s.group_id.startswith(f"{service}.") for s in grouped), service
        # a subscriber every replica runs (ADR 0048: erasures) reads with no group, so it needs no group ACL, only
        # the topic's read, checked above; it is the erasure reader on intake's topic alone
        assert all(s.topic_names == ["intake.events"] for s in subscribers if s.group_id is None), service


def test_no_credentials_means_plaintext_and_a_user_needs_a_password(tmp_path):
    assert client_options("intake", env={}) == {}
    with pytest.raises(ValueError, match="no password"):
        client_options(env={"KAFKA_SASL_USERNAME": "intake"})
    (tmp_path / "intake.password").write_text("s3cret\n")
    assert client_options("intake", env={"KAFKA_CREDENTIALS_DIR": str(tmp_path)})["sasl_plain_password"] == "s3cret"
    explicit = client_options("intake", env={"KAFKA_CREDENTIALS_DIR": str(tmp_path),
                                            "KAFKA_SASL_USERNAME": "ops", "KAFKA_SASL_PASSWORD": "x"})
    assert (explicit["sasl_plain_username"], explicit["sasl_mechanism"]) == ("ops", "SCRAM-SHA-512")
