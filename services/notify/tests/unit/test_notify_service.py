"""Notify's service layer with no server: an event becomes one delivery per message, sent once over a fake mail
channel (also by two replicas at once, also when the event comes again), retried after a failure and failed with
the reason after the last attempt; an event whose facts have not come waits, is told when they come, and is
dead-lettered with the reason when they never do; old history tells nobody.

The other services' events are built as their stores record them, at times the test chooses (the service's
clock decides what is old news); assertions read the ``deliveries`` and ``parked`` documents the delivery log
and staff pages show, the mails the channel got, and the notification events in notify's store."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from binhchon_kit.contracts.certification import CertificateIssued
from binhchon_kit.contracts.common import Document, Level, Producer, Product, Programme
from binhchon_kit.contracts.intake import DossierAccepted, DossierReceived
from binhchon_kit.contracts.scoring import ProposalRow, ResultProposed
from binhchon_kit.events import RecordedEvent
from binhchon_kit.metrics import MESSAGES_HANDLED
from binhchon_kit.personal import seal
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.testing.memory import FixedClock, memory_runtime, recorded_at
from binhchon_kit.testing.samples import dossier_body
from notify.adapters.channels import DeliveryError, Webhook
from notify.adapters.templates import Templates
from notify.domain.messages import Message, Recipient
from notify.service import Notify

NOW = datetime(2026, 11, 22, 23, 26, tzinfo=UTC)  # 06:26 on 23/11 in Hà Nội
DOSSIER = "dossier-unit-1"
PRODUCER_MAIL = "htx.donghung@example.vn"


class FakeMail:
    """The mail channel, keeping what it was asked to send; ``failures`` sends fail first. Each send yields to
    the event loop, as a real SMTP exchange does, so two replicas' passes interleave."""

    def __init__(self, failures: int = 0) -> None:
        self.sent: list[dict[str, str]] = []
        self.failures = failures

    async def send(self, to: str, subject: str, text: str, html: str, message_id: str) -> None:
        await asyncio.sleep(0)
        if self.failures:
            self.failures -= 1
            raise DeliveryError("421 mail server busy, try again later")
        self.sent.append({"to": to, "subject": subject, "text": text, "message_id": message_id})

    async def close_idle(self) -> None:
        pass

    async def close(self) -> None:
        pass


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def mail() -> FakeMail:
    return FakeMail()


def replica(runtime: Any, mail: FakeMail, clock: FixedClock) -> Notify:
    return Notify(runtime, Templates(None), mail, Webhook(),  # type: ignore[arg-type]
                  certification_url="https://chungnhan.example.vn", intake_url="https://hoso.example.vn",
                  max_attempts=2, backoff_seconds=60, max_event_age=timedelta(hours=72),
                  fact_wait=timedelta(hours=24), lease=timedelta(minutes=2), clock=clock)


@pytest.fixture
def runtime(clock: FixedClock) -> Any:
    return memory_runtime(ServiceSettings(service_name="notify"), {}, clock)


@pytest.fixture
def svc(runtime: Any, mail: FakeMail, clock: FixedClock) -> Notify:
    return replica(runtime, mail, clock)


def received(at: datetime) -> RecordedEvent:
    body = dossier_body()
    data = DossierReceived(
        dossier_id=DOSSIER, round_id="round-1", round_code="BG-OCOP-2026-1", programme=Programme.OCOP,
        level=Level.PROVINCE, receipt_number="BG-OCOP-2026-1-00001", received_at=at, check_due_date=date(2026, 12, 7),
        producer=Producer.model_validate(body["producer"]), product=Product.model_validate(body["product"]),
        documents=[Document.model_validate(d) for d in body["documents"]])
    return recorded_at(at, "intake", DOSSIER, data)


def accepted(at: datetime) -> RecordedEvent:
    data = DossierAccepted(round_id="round-1", rulebook_id="ocop-2025", programme=Programme.OCOP,
                           level=Level.PROVINCE, product_group="thực phẩm", sample_code="MAU-001",
                           result_due_date=date(2027, 1, 15), product_name="Mật ong rừng Lục Nam",
                           producer_name="Hợp tác xã Nông nghiệp Đông Hưng")
    return recorded_at(at, "intake", DOSSIER, data, version=2)


async def deliveries(svc: Notify, **query: Any) -> list[dict[str, Any]]:
    return await svc.db["deliveries"].find(query).to_list()


async def notifications(svc: Notify) -> list[RecordedEvent]:
    return [e async for e in svc.rt.store.read_all()]


async def test_a_receipt_is_mailed_to_the_producer_once_and_recorded_as_sent(svc: Notify, mail: FakeMail) -> None:
    event = received(NOW)

    await svc.on_event(event)
    assert await svc.deliver_due() == 1

    [sent] = mail.sent
    assert sent["to"] == PRODUCER_MAIL and "BG-OCOP-2026-1-00001" in sent["subject"] + sent["text"]
    [delivery] = await deliveries(svc)
    assert (delivery["status"], delivery["attempts"], delivery["template"]) == ("sent", 1, "dossier.received")
    [notice] = await notifications(svc)
    assert (notice.type, notice.data["about_event_id"], notice.subject) == ("notification.sent", event.id, DOSSIER)
    assert await svc.deliver_due() == 0


async def test_the_outcome_event_carries_the_services_clock_not_the_machines(svc: Notify, mail: FakeMail,
                                                                            clock: FixedClock) -> None:
    clock.advance(timedelta(days=9, milliseconds=1.5))  # days ahead of any machine, and a fraction of a millisecond
    await svc.on_event(received(clock.now))
    await svc.deliver_due()

    [notice] = await notifications(svc)
    assert notice.time == NOW + timedelta(days=9, milliseconds=1)  # the store keeps milliseconds
    assert notice.to_cloudevent().time == "2026-12-01T23:26:00.001Z"


async def test_the_same_event_again_sends_nothing_more(svc: Notify, mail: FakeMail) -> None:
    event = received(NOW)
    await svc.on_event(event)
    await svc.deliver_due()

    await svc.on_event(event)  # a redelivery, or a replay of the topic from its start
    await svc.deliver_due()

    assert len(mail.sent) == 1
    assert len(await deliveries(svc)) == 1


NUMBER = "2400123456"


def filed_sealed(number: str = NUMBER) -> RecordedEvent:
    """dossier.received v4: an organisation's registration number sealed by its key until it is verified."""
    body = dossier_body()
    body["producer"]["registration_number"] = seal(bytes(32), "psk-" + "3" * 32, number, event_id=f"{DOSSIER}-1",
                                                   path="producer.registration_number")
    return recorded_at(NOW, "intake", DOSSIER, DossierReceived.model_validate({
        **body, "dossier_id": DOSSIER, "round_id": "round-1", "round_code": "BG-OCOP-2026-1", "programme": "OCOP",
        "level": "province", "receipt_number": "BG-OCOP-2026-1-00001", "received_at": NOW,
        "check_due_date": date(2026, 12, 7)}))


def verified(number: str = NUMBER) -> RecordedEvent:
    return recorded_at(NOW, "intake", DOSSIER, DossierAccepted(
        round_id="round-1", rulebook_id="ocop-2025", programme=Programme.OCOP, level=Level.PROVINCE,
        product_group="thực phẩm", sample_code="MAU-001", result_due_date=date(2027, 1, 15),
        product_name="Mật ong rừng Lục Nam", producer_name="HTX Đông Hưng", producer_registration_number=number),
        version=2)


def certificate_issued() -> RecordedEvent:
    return recorded_at(NOW, "certification", DOSSIER, CertificateIssued(
        certificate_id="certificate-1", number="OCOP-UBNDTBG-2026-00001", dossier_id=DOSSIER, round_id="round-1",
        programme=Programme.OCOP, level=Level.PROVINCE, product_name="Mật ong rừng Lục Nam",
        holder={"name": "HTX Đông Hưng", "address": "Xã Đông Hưng"}, rating_label="4 sao", stars=4, points=78.5,
        decision={"number": "123/QĐ-UBND", "date": "2026-12-20", "signer": "Trần Văn Ký",
                  "authority": "UBND tỉnh Bắc Giang"},
        issued_on=date(2026, 12, 21), valid_until=date(2029, 12, 21), issuer="UBND tỉnh Bắc Giang",
        rulebook_id="ocop-2025", result_event_id="r", signature="s", key_id="k"))


async def test_an_event_met_before_and_again_after_the_acceptance_is_mailed_once(svc: Notify,
                                                                                  mail: FakeMail) -> None:
    """Notify catching up after a kill may handle a certificate.issued (certification's topic) before the
    dossier's acceptance (intake's), and meet it again after the next kill. The acceptance changes the producer's
    recipient id (its sealed registration number's key id becomes the number, ADR 0048): the message is still
    keyed as it was made, so the certificate is mailed once (the fault suite once found it mailed twice)."""
    issued = certificate_issued()
    for event in (filed_sealed(), issued, verified(), issued):  # the certificate before the acceptance, and after
        await svc.on_event(event)
        await svc.deliver_due()

    certificate_mails = await deliveries(svc, template="certificate.issued")
    assert [(d["status"], d["recipient_id"]) for d in certificate_mails] == [("sent", f"producer:{NUMBER}")]
    made = sorted(d["template"] for d in await deliveries(svc))
    assert made == ["certificate.issued", "dossier.accepted", "dossier.received"]  # each once
    assert [m["to"] for m in mail.sent] == [PRODUCER_MAIL] * 3
    assert (await svc.db["contacts"].find_one({"_id": DOSSIER}) or {})["recipient_id"] == f"producer:{NUMBER}"


async def test_a_mail_an_earlier_version_keyed_by_the_accepted_id_is_not_made_again(svc: Notify,
                                                                                   mail: FakeMail) -> None:
    """A version before ``keyed_as`` keyed a message made after the acceptance by the producer's accepted id: met
    again (a redelivery, a replay), the event finds that delivery by its old key and makes no second mail."""
    issued = certificate_issued()
    for event in (filed_sealed(), verified()):
        await svc.on_event(event)
    await svc.deliver_due()
    before = len(mail.sent)
    old_key = Message("certificate.issued", Recipient(f"producer:{NUMBER}", "HTX", PRODUCER_MAIL), issued).key
    await svc.db["deliveries"].insert_one({"_id": old_key, "status": "sent", "template": "certificate.issued",
                                          "recipient_id": f"producer:{NUMBER}", "subject_id": DOSSIER})

    await svc.on_event(issued)
    await svc.deliver_due()
    assert len(mail.sent) == before
    assert [d["_id"] for d in await deliveries(svc, template="certificate.issued")] == [old_key]


async def test_two_replicas_delivering_at_once_send_each_mail_once(runtime: Any, mail: FakeMail,
                                                                  clock: FixedClock) -> None:
    first, second = replica(runtime, mail, clock), replica(runtime, mail, clock)
    await first.on_event(received(NOW))

    sent = await asyncio.gather(first.deliver_due(), second.deliver_due())

    assert sorted(sent) == [0, 1] and len(mail.sent) == 1
    assert [e.type for e in await notifications(first)] == ["notification.sent"]


async def test_a_failed_send_is_tried_again_after_its_backoff(svc: Notify, mail: FakeMail,
                                                             clock: FixedClock) -> None:
    mail.failures = 1
    await svc.on_event(received(NOW))

    await svc.deliver_due()
    [waiting] = await deliveries(svc)
    assert (waiting["status"], waiting["attempts"], waiting["last_error"]) == (
        "pending", 1, "421 mail server busy, try again later")
    assert await svc.deliver_due() == 0 and mail.sent == []  # not due again yet
    clock.advance(timedelta(seconds=91))  # past the longest backoff: 60 s × 1.5
    assert await svc.deliver_due() == 1

    assert len(mail.sent) == 1
    assert (await deliveries(svc))[0]["status"] == "sent"


async def test_after_the_last_attempt_the_delivery_fails_with_the_reason(svc: Notify, mail: FakeMail,
                                                                        clock: FixedClock) -> None:
    mail.failures = 2  # max_attempts is 2
    await svc.on_event(received(NOW))

    await svc.deliver_due()
    clock.advance(timedelta(seconds=91))
    await svc.deliver_due()

    [delivery] = await deliveries(svc)
    assert (delivery["status"], delivery["attempts"]) == ("failed", 2)
    [notice] = await notifications(svc)
    assert notice.type == "notification.failed" and notice.data["reason"] == "421 mail server busy, try again later"


async def test_an_event_before_its_contact_waits_and_is_told_when_the_contact_comes(svc: Notify,
                                                                                   mail: FakeMail) -> None:
    early = accepted(NOW)  # intake's topic partitions: the acceptance may be read before the receipt

    await svc.on_event(early)
    await svc.on_event(early)  # a redelivery parks it once

    [parked] = await svc.db["parked"].find({}).to_list()
    assert (parked["_id"], parked["status"], parked["needs"]) == (early.id, "waiting", [f"contact:{DOSSIER}"])
    assert await deliveries(svc) == []
    await svc.on_event(received(NOW))
    assert await svc.retry_waiting() == 1
    await svc.deliver_due()

    assert sorted(d["template"] for d in await deliveries(svc, status="sent")) == ["dossier.accepted",
                                                                                   "dossier.received"]
    assert (await svc.db["parked"].find_one({"_id": early.id}) or {})["status"] == "handled"
    assert {m["to"] for m in mail.sent} == {PRODUCER_MAIL}


async def test_an_event_whose_facts_never_come_is_dead_lettered_with_the_reason(svc: Notify,
                                                                               clock: FixedClock) -> None:
    early = accepted(NOW)
    await svc.on_event(early)

    clock.advance(timedelta(hours=25))  # past the 24 hours' wait
    assert await svc.retry_waiting() == 0

    parked = await svc.db["parked"].find_one({"_id": early.id})
    assert parked is not None and parked["status"] == "dead_lettered"
    assert f"no dossier.received yet for {DOSSIER}" in parked["reason"]
    assert await deliveries(svc) == []


async def test_history_older_than_the_age_limit_tells_nobody(svc: Notify, mail: FakeMail) -> None:
    await svc.on_event(received(NOW - timedelta(days=4)))  # a new deployment replaying the topic

    assert await svc.deliver_due() == 0
    assert await deliveries(svc) == [] and mail.sent == []
    assert await svc.db["contacts"].find_one({"_id": DOSSIER}) is not None  # its facts are still kept


def proposed(at: datetime) -> RecordedEvent:
    data = ResultProposed(proposal_id="proposal-1", round_id="round-1", rows=[
        ProposalRow(rank=1, dossier_id=DOSSIER, product_name="Mật ong rừng Lục Nam",
                    producer_name="Hợp tác xã Nông nghiệp Đông Hưng", average_total=78.5, rating_label="4 sao",
                    stars=4, recognised_at_level=True, goes_up_a_level=False)])
    return recorded_at(at, "scoring", "round-1", data)


async def test_a_proposal_with_no_approver_to_tell_is_handled_after_its_wait_never_dead_lettered(
        svc: Notify, mail: FakeMail, clock: FixedClock) -> None:
    event = proposed(NOW)
    await svc.on_event(event)  # no recipient has the approver role: it waits for one
    parked = await svc.db["parked"].find_one({"_id": event.id})
    assert parked is not None and (parked["status"], parked["needs"]) == ("waiting", ["approvers"])
    handled = MESSAGES_HANDLED.labels("notify", "notify", "nobody_to_tell")._value.get()

    clock.advance(timedelta(hours=25))  # past the 24 hours' wait, and still nobody
    assert await svc.retry_waiting() == 1

    parked = await svc.db["parked"].find_one({"_id": event.id})
    assert parked is not None and parked["status"] == "handled", parked
    assert parked["reason"].startswith("nobody to tell: no recipient has the approver role")
    assert MESSAGES_HANDLED.labels("notify", "notify", "nobody_to_tell")._value.get() == handled + 1
    assert await svc.retry_waiting() == 0 and await deliveries(svc) == [] and mail.sent == []


async def test_a_proposal_told_once_an_approver_is_added_within_its_wait(svc: Notify, mail: FakeMail,
                                                                        clock: FixedClock) -> None:
    await svc.on_event(proposed(NOW))
    clock.advance(timedelta(hours=2))
    await svc.add_recipient("ubnd-bg", "Văn phòng UBND tỉnh Bắc Giang", "vp@example.vn", ["approver"])
    assert await svc.retry_waiting() == 1
    await svc.deliver_due()
    assert [m["to"] for m in mail.sent] == ["vp@example.vn"]


async def test_a_store_failure_at_the_deliverys_insert_loses_no_mail(
        svc: Notify, mail: FakeMail, monkeypatch: pytest.MonkeyPatch) -> None:
    """Queueing a mail is one insert, the delivery due by its own ``due_key`` (ADR 0054, 2026-11-30): the store
    failing at it leaves nothing, and the retry (or the redelivery after a crash) queues it; sent once."""
    kind = type(svc.db["deliveries"])
    real_insert = kind.insert_one
    calls = {"n": 0}

    async def failing_once(self: Any, doc: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if self.name == "deliveries":
            calls["n"] += 1
            if calls["n"] == 1:
                raise ConnectionError("the store went away at the insert")
        return await real_insert(self, doc, *args, **kwargs)

    monkeypatch.setattr(kind, "insert_one", failing_once)
    event = received(NOW)
    with pytest.raises(ConnectionError):
        await svc.on_event(event)
    assert await deliveries(svc) == []
    await svc.on_event(event)  # the consumer's retry (or the redelivery after a crash)
    await svc.deliver_due()

    [delivery] = await deliveries(svc)
    assert len(mail.sent) == 1 and delivery["status"] == "sent" and "due_key" not in delivery
    await svc.on_event(event)  # a later redelivery of a delivery already sent makes nothing again
    await svc.deliver_due()
    assert len(mail.sent) == 1
