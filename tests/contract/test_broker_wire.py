"""The broker's wire is encrypted (docs/adr/0055), on the real broker the fixtures start: a client with the right
password but no TLS (SASL_PLAINTEXT) cannot talk to it, nor one that trusts another CA; the broker's certificate
names the hosts clients reach it by and no other; and the services' own client, built from the settings, speaks
SASL_SSL trusting our CA only."""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from binhchon_kit import broker_tls
from binhchon_kit.principals import client_options
from binhchon_kit.testing.fixtures import TopicReader
from binhchon_kit.testing.infra import Infra
from intake.main import IntakeSettings

pytestmark = pytest.mark.integration

# a fixed instant for the impostor CA's validity (no test reads the machine clock)
ISSUED = datetime.datetime(2026, 1, 5, 8, 0, tzinfo=datetime.UTC)


def credentials(infra: Infra) -> Path:
    assert infra.kafka_credentials is not None, "this test needs the locked broker the fixtures start natively"
    assert (infra.kafka_credentials / broker_tls.CA_FILE).is_file()
    return infra.kafka_credentials


async def produces(infra: Infra, topic: str, options: dict[str, Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, acks="all", request_timeout_ms=10000,
                                connections_max_idle_ms=10000, **options)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b'{"type":"round.opened"}', key=b"round-1")
    finally:
        await producer.stop()


async def test_only_a_tls_client_trusting_our_ca_talks_to_the_broker(infra, topic_prefix, tmp_path):
    credentials(infra)
    topic = f"{topic_prefix}intake.events"
    right = infra.kafka_client("intake")
    assert right["security_protocol"] == "SASL_SSL" and isinstance(right["ssl_context"], ssl.SSLContext)

    # the right password without TLS: the broker's listener speaks TLS only, the SASL handshake never happens
    plain = {k: v for k, v in right.items() if k != "ssl_context"} | {"security_protocol": "SASL_PLAINTEXT"}
    with pytest.raises(KafkaConnectionError):
        await produces(infra, topic, plain)

    # the right password over TLS, trusting a CA of someone else's: the broker's certificate is refused
    impostor = broker_tls.write_broker_tls(tmp_path / "impostor", now=ISSUED)
    with pytest.raises(KafkaConnectionError):
        await produces(infra, topic, right | {"ssl_context": broker_tls.context(impostor)})

    await produces(infra, topic, right)
    async with TopicReader(infra.kafka, topic) as reader:  # the auditor, over TLS too
        assert [r.value for r in await reader.wait_for_records(1)] == [b'{"type":"round.opened"}']


def handshake(port: int, name: str, ca_file: Path) -> str | None:
    """None if a TLS handshake with the broker succeeds when it is reached as ``name``, else why not."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                broker_tls.context(ca_file).wrap_socket(raw, server_hostname=name) as tls:
            return None if tls.version() else "no TLS"
    except ssl.SSLCertVerificationError as exc:
        return exc.verify_message


async def test_the_broker_certificate_names_its_hosts_and_the_clients_check_them(infra):
    ca_file = credentials(infra) / broker_tls.CA_FILE
    port = int(infra.kafka.rsplit(":", 1)[1])
    for name in ("127.0.0.1", "localhost"):
        assert await asyncio.to_thread(handshake, port, name, ca_file) is None, name
    why = await asyncio.to_thread(handshake, port, "kafka.attacker.example", ca_file)
    assert why is not None and "mismatch" in why.lower(), why


def test_the_services_client_is_tls_whenever_a_ca_is_known(infra, tmp_path):
    creds = credentials(infra)
    # from the credentials directory alone (what the test session and compose give the services)
    settings = IntakeSettings(kafka_credentials_dir=str(creds))
    security = settings.kafka_security()
    assert security["security_protocol"] == "SASL_SSL"
    context: ssl.SSLContext = security["ssl_context"]
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    assert len(context.get_ca_certs()) == 1  # our CA, none of the system's
    # a user and password of a managed broker, with its CA named
    explicit = client_options(username="ops", password="x", ca_file=str(creds / broker_tls.CA_FILE), env={})
    assert explicit["security_protocol"] == "SASL_SSL"
    # no CA anywhere: SASL_PLAINTEXT, as a developer's own broker without TLS (docs/adr/0031)
    (tmp_path / "intake.password").write_text("s3cret")
    bare = IntakeSettings(kafka_credentials_dir=str(tmp_path)).kafka_security()
    assert bare["security_protocol"] == "SASL_PLAINTEXT" and "ssl_context" not in bare
