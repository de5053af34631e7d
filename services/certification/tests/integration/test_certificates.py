"""Certification on the real broker and server: result.approved in, certificates out — once each."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from pypdf import PdfReader

from binhchon_kit.contracts.common import DecisionReference, Level, Programme
from binhchon_kit.contracts.scoring import Rating, ResultApproved
from binhchon_kit.events import Actor, Cause, NewEvent
from binhchon_kit.eventstore import EventStore
from binhchon_kit.relay import Relay
from binhchon_kit.signing import verify_document
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.fixtures import TopicReader, eventually
from certification.domain.certificates import add_months
from certification.main import CertificationSettings, build

pytestmark = pytest.mark.integration
PRODUCT = "Rượu nếp cẩm Đông Hưng – ủ men lá"
DECISION = DecisionReference(number="88/QĐ-UBND", date=date(2026, 11, 20), signer="Nguyễn Thị Ký",
                             authority="UBND tỉnh Bắc Giang")


class Clock:
    def __init__(self, day: date | None = None) -> None:
        self.day = day or date.today()

    def __call__(self) -> date:
        return self.day


def settings(infra, unique, prefix, key, name="certification", **over: Any) -> CertificationSettings:
    return CertificationSettings(service_name=name, mongodb_url=infra.mongodb,
                                 mongodb_database=f"certification_{unique}", kafka_bootstrap_servers=infra.kafka,
                                 kafka_topic_prefix=prefix, auth_public_keys_file=key,
                                 cert_signing_key_file=over.pop("signing_key", ""), **over)


async def publish_results(mongo, infra, unique, prefix, results: list[dict[str, Any]]) -> EventStore:
    store = EventStore(mongo[f"scoring_{unique}"], source="/binhchon/scoring")
    await store.setup()
    for result in results:
        data = ResultApproved(
            dossier_id=result["dossier_id"], round_id="round-1", programme=Programme.OCOP, level=Level.PROVINCE,
            rulebook_id="ocop-2023", rating=Rating(stars=result["stars"], recognised=result["recognised"],
                                                   label=f"{result['stars']} sao"),
            points=result["points"], decision=DECISION,
            goes_up_a_level=not result["recognised"], next_level=None if result["recognised"] else Level.NATIONAL,
            product_name=result.get("product", PRODUCT), producer_name="Hợp tác xã Đông Hưng",
            producer_address="Xã Đông Hưng, Huyện Lục Nam, Tỉnh Bắc Giang", province_code="24",
            certificate_validity_months=36)
        await store.append(f"scoring-{result['dossier_id']}", await store.version(f"scoring-{result['dossier_id']}"),
                           NewEvent("result.approved", data), subject=result["dossier_id"],
                           actor=Actor("ubnd", ("approver",)), cause=Cause("c", "c"))
    relay = Relay(store, infra.kafka, client_id="scoring-relay", topic_prefix=prefix)
    await relay.publish_pending()
    await relay._drop_producer()
    return store


async def certificates(client, **params):
    return (await client.get("/registry.json", params=params)).json()


async def test_issue_once_verify_tamper_revoke_pdf(infra, mongo, unique, topic_prefix, dev_keys, auth, tmp_path):
    key = str(dev_keys[1])
    async with running(build(settings(infra, unique, topic_prefix, key)), "http://cert") as cert:
        await publish_results(mongo, infra, unique, topic_prefix, [
            {"dossier_id": "dossier-a", "stars": 4, "recognised": True, "points": 78.25},
            {"dossier_id": "dossier-b", "stars": 5, "recognised": False, "points": 93.0, "product": "Mật ong"}])

        async def issued():
            body = await certificates(cert)
            return body["items"] if body["total"] == 1 else None

        items = await eventually(issued, what="one certificate for the recognised result")
        number = items[0]["number"]
        assert number.startswith("OCOP-UBNDTBG-") and number.endswith("-00001")
        assert items[0]["valid_until"] == add_months(date.today(), 36).isoformat() or items[0]["valid_until"]

        # a duplicate delivery, straight onto the topic: still one certificate
        async with TopicReader(infra.kafka, f"{topic_prefix}scoring.events") as reader:
            events = await reader.wait_for(lambda es: len(es) >= 2, what="the results on the topic")
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka)
        await producer.start()
        try:
            for event in events:
                await producer.send_and_wait(f"{topic_prefix}scoring.events", event.to_bytes(),
                                             key=event.subject.encode())
        finally:
            await producer.stop()

        async def redelivered_handled():
            n = await mongo[f"certification_{unique}"]["inbox"].count_documents({})
            return n >= 2 or None

        await eventually(redelivered_handled, what="the results handled")

        # the signed JSON verifies with the published key, and fails once altered
        signed = (await cert.get(f"/certificates/{number}")).json()
        jwks = (await cert.get("/.well-known/jwks.json")).json()
        assert signed["certificate"]["product_name"] == PRODUCT
        assert verify_document(signed, jwks) == (True, f"signed by key {jwks['keys'][0]['kid']}")
        tampered = json.loads(json.dumps(signed))
        tampered["certificate"]["points"] = 95.0
        valid, why = verify_document(tampered, jwks)
        assert not valid and "altered" in why

        page = (await cert.get(f"/verify/{number}")).text
        assert "CÒN HIỆU LỰC" in page and PRODUCT in page

        pdf = await cert.get(f"/certificates/{number}.pdf")
        assert pdf.headers["content-type"] == "application/pdf"
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
        assert PRODUCT in text and number in text

        r = await cert.post(f"/certificates/{number}/revocation", json={"reason": "Không đánh giá lại sau 36 tháng"},
                            headers=auth("sec", "secretariat"))
        assert r.status_code == 403
        r = await cert.post(f"/certificates/{number}/revocation", json={"reason": "Không đánh giá lại sau 36 tháng"},
                            headers=auth("ubnd", "approver"))
        assert r.status_code == 201, r.text
        page = (await cert.get(f"/verify/{number}")).text
        assert "ĐÃ BỊ THU HỒI" in page and "Không đánh giá lại sau 36 tháng" in page
        assert (await certificates(cert))["total"] == 0  # the registry lists valid certificates only
        assert (await cert.get("/verify/OCOP-NOPE-2026-00009")).status_code == 404

    # a full replay: a new consumer group reads scoring.events from the start and issues nothing new
    async with running(build(settings(infra, unique, topic_prefix, key, name="certification-replay",
                                      consumers_enabled=True)), "http://cert2") as replayed:
        async def replay_done():
            n = await mongo[f"certification_{unique}"]["inbox"].count_documents(
                {"handler": "certification-replay.issuing"})
            return n >= 2 or None

        await eventually(replay_done, what="the replay to reach the results")
        events = mongo[f"certification_{unique}"]["events"]
        assert await events.count_documents({"type": "certificate.issued"}) == 1
        del replayed


async def test_expiry_notices_once_with_two_replicas(infra, mongo, unique, topic_prefix, dev_keys):
    key = str(dev_keys[1])
    issue_day = date.today()
    async with running(build(settings(infra, unique, topic_prefix, key)), "http://cert") as cert:
        await publish_results(mongo, infra, unique, topic_prefix, [
            {"dossier_id": "dossier-x", "stars": 3, "recognised": True, "points": 61.5}])

        async def issued():
            body = await certificates(cert)
            return body["items"] if body["total"] == 1 else None

        number = (await eventually(issued, what="the certificate"))[0]["number"]

    until = add_months(issue_day, 36)
    clock = Clock(until - timedelta(days=10))
    fast = {"expiry_check_seconds": 0.2, "consumers_enabled": False}
    one = build(settings(infra, unique, topic_prefix, key, **fast), clock=clock)
    two = build(settings(infra, unique, topic_prefix, key, **fast), clock=clock)
    events = mongo[f"certification_{unique}"]["events"]
    async with running(one, "http://one"), running(two, "http://two") as second:
        async def told():
            return await events.count_documents({"type": "certificate.expiring"}) >= 1 or None

        await eventually(told, what="certificate.expiring")
        clock.day = until + timedelta(days=1)

        async def ended():
            return await events.count_documents({"type": "certificate.expired"}) >= 1 or None

        await eventually(ended, what="certificate.expired")
        for _ in range(5):  # several more passes of both replicas
            await one.state.certification.send_expiry_notices()
            await two.state.certification.send_expiry_notices()
        assert await events.count_documents({"type": "certificate.expiring"}) == 1
        assert await events.count_documents({"type": "certificate.expired"}) == 1
        page = (await second.get(f"/verify/{number}")).text
        assert "ĐÃ HẾT HIỆU LỰC" in page


async def test_ceremony_invites_the_holders_and_a_new_rating_supersedes(infra, mongo, unique, topic_prefix, dev_keys,
                                                                        auth):
    key = str(dev_keys[1])
    async with running(build(settings(infra, unique, topic_prefix, key)), "http://cert") as cert:
        await publish_results(mongo, infra, unique, topic_prefix, [
            {"dossier_id": "dossier-1", "stars": 3, "recognised": True, "points": 55.0},
            {"dossier_id": "dossier-2", "stars": 4, "recognised": True, "points": 80.0, "product": "Chè Tân Cương"}])

        async def two():
            body = await certificates(cert)
            return body["items"] if body["total"] == 2 else None

        items = await eventually(two, what="two certificates")
        r = await cert.post("/ceremonies", headers=auth("sec", "secretariat"), json={
            "round_id": "round-1", "title": "Lễ công bố và trao giấy chứng nhận sản phẩm OCOP năm 2026",
            "on": "2026-12-28", "at": "08:00", "place": "Hội trường UBND tỉnh Bắc Giang"})
        assert r.status_code == 201, r.text
        ceremony = r.json()
        assert sorted(i["certificate_number"] for i in ceremony["invitees"]) == sorted(i["number"] for i in items)
        assert ceremony["invitation_days_before"] == 3 and ceremony["confirmation_days_before"] == 1

        # the same product rated again (a later round): the new certificate supersedes the first
        first = next(i for i in items if i["product_name"] == PRODUCT)
        await publish_results(mongo, infra, unique, topic_prefix, [
            {"dossier_id": "dossier-9", "stars": 4, "recognised": True, "points": 79.0}])

        async def superseded():
            page = (await cert.get(f"/verify/{first['number']}")).text
            return page if "thay thế" in page else None

        page = await eventually(superseded, what="the older certificate superseded")
        listed = await certificates(cert)
        assert listed["total"] == 2  # the superseded one left the registry, the new one joined it
        newer = next(i for i in listed["items"] if i["product_name"] == PRODUCT)
        assert newer["supersedes"] == first["number"] and newer["number"] in page
