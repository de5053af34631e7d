"""What notify reads of the store to handle one dossier does not grow with what it handled before (issue 14).

On a store of its own (FerretDB on PostgreSQL, so that PostgreSQL's per-table counts are this test's alone), an
older notify's history is stored first: 2,000 deliveries of other dossiers and 2,000 events of other dossiers that
were parked and are done, without the keys this version adds. The start fills those keys once (the deploy). Then
one dossier's events are handled as the consumer hands them over: its receipt is queued and sent, its acceptance
moves its mails to the producer's public inbox (ADR 0048), and, while 100 other dossiers' ``scoring.opened`` and
its own wait for their panel, a judge's sheet keeps its mark (ADR 0006). The pages PostgreSQL's statements touched
for each collection (``pg_stat_statements``, binhchon_kit.testing.table_reads) are counted around each step: a
filter no index serves reads every page of the collection, hundreds for 2,000 deliveries.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from binhchon_kit.contracts.common import Level, Programme
from binhchon_kit.contracts.intake import DossierAccepted, DossierReceived
from binhchon_kit.contracts.scoring import ScoreSubmitted, ScoringOpened
from binhchon_kit.events import RecordedEvent
from binhchon_kit.personal import seal
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.testing.infra import NativeFerretDB
from binhchon_kit.testing.memory import FixedClock, memory_runtime, recorded_at
from binhchon_kit.testing.samples import dossier_body
from binhchon_kit.testing.table_reads import Reads, reads, table_pages
from notify.adapters.channels import Webhook
from notify.adapters.templates import Templates
from notify.service import Notify
from notify.views import setup as setup_views
from notify.waiting import WAITING_KEY, MissingFacts
from notify.waiting import setup as setup_waiting

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
HISTORY = 2_000
# pages (pg_stat_statements, binhchon_kit.testing.table_reads), measured the same on every run; the code before
# (27c0aeb^1) touched 574 of deliveries for the receipt and acceptance, 22 of parked for the sheet, contacts in 7 calls
DELIVERIES = 200  # 91: the receipt's row written, sent and moved, through its indexes
PARKED = 12  # 8 and 5
KID = "psk-" + "7" * 32  # the producer's key id: its registration number sealed at filing (dossier.received v4)
NUMBER = "2400123456"


class Mail:
    """The mail channel, keeping what it sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, to: str, subject: str, text: str, html: str, message_id: str) -> None:
        self.sent.append(to)

    async def close_idle(self) -> None:
        pass

    async def close(self) -> None:
        pass


async def test_one_dossiers_events_read_what_is_theirs_not_the_history(counted_store: NativeFerretDB,
                                                                       unique: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(counted_store.url, tz_aware=True)
    try:
        await _handled_reading_little(counted_store, client[f"notify_{unique}"])
    finally:
        await client.close()


def _pages(read: dict[str, Reads], collection: str) -> int:
    return read.get(collection, Reads()).pages


async def _handled_reading_little(store: NativeFerretDB, db: Any) -> None:
    clock = FixedClock(NOW)
    mail = Mail()
    svc = Notify(memory_runtime(ServiceSettings(service_name="notify"), {}, clock), Templates(None),
                 mail, Webhook(), certification_url="https://chungnhan.example.vn",  # type: ignore[arg-type]
                 intake_url="https://hoso.example.vn", clock=clock)
    svc.db = svc.waiting.db = db
    await db["deliveries"].insert_many([_old_delivery(n) for n in range(HISTORY)])
    await db["parked"].insert_many([_old_parked(n) for n in range(HISTORY)])
    await setup_views(db)  # the deploy: indexes, and the older documents' keys filled once
    await setup_waiting(db)
    dossier = f"dossier-{db.name}"

    async def handled() -> None:
        await svc.on_event(_received(dossier))
        assert await svc.deliver_due() == 1
        await svc.on_event(_accepted(dossier))

    read = await reads(store, db.name, handled)
    print(f"\nreceipt queued and sent, acceptance: pages read {read}")
    assert mail.sent == ["htx.donghung@example.vn"]
    receipt = await db["deliveries"].find_one({"about_event_id": f"{dossier}-1"})
    assert (receipt["status"], receipt["recipient_id"]) == ("sent", f"producer:{NUMBER}")  # one inbox (ADR 0048)
    assert (await db["contacts"].find_one({"_id": dossier}))["recipient_id"] == f"producer:{NUMBER}"
    assert _pages(read, "deliveries") <= DELIVERIES, read
    assert _pages(read, "parked") <= PARKED, read
    # by _id, once per event: written by the receipt, read by the acceptance (5 calls; 7 before)
    assert read["contacts"].calls <= 5, read

    waiting_for_panel = MissingFacts(["panel:round-9"], ["no panel.formed yet for round round-9"])
    for n in range(100):  # a backlog of other dossiers waiting for their panel
        await svc.waiting.park(_opened(f"other-{n:03d}"), waiting_for_panel)
    await svc.waiting.park(_opened(dossier), waiting_for_panel)

    async def sheet() -> None:
        await svc.on_event(_sheet(dossier))

    read = await reads(store, db.name, sheet)
    print(f"a judge's sheet while 101 scoring.opened wait: pages read {read}")
    # its dossier's scoring.opened waits: a reminder may still come, so the judge's mark is kept (ADR 0006)
    assert await db["reminders_off"].find_one({"_id": f"{dossier}:gk-2"}) is not None
    assert _pages(read, "parked") <= PARKED, read  # 22 when the sheet looked through what every dossier has waiting
    assert _pages(read, "deliveries") <= DELIVERIES, read

    # the counts see a whole collection read: a filter no index serves touches every page of the deliveries
    read = await reads(store, db.name, lambda: db["deliveries"].count_documents({"text": "nowhere"}))
    assert _pages(read, "deliveries") >= table_pages(store, db.name, "deliveries") > DELIVERIES, read


def _old_delivery(n: int) -> dict[str, Any]:
    """A mail an older notify made for another dossier, sent long ago (no ``log_key``)."""
    at = NOW - timedelta(days=30, minutes=n)
    key = f"old-delivery-{n:05d}"
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {"_id": key, "channel": "email", "recipient_id": f"producer:psk-{n:032x}", "address": f"p{n}@example.vn",
            "template": "dossier.received", "subject": "Biên nhận hồ sơ", "text": "…", "html": "…", "kids": [],
            "status": "sent", "attempts": 1, "subject_id": f"old-dossier-{n:05d}", "about_event_id": f"old-ev-{n}",
            "about_event_type": "dossier.received", "about_event_time": at, "created_at": at, "due_at": at,
            "finished_at": at, "page_key": f"{stamp}|{stamp}|{key}"}


def _old_parked(n: int) -> dict[str, Any]:
    """An event of another dossier that waited for its facts and was told long ago (no ``subject_key``)."""
    at = NOW - timedelta(days=30, minutes=n)
    return {"_id": f"old-parked-{n:05d}", "status": "handled", WAITING_KEY: None, "type": "scoring.opened",
            "subject": f"old-dossier-{n:05d}", "body": b"{}", "topic": "scoring.events", "partition": 0, "offset": n,
            "key": None, "handler": "notify", "needs": ["panel:old"], "reason": "…", "tries": 1, "pokes": 1,
            "parked_at": at, "give_up_at": at + timedelta(hours=24), "next_try_at": at, "finished_at": at}


def _received(dossier: str) -> RecordedEvent:
    body = dossier_body()
    # v4: the registration number sealed with the producer's key until the secretariat verifies it (ADR 0048)
    body["producer"]["registration_number"] = seal(os.urandom(32), KID, NUMBER, event_id=f"{dossier}-1",
                                                   path="producer.registration_number")
    return recorded_at(NOW, "intake", dossier, DossierReceived.model_validate({
        **body, "dossier_id": dossier, "round_id": "round-9", "round_code": "BG-OCOP-2026-9", "programme": "OCOP",
        "level": "province", "receipt_number": "BG-OCOP-2026-9-00001", "received_at": NOW,
        "check_due_date": date(2026, 12, 7)}))


def _accepted(dossier: str) -> RecordedEvent:
    data = DossierAccepted(round_id="round-9", rulebook_id="ocop-2025", programme=Programme.OCOP,
                           level=Level.PROVINCE, product_group="thực phẩm", sample_code="MAU-009",
                           result_due_date=date(2027, 1, 15), product_name="Mật ong rừng Lục Nam",
                           producer_name="Hợp tác xã Nông nghiệp Đông Hưng", producer_registration_number=NUMBER)
    return recorded_at(NOW, "intake", dossier, data, version=2)


def _opened(dossier: str) -> RecordedEvent:
    data = ScoringOpened(dossier_id=dossier, round_id="round-9", programme=Programme.OCOP, level=Level.PROVINCE,
                         rulebook_id="ocop-2023", rulebook_version=1, sheet_id="general", product_group="thực phẩm",
                         product_name="Mật ong rừng Lục Nam", producer_name="HTX Đông Hưng", sample_code="MAU-009")
    return recorded_at(NOW, "scoring", dossier, data, event_id=f"opened-{dossier}")


def _sheet(dossier: str) -> RecordedEvent:
    data = ScoreSubmitted(sheet_id="s-2", member_id="gk-2", scoring_round=1, rulebook_id="ocop-2023",
                          rulebook_version=1, score_sheet="general", scores=[], total=80)
    return recorded_at(NOW, "scoring", dossier, data, version=2, event_id=f"sheet-{dossier}")
