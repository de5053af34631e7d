"""Certification on the real broker and server: result.approved in, certificates out — once each."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from pypdf import PdfReader

from binhchon_kit.metrics import MESSAGES_HANDLED
from binhchon_kit.signing import verify_document
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.fixtures import TopicReader, eventually
from certification.domain.certificates import add_months

pytestmark = pytest.mark.integration
PRODUCT = "Rượu nếp cẩm Đông Hưng – ủ men lá"


async def certificates(client, **params):
    return (await client.get("/registry.json", params=params)).json()


async def test_issue_once_verify_tamper_revoke_pdf(env, infra, mongo, unique, topic_prefix, auth):
    async with env.running() as cert:
        await env.approve(env.result("dossier-a", product=PRODUCT),
                          env.result("dossier-b", stars=5, recognised=False, points=93.0, product="Mật ong"))

        async def issued():
            body = await certificates(cert)
            return body["items"] if len(body["items"]) == 1 else None

        items = await eventually(issued, what="one certificate for the recognised result")
        number = items[0]["number"]
        assert number == "OCOP-UBNDTBG-2026-00001"
        assert items[0]["issued_on"] == env.clock().isoformat()
        assert items[0]["valid_until"] == add_months(date.fromisoformat(items[0]["decision"]["date"]), 36).isoformat()

        # a duplicate delivery, straight onto the topic: still one certificate
        async with TopicReader(infra.kafka, f"{topic_prefix}scoring.events") as reader:
            events = await reader.wait_for(lambda es: len(es) >= 2, what="the results on the topic")
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, **infra.kafka_client())
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
                            headers=auth("ubnd", "approver", authorities=("province:24",)))
        assert r.status_code == 201, r.text
        page = (await cert.get(f"/verify/{number}")).text
        assert "ĐÃ BỊ THU HỒI" in page and "Không đánh giá lại sau 36 tháng" in page
        assert (await certificates(cert))["items"] == []  # the registry lists valid certificates only
        assert (await cert.get("/verify/OCOP-NOPE-2026-00009")).status_code == 404

    # a full replay: a new consumer group reads scoring.events from the start and issues nothing new
    passed_over = MESSAGES_HANDLED.labels("certification-replay", "certification-replay.issuing", "not_concerned")
    before = passed_over._value.get()
    async with env.running("certification-replay") as replayed:
        async def replay_done():
            n = await mongo[f"certification_{unique}"]["inbox"].count_documents(
                {"handler": "certification-replay.issuing"})
            # the result not recognised is passed over by its content, with no inbox entry (ADR 0053)
            return (n >= 1 and passed_over._value.get() > before) or None

        await eventually(replay_done, what="the replay to reach the results")
        assert await env.db["events"].count_documents({"type": "certificate.issued"}) == 1
        del replayed


async def test_expiry_notices_once_with_two_replicas(env, clock):
    """Every date here comes from the service's own clock (Vietnam's date), never the machine's: the test passes
    at any hour in any time zone (it failed from 17:00 to 24:00 UTC when it dated by the machine)."""
    async with env.running() as cert:
        await env.approve(env.result("dossier-x", stars=3, points=61.5))

        async def issued():
            body = await certificates(cert)
            return body["items"] if len(body["items"]) == 1 else None

        item = (await eventually(issued, what="the certificate"))[0]
    number, until = item["number"], add_months(date.fromisoformat(item["decision"]["date"]), 36)
    assert item["valid_until"] == until.isoformat()

    clock.day = until - timedelta(days=10)
    fast = {"expiry_check_seconds": 0.2, "consumers_enabled": False}
    one, two = env.app(**fast), env.app(**fast)
    events = env.db["events"]
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
        assert "ĐÃ HẾT HIỆU LỰC" in page and until.strftime("%d/%m/%Y") in page
