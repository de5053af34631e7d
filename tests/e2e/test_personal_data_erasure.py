"""A producer's personal data erased from a log kept forever (issue 13, item 7; ADR 0035), on the real broker
and store: a dossier is filed, notify mails its receipt, the secretariat accepts it (scoring and certification
hear of it), then the producer is erased. Nothing personal — the contact person's name, the phone, the e-mail,
the street — can then be read back from any record of any topic, from any collection of any service's database
(intake's key store restored from a backup made before the erasure included, once `intake.erasures` re-applied
the erasures: ADR 0048), or from anything the services logged; every service shows the fields as erased, and
`binhchon-audit verify` still passes on the topics (the hashes always covered the sealed form)."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from bson import json_util

from binhchon_kit.personal import ERASED, MasterKey
from binhchon_kit.personal_keys import SubjectKeys
from binhchon_kit.testing.clock import Clock
from binhchon_kit.testing.documents import upload_documents
from binhchon_kit.testing.fixtures import TopicReader, eventually
from binhchon_kit.testing.leaks import every_database, everything_on_the_topics, leaks
from binhchon_kit.testing.mail import Mailbox
from binhchon_kit.testing.personal import master_key_in
from binhchon_kit.testing.samples import dossier_body, round_body
from intake.erasures import reapply_from_settings
from intake.main import IntakeSettings
from notify.erasures import reapply_from_settings as reapply_in_notify
from notify.main import NotifySettings

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
REGISTRATION = "HKD-24-7788"




def personal(unique: str) -> dict[str, str]:
    """This test's producer's personal fields, unique to the run (so no other test's data can match)."""
    return {"person": f"Nguyễn Thị Lan {unique}", "phone": "0987.654.321",
            "email": f"lan.{unique}@example.vn", "street": f"Số 9 ngõ Vắng {unique}"}


@pytest.mark.timeout(600)
async def test_an_erased_producer_leaves_nothing_personal_anywhere_and_the_log_still_verifies(
        infra, mongo, unique, topic_prefix, dev_keys, auth, token, tmp_path, caplog, capfd, four_services):
    caplog.set_level(logging.INFO)  # what the services log in production (DEBUG is a developer's switch)
    fields = personal(unique)
    clock = Clock()
    master_key = master_key_in(tmp_path)
    mailbox = Mailbox()
    mailbox.controller.start()
    sec = auth("secretary", "secretariat")
    try:
        async with four_services(infra, unique, topic_prefix, str(dev_keys[1]), clock, mailbox,
                                 token("notify", "service"), master_key) as services:
            intake, notify = services["intake"], services["notify"]
            r = await intake.post("/rounds", headers=sec, json=round_body(f"PD{unique}", today=clock.today()))
            assert r.status_code == 201, r.text
            round_id = r.json()["round_id"]
            body = dossier_body(product="Miến dong Sơn Động", regno=REGISTRATION)
            body["producer"].update(kind="household", name="Hộ kinh doanh Lan Sơn Động")
            body["producer"]["address"]["street"] = fields["street"]
            body["producer"]["contact"] = {k: fields[k] for k in ("person", "phone", "email")}
            await upload_documents(intake, auth("lan", "applicant"))
            r = await intake.post(f"/rounds/{round_id}/dossiers", json=body, headers=auth("lan", "applicant"))
            assert r.status_code == 201, r.text
            dossier_id = r.json()["dossier_id"]

            # the fields open for those who may read them, and the mail goes to the address
            shown = (await intake.get(f"/dossiers/{dossier_id}", headers=sec)).json()
            assert shown["producer"]["contact"] == {k: fields[k] for k in ("person", "phone", "email")}
            assert shown["producer"]["address"]["street"] == fields["street"]
            await eventually(lambda: _mailed(mailbox, fields["email"]), what="the receipt mailed to the producer")
            r = await intake.post(f"/dossiers/{dossier_id}/accept", headers=sec,
                                  json={"product_group": "thực phẩm", "sample_code": "TP-09"})
            assert r.status_code == 201, r.text
            kept = await mongo[f"intake_{unique}"]["dossiers"].find_one({"_id": dossier_id})
            kid = kept["producer"]["contact"]["email"]["kid"]
            service = {"Authorization": f"Bearer {token('notify', 'service')}"}
            assert (await intake.get(f"/personal-keys/{kid}", headers=service)).status_code == 200
            assert (await intake.get(f"/personal-keys/{kid}", headers=auth("lan", "applicant"))).status_code == 403

            # last night's backup of intake's key store: it holds the producer's key, wrapped
            backup = await mongo[f"intake_{unique}"]["personal_keys"].find({}).to_list()
            assert [k["_id"] for k in backup] == [kid] and "wrapped" in backup[0]
            # and of notify's database, where the mails it made hold the address it opened
            notify_backup = {name: await mongo[f"notify_{unique}"][name].find({}).to_list()
                             for name in ("contacts", "deliveries")}
            assert leaks(json_util.dumps(notify_backup["deliveries"], ensure_ascii=False).encode(), fields)

            # the erasure
            r = await intake.post(f"/producers/{REGISTRATION}/erasure", headers=auth("lan", "applicant"))
            assert r.status_code == 403, "a producer's data is erased by the secretariat, on request"
            r = await intake.post(f"/producers/{REGISTRATION}/erasure", headers=sec)
            assert r.status_code == 201, r.text
            assert r.json()["dossier_ids"] == [dossier_id] and r.json()["erased_keys"] == 1
            assert (await intake.post(f"/producers/{REGISTRATION}/erasure", headers=sec)).status_code == 404
            assert (await intake.get(f"/personal-keys/{kid}", headers=service)).status_code == 410

            async with TopicReader(infra.kafka, f"{topic_prefix}intake.events") as reader:
                await reader.wait_for(lambda es: any(e.type == "personal_data.erased" for e in es),
                                      what="personal_data.erased on intake.events")

            async def forgotten() -> bool | None:
                contact = await mongo[f"notify_{unique}"]["contacts"].find_one({"_id": dossier_id})
                return True if contact and contact.get("erased") else None

            await eventually(forgotten, what="notify to drop the producer's address")

            # every service shows the fields as erased
            shown = (await intake.get(f"/dossiers/{dossier_id}", headers=sec)).json()
            assert shown["producer"]["contact"] == {"person": ERASED, "phone": ERASED, "email": ERASED}
            assert shown["producer"]["address"]["street"] == ERASED
            listed = (await intake.get("/dossiers", params={"round_id": round_id}, headers=sec)).json()["items"]
            assert listed[0]["producer"]["contact"]["email"] == ERASED
            log = (await notify.get(f"/dossiers/{dossier_id}/deliveries", headers=sec)).json()["items"]
            assert log and all(d["address"] == ERASED for d in log if d["recipient_id"].startswith("producer:"))

        # the backups restored (stores lost after the erasure) hold the producer's key and address again, until ops
        # re-apply the erasures recorded on intake.events (ADR 0048)
        restored = mongo[f"intake_{unique}"]["personal_keys"]
        await restored.delete_many({})
        await restored.insert_many(backup)
        assert await SubjectKeys(restored, MasterKey.from_file(master_key)).key(kid) is not None
        settings = IntakeSettings(mongodb_url=infra.mongodb, mongodb_database=f"intake_{unique}",
                                  kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=topic_prefix)
        done = await reapply_from_settings(settings)
        assert (done.erasures, done.keys_deleted, done.refused) == (1, 1, [])
        assert await SubjectKeys(restored, MasterKey.from_file(master_key)).key(kid) is None
        assert await restored.find_one({"_id": kid}) == {"_id": kid, "erased": True}
        notify_db = mongo[f"notify_{unique}"]
        for name, docs in notify_backup.items():
            await notify_db[name].delete_many({})
            await notify_db[name].insert_many(docs)
        forgotten = await reapply_in_notify(NotifySettings(
            mongodb_url=infra.mongodb, mongodb_database=f"notify_{unique}", kafka_bootstrap_servers=infra.kafka,
            kafka_topic_prefix=topic_prefix))
        assert forgotten.erasures == 1 and forgotten.contacts_erased == 1 and forgotten.deliveries_erased >= 1
        again = await reapply_in_notify(NotifySettings(
            mongodb_url=infra.mongodb, mongodb_database=f"notify_{unique}", kafka_bootstrap_servers=infra.kafka,
            kafka_topic_prefix=topic_prefix))
        assert (again.contacts_erased, again.deliveries_erased) == (0, 0), "idempotent"

        # nothing personal can be read back: the topics, every database, the logs
        records = await everything_on_the_topics(infra, topic_prefix)
        assert any(b"personal_data.erased" in r for r in records) and any(b"dossier.received" in r for r in records)
        on_topics = sorted({name for r in records for name in leaks(r, fields)})
        assert not on_topics, f"personal fields readable on the topics: {on_topics}"
        dumps = await every_database(mongo, unique)
        assert {f"intake_{unique}.events", f"notify_{unique}.deliveries", f"scoring_{unique}.events"} <= set(dumps)
        in_stores = {where: leaks(blob, fields) for where, blob in dumps.items() if leaks(blob, fields)}
        assert not in_stores, f"personal fields readable in the stores: {in_stores}"
        # (the test's own SMTP server, aiosmtpd's "mail.log", stands for the recipient's mail system: it logs the
        # address it receives for, as any relay does; it is not one of ours)
        logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
                           if r.name != "mail.log").encode("utf-8")
        out, err = capfd.readouterr()
        printed = "\n".join(line for line in (out + err).splitlines() if '"logger": "mail.log"' not in line)
        in_logs = leaks(logged + printed.encode("utf-8"), fields)
        assert caplog.records and not in_logs, f"personal fields in the logs: {in_logs}"

        # and the log is as it was: every hash and link verifies without any key
        audit = await asyncio.to_thread(
            subprocess.run, [str(BIN / "binhchon-audit"), "verify", "--bootstrap-servers", infra.kafka,
                             "--topic-prefix", topic_prefix, "--json"], capture_output=True, text=True, timeout=300)
        assert audit.returncode == 0 and json.loads(audit.stdout)["ok"], audit.stdout[-3000:] + audit.stderr[-3000:]
        print("audit verify after the erasure:", json.dumps(json.loads(audit.stdout)["summary"]))
    finally:
        mailbox.controller.stop()


async def _mailed(mailbox: Mailbox, address: str) -> bool | None:
    return True if any(m["To"] == address for m in mailbox.messages) else None
