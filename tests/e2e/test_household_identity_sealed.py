"""A household business's name and registration number are personal data (ADR 0048): on the real broker and store
a household's dossier goes through intake, scoring (a panel of seven scores it, the chair proposes, the
authority approves), certification (a certificate is issued) and notify (the producer is mailed). Its name and
number are in clear on no topic (the raw bytes of every record) and in no other service's store, while every page,
export and mail shows them; after the erasure every one of them shows ``[đã xoá]``, nothing anywhere holds them
any more, and ``binhchon-audit verify`` still passes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from binhchon_kit.personal import ERASED
from binhchon_kit.testing.clock import Clock
from binhchon_kit.testing.documents import upload_documents
from binhchon_kit.testing.fixtures import TopicReader, eventually
from binhchon_kit.testing.leaks import every_database, everything_on_the_topics, leaks
from binhchon_kit.testing.mail import Mailbox
from binhchon_kit.testing.personal import master_key_in
from binhchon_kit.testing.samples import CHE, CHE_CHANGES, MEMBERS, dossier_body, round_body

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def panel_body() -> dict[str, Any]:
    members = [{"id": "cm-1", "name": "Trần Văn Chủ", "organisation": "UBND tỉnh", "role": "chair"}]
    members += [{"id": m, "name": f"Thành viên {m}", "organisation": "Sở Nông nghiệp và Môi trường",
                 "role": "member"} for m in MEMBERS[1:]]
    return {"name": "Hội đồng OCOP tỉnh Bắc Giang", "members": members, "spread_threshold": 10,
            "quorum": {"fraction": 0.75, "chair_required": True}, "sessions": ["dossier", "samples"]}


@pytest.mark.timeout(600)
async def test_a_households_name_and_number_travel_sealed_and_are_erased_everywhere(
        infra, mongo, unique, topic_prefix, dev_keys, auth, token, tmp_path, four_services):
    name, number = f"Hộ kinh doanh Lương Thị Mai {unique}", f"HKD-{unique}".upper()
    identity = {"name": name, "number": number}
    clock = Clock()
    master_key = master_key_in(tmp_path)
    mailbox = Mailbox()
    mailbox.controller.start()
    sec = auth("tk-1", "secretariat")
    judge = {m: auth(m, "council_chair" if m == "cm-1" else "judge") for m in MEMBERS}
    try:
        async with four_services(infra, unique, topic_prefix, str(dev_keys[1]), clock, mailbox,
                                 token("notify", "service"), master_key) as services:
            intake, scoring, certification = services["intake"], services["scoring"], services["certification"]
            notify = services["notify"]
            round_id = (await intake.post("/rounds", headers=sec, json=round_body(
                f"HH{unique}", rulebook_id="ocop-2023", today=clock.today()))).json()["round_id"]
            r = await scoring.post(f"/rounds/{round_id}/panel", json=panel_body(), headers=sec)
            assert r.status_code == 201, r.text
            body = dossier_body(product="Chè Tân Cương", regno=number)
            body["producer"].update(kind="household", name=name)
            await upload_documents(intake, auth("mai", "applicant"))
            r = await intake.post(f"/rounds/{round_id}/dossiers", json=body, headers=auth("mai", "applicant"))
            assert r.status_code == 201, r.text
            dossier_id = r.json()["dossier_id"]
            shown = (await intake.get(f"/dossiers/{dossier_id}", headers=sec)).json()
            assert (shown["producer"]["name"], shown["producer"]["registration_number"]) == (name, number)
            listed = (await intake.get("/bindings", params={"registration_number": number}, headers=sec)).json()
            assert [(b["registration_number"], b["producer_name"]) for b in listed["items"]] == [(number, name)]
            r = await intake.post(f"/dossiers/{dossier_id}/accept", headers=sec,
                                  json={"product_group": "thực phẩm", "sample_code": "TP-01"})
            assert r.status_code == 201, r.text
            async with TopicReader(infra.kafka, f"{topic_prefix}intake.events") as reader:
                on_topic = await reader.wait_for(lambda es: any(e.type == "dossier.accepted" for e in es),
                                                 what="dossier.accepted on intake.events")
            accepted = next(e for e in on_topic if e.type == "dossier.accepted")
            assert accepted.data["producer_name"]["src"].endswith("#producer.name"), "a sealed copy on the wire"
            assert [h["data"]["producer_name"] for h in (await intake.get(
                f"/dossiers/{dossier_id}", headers=sec)).json()["history"] if h["type"] == "dossier.accepted"] == [name]

            async def scorable() -> list[dict[str, Any]] | None:
                items = (await scoring.get(f"/rounds/{round_id}/dossiers", headers=sec)).json()["items"]
                return items or None

            assert [d["producer_name"] for d in await eventually(scorable, what="scoring to open it")] == [name]
            for member, change in zip(MEMBERS, CHE_CHANGES, strict=True):
                r = await scoring.post(f"/dossiers/{dossier_id}/score-sheets", json={"scores": {**CHE, **change}},
                                       headers=judge[member])
                assert r.status_code == 201, r.text
            r = await scoring.post(f"/rounds/{round_id}/proposals", headers=judge["cm-1"])
            assert r.status_code == 201, r.text
            proposal_id = r.json()["proposal_id"]
            assert r.json()["rows"][0]["producer_name"] == name
            assert name in (await scoring.get(f"/proposals/{proposal_id}.csv", headers=sec)).text
            decision = {"number": "77/QĐ-UBND", "date": clock.today().isoformat(), "signer": "Nguyễn Văn Phó",
                        "authority": "UBND tỉnh Bắc Giang"}
            r = await scoring.post(f"/proposals/{proposal_id}/approval", json={"decision": decision},
                                   headers=auth("ubnd-1", "approver", authorities=("province:24",)))
            assert r.status_code == 201, r.text
            assert [e["producer_name"] for e in r.json()] == [name]

            async def issued() -> list[dict[str, Any]] | None:
                found = (await certification.get("/certificates", params={"dossier_id": dossier_id},
                                                  headers=sec)).json()["items"]
                return found or None

            certificate = (await eventually(issued, what="the certificate issued"))[0]
            assert certificate["holder"]["name"] == name and certificate["holder"]["registration_number"] == number
            cert_number = certificate["number"]
            signed = (await certification.get(f"/certificates/{cert_number}")).json()
            assert signed["certificate"]["holder"]["name"]["src"] and signed["holder_name"] == name, "signed sealed"
            assert name in (await certification.get(f"/verify/{cert_number}")).text
            registry = (await certification.get("/registry.json", params={"province_code": "24"})).json()["items"]
            assert [c["holder"]["name"] for c in registry if c["number"] == cert_number] == [name]
            pdf = await certification.get(f"/certificates/{cert_number}.pdf")
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

            async def mailed_by_name() -> bool | None:
                return True if any(name in text for to, _, text in mailbox.texts()
                                   if to == "htx.donghung@example.vn") else None

            await eventually(mailed_by_name, what="a mail greeting the household by its name")

            # nothing on the topics, nor in the other services' stores, holds the name or the number in clear
            records = await everything_on_the_topics(infra, topic_prefix)
            assert any(b"certificate.issued" in r for r in records)
            assert not sorted({what for r in records for what in leaks(r, identity)}), "clear on the topics"
            dumps = await every_database(mongo, unique)
            others = {where: leaks(blob, identity) for where, blob in dumps.items()
                      if not where.startswith(f"intake_{unique}.") and where != f"notify_{unique}.deliveries"
                      and leaks(blob, identity)}
            assert not others, f"clear in another service's store: {others}"

            # the erasure
            r = await intake.post(f"/producers/{number}/erasure", headers=sec)
            assert r.status_code == 201, r.text
            async with TopicReader(infra.kafka, f"{topic_prefix}intake.events") as reader:
                await reader.wait_for(lambda es: any(e.type == "personal_data.erased" for e in es),
                                      what="personal_data.erased on intake.events")

            async def blanked() -> bool | None:
                mails = await mongo[f"notify_{unique}"]["deliveries"].find({}).to_list()
                return True if mails and not any(name in str(m.get("text")) for m in mails) else None

            await eventually(blanked, what="notify to blank the mails that named the household")
            shown = (await intake.get(f"/dossiers/{dossier_id}", headers=sec)).json()
            assert (shown["producer"]["name"], shown["producer"]["registration_number"]) == (ERASED, ERASED)
            assert (await intake.get("/dossiers", params={"round_id": round_id}, headers=sec)
                    ).json()["items"][0]["producer"]["name"] == ERASED
            binding = await intake.get(f"/bindings/{listed['items'][0]['binding_id']}", headers=sec)
            assert binding.json()["registration_number"] == ERASED and name not in binding.text, binding.text
            # scoring and certification keep a key 60 s (ADR 0048), but drop it as they see the erasure: the clock
            # stands still, and their pages show the household erased as soon as they have consumed it
            async def scoring_erased() -> bool | None:
                items = (await scoring.get(f"/rounds/{round_id}/dossiers", headers=sec)).json()["items"]
                return True if [d["producer_name"] for d in items] == [ERASED] else None

            async def certification_erased() -> bool | None:
                holder = (await certification.get("/registry.json", params={"province_code": "24"})).json()
                return True if [c["holder"]["name"] for c in holder["items"]
                                if c["number"] == cert_number] == [ERASED] else None

            await eventually(scoring_erased, what="scoring's list to show the household erased, the clock still")
            await eventually(certification_erased, what="certification's registry to show it erased, clock still")
            csv = (await scoring.get(f"/proposals/{proposal_id}.csv", headers=sec)).text
            assert ERASED in csv and name not in csv
            certificate = (await eventually(issued, what="the certificate"))[0]
            assert certificate["holder"]["name"] == ERASED and certificate["holder"]["registration_number"] == ERASED
            assert ERASED in (await certification.get(f"/verify/{cert_number}")).text
            registry = (await certification.get("/registry.json", params={"province_code": "24"})).json()["items"]
            assert [c["holder"]["name"] for c in registry if c["number"] == cert_number] == [ERASED]
            log = (await notify.get(f"/dossiers/{dossier_id}/deliveries", headers=sec)).json()["items"]
            assert log and all(name not in json.dumps(d, ensure_ascii=False) for d in log)

        records = await everything_on_the_topics(infra, topic_prefix)
        assert not sorted({what for r in records for what in leaks(r, identity)}), "clear on the topics"
        dumps = await every_database(mongo, unique)
        everywhere = {where: leaks(blob, identity) for where, blob in dumps.items() if leaks(blob, identity)}
        assert not everywhere, f"clear in a store after the erasure: {everywhere}"
        audit = await asyncio.to_thread(
            subprocess.run, [str(BIN / "binhchon-audit"), "verify", "--bootstrap-servers", infra.kafka,
                             "--topic-prefix", topic_prefix, "--json"], capture_output=True, text=True, timeout=300)
        assert audit.returncode == 0 and json.loads(audit.stdout)["ok"], audit.stdout[-3000:] + audit.stderr[-3000:]
    finally:
        mailbox.controller.stop()
