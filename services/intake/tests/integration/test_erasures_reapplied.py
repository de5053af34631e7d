"""A key store restored from a backup made before an erasure gets the erasure back (ADR 0048): the restored
wrapped key would open the producer's sealed fields again; ``python -m intake.erasures reapply`` reads the
erasures recorded on intake.events (real broker) and deletes every key they name from the restored store (real
server), and running it again changes nothing."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from binhchon_kit.personal_keys import COLLECTION
from binhchon_kit.testing.fixtures import TopicReader

from ..conftest import dossier_body, round_body

pytestmark = pytest.mark.integration


async def test_a_restored_key_store_gets_every_recorded_erasure_back(intake, auth, infra, mongo, topic_prefix,
                                                                      unique):
    sec = auth("sec-1", "secretariat")
    r = await intake.post("/rounds", json=round_body(f"RE{unique}"), headers=sec)
    assert r.status_code == 201, r.text
    round_id = r.json()["round_id"]
    for regno, product in (("HKD-01-111", "Bánh đa Kế"), ("2400123456", "Mật ong rừng Lục Nam")):
        r = await intake.post(f"/rounds/{round_id}/dossiers", json=dossier_body(product=product, regno=regno),
                              headers=auth(f"applicant-{regno}", "applicant"))
        assert r.status_code == 201, r.text
    keys = mongo[f"intake_{unique}"][COLLECTION]
    backup = await keys.find({}).to_list()  # the nightly dump, before the erasure
    assert len(backup) == 2 and all("wrapped" in k for k in backup)

    r = await intake.post("/producers/HKD-01-111/erasure", headers=sec)
    assert r.status_code == 201, r.text
    async with TopicReader(infra.kafka, f"{topic_prefix}intake.events") as reader:
        await reader.wait_for(lambda es: any(e.type == "personal_data.erased" for e in es),
                              what="personal_data.erased on intake.events")
    erased_kid = next(k["_id"] for k in await keys.find({"erased": True}).to_list())
    kept_kid = next(k["_id"] for k in backup if k["_id"] != erased_kid)

    # the restore: the erased producer's wrapped key is back
    await keys.delete_many({})
    await keys.insert_many(backup)
    assert await keys.find_one({"_id": erased_kid, "wrapped": {"$exists": True}}) is not None

    env = {**os.environ, "MONGODB_URL": infra.mongodb, "MONGODB_DATABASE": f"intake_{unique}",
           "KAFKA_BOOTSTRAP_SERVERS": infra.kafka, "KAFKA_TOPIC_PREFIX": topic_prefix}

    def reapply() -> dict[str, object]:
        done = subprocess.run([sys.executable, "-m", "intake.erasures", "reapply"], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    first = await asyncio.to_thread(reapply)
    assert first == {"erasures": 1, "keys_named": 1, "keys_deleted": 1, "refused": []}
    assert await keys.find_one({"_id": erased_kid}) == {"_id": erased_kid, "erased": True}
    assert "wrapped" in (await keys.find_one({"_id": kept_kid}) or {}), "a producer not erased keeps its key"
    service = auth("notify", "service")
    assert (await intake.get(f"/personal-keys/{erased_kid}", headers=service)).status_code == 410
    assert (await intake.get(f"/personal-keys/{kept_kid}", headers=service)).status_code == 200

    again = await asyncio.to_thread(reapply)
    assert again == {"erasures": 1, "keys_named": 1, "keys_deleted": 0, "refused": []}, "idempotent"
    assert await keys.count_documents({}) == 2
