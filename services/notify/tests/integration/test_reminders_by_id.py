"""Notify's reminders found by their ``_id`` on the real store (issue 14: a query on ``dossier_id`` read every
reminder ever made, for each sheet): a sheet cancels its judge's reminder only, a completion every reminder of its
dossier and none of a dossier whose id its own is a prefix of, and a sheet read again cancels nothing more; a mark
against reminders made later is kept only while one may be, which the dossier's own parked events tell (ADR 0006,
2026-11-30 and "what of a dossier waits")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.testing.memory import FixedClock, memory_runtime
from notify.adapters.channels import Webhook
from notify.adapters.templates import Templates
from notify.domain.messages import SCORE_REMINDER, Message, Recipient
from notify.service import Notify
from notify.waiting import SUBJECT_KEY, WAITING_KEY, setup, subject_key

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def notify_on(db: Any) -> Notify:
    clock = FixedClock(NOW)
    svc = Notify(memory_runtime(ServiceSettings(service_name="notify"), {}, clock), Templates(None),
                 None, Webhook(), certification_url="", intake_url="", clock=clock)  # type: ignore[arg-type]
    svc.db = db  # the reminders and deliveries on the real store
    return svc


async def pending(db: Any) -> list[str]:
    return sorted([d["_id"] async for d in db["deliveries"].find({"status": "pending"})])


async def test_a_sheet_cancels_its_judges_reminder_a_completion_its_dossiers(mongo, unique):
    db = mongo[f"notify_{unique}"]
    svc = notify_on(db)
    links = [(d, m) for d in ("d1", "d10", "d1:x") for m in ("gk-1", "gk-2", "gk-3")]
    for dossier, member in links:
        delivery = f"mail-{dossier}-{member}"
        await db["deliveries"].insert_one({"_id": delivery, "status": "pending"})
        await db["reminders"].insert_one({"_id": f"{dossier}:{member}", "dossier_id": dossier, "member_id": member,
                                          "delivery": delivery})
    everyone = sorted(f"mail-{d}-{m}" for d, m in links)

    await svc._no_reminder("d1", "gk-2")
    await svc._no_reminder("d1", "gk-2")  # the sheet read again: nothing more
    assert await pending(db) == [m for m in everyone if m != "mail-d1-gk-2"]

    await svc._no_reminder("d1", None)  # scoring.completed
    assert await pending(db) == [m for m in everyone if not m.startswith("mail-d1-")]
    # nothing of d1 waits for its facts: every reminder it will have is linked, so no mark is kept (ADR 0006)
    assert await db["reminders_off"].count_documents({}) == 0


async def test_a_mark_is_kept_only_while_an_event_that_makes_reminders_waits(mongo, unique):
    """A sheet (or completion) read while its dossier's ``scoring.opened`` or a substitution is parked keeps the
    judge's mark, and the reminder made when that event is told is cancelled at once; with nothing of its dossier
    waiting it keeps none, however many of other dossiers wait; an event parked before ``subject_key`` existed is
    found once the start's fill gave it one."""
    db = mongo[f"notify_{unique}"]
    svc = notify_on(db)
    svc.waiting.db = db

    async def parked(event_id: str, type_: str, subject: str) -> None:
        doc = {"_id": event_id, "status": "waiting", WAITING_KEY: event_id, "type": type_, "subject": subject}
        await db["parked"].insert_one({**doc, SUBJECT_KEY: subject_key(doc)})

    await parked("ev-open-d2", "scoring.opened", "d2")
    await parked("ev-sub-d3", "panel.member_substituted", "d3")
    await parked("ev-done-d4", "scoring.completed", "d4")  # tells the chair; makes no reminder
    for dossier in ("d2", "d3", "d4", "d5"):
        await svc._no_reminder(dossier, "gk-2")
    await svc._no_reminder("d2", None)
    assert {d["_id"] async for d in db["reminders_off"].find({})} == {"d2:gk-2", "d3:gk-2", "d2:*"}

    # d2's scoring.opened told at last: gk-2's reminder is cancelled as soon as it is made
    reminder = Message(SCORE_REMINDER, Recipient("gk-2", "Lê Văn Bình", "gk2@example.vn"), _event("d2"), {}, NOW)
    await db["deliveries"].insert_one({"_id": reminder.key, "status": "pending"})
    await svc._remember_reminder("d2", reminder)
    assert (await db["deliveries"].find_one({"_id": reminder.key}))["status"] == "cancelled"

    for n in range(70):  # other dossiers' events waiting: not d6's, so no mark for d6 (no longer "too many")
        await parked(f"ev-{n:03d}", "scoring.opened", f"x{n}")
    await parked("ev-open-d6:x", "scoring.opened", "d6:x")  # a dossier whose id goes on past d6's ":"
    await svc._no_reminder("d6", "gk-1")
    assert await db["reminders_off"].find_one({"_id": "d6:gk-1"}) is None

    # parked by a notify before subject_key: found once the fill at start has given it its key
    await db["parked"].insert_one({"_id": "ev-old-d7", "status": "waiting", WAITING_KEY: "ev-old-d7",
                                   "type": "scoring.opened", "subject": "d7"})
    await setup(db)
    assert (await db["parked"].find_one({"_id": "ev-old-d7"}))[SUBJECT_KEY] == "d7:ev-old-d7"
    await svc._no_reminder("d7", "gk-1")
    assert await db["reminders_off"].find_one({"_id": "d7:gk-1"}) is not None


def _event(dossier: str) -> RecordedEvent:
    return RecordedEvent(id=f"ev-open-{dossier}", stream=f"scoring-{dossier}", version=1, type="scoring.opened",
                         schema_version=1, subject=dossier, time=NOW, data={"dossier_id": dossier},
                         actor=Actor.system("scoring"), correlation_id="c", causation_id="c",
                         source="/binhchon/scoring", prev_hash="", hash="h")
