"""The outside probe's forged events, on the real broker and server (issue 13, item 1; ADR 0026).

Anyone able to write to a topic put a made-up ``result.approved`` (hash ``fff…``, actor "attacker", no signature)
on ``scoring.events``: certification issued a real signed certificate and notify mailed the producer. A forged
``certificate.revoked`` mailed a false revocation notice. Here certification and notify run (in-process, their
own consumers on the real Kafka and FerretDB), genuine events flow through them, and the probe's two forgeries
are produced straight to the topics: no certificate is issued, no mail made, each forgery is in the topic's
dead letters with its reason, and the genuine certificate still verifies."""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binhchon_kit.canonical import GENESIS_HASH, HASH_ALG, cloudevent_hash
from binhchon_kit.contracts.common import DecisionReference, Level, Programme
from binhchon_kit.contracts.intake import DossierReceived
from binhchon_kit.contracts.registry import EventData
from binhchon_kit.contracts.scoring import Rating, ResultApproved
from binhchon_kit.envelope import format_time, schema_uri
from binhchon_kit.events import Actor, Cause, NewEvent
from binhchon_kit.eventstore import EventStore
from binhchon_kit.principals import ADMIN, client_options
from binhchon_kit.relay import Relay
from binhchon_kit.signing import Signer
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.clock import Clock
from binhchon_kit.testing.fixtures import TopicReader, eventually
from binhchon_kit.testing.mail import Mailbox
from binhchon_kit.testing.samples import dossier_body
from binhchon_kit.trust import dev_log_signer, signed
from certification.main import CertificationSettings
from certification.main import build as build_certification
from notify.main import NotifySettings
from notify.main import build as build_notify

pytestmark = pytest.mark.integration
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
DECISION = DecisionReference(number="88/QĐ-UBND", date=date(2026, 11, 20), signer="Nguyễn Thị Ký",
                             authority="UBND tỉnh Bắc Giang")




async def publish(mongo: Any, infra: Any, prefix: str, unique: str, service: str, subject: str,
                  data: EventData) -> None:
    """An event as ``service`` records and publishes it: its store, its relay, its (development) log key."""
    store = EventStore(mongo[f"{service}_{unique}"], source=f"/binhchon/{service}")
    await store.setup()
    stream = f"{service}-{subject}"
    await store.append(stream, await store.version(stream), NewEvent(data), subject=subject,
                       actor=Actor(f"system:{service}", ("system",)), cause=Cause("c", "c"))
    relay = Relay(store, infra.kafka, client_id=f"{service}-relay", topic_prefix=prefix,
                  signer=dev_log_signer(service))
    await relay.publish_pending()
    await relay._drop_producer()


def result(dossier_id: str, product: str) -> ResultApproved:
    return ResultApproved(
        dossier_id=dossier_id, round_id="round-1", programme=Programme.OCOP, level=Level.PROVINCE,
        rulebook_id="ocop-2023", rating=Rating(stars=4, recognised=True, label="4 sao"), points=78.25,
        decision=DECISION, goes_up_a_level=False, next_level=None, product_name=product,
        producer_name="Hợp tác xã Nông nghiệp Đông Hưng", producer_address="Xã Đông Hưng, Tỉnh Bắc Giang",
        province_code="24", certificate_validity_months=36, producer_registration_number="2400123456")


def forged(type_: str, source: str, subject: str, data: dict[str, Any], now: Any) -> dict[str, Any]:
    """A CloudEvent as the probe made one: well formed, with any source, actor and hash it likes."""
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "source": source, "type": type_, "subject": subject,
            "time": format_time(now), "datacontenttype": "application/json", "dataschema": schema_uri(type_, 1),
            "data": data, "correlationid": "probe", "causationid": "probe", "actorid": "attacker",
            "actorroles": "approver", "streamid": f"forged-{subject}", "streamversion": 1, "prevhash": GENESIS_HASH,
            "hashalg": HASH_ALG, "hash": "f" * 64}


async def produce(bootstrap: str, topic: str, event: dict[str, Any]) -> None:
    """Straight to the topic, as the broker's super user: what the probe did with no credentials, and what only a
    stolen admin password could still do now that the broker refuses everyone else (test_broker_access)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **client_options(ADMIN))
    await producer.start()
    try:
        await producer.send_and_wait(topic, json.dumps(event, ensure_ascii=False).encode(),
                                     key=event["subject"].encode())
    finally:
        await producer.stop()


async def dead_letters(bootstrap: str, topic: str, count: int) -> dict[str, dict[str, str]]:
    """The dead letters of ``topic``, by handler: each one's dlq-* headers (and the event id it carries)."""
    async with TopicReader(bootstrap, f"{topic}.dlq") as reader:
        records = await reader.wait_for_records(count, timeout=60)
    return {h["dlq-handler"]: {**h, "event_id": json.loads(r.value)["id"]}
            for r in records for h in [{k: v.decode() for k, v in r.headers}]}


async def test_the_probes_forged_approval_and_revocation_issue_nothing_and_mail_nobody(
        infra, mongo, unique, topic_prefix, dev_keys, auth) -> None:
    mailbox = Mailbox()
    mailbox.controller.start()
    clock = Clock()
    cert_settings = CertificationSettings(
        mongodb_url=infra.mongodb, mongodb_database=f"certification_{unique}", kafka_bootstrap_servers=infra.kafka,
        kafka_topic_prefix=topic_prefix, auth_public_keys_file=str(dev_keys[1]))
    certification = build_certification(cert_settings, clock=clock.today, now=clock)
    notify = build_notify(NotifySettings(
        mongodb_url=infra.mongodb, mongodb_database=f"notify_{unique}", kafka_bootstrap_servers=infra.kafka,
        kafka_topic_prefix=topic_prefix, auth_public_keys_file=str(dev_keys[1]), smtp_host="127.0.0.1",
        smtp_port=mailbox.controller.port, notify_poll_seconds=0.2, notify_backoff_seconds=0.1), clock=clock)
    genuine, victim = f"dossier-b-{unique}", f"dossier-a-{unique}"
    try:
        async with running(certification, "http://certification") as cert, running(notify, "http://notify"):
            # genuine facts: both producers' dossiers received (notify knows whom to mail), one result approved
            for dossier, regno in ((genuine, "2400123456"), (victim, "2400654321")):
                body = dossier_body(regno=regno)
                await publish(mongo, infra, topic_prefix, unique, "intake", dossier, DossierReceived(
                    dossier_id=dossier, round_id="round-1", round_code=f"RC{unique}", programme=Programme.OCOP,
                    level=Level.PROVINCE, receipt_number=f"RC{unique}/{regno}", received_at=clock(),
                    check_due_date=clock.today() + timedelta(days=3), producer=body["producer"],
                    product=body["product"], documents=body["documents"]))
            await publish(mongo, infra, topic_prefix, unique, "scoring", genuine, result(genuine, "Mật ong rừng"))

            async def issued() -> list[dict[str, Any]] | None:
                items: list[dict[str, Any]] = (await cert.get("/registry.json")).json()["items"]
                return items or None

            [certificate] = await eventually(issued, timeout=60, what="the genuine result's certificate")
            number = certificate["number"]

            # the probe: a made-up approval for the other dossier, and a revocation of the genuine certificate
            approval = forged("result.approved", "/binhchon/scoring", victim,
                              result(victim, "Sản phẩm giả").model_dump(mode="json"), clock())
            revocation = forged("certificate.revoked", "/binhchon/certification", genuine,
                                {"number": number, "reason": "Giả mạo", "revoked_on": clock.today().isoformat()},
                                clock())
            # the revocation better made: its hash right, signed by a key of its own under certification's kid
            revocation["hash"] = cloudevent_hash(revocation)
            attacker = Signer(Ed25519PrivateKey.generate())
            revocation = {**signed(revocation, attacker), "signaturekid": dev_log_signer("certification").kid}
            await produce(infra.kafka, f"{topic_prefix}scoring.events", approval)
            await produce(infra.kafka, f"{topic_prefix}certification.events", revocation)

            # each consumer that takes the type dead-letters the forgery, with the reason, and goes no further
            # (certification.ledger takes result.approved too: the prizes, ADR 0050)
            on_scoring = await dead_letters(infra.kafka, f"{topic_prefix}scoring.events", 3)
            assert set(on_scoring) == {"certification.issuing", "certification.ledger", "notify.scoring"}
            for letter in on_scoring.values():
                assert letter["event_id"] == approval["id"]
                assert letter["dlq-reason"].startswith("untrusted event: hash ffffffffffffffff… does not match")
            on_certification = await dead_letters(infra.kafka, f"{topic_prefix}certification.events", 1)
            assert set(on_certification) == {"notify.certification"}
            assert on_certification["notify.certification"]["event_id"] == revocation["id"]
            assert on_certification["notify.certification"]["dlq-reason"] == (
                "untrusted event: the signature is not certification's key "
                f"{dev_log_signer('certification').kid}'s over the event's hash")

            # never acted on: no certificate for the forged approval, the genuine one still valid
            assert [c["number"] for c in (await cert.get("/registry.json")).json()["items"]] == [number]
            page = (await cert.get(f"/verify/{number}")).text
            assert "CÒN HIỆU LỰC" in page
            # never remembered as handled either (a genuine event with that id would still be taken)
            for db in (mongo[f"certification_{unique}"], mongo[f"notify_{unique}"]):
                handled = [d["_id"] async for d in db["inbox"].find({})]
                assert not [h for h in handled if h.endswith((approval["id"], revocation["id"]))], handled
            # no mail about either forgery; the genuine events' mails all went
            deliveries = mongo[f"notify_{unique}"]["deliveries"]
            assert await deliveries.count_documents(
                {"about_event_id": {"$in": [approval["id"], revocation["id"]]}}) == 0

            async def genuine_mails_sent() -> list[str] | None:
                sent = [d["template"] async for d in deliveries.find({"status": "sent"})]
                return sorted(sent) if len(sent) >= 4 else None

            assert await eventually(genuine_mails_sent, timeout=60, what="the genuine mails") == [
                "certificate.issued", "dossier.received", "dossier.received", "result.approved"]
            assert len(mailbox.messages) == 4
            assert not [m for m in mailbox.messages if "thu hồi" in m["Subject"].lower()]
    finally:
        mailbox.controller.stop()
