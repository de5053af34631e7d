"""What ops run to rotate one principal's broker password (README, "The broker's principals"; docs/adr/0031):
``infra/local/stack.sh rotate intake``, on a broker of the test's own so that no other test's clients see the new
password. After it the new password signs in, the old one does not, the files hold the new one with the same
modes, and every other principal signs in as before."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from binhchon_kit.principals import client_options, write_credentials
from binhchon_kit.testing.infra import REPO, NativeKafka

pytestmark = pytest.mark.integration

STACK = REPO / "infra" / "local" / "stack.sh"


@pytest.fixture
def own_broker(unique: str):
    directory = REPO / ".run" / f"rotation-{unique}"
    credentials = write_credentials(directory / "credentials")
    kafka = NativeKafka(directory / "kafka", credentials=credentials)
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()
        shutil.rmtree(directory, ignore_errors=True)  # a broker and passwords of its own: nothing to keep


async def signs_in(bootstrap: str, options: dict[str, Any]) -> bool:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=10000, **options)
    try:
        await producer.start()  # the first metadata request: the SASL handshake happens here
    except KafkaError:
        return False
    finally:
        await producer.stop()
    return True


async def rotate(broker: NativeKafka, principal: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BINHCHON_KAFKA_CREDENTIALS": str(broker.credentials),
           "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}
    return await asyncio.to_thread(subprocess.run, [str(STACK), "rotate", principal], env=env, capture_output=True,
                                   text=True, timeout=180)


def sign_in(credentials: Path, principal: str) -> dict[str, Any]:
    return client_options(principal, credentials_dir=str(credentials), env={})


async def test_a_rotated_broker_password_replaces_the_old_one(own_broker: NativeKafka) -> None:
    credentials = own_broker.credentials
    assert credentials is not None
    old = sign_in(credentials, "intake")
    old_password = (credentials / "intake.password").read_text()
    assert await signs_in(own_broker.bootstrap, old)

    done = await rotate(own_broker, "intake")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "intake has a new password" in done.stderr

    new_password = (credentials / "intake.password").read_text()
    assert new_password and new_password != old_password
    for name in ("intake.password", "intake.properties"):  # private, as write_credentials made them
        assert stat.S_IMODE((credentials / name).stat().st_mode) == 0o600, name
    properties = (credentials / "intake.properties").read_text()
    assert new_password in properties and old_password not in properties

    assert await signs_in(own_broker.bootstrap, sign_in(credentials, "intake"))
    assert not await signs_in(own_broker.bootstrap, old)  # the old password is refused at the handshake
    for other in ("scoring", "auditor", "admin"):
        assert await signs_in(own_broker.bootstrap, sign_in(credentials, other)), other


async def test_rotating_a_principal_that_does_not_exist_changes_nothing(own_broker: NativeKafka) -> None:
    credentials = own_broker.credentials
    assert credentials is not None
    before = {p.name: p.read_bytes() for p in credentials.iterdir()}
    done = await rotate(own_broker, "attacker")
    assert done.returncode == 1 and "no principal attacker" in done.stderr
    assert {p.name: p.read_bytes() for p in credentials.iterdir()} == before
