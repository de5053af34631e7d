"""Notify under the faults a deployment meets every week, checked at the mail catcher (a real SMTP server).

- Facts read after the events that need them (another topic or partition): the events wait, then every mail
  goes once; facts that never come end on the dead-letter topic with the reason.
- Notify killed (SIGKILL) while a slow mail server holds its sends: after the claims' lease, restarted
  replicas send every mail, each at least once and at most twice, and nothing stays pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import os
import signal
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiosmtpd.controller import Controller

from binhchon_kit.contracts.certification import CeremonyScheduled, Invitee
from binhchon_kit.contracts.common import DecisionReference
from binhchon_kit.contracts.intake import DossierReceived, RoundOpened
from binhchon_kit.contracts.registry import EventData
from binhchon_kit.contracts.scoring import (
    PanelFormed,
    Rating,
    ResultApproved,
    ResultProposed,
    ScoreSubmitted,
    ScoringCompleted,
    ScoringOpened,
)
from binhchon_kit.envelope import CloudEvent
from binhchon_kit.events import RecordedEvent
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.fixtures import TopicReader, eventually
from binhchon_kit.testing.infra import free_port
from binhchon_kit.testing.samples import dossier_body, round_body
from notify.main import NotifySettings, build

from .support import publish

pytestmark = pytest.mark.integration
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


class Clock:
    """The service's clock: the machine's, moved forward by the test when it needs time to pass."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def today(self) -> Any:
        return self().astimezone(VIETNAM).date()


class Catcher:
    """A real SMTP server keeping what it accepts. While ``stalling`` it holds each session without answering
    (a slow mail server); the first ``accept_then_stall`` held sessions were stored before the stall (the server
    took the mail but never said so: the client cannot know, and sends again)."""

    def __init__(self, accept_then_stall: int = 0) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.stalled = 0
        self.accept_then_stall = accept_then_stall
        self.stalling = threading.Event()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)  # type: ignore[arg-type]
        if not self.stalling.is_set():
            self.messages.append(message)  # type: ignore[arg-type]
            return "250 OK"
        self.stalled += 1
        if self.stalled <= self.accept_then_stall:
            self.messages.append(message)  # type: ignore[arg-type]
        while self.stalling.is_set():  # noqa: ASYNC110 (cleared from the test's thread, not this loop's)
            await asyncio.sleep(0.05)
        return "451 too slow"  # its client is gone by now

    def ids(self) -> list[str]:
        return [m["Message-ID"].strip("<>").split("@")[0] for m in self.messages]


@contextlib.contextmanager
def catching(accept_then_stall: int = 0):
    box = Catcher(accept_then_stall)
    box.controller.start()
    try:
        yield box
    finally:
        box.stalling.clear()
        box.controller.stop()


def settings(infra, unique, prefix, key, box, **over: Any) -> NotifySettings:
    return NotifySettings(service_name="notify", mongodb_url=infra.mongodb, mongodb_database=f"notify_{unique}",
                          kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=prefix, auth_public_keys_file=key,
                          smtp_host="127.0.0.1", smtp_port=box.port, notify_poll_seconds=0.2,
                          notify_backoff_seconds=0.1, **over)


async def consumed(infra, group: str, topic: str, n: int) -> bool | None:
    """The group committed ``n`` records of the (fresh) topic: what the broker says, whatever notify stored."""
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka, **infra.kafka_client())
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(max(o.offset, 0) for tp, o in offsets.items() if tp.topic == topic) == n or None


async def count(collection, query: dict[str, Any], n: int) -> bool | None:
    return await collection.count_documents(query) == n or None


MEMBERS = [{"id": f"gk-{k}", "name": f"Giám khảo {k}", "organisation": "Sở Công Thương", "email": f"gk{k}@example.vn",
            "role": {1: "chair", 4: "secretary"}.get(k, "member")} for k in range(1, 5)]
DECISION = DecisionReference(number="77/QĐ-UBND", date=datetime(2026, 12, 20).date(), signer="Trần Văn Ký",
                             authority="UBND tỉnh Bắc Giang")


def received(dossier: str, round_id: str, k: int, clock: Clock) -> DossierReceived:
    body = dossier_body(product=f"Mật ong rừng Lục Nam {k}", regno=f"24001234{k:02d}")
    return DossierReceived(dossier_id=dossier, round_id=round_id, round_code="RC", programme="OCOP", level="province",
                           receipt_number=f"RC-{k + 1:05d}", received_at=clock(), check_due_date=clock.today(),
                           producer=body["producer"], product=body["product"], documents=body["documents"])


def opened(dossier: str, round_id: str, k: int) -> ScoringOpened:
    return ScoringOpened(dossier_id=dossier, round_id=round_id, programme="OCOP", level="province",
                         rulebook_id="ocop-2023", rulebook_version=1, sheet_id="general", product_group="thực phẩm",
                         product_name=f"Mật ong rừng Lục Nam {k}", producer_name="HTX Đông Hưng", sample_code=f"TP-{k}")


def completed(dossier: str, round_id: str) -> ScoringCompleted:
    return ScoringCompleted(dossier_id=dossier, round_id=round_id, rulebook_id="ocop-2023", rulebook_version=1,
                            scoring_round=1, average_total=78.5, rounding="2 chữ số", part_averages=[],
                            totals={"gk-1": 78.5}, outliers=[], band_stars=4, stars=4, rating_label="4 sao",
                            mandatory=[], recognised_at_level=True, goes_up_a_level=False, spread=0,
                            spread_exceeded=False)


def approved(dossier: str, round_id: str, k: int) -> ResultApproved:
    return ResultApproved(dossier_id=dossier, round_id=round_id, programme="OCOP", level="province",
                          rulebook_id="ocop-2023", rating=Rating(stars=4, recognised=True, label="4 sao"), points=78.5,
                          decision=DECISION, goes_up_a_level=False, product_name=f"Mật ong rừng Lục Nam {k}",
                          producer_name="HTX Đông Hưng")


async def test_events_read_before_their_facts_wait_and_every_mail_goes_once(infra, mongo, unique, topic_prefix,
                                                                            dev_keys, auth):
    """A 30-dossier round's scoring, results and ceremony are read before the panel, the round and the dossiers
    (notify caught up across partitions after a restart): nothing is lost, nothing is sent twice."""
    clock = Clock()
    round_id, n, done = f"round-{unique}", 30, 25
    dossiers = [f"dossier-{unique}-{k}" for k in range(n)]
    db = mongo[f"notify_{unique}"]
    with catching() as box:
        app = build(settings(infra, unique, topic_prefix, str(dev_keys[1]), box), clock=clock)
        async with running(app, "http://notify") as notify:
            scoring: list[tuple[str, str, EventData]] = []
            for k, d in enumerate(dossiers):
                scoring.append((d, opened(d, round_id, k)))
                if k < done:
                    scoring += [(d, completed(d, round_id)),
                                (d, approved(d, round_id, k))]
            scoring.append((dossiers[done], ScoreSubmitted(
                sheet_id="s-1", member_id="gk-2", scoring_round=1, rulebook_id="ocop-2023", rulebook_version=1,
                score_sheet="general", scores=[], total=80)))
            scoring.append((round_id, ResultProposed(proposal_id="p-1", round_id=round_id,
                                                                        rows=[])))
            await publish(mongo, infra, topic_prefix, unique, "scoring", scoring)
            ceremony_day = clock.today() + timedelta(days=20)
            await publish(mongo, infra, topic_prefix, unique, "certification", [(round_id,
                CeremonyScheduled(ceremony_id="c-1", round_id=round_id, title="Lễ công bố sản phẩm OCOP năm 2026",
                                  on=ceremony_day, at="08:30", place="Nhà văn hóa tỉnh",
                                  invitees=[Invitee(certificate_number=f"OCOP-2026-{k:05d}", holder="HTX Đông Hưng",
                                                    product_name="Mật ong", dossier_id=dossiers[k])
                                            for k in range(3)]))])
            await eventually(lambda: consumed(infra, "notify.scoring", f"{topic_prefix}scoring.events",
                                                      len(scoring)), timeout=60, interval=0.5,
                             what="every scoring event consumed (the partitions moved on)")
            await eventually(lambda: consumed(infra, "notify.certification", f"{topic_prefix}certification.events", 1),
                             interval=0.5, what="the ceremony consumed")
            assert box.messages == [] and await db["deliveries"].count_documents({}) == 0

            # the facts arrive, on other topics and through the API
            body = round_body(f"R{unique}")
            body["schedule"]["scoring_closes"] = (clock.today() + timedelta(days=2)).isoformat()
            await publish(mongo, infra, topic_prefix, unique, "intake", [
                (round_id, RoundOpened.model_validate({**body, "round_id": round_id})),
                *[(d, received(d, round_id, k, clock)) for k, d in enumerate(dossiers)]])
            await publish(mongo, infra, topic_prefix, unique, "scoring", [(round_id, PanelFormed(
                panel_id="p", round_id=round_id, name="Hội đồng", members=MEMBERS, quorum={"fraction": 0.75},
                sessions=["dossier"]))])
            r = await notify.post("/recipients", headers=auth("admin", "admin"), json={
                "id": "ubnd-24", "name": "Văn phòng UBND tỉnh", "email": "vp@example.vn", "roles": ["approver"]})
            assert r.status_code == 201

            expected = Counter({"dossier.received": n, "panel.formed": 4, "scoring.completed": done,
                                "result.approved": done, "result.proposed": 1})
            await eventually(lambda: _mails(box, sum(expected.values())), timeout=90, what="every mail")
            waiting = n + done + done + 1 + 1  # opened, completed, approved, proposed, ceremony: each parked once
            await eventually(lambda: count(db["parked"], {"status": "handled"}, waiting), timeout=30,
                             what="every waiting event handled")

            # the reminders fall due: only judges of the 5 dossiers still being scored, and not gk-2 on the one
            # they scored (score.submitted was read while its scoring.opened was still waiting)
            # every send finished before time jumps (a lease the jump outlives would let a live send be taken over)
            await eventually(lambda: count(db["deliveries"], {"status": "sent"}, sum(expected.values())),
                             what="every delivery recorded as sent")
            clock.offset = timedelta(days=2)
            expected["score.reminder"] = (n - done) * 3 - 1
            await eventually(lambda: _mails(box, sum(expected.values())), timeout=60, what="the reminders")
            for _ in range(3):  # more passes send nothing more
                await app.state.notify.retry_waiting()
                await app.state.notify.deliver_due()

    ids = box.ids()
    assert len(ids) == len(set(ids)) == sum(expected.values())
    deliveries = {d["_id"]: d async for d in db["deliveries"].find({})}
    assert Counter(deliveries[i]["template"] for i in ids) == expected
    chair = [m["To"] for i, m in zip(ids, box.messages, strict=True)
             if deliveries[i]["template"] == "scoring.completed"]
    assert chair == ["gk1@example.vn"] * done
    reminded = sorted((deliveries[i]["subject_id"], deliveries[i]["recipient_id"]) for i in ids
                      if deliveries[i]["template"] == "score.reminder")
    assert reminded == sorted((d, f"gk-{j}") for d in dossiers[done:] for j in (1, 2, 3)
                              if (d, j) != (dossiers[done], 2))
    # the ceremony's invitations and confirmations wait for their day, queued once each
    ceremony = [d for d in deliveries.values() if d["template"].startswith("ceremony.")]
    assert len(ceremony) == 6 and {d["status"] for d in ceremony} == {"pending"}
    assert await db["deliveries"].count_documents({"status": "pending", "template": {"$nin": [
        "ceremony.invitation", "ceremony.confirmation"]}}) == 0


async def _mails(box: Catcher, n: int) -> bool | None:
    assert len(box.messages) <= n, f"{len(box.messages)} mails, expected {n}"
    return len(box.messages) == n or None


async def test_facts_that_never_come_are_dead_lettered_with_the_reason(infra, mongo, unique, topic_prefix, dev_keys):
    """Two replicas; the wait is one minute of the service's clock. Before it, the events wait (a redelivery
    parks nothing twice); after it, each is on the dead-letter topic once, with the dlq-* headers and the reason.
    (The clock moves less than a lease, as real clocks do: a lease taken just before the move still holds.)"""
    clock = Clock()
    round_id, dossier = f"round-{unique}", f"dossier-{unique}"
    db = mongo[f"notify_{unique}"]
    with catching() as box:
        cfg = settings(infra, unique, topic_prefix, str(dev_keys[1]), box, notify_fact_wait_hours=1 / 60)
        a, b = build(cfg, clock=clock), build(cfg, clock=clock)
        async with running(a, "http://a"), running(b, "http://b"), \
                TopicReader(infra.kafka, f"{topic_prefix}scoring.events") as source, \
                TopicReader(infra.kafka, f"{topic_prefix}scoring.events.dlq") as dlq:
            await publish(mongo, infra, topic_prefix, unique, "scoring", [
                (dossier, completed(dossier, round_id)),
                (dossier, approved(dossier, round_id, 1))])
            await eventually(lambda: consumed(infra, "notify.scoring", f"{topic_prefix}scoring.events", 2),
                             interval=0.5, what="both consumed")
            assert await dlq.poll() == [] and await db["parked"].count_documents({"status": "waiting"}) == 2
            originals = {CloudEvent.from_bytes(r.value).id: r for r in await source.wait_for_records(2)}

            # a redelivery (the process died after parking, before its inbox entry) parks nothing new
            record = next(iter(originals.values()))
            await a.state.notify.on_event(RecordedEvent.from_cloudevent(CloudEvent.from_bytes(record.value)))
            assert await db["parked"].count_documents({}) == 2
            for replica in (a, b):
                assert await replica.state.notify.retry_waiting() == 0
            assert await dlq.poll() == [] and await db["parked"].count_documents({"status": "waiting"}) == 2

            clock.offset = timedelta(seconds=61)

            async def dead_lettered() -> list[Any] | None:
                # due now rather than after their backoff (a pass under way may set it again: so in the loop)
                await db["parked"].update_many({"status": "waiting"}, {"$set": {"next_try_at": clock()}})
                records = await dlq.poll()
                return records if len(records) >= 2 else None

            records = await eventually(dead_lettered, what="two dead letters")
            for _ in range(3):  # both replicas keep passing: still one dead letter each
                await asyncio.gather(a.state.notify.retry_waiting(), b.state.notify.retry_waiting())
            assert len(await dlq.poll()) == 2
            assert box.messages == [] and await db["deliveries"].count_documents({}) == 0

    reasons = {}
    for r in records:
        headers = {k: v.decode() for k, v in r.headers}
        event = CloudEvent.from_bytes(r.value)
        original = originals[event.id]
        assert CloudEvent.from_bytes(original.value) == event
        assert headers["dlq-handler"] == "notify.scoring"
        assert headers["dlq-source-topic"] == f"{topic_prefix}scoring.events"
        assert (headers["dlq-source-partition"], headers["dlq-source-offset"]) == (str(original.partition),
                                                                                str(original.offset))
        assert datetime.fromisoformat(headers["dlq-at"]) >= clock() - timedelta(minutes=1)
        reasons[event.type] = headers["dlq-reason"]
    assert f"no panel.formed yet for round {round_id}" in reasons["scoring.completed"]
    assert f"no dossier.received yet for {dossier}" in reasons["result.approved"]
    parked = await db["parked"].find({}).to_list()
    assert {p["status"] for p in parked} == {"dead_lettered"}
    assert {p["type"]: p["reason"] for p in parked} == reasons


async def test_a_send_killed_mid_way_is_taken_over_after_the_lease(infra, mongo, unique, topic_prefix, dev_keys):
    """Notify is SIGKILLed while a slow mail server holds its sends (the first 3 of which it had stored). Two
    replicas started after the claims' lease send every mail: at least once, at most twice, none left pending."""
    n, round_id = 11, f"round-{unique}"
    clock = Clock()
    dossiers = [f"dossier-{unique}-{k}" for k in range(n)]
    db = mongo[f"notify_{unique}"]
    with catching(accept_then_stall=3) as box:
        box.stalling.set()
        cfg = settings(infra, unique, topic_prefix, str(dev_keys[1]), box, notify_claim_lease_seconds=120)
        env = {**os.environ, **{k.upper(): str(v) for k, v in cfg.model_dump().items()},
               "HTTP_PORT": str(free_port())}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from notify.main import run; run()", env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await publish(mongo, infra, topic_prefix, unique, "intake",
                          [(d, received(d, round_id, k, clock)) for k, d in enumerate(dossiers)])

            async def mid_send() -> bool | None:
                queued = await db["deliveries"].count_documents({})
                return (queued == n and box.stalled >= 1 and await db["claims"].count_documents({}) == box.stalled) \
                    or None

            await eventually(mid_send, timeout=60, what="every mail queued and sends held by the slow server")
        finally:
            process.send_signal(signal.SIGKILL)
            await process.wait()
        stalled = box.stalled
        box.stalling.clear()
        assert await db["deliveries"].count_documents({"status": "pending"}) == n
        assert await db["claims"].count_documents({}) == stalled
        held = set(box.ids())
        assert len(held) == min(3, stalled)

        clock.offset = timedelta(seconds=121)  # the dead worker's claims have expired
        replicas = [build(cfg, clock=clock) for _ in range(2)]
        async with running(replicas[0], "http://a"), running(replicas[1], "http://b"):
            await eventually(lambda: count(db["deliveries"], {"status": "sent"}, n), timeout=60,
                             what="every delivery sent")
            for _ in range(3):
                await asyncio.gather(*(r.state.notify.deliver_due() for r in replicas))

    sent = Counter(box.ids())
    deliveries = {d["_id"] async for d in db["deliveries"].find({})}
    assert set(sent) == deliveries and len(deliveries) == n
    assert all(1 <= c <= 2 for c in sent.values())
    assert {i for i, c in sent.items() if c == 2} <= held  # only a mail the server took before the kill twice
    assert await db["deliveries"].count_documents({"status": "pending"}) == 0
    assert await db["deliveries"].count_documents({"due_key": {"$exists": True}}) == 0


