"""result.approved (scoring's contract) → intake escalates to the parent round, once, whatever is replayed.

The upstream side is a real event store and relay publishing to the real scoring.events topic; the relay is
"killed" between publishing and marking, so the topic carries the event twice."""

from __future__ import annotations

from datetime import date

import pytest
from aiokafka import AIOKafkaProducer

from binhchon_kit.contracts.common import DecisionReference, Level, Programme
from binhchon_kit.contracts.scoring import Rating, ResultApproved
from binhchon_kit.events import Actor, Cause, NewEvent
from binhchon_kit.eventstore import EventStore
from binhchon_kit.metrics import MESSAGES_HANDLED
from binhchon_kit.relay import Relay
from binhchon_kit.testing.fixtures import TopicReader, eventually
from binhchon_kit.trust import dev_log_signer

from ..conftest import dossier_body, round_body

pytestmark = pytest.mark.integration
# scoring's development log key: what intake trusts scoring's events by in these tests (ADR 0026)
SCORING = dev_log_signer("scoring")


class Crash(Exception):
    pass


async def _approved_result(mongo, unique, dossier_id, round_id, goes_up: bool):
    store = EventStore(mongo[f"scoring_{unique}"], source="/binhchon/scoring")
    await store.setup()
    data = ResultApproved(
        dossier_id=dossier_id, round_id=round_id, programme=Programme.OCOP, level=Level.PROVINCE,
        rulebook_id="ocop-2025", rating=Rating(stars=5, recognised=True, label="5 sao"), points=92.5,
        decision=DecisionReference(number="123/QĐ-UBND", date=date(2026, 10, 1), signer="Nguyễn Văn A",
                                   authority="UBND tỉnh Bắc Giang"),
        goes_up_a_level=goes_up, next_level=Level.NATIONAL if goes_up else None,
        product_name="Mật ong rừng Lục Nam", producer_name="HTX Đông Hưng")
    version = await store.version(dossier_id)
    await store.append(dossier_id, version, NewEvent(data), subject=dossier_id,
                       actor=Actor("approver-1", ("approver",)), cause=Cause("corr-x", "http:corr-x"))
    return store


async def test_escalation_once_despite_relay_crash_and_redelivery(intake, auth, infra, mongo, unique, topic_prefix):
    sec = auth("sec-1", "secretariat")
    parent = (await intake.post("/rounds", json=round_body(f"N{unique}", level="national"), headers=sec)).json()
    child = (await intake.post("/rounds", json=round_body(f"P{unique}", parent_round_id=parent["round_id"]),
                               headers=sec)).json()
    receipt = (await intake.post(f"/rounds/{child['round_id']}/dossiers", json=dossier_body(),
                                 headers=auth("producer-1", "applicant"))).json()
    dossier_id = receipt["dossier_id"]

    store = await _approved_result(mongo, unique, dossier_id, child["round_id"], goes_up=True)

    async def crash_before_mark(_events):
        raise Crash("relay killed after publish, before mark")

    crashing = Relay(store, infra.kafka, client_id="scoring-relay-1", topic_prefix=topic_prefix, signer=SCORING,
                     before_mark=crash_before_mark)
    with pytest.raises(Crash):
        await crashing.publish_pending()
    await crashing._drop_producer()
    assert len(await store.pending_events("outbox", 10)) == 1  # not marked: a restarted relay publishes it again
    restarted = Relay(store, infra.kafka, client_id="scoring-relay-2", topic_prefix=topic_prefix,
                      signer=SCORING)
    assert await restarted.publish_pending() == 1
    await restarted._drop_producer()
    assert await store.pending_events("outbox", 10) == []

    async with TopicReader(infra.kafka, f"{topic_prefix}scoring.events") as reader:
        events = await reader.wait_for(lambda es: len(es) >= 2, what="the duplicated result.approved")
    assert [e.type for e in events] == ["result.approved", "result.approved"]
    assert events[0].id == events[1].id

    async def escalated():
        r = await intake.get("/dossiers", params={"round_id": parent["round_id"]}, headers=sec)
        return r.json()["items"] or None

    items = await eventually(escalated, what="the escalated dossier in the parent round")
    # a third delivery of the same event, straight onto the topic, must change nothing either
    raw = events[0]
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, **infra.kafka_client())
    await producer.start()
    try:
        await producer.send_and_wait(f"{topic_prefix}scoring.events", raw.to_bytes(), key=dossier_id.encode())
    finally:
        await producer.stop()

    async def inbox_counted_duplicates():
        db = mongo[f"intake_{unique}"]
        return await db["inbox"].count_documents({}) == 1 or None

    await eventually(inbox_counted_duplicates, what="the inbox entry")
    r = await intake.get("/dossiers", params={"round_id": parent["round_id"]}, headers=sec)
    assert len(r.json()["items"]) == 1 and r.json()["next"] is None
    escalated_dossier = items[0]
    assert escalated_dossier["escalated_from"]["dossier_id"] == dossier_id
    assert escalated_dossier["escalated_from"]["rating"] == "5 sao"
    assert escalated_dossier["product"]["name"] == "Mật ong rừng Lục Nam"
    assert escalated_dossier["round_id"] == parent["round_id"]
    assert escalated_dossier["status"] == "received"
    assert escalated_dossier["applicant_id"] == "system:intake"
    detail = (await intake.get(f"/dossiers/{escalated_dossier['dossier_id']}", headers=sec)).json()
    assert detail["history"][0]["type"] == "dossier.received"


async def test_result_that_stays_at_its_level_opens_nothing(intake, auth, infra, mongo, unique, topic_prefix):
    sec = auth("sec-1", "secretariat")
    parent = (await intake.post("/rounds", json=round_body(f"N{unique}", level="national"), headers=sec)).json()
    child = (await intake.post("/rounds", json=round_body(f"P{unique}", parent_round_id=parent["round_id"]),
                               headers=sec)).json()
    receipt = (await intake.post(f"/rounds/{child['round_id']}/dossiers", json=dossier_body(),
                                 headers=auth("producer-1", "applicant"))).json()
    passed_over = MESSAGES_HANDLED.labels("intake", "intake.escalation", "not_concerned")
    before = passed_over._value.get()
    store = await _approved_result(mongo, unique, receipt["dossier_id"], child["round_id"], goes_up=False)
    relay = Relay(store, infra.kafka, client_id="scoring-relay", topic_prefix=topic_prefix, signer=SCORING)
    assert await relay.publish_pending() == 1
    await relay._drop_producer()

    async def handled():
        return passed_over._value.get() > before or None

    # passed over by its content, without the handler or an inbox entry (ADR 0053)
    await eventually(handled, what="intake to pass result.approved over")
    assert await mongo[f"intake_{unique}"]["inbox"].count_documents({}) == 0
    r = await intake.get("/dossiers", params={"round_id": parent["round_id"]}, headers=sec)
    assert r.json()["items"] == [] and r.json()["next"] is None


async def test_unparseable_message_goes_to_dead_letter_and_consumer_goes_on(
        intake, auth, infra, mongo, unique, topic_prefix):
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, **infra.kafka_client())
    await producer.start()
    try:
        await producer.send_and_wait(f"{topic_prefix}scoring.events", b"{not json", key=b"dossier-x")
    finally:
        await producer.stop()
    async with TopicReader(infra.kafka, f"{topic_prefix}scoring.events.dlq") as reader:
        record = (await reader.wait_for_records(1))[0]
    headers = {k: v.decode() for k, v in record.headers}
    assert record.value == b"{not json"
    assert headers["dlq-reason"].startswith("unparseable CloudEvent")
    assert headers["dlq-handler"] == "intake.escalation"
    assert headers["dlq-source-topic"] == f"{topic_prefix}scoring.events"

    # the consumer is not stuck: a valid event after the bad one is handled
    sec = auth("sec-1", "secretariat")
    rnd = (await intake.post("/rounds", json=round_body(f"P{unique}"), headers=sec)).json()
    receipt = (await intake.post(f"/rounds/{rnd['round_id']}/dossiers", json=dossier_body(),
                                 headers=auth("producer-1", "applicant"))).json()
    store = await _approved_result(mongo, unique, receipt["dossier_id"], rnd["round_id"], goes_up=True)
    relay = Relay(store, infra.kafka, client_id="scoring-relay", topic_prefix=topic_prefix, signer=SCORING)
    await relay.publish_pending()
    await relay._drop_producer()

    async def handled():
        return await mongo[f"intake_{unique}"]["inbox"].count_documents({}) == 1 or None

    await eventually(handled, what="the valid event after the bad one")
