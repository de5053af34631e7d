"""Kafka stopped during submits: receipts are still issued; the events go out once Kafka is back."""

from __future__ import annotations

import shutil

import pytest

from binhchon_kit.testing.fixtures import TopicReader, eventually
from binhchon_kit.testing.infra import REPO, NativeKafka
from binhchon_kit.topics import all_topics, ensure_topics

from ..conftest import dossier_body, intake_settings, round_body, running_intake, upload_documents

pytestmark = pytest.mark.integration


@pytest.fixture
async def own_kafka(infra, unique):
    kafka = NativeKafka(REPO / ".run" / f"outage-{unique}", credentials=infra.kafka_credentials)
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.stop()
        shutil.rmtree(kafka.dir, ignore_errors=True)  # a broker's data of its own: nothing to keep


async def test_receipts_during_outage_and_events_after(infra, own_kafka, unique, dev_keys, auth, mongo):
    prefix = f"o{unique}."
    await ensure_topics(own_kafka.bootstrap, all_topics(prefix), partitions=3)
    settings = intake_settings(infra, unique, prefix, str(dev_keys[1]))
    settings.kafka_bootstrap_servers = own_kafka.bootstrap
    async with running_intake(settings) as intake:
        await upload_documents(intake, auth("sample-uploader", "applicant"))
        sec = auth("sec-1", "secretariat")
        rnd = (await intake.post("/rounds", json=round_body(f"K{unique}"), headers=sec)).json()

        own_kafka.stop()
        receipts = []
        for n in range(5):
            r = await intake.post(f"/rounds/{rnd['round_id']}/dossiers",
                                  json=dossier_body(product=f"Chè Tân Cương số {n}"),
                                  headers=auth(f"producer-{n}", "applicant"))
            assert r.status_code == 201, r.text
            receipts.append(r.json())
        assert [r["receipt_number"] for r in receipts] == [f"K{unique}-{n:05d}".upper() for n in range(1, 6)]
        events = mongo[f"intake_{unique}"]["events"]  # waiting for Kafka, in the store (ADR 0014)
        waiting = {e["stream"] async for e in events.find({"unpublished": {"$exists": True}})}
        assert {r["dossier_id"] for r in receipts} <= waiting
        ready = await intake.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["mongodb"] == "ok"

        own_kafka.start()
        async with TopicReader(own_kafka.bootstrap, f"{prefix}intake.events") as reader:
            published = await reader.wait_for(
                lambda es: sum(e.type == "dossier.received" for e in es) >= 5, timeout=90,
                what="the five receipts' events after Kafka came back")
        ids = {e.subject for e in published if e.type == "dossier.received"}
        assert ids == {r["dossier_id"] for r in receipts}

        async def all_marked():
            return await events.count_documents({"unpublished": {"$exists": True}}) == 0 or None

        await eventually(all_marked, what="the relay to drain its outbox")
