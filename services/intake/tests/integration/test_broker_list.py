"""KAFKA_BOOTSTRAP_SERVERS names a cluster as `host:port,host:port` (compose's ha overlay gives three brokers).
Every client of the service must read it as a list: FastStream took the whole string for one address, so the
consumers of a service given three brokers never connected (found by `make compose-test PROFILE=ha`)."""

from __future__ import annotations

import pytest

from binhchon_kit.testing.fixtures import TopicReader, eventually
from binhchon_kit.testing.infra import free_port

from ..conftest import intake_settings, round_body, running_intake

pytestmark = pytest.mark.integration


async def test_a_list_of_brokers_with_one_down_connects_the_consumers_and_the_relay(
        infra, unique, topic_prefix, dev_keys, auth):
    down = f"127.0.0.1:{free_port()}"  # a broker of the list that is not there
    settings = intake_settings(infra, unique, topic_prefix, str(dev_keys[1]))
    settings.kafka_bootstrap_servers = f"{down}, {infra.kafka}"
    assert settings.kafka_brokers == [down, infra.kafka]
    async with running_intake(settings) as intake:
        async def ready():
            r = await intake.get("/readyz")
            return r.json() if r.status_code == 200 else None

        checks = await eventually(ready, timeout=60, what="the consumers to connect through the second broker")
        assert checks["checks"]["kafka"] == "ok"
        opened = (await intake.post("/rounds", json=round_body(f"L{unique}"),
                                    headers=auth("sec-1", "secretariat"))).json()
        async with TopicReader(infra.kafka, f"{topic_prefix}intake.events") as reader:
            events = await reader.wait_for(lambda es: any(e.subject == opened["round_id"] for e in es), timeout=60,
                                           what="round.opened published through the list")
        assert [e.type for e in events if e.subject == opened["round_id"]] == ["round.opened"]
