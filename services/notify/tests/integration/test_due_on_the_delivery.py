"""A delivery is due by its own ``due_key`` (ADR 0054, 2026-11-30), on the real store (FerretDB on PostgreSQL in the
fixtures): queueing a mail is one insert, its outcome one update after its ``notification.sent``, a failure's
reschedule one update, a cancellation one update. Each is checked with the store failing (or the process dying)
around that write: no mail lost, at most one sent twice, one outcome event, nothing left due."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from pymongo.asynchronous.collection import AsyncCollection

from binhchon_kit.events import RecordedEvent
from binhchon_kit.testing.memory import recorded_at
from notify.adapters.channels import DeliveryError
from notify.main import NotifySettings, build
from notify.service import Notify, cancel_delivery
from notify.views import DUE_KEY
from notify.views import setup as setup_views

from .support import Clock
from .test_notify_faults import received as dossier_received

pytestmark = pytest.mark.integration
DOSSIER = "dossier-due-1"
LEASE = timedelta(minutes=2)


async def _nothing() -> None:
    return None


class Mail:
    """The mail channel: the Message-IDs (the delivery keys) it sent, after refusing the first ``failures``."""

    close_idle = close = staticmethod(_nothing)

    def __init__(self, failures: int = 0) -> None:
        self.failures, self.sent = failures, []

    async def send(self, *mail: str) -> None:
        await asyncio.sleep(0)  # a real exchange yields, so passes interleave
        self.failures -= 1
        if self.failures >= 0:
            raise DeliveryError("421 mail server busy, try again later")
        self.sent.append(mail[-1])


def received(clock: Clock) -> RecordedEvent:
    return recorded_at(clock(), "intake", DOSSIER, dossier_received(DOSSIER, "round-1", 1, clock))


@pytest.fixture
async def start(infra, unique, dev_keys):
    """``start(mail)``: a notify process on one database (each call a new process, as after a crash)."""
    clock = Clock()
    cfg = NotifySettings(service_name="notify", mongodb_url=infra.mongodb, mongodb_database=f"notify_{unique}",
                         kafka_bootstrap_servers=infra.kafka, auth_public_keys_file=str(dev_keys[1]),
                         notify_backoff_seconds=60, notify_max_attempts=3,
                         notify_claim_lease_seconds=LEASE.total_seconds())
    started: list[Notify] = []

    async def one(mail: Mail) -> Notify:
        notify = build(cfg, clock=clock).state.notify
        notify.email = mail
        await setup_views(notify.db)
        await notify.rt.store.setup()
        started.append(notify)
        return notify

    yield clock, one
    for notify in started:
        await notify.rt.mongo.close()


def failing(monkeypatch: pytest.MonkeyPatch, method: str, collection: str, when: Any = lambda *a: True) -> list[int]:
    """``collection``'s ``method`` raises once (the store gone, or the process dead, at that write); the list counts
    the writes refused."""
    real = getattr(AsyncCollection, method)
    refused: list[int] = []

    async def once(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.name == collection and not refused and when(*args):
            refused.append(1)
            raise ConnectionError(f"the store went away at {collection}.{method}")
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(AsyncCollection, method, once)
    return refused


async def outcomes(notify: Notify) -> list[str]:
    return [e.type async for e in notify.rt.store.read_all()]


async def test_a_message_is_queued_by_one_insert_and_a_failed_insert_is_made_by_the_retry(start, monkeypatch):
    clock, start_one = start
    mail = Mail()
    notify = await start_one(mail)
    refused = failing(monkeypatch, "insert_one", "deliveries")
    event = received(clock)
    with pytest.raises(ConnectionError):
        await notify.on_event(event)
    assert refused and await notify.db["deliveries"].count_documents({}) == 0  # nothing half-made
    await notify.on_event(event)  # the consumer's retry, or the redelivery after a crash

    [delivery] = await notify.db["deliveries"].find({}).to_list()
    assert delivery["status"] == "pending" and delivery[DUE_KEY].endswith(f"|{delivery['_id']}")
    assert "due" not in await notify.db.list_collection_names()  # no second document to write
    assert await notify.deliver_due() == 1 and mail.sent == [delivery["_id"]]
    done = await notify.db["deliveries"].find_one({"_id": delivery["_id"]})
    assert done["status"] == "sent" and DUE_KEY not in done
    assert await outcomes(notify) == ["notification.sent"]
    await notify.on_event(event)
    assert await notify.deliver_due() == 0 and mail.sent == [delivery["_id"]]


@pytest.mark.parametrize("dies", [False, True])
async def test_a_store_failure_between_the_outcome_event_and_the_deliverys_update(start, monkeypatch, dies):
    """The mail went and its ``notification.sent`` is recorded, but the delivery's update failed: the same process
    records it at its next pass without sending again; a process that died with it leaves the delivery pending
    and due, sent once more by another after the claim's lease (the one duplicate allowed), and recorded once."""
    clock, start_one = start
    mail = Mail()
    notify = await start_one(mail)
    await notify.on_event(received(clock))
    refused = failing(monkeypatch, "update_one", "deliveries",
                      lambda query, update: DUE_KEY in update.get("$unset", {}))
    with pytest.raises(ConnectionError):
        await notify.deliver_due()
    assert refused and len(mail.sent) == 1 and await outcomes(notify) == ["notification.sent"]
    [pending] = await notify.db["deliveries"].find({}).to_list()
    assert pending["status"] == "pending" and DUE_KEY in pending

    if dies:
        notify = await start_one(mail)  # its memory of the send is gone with it
        assert await notify.deliver_due() == 0  # the dead process's claim holds until its lease is over
        clock.move_to(clock.now + LEASE + timedelta(seconds=1))
    await notify.deliver_due()
    assert len(mail.sent) == (2 if dies else 1)
    [delivery] = await notify.db["deliveries"].find({}).to_list()
    assert delivery["status"] == "sent" and DUE_KEY not in delivery
    assert await outcomes(notify) == ["notification.sent"]
    clock.move_to(clock.now + LEASE * 2)
    assert await notify.deliver_due() == 0 and len(mail.sent) == (2 if dies else 1)


async def test_a_failed_attempt_is_rescheduled_by_one_update_and_an_attempt_read_before_it_is_not_made(
        start, monkeypatch):
    clock, start_one = start
    mail = Mail(failures=1)
    notify = await start_one(mail)
    await notify.on_event(received(clock))
    [before] = await notify.due_entries(clock())
    assert await notify.deliver_due() == 1 and mail.sent == []
    [delivery] = await notify.db["deliveries"].find({}).to_list()
    assert (delivery["status"], delivery["attempts"]) == ("pending", 1) and "421" in delivery["last_error"]
    assert await notify.due_entries(clock()) == [] and delivery[DUE_KEY] > before[DUE_KEY]

    # a replica that walked the first attempt before it failed claims that attempt's next generation later: the
    # delivery it reads again is the second attempt's, not its own, so it sends nothing
    clock.move_to(clock.now + LEASE + timedelta(seconds=1))
    other = await start_one(mail)
    claim = await other._claim(before, 1)
    assert claim is not None and claim["gen"] == 1
    assert await other.db["deliveries"].find_one({"_id": before["_id"], "status": "pending", "attempts": 0}) is None

    clock.move_to(clock.now + timedelta(minutes=3))  # past the backoff (60 s × up to 1.5)
    assert await notify.deliver_due() == 1 and mail.sent == [delivery["_id"]]
    assert await outcomes(notify) == ["notification.sent"]


async def test_a_cancelled_delivery_is_no_longer_due_and_a_cancellation_that_failed_is_made_again(
        start, monkeypatch):
    clock, start_one = start
    mail = Mail()
    notify = await start_one(mail)
    await notify.on_event(received(clock))
    [delivery] = await notify.db["deliveries"].find({}).to_list()
    refused = failing(monkeypatch, "update_one", "deliveries")
    with pytest.raises(ConnectionError):
        await cancel_delivery(notify.db, delivery["_id"], clock())
    assert refused and len(await notify.due_entries(clock())) == 1  # nothing changed: still due, still pending
    await cancel_delivery(notify.db, delivery["_id"], clock())
    cancelled = await notify.db["deliveries"].find_one({"_id": delivery["_id"]})
    assert cancelled["status"] == "cancelled" and DUE_KEY not in cancelled
    assert await notify.deliver_due() == 0 and mail.sent == []


async def test_a_delivery_the_former_layout_left_without_its_due_entry_is_made_due_by_the_redelivery(start):
    """Notify queued a mail in two writes before (the delivery, then its ``due`` entry): one that died between them
    left a pending delivery that nothing would send. The event's redelivery finds it and makes it due."""
    clock, start_one = start
    mail = Mail()
    notify = await start_one(mail)
    event = received(clock)
    await notify.on_event(event)
    [delivery] = await notify.db["deliveries"].find({}).to_list()
    await notify.db["deliveries"].update_one({"_id": delivery["_id"]}, {"$unset": {DUE_KEY: ""}})  # as left then
    assert await notify.deliver_due() == 0
    await notify.on_event(event)
    assert await notify.deliver_due() == 1 and mail.sent == [delivery["_id"]]
    assert await outcomes(notify) == ["notification.sent"]

